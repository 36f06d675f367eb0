// `npm run conformance`: the official MCP conformance runner against our conformance backend (tests/fixtures/
// conformance), directly and through real Envoy with the filter, compared scenario by scenario. Suites: "2025"
// (@modelcontextprotocol/conformance 0.1.16, its active server suite: 2025-06-18 / 2025-11-25) and "2026"
// (0.2.0-alpha.12 `--requirements 2026-07-28`). Backend kinds: Streamable HTTP with JSON replies, with SSE replies,
// and the stdio backend behind the sidecar (directly = the sidecar's own /servers/NAME/mcp). Filter modes: "higress"
// (the default: the filter answers initialize/ping itself and dispatches calls) and "passthrough" (requests go
// through Envoy's router). Pass-through must give every scenario the result the backend gives directly; the Higress
// mode may differ only where tests/fixtures/conformance/expected-differences.json says so.
//
// The runners need Node 22 (the npm package `node`), installed with them into ~/.cache/mcp-proxy-wasm/conformance/
// ($XDG_CACHE_HOME honoured), never into the project's node_modules (a `node` binary there would shadow the
// machine's Node in npm scripts). Writes build/conformance/latest.md and latest.json, each run's log under
// build/conformance/logs/; exits 1 on a difference that is not expected (or on a run that produced no result).
//
//   node --import tsx scripts/conformance.ts [--suite 2025|2026]... [--kind http-json|http-sse|stdio]...
//        [--mode higress|passthrough]... [--era dual|2025|2026] [--jobs N] [--scenario NAME]
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { cacheDir } from "./cache.mjs";
import { NPM } from "./npm.mjs";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
  createWriteStream,
} from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { parse as parseYaml } from "yaml";
import { bootstrapYaml, type RouteSpec } from "../tests/helpers/bootstrap.ts";
import { startEnvoy, type Envoy } from "../tests/helpers/envoy.ts";
import { filterWasm } from "../tests/helpers/gateway.ts";
import { startConformanceBackend, MCP_PATH, type Era } from "../tests/fixtures/conformance/http.ts";

const root = fileURLToPath(new URL("..", import.meta.url));

export type Suite = "2025" | "2026";
export type Kind = "http-json" | "http-sse" | "stdio";
export type Mode = "higress" | "passthrough";
export type Target = "direct" | Mode;

export const SUITES: Suite[] = ["2025", "2026"];
export const KINDS: Kind[] = ["http-json", "http-sse", "stdio"];
export const MODES: Mode[] = ["higress", "passthrough"];

/** Pinned tools: what "the conformance runner" means here. */
export const PINNED = {
  node: "22.23.3",
  runners: {
    "2025": { version: "0.1.16", args: [] as string[] },
    "2026": { version: "0.2.0-alpha.12", args: ["--requirements", "2026-07-28"] },
  } satisfies Record<Suite, { version: string; args: string[] }>,
};

/** A whole suite's run is bounded: the 0.1 runner has no per-scenario timeout of its own. */
const RUN_TIMEOUT_MS = 6 * 60_000;
/** Stream timeouts on the gateway's MCP route: SSE streams (GET, subscriptions/listen) stay open and idle. */
const STREAM_IDLE_TIMEOUT = "600s";
/** The filter's server name, and for stdio the sidecar's catalog name (so the sidecar's path /servers/NAME/mcp). */
const SERVER_NAME = "conformance";
/** Host names a localhost deployment routes (Envoy answers 404 to any other Host: DNS rebinding protection). */
const LOCAL_DOMAINS = ["localhost", "localhost:*", "127.0.0.1", "127.0.0.1:*", "[::1]", "[::1]:*"];

// --- installing the runners ---------------------------------------------------------------------------------------

const runnersDir = join(cacheDir, "conformance");

/**
 * `npm install SPEC` into its own directory of the cache unless there; returns the directory. Installed beside the
 * final directory and renamed when complete, so an interrupted install never looks cached.
 */
function cachedInstall(name: string, spec: string): string {
  const dir = join(runnersDir, name);
  if (existsSync(join(dir, ".installed"))) return dir;
  const partial = `${dir}.partial`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  writeFileSync(join(partial, "package.json"), JSON.stringify({ name: `cache-${name}`, private: true }));
  console.error(`conformance: installing ${spec} into ${dir}`);
  const npm = spawnSync(NPM, ["install", "--no-audit", "--no-fund", "--loglevel=error", spec], {
    cwd: partial,
    encoding: "utf8",
  });
  if (npm.status !== 0) {
    throw new Error(
      `conformance: could not install ${spec} (npm exit ${npm.status ?? npm.signal}; is the npm registry reachable?)\n` +
        `${npm.stderr || npm.stdout || npm.error?.message}`,
    );
  }
  writeFileSync(join(partial, ".installed"), spec);
  rmSync(dir, { recursive: true, force: true });
  renameSync(partial, dir);
  return dir;
}

export interface Installed {
  node: string;
  cli: Record<Suite, string>;
  /** Scenario names the 2026-07-28 requirements score; the others it runs are reported but never scored. */
  scored2026: Set<string>;
}

/** Node 22 and both runner versions, from the cache or installed now. Throws with npm's message when it cannot. */
export function installRunners(): Installed {
  const nodeDir = cachedInstall(`node-${PINNED.node}`, `node@${PINNED.node}`);
  const node = join(nodeDir, "node_modules", "node", "bin", "node");
  const version = spawnSync(node, ["--version"], { encoding: "utf8" }).stdout.trim();
  if (!version.startsWith("v22."))
    throw new Error(`conformance: ${node} is not Node 22 (${version || "does not run"})`);
  const cli = {} as Record<Suite, string>;
  let scored2026 = new Set<string>();
  for (const suite of SUITES) {
    const { version: runner } = PINNED.runners[suite];
    const dir = join(
      cachedInstall(`runner-${runner}`, `@modelcontextprotocol/conformance@${runner}`),
      "node_modules",
      "@modelcontextprotocol",
      "conformance",
    );
    cli[suite] = join(dir, "dist", "index.js");
    if (suite === "2026") {
      const requirements = parseYaml(readFileSync(join(dir, "requirements", "2026-07-28.yaml"), "utf8")) as {
        server: string[];
      };
      scored2026 = new Set(requirements.server);
    }
  }
  return { node, cli, scored2026 };
}

// --- what the runner is pointed at ----------------------------------------------------------------------------------

interface Backend {
  /** The URL a client uses directly. */
  url: string;
  port: number;
  /** The path the gateway's route rewrites the client's /mcp to. */
  upstreamPath: string;
  close(): Promise<void>;
}

async function startHttpBackend(kind: "http-json" | "http-sse", era: Era): Promise<Backend> {
  const backend = await startConformanceBackend({ era, replies: kind === "http-json" ? "json" : "sse" });
  return { ...backend, upstreamPath: MCP_PATH };
}

/** The stdio backend as a child of the sidecar (in this process), one child per MCP session. */
async function startStdioBackend(era: Era): Promise<Backend> {
  // Loaded only for this kind: the HTTP kinds need none of the sidecar.
  const [{ startSidecar }, { parseCatalog }, { createLogger }] = await Promise.all([
    import("../sidecar/app.ts"),
    import("../sidecar/catalog.ts"),
    import("../sidecar/log.ts"),
  ]);
  const catalog = parseCatalog({
    mcpServers: {
      [SERVER_NAME]: {
        command: process.execPath,
        args: ["--import", "tsx", join(root, "tests/fixtures/conformance/stdio.ts"), "--era", era],
        cwd: root,
        // Children of one server verify each other's requestState (a 2026 request and its retry may meet two).
        env: { CONFORMANCE_STATE_KEY: randomBytes(32).toString("hex") },
      },
    },
    // Every conformance client comes from one address; the runner's burst must not meet the sidecar's rate limit.
    sidecar: { rateLimit: { requestsPerSecond: 0 } },
  });
  const sidecar = await startSidecar(catalog, { host: "127.0.0.1", port: 0, log: createLogger(() => undefined) });
  const upstreamPath = `/servers/${SERVER_NAME}/mcp`;
  return { url: `${sidecar.url}${upstreamPath}`, port: sidecar.port, upstreamPath, close: () => sidecar.close() };
}

function startBackend(kind: Kind, era: Era): Promise<Backend> {
  return kind === "stdio" ? startStdioBackend(era) : startHttpBackend(kind, era);
}

/** The filter's configuration for one backend kind in one mode. */
function filterConfig(kind: Kind, mode: Mode): Record<string, unknown> {
  const server: Record<string, unknown> =
    kind === "stdio"
      ? { name: SERVER_NAME, type: "mcp-proxy", transport: "stdio" }
      : // The host names the backend's Host check accepts (a localhost deployment).
        { name: SERVER_NAME, type: "mcp-proxy", transport: "http", mcpServerURL: `http://localhost${MCP_PATH}` };
  if (mode !== "higress") server.mode = mode;
  return { server };
}

/**
 * The filter as built when the matrix starts, copied: every gateway of one matrix runs the same build even if
 * build/mcp-proxy.wasm is rebuilt meanwhile (Envoy reads the file when it starts).
 */
function snapshotFilter(dir: string): string {
  const copy = join(dir, "mcp-proxy.wasm");
  copyFileSync(filterWasm(), copy);
  return copy;
}

/** Real Envoy with the filter in front of `backend`: clients use /mcp on a localhost name. */
async function startGateway(wasm: string, kind: Kind, mode: Mode, backend: Backend): Promise<Envoy> {
  const route: RouteSpec = {
    prefix: MCP_PATH,
    cluster: "backend",
    prefixRewrite: backend.upstreamPath,
    timeout: "0s",
    idleTimeout: STREAM_IDLE_TIMEOUT,
  };
  const yaml = bootstrapYaml({
    wasm,
    pluginConfig: filterConfig(kind, mode),
    allowOnHeadersStopIteration: true,
    routes: [],
    virtualHosts: [{ name: "localhost", domains: LOCAL_DOMAINS, routes: [route] }],
    clusters: { backend: backend.port },
    streamIdleTimeout: STREAM_IDLE_TIMEOUT,
  });
  return startEnvoy({ yaml });
}

// --- running one suite --------------------------------------------------------------------------------------------

export interface Check {
  id: string;
  status: string;
  errorMessage?: string;
  /** The check's details as JSON, cut short: what the client saw (e.g. the tool result). */
  details?: string;
}

export interface ScenarioResult {
  scenario: string;
  passed: boolean;
  /** Checks with status FAILURE (a scenario passes when it has none, as the runner counts it). */
  failures: Check[];
  warnings: number;
}

export interface Run {
  suite: Suite;
  kind: Kind;
  target: Target;
  scenarios: Map<string, ScenarioResult>;
  seconds: number;
  /** Why the run produced no (or a partial) result, e.g. the runner timed out or could not start. */
  problem?: string;
}

const SCENARIO_DIR = /^server-(.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z$/;

function readResults(outDir: string): Map<string, ScenarioResult> {
  const results = new Map<string, ScenarioResult>();
  for (const entry of existsSync(outDir) ? readdirSync(outDir) : []) {
    const scenario = SCENARIO_DIR.exec(entry)?.[1];
    const file = join(outDir, entry, "checks.json");
    if (!scenario || !existsSync(file)) continue;
    const checks = JSON.parse(readFileSync(file, "utf8")) as Check[];
    const failures = checks
      .filter((check) => check.status === "FAILURE")
      .map(({ id, status, errorMessage, details }) => ({
        id,
        status,
        errorMessage: errorMessage?.slice(0, 300),
        details: details === undefined ? undefined : JSON.stringify(details).slice(0, 600),
      }));
    results.set(scenario, {
      scenario,
      passed: failures.length === 0,
      failures,
      warnings: checks.filter((c) => c.status === "WARNING").length,
    });
  }
  return results;
}

/** One suite against one URL; the runner's own output goes to `logFile`. */
async function runSuite(
  installed: Installed,
  suite: Suite,
  url: string,
  logFile: string,
  scenario?: string,
): Promise<{ scenarios: Map<string, ScenarioResult>; problem?: string }> {
  const outDir = mkdtempSync(join(tmpdir(), "mcp-conformance-"));
  const selection = scenario === undefined ? PINNED.runners[suite].args : ["--scenario", scenario];
  const args = [installed.cli[suite], "server", "--url", url, "-o", outDir, ...selection];
  const child = spawn(installed.node, args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, NO_COLOR: "1" },
  });
  liveRunners.add(child);
  const log = createWriteStream(logFile);
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, RUN_TIMEOUT_MS);
  const exit = await new Promise<string>((resolve) => {
    child.once("error", (error) => resolve(error.message));
    child.once("exit", (code, signal) => resolve(`${signal ?? code}`));
  });
  clearTimeout(timer);
  liveRunners.delete(child);
  const scenarios = readResults(outDir);
  rmSync(outDir, { recursive: true, force: true });
  const problem = timedOut
    ? `the runner did not finish within ${RUN_TIMEOUT_MS / 1000} s`
    : scenarios.size === 0
      ? `the runner produced no result (exit ${exit}; see ${logFile})`
      : undefined;
  return { scenarios, problem };
}

/** Runner processes still running; killed if this process exits first (a failed test, Ctrl-C). */
const liveRunners = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of liveRunners) child.kill("SIGKILL");
});

// --- the matrix ---------------------------------------------------------------------------------------------------

export interface MatrixOptions {
  suites?: Suite[];
  kinds?: Kind[];
  modes?: Mode[];
  era?: Era;
  /** One scenario instead of the suite (for a closer look at one difference). */
  scenario?: string;
  /** Runs at once (each is a runner process, and an Envoy for a gateway run). */
  jobs?: number;
  /** Progress lines (default: stderr). */
  say?: (line: string) => void;
}

export interface Difference {
  suite: Suite;
  kind: Kind;
  mode: Mode;
  scenario: string;
  direct: string;
  gateway: string;
  /** The expected-differences entry that allows it, if any. */
  allowedBy?: string;
}

export interface MatrixResult {
  runs: Run[];
  differences: Difference[];
  /** Differences no expectation allows (every pass-through difference is one). */
  unexpected: Difference[];
  /** Runs that produced no or partial results. */
  problems: string[];
  /** Scenarios failing both directly and through a gateway, but not on the same checks (not differences). */
  otherChecks: {
    suite: Suite;
    kind: Kind;
    mode: Mode;
    scenario: string;
    directOnly: string[];
    gatewayOnly: string[];
  }[];
  scored2026: string[];
  seconds: number;
}

interface Job {
  suite: Suite;
  kind: Kind;
  target: Target;
}

/** Runs the comparison matrix; never throws for a scenario's failure, only when the runners cannot be installed. */
export async function runMatrix(options: MatrixOptions = {}): Promise<MatrixResult> {
  const started = Date.now();
  const say = options.say ?? ((line: string) => console.error(line));
  const suites = options.suites ?? SUITES;
  const kinds = options.kinds ?? KINDS;
  const modes = options.modes ?? MODES;
  const era = options.era ?? "dual";
  const installed = installRunners();
  const logDir = join(root, "build", "conformance", "logs");
  mkdirSync(logDir, { recursive: true });
  const backends = new Map<Kind, Backend>();
  const runs: Run[] = [];
  const scratch = mkdtempSync(join(tmpdir(), "mcp-conformance-filter-"));
  try {
    const wasm = modes.length > 0 ? snapshotFilter(scratch) : "";
    for (const kind of kinds) backends.set(kind, await startBackend(kind, era));
    const jobs: Job[] = suites.flatMap((suite) =>
      kinds.flatMap((kind) => (["direct", ...modes] as Target[]).map((target) => ({ suite, kind, target }))),
    );
    const runJob = async (job: Job): Promise<void> => {
      const begun = Date.now();
      const backend = backends.get(job.kind)!;
      const name = `${job.suite}-${job.kind}-${job.target}`;
      let envoy: Envoy | undefined;
      let outcome: { scenarios: Map<string, ScenarioResult>; problem?: string };
      try {
        envoy = job.target === "direct" ? undefined : await startGateway(wasm, job.kind, job.target, backend);
        const url = envoy ? `${envoy.url}${MCP_PATH}` : backend.url;
        outcome = await runSuite(installed, job.suite, url, join(logDir, `${name}.log`), options.scenario);
      } catch (error) {
        outcome = {
          scenarios: new Map(),
          problem: `could not run: ${(error as Error).message.split("\n").slice(0, 6).join(" ")}`,
        };
      } finally {
        await envoy?.close();
      }
      const run: Run = { ...job, ...outcome, seconds: (Date.now() - begun) / 1000 };
      runs.push(run);
      const passed = [...run.scenarios.values()].filter((s) => s.passed).length;
      say(
        `conformance: ${name}: ${passed}/${run.scenarios.size} scenarios pass (${run.seconds.toFixed(1)} s)${run.problem ? `; ${run.problem}` : ""}`,
      );
    };
    await pool(jobs, options.jobs ?? 2, runJob);
  } finally {
    await Promise.allSettled([...backends.values()].map((backend) => backend.close()));
    rmSync(scratch, { recursive: true, force: true });
  }
  const { differences, otherChecks } = compare(runs);
  const expected = loadExpectedDifferences();
  for (const difference of differences) {
    const gateway = runs.find(
      (run) => run.suite === difference.suite && run.kind === difference.kind && run.target === difference.mode,
    );
    difference.allowedBy = allowance(expected, difference, gateway?.scenarios.get(difference.scenario));
  }
  return {
    runs,
    differences,
    unexpected: differences.filter((d) => d.allowedBy === undefined),
    problems: runs.filter((run) => run.problem).map((run) => `${run.suite}-${run.kind}-${run.target}: ${run.problem}`),
    otherChecks,
    scored2026: [...installed.scored2026],
    seconds: (Date.now() - started) / 1000,
  };
}

async function pool<T>(items: T[], width: number, work: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: Math.max(1, width) }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await work(item);
    }),
  );
}

/** A scenario without a result (the runner's scenario itself broke) counts as failing, as the runner counts it. */
const outcome = (result: ScenarioResult | undefined) => (result?.passed ? "pass" : "fail");

/** Every scenario whose outcome through a gateway differs from its outcome directly, for the same suite and kind. */
function compare(runs: Run[]): Pick<MatrixResult, "differences" | "otherChecks"> {
  const differences: Difference[] = [];
  const otherChecks: MatrixResult["otherChecks"] = [];
  const failing = (result: ScenarioResult | undefined) => new Set(result?.failures.map((check) => check.id));
  for (const gateway of runs) {
    if (gateway.target === "direct") continue;
    const mode = gateway.target;
    const direct = runs.find(
      (run) => run.target === "direct" && run.suite === gateway.suite && run.kind === gateway.kind,
    );
    if (!direct) continue;
    const names = new Set([...direct.scenarios.keys(), ...gateway.scenarios.keys()]);
    for (const scenario of [...names].sort()) {
      const there = direct.scenarios.get(scenario);
      const here = gateway.scenarios.get(scenario);
      const at = { suite: gateway.suite, kind: gateway.kind, mode, scenario };
      if (outcome(there) !== outcome(here)) differences.push({ ...at, direct: outcome(there), gateway: outcome(here) });
      else if (there && here && !there.passed) {
        const [a, b] = [failing(there), failing(here)];
        const directOnly = [...a].filter((id) => !b.has(id));
        const gatewayOnly = [...b].filter((id) => !a.has(id));
        if (directOnly.length + gatewayOnly.length > 0) otherChecks.push({ ...at, directOnly, gatewayOnly });
      }
    }
  }
  return { differences, otherChecks };
}

// --- expected differences -----------------------------------------------------------------------------------------

export interface Expectation {
  /** What the mode refuses, and why the issue allows it. */
  reason: string;
  /** The clear error the client gets (or should get). */
  error: string;
  /** When given, the only checks that may fail through the gateway. */
  checks?: string[];
  /** When given, the only backend kinds it applies to. */
  kinds?: Kind[];
}

type ExpectedDifferences = Partial<Record<Mode, Partial<Record<Suite, Record<string, Expectation>>>>>;

const EXPECTED_FILE = join(root, "tests/fixtures/conformance/expected-differences.json");

function loadExpectedDifferences(): ExpectedDifferences {
  const document = JSON.parse(readFileSync(EXPECTED_FILE, "utf8")) as ExpectedDifferences;
  if (document.passthrough !== undefined)
    throw new Error(`${EXPECTED_FILE}: pass-through allows no difference; remove "passthrough"`);
  return document;
}

/** Why a Higress-mode gateway may pass what the backend fails: the filter answers it itself (e.g. an era the backend lacks). */
export const BRIDGED = "the filter serves it itself in the Higress-compatible mode (bridging what the backend lacks)";

/**
 * The expectation allowing a difference. Pass-through allows none. The Higress mode allows a scenario the gateway
 * passes and the backend fails (BRIDGED), and one that passes directly and fails through it when the file lists it
 * for this kind and no check outside the listed ones fails.
 */
function allowance(
  expected: ExpectedDifferences,
  difference: Difference,
  failing: ScenarioResult | undefined,
): string | undefined {
  if (difference.mode !== "higress") return undefined;
  if (difference.gateway === "pass") return BRIDGED;
  const entry = expected.higress?.[difference.suite]?.[difference.scenario];
  if (!entry || (entry.kinds && !entry.kinds.includes(difference.kind))) return undefined;
  if (entry.checks && failing?.failures.some((check) => !entry.checks!.includes(check.id))) return undefined;
  return entry.reason;
}

// --- report -------------------------------------------------------------------------------------------------------

const MARK = { pass: "✓", fail: "✗", "no result": "–" } as const;

function cell(result: ScenarioResult | undefined): string {
  if (!result) return MARK["no result"];
  return result.passed ? MARK.pass : `${MARK.fail} ${result.failures.length}`;
}

/** What a client saw when a scenario failed: its failing checks' messages, shortened. */
function why(result: ScenarioResult | undefined): string {
  if (!result) return "no result (the scenario did not run to the end)";
  return result.failures
    .map((f) => `${f.id}: ${f.errorMessage ?? ""}`.replace(/\s+/g, " ").replace(/\|/g, "\\|").slice(0, 220))
    .join("; ");
}

export function renderMarkdown(result: MatrixResult): string {
  const lines = [
    `# MCP conformance: direct vs through Envoy + the filter`,
    "",
    `${new Date().toISOString()}; runners: ${SUITES.map((s) => `@modelcontextprotocol/conformance@${PINNED.runners[s].version}`).join(", ")} ` +
      `on Node ${PINNED.node}; matrix time ${result.seconds.toFixed(0)} s.`,
    "",
    "✓ passes; ✗ N fails (N checks failed); – no result. Directly = the backend's own URL (the sidecar's " +
      "`/servers/NAME/mcp` for stdio). A scenario passes when none of its checks fails, as the runner counts it.",
    "",
  ];
  for (const suite of SUITES) {
    const runs = result.runs.filter((run) => run.suite === suite);
    if (runs.length === 0) continue;
    const columns = KINDS.flatMap((kind) =>
      (["direct", ...MODES] as Target[]).map((target) =>
        runs.find((run) => run.kind === kind && run.target === target),
      ),
    ).filter((run): run is Run => run !== undefined);
    const scenarios = [...new Set(runs.flatMap((run) => [...run.scenarios.keys()]))].sort();
    lines.push(
      `## ${suite === "2025" ? "2025 suite (0.1.16, active server scenarios)" : "2026-07-28 requirements (0.2.0-alpha.12)"}`,
      "",
    );
    lines.push(
      `| scenario | ${columns.map((run) => `${run.kind} ${run.target}`).join(" | ")} |`,
      `| --- | ${columns.map(() => "---").join(" | ")} |`,
    );
    for (const scenario of scenarios) {
      const label = suite === "2026" && !result.scored2026.includes(scenario) ? `${scenario} (not scored)` : scenario;
      lines.push(`| ${label} | ${columns.map((run) => cell(run.scenarios.get(scenario))).join(" | ")} |`);
    }
    const passing = (run: Run) => [...run.scenarios.values()].filter((s) => s.passed).length;
    lines.push(`| **passing** | ${columns.map((run) => `${passing(run)}/${run.scenarios.size}`).join(" | ")} |`);
    lines.push(`| **seconds** | ${columns.map((run) => run.seconds.toFixed(0)).join(" | ")} |`, "");
  }
  lines.push("## Differences", "");
  const bridged = result.differences.filter((d) => d.allowedBy === BRIDGED);
  const others = result.differences.filter((d) => d.allowedBy !== BRIDGED);
  if (result.differences.length === 0) lines.push("None.");
  for (const group of new Set(bridged.map((d) => `${d.suite} ${d.kind} ${d.mode}`))) {
    const names = bridged.filter((d) => `${d.suite} ${d.kind} ${d.mode}` === group).map((d) => d.scenario);
    lines.push(`- ${group}: the gateway passes and the backend fails (allowed: ${BRIDGED}): ${names.join(", ")}`);
  }
  for (const d of others) {
    const gateway = result.runs.find((run) => run.suite === d.suite && run.kind === d.kind && run.target === d.mode);
    const direct = result.runs.find((run) => run.suite === d.suite && run.kind === d.kind && run.target === "direct");
    const failed = d.gateway === "pass" ? direct : gateway;
    lines.push(
      `- ${d.suite} ${d.kind} ${d.mode}: **${d.scenario}**: directly ${d.direct}, through the gateway ${d.gateway}` +
        (d.allowedBy ? ` (allowed: ${d.allowedBy})` : " **(not expected)**") +
        `. ${why(failed?.scenarios.get(d.scenario))}`,
    );
  }
  if (result.otherChecks.length > 0) {
    lines.push("", "## Same outcome, other checks failing (not differences; the failure changed)", "");
    for (const o of result.otherChecks) {
      lines.push(
        `- ${o.suite} ${o.kind} ${o.mode}: ${o.scenario}: failing only directly: ${o.directOnly.join(", ") || "none"}; ` +
          `only through the gateway: ${o.gatewayOnly.join(", ") || "none"}`,
      );
    }
  }
  if (result.problems.length > 0) lines.push("", "## Problems", "", ...result.problems.map((p) => `- ${p}`));
  return `${lines.join("\n")}\n`;
}

function toJson(result: MatrixResult): unknown {
  return { ...result, runs: result.runs.map((run) => ({ ...run, scenarios: Object.fromEntries(run.scenarios) })) };
}

function writeReport(result: MatrixResult): string {
  const dir = join(root, "build", "conformance");
  mkdirSync(dir, { recursive: true });
  const markdown = renderMarkdown(result);
  writeFileSync(join(dir, "latest.md"), markdown);
  writeFileSync(join(dir, "latest.json"), `${JSON.stringify(toJson(result), null, 2)}\n`);
  return markdown;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      suite: { type: "string", multiple: true },
      kind: { type: "string", multiple: true },
      mode: { type: "string", multiple: true },
      era: { type: "string", default: "dual" },
      jobs: { type: "string", default: "2" },
      scenario: { type: "string" },
    },
  });
  const pick = <T extends string>(given: string[] | undefined, all: T[], what: string): T[] => {
    for (const value of given ?? [])
      if (!all.includes(value as T)) throw new Error(`--${what} must be one of ${all.join(", ")} (got ${value})`);
    return (given as T[] | undefined) ?? all;
  };
  const result = await runMatrix({
    suites: pick(values.suite, SUITES, "suite"),
    kinds: pick(values.kind, KINDS, "kind"),
    modes: pick(values.mode, MODES, "mode"),
    era: pick([values.era!], ["dual", "2025", "2026"] as Era[], "era")[0],
    jobs: Number(values.jobs),
    scenario: values.scenario,
  });
  console.log(writeReport(result));
  console.log(
    `conformance: ${result.differences.length} difference(s), ${result.unexpected.length} not expected, ` +
      `${result.problems.length} run problem(s); ${result.seconds.toFixed(0)} s; report in build/conformance/latest.md`,
  );
  return result.unexpected.length > 0 || result.problems.length > 0 ? 1 : 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main().then(
    (code) => process.exit(code),
    (error: Error) => {
      console.error(error.message);
      process.exit(2);
    },
  );
}
