// npm run bench: the rows of the benchmark issue in real Envoy, then bench/results/latest.{md,json,svg}. It first
// installs what it needs beyond node_modules (wrk, the Python mcp-proxy, aigw: lib/setup.ts; one-off builds are
// cached outside the clone and their time is reported apart). Every process it starts is killed when it ends,
// whatever happens; a failing section is reported and the others still run.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { envoyRelease } from "../tests/helpers/envoy.ts";
import { chart } from "./lib/chart.ts";
import { buildNotes, filterWasm } from "./lib/envoys.ts";
import { goals as evaluate, type Results } from "./lib/goals.ts";
import { describeMachine, finishMachine, sampleLoad } from "./lib/machine.ts";
import { repoRoot } from "./lib/paths.ts";
import { installCleanup, killAll } from "./lib/procs.ts";
import { markdown } from "./lib/report.ts";
import { ensureAigw, ensurePythonMcpProxy, ensureWrk, type Tool } from "./lib/setup.ts";
import { runBridges } from "./sections/bridges.ts";
import { runProxies } from "./sections/proxies.ts";
import { runUpstreamCount } from "./sections/upstream-count.ts";
import { bridges } from "./lib/bridges.ts";

const COMMAND = "npm run bench";
const ROUNDS = 5;
const CONCURRENCY = 8;

installCleanup();
const log = (line: string) => console.log(line);
const machine = describeMachine();
const results: Results = {};
const notes: string[] = [];

log("set-up ...");
const setupStarted = performance.now();
const wrkTool = ensureWrk(log);
const python = ensurePythonMcpProxy(log);
const aigw = ensureAigw(log);
filterWasm();
const envoy = envoyRelease("newest");
const builds = [python, aigw]
  .filter((t: Tool) => t.builtSeconds !== undefined)
  .map((t) => `${t === aigw ? "aigw" : "Python mcp-proxy"} ${t.builtSeconds!.toFixed(0)} s`);
for (const [name, tool] of [
  ["Python mcp-proxy", python],
  ["aigw", aigw],
] as const)
  if (tool.problem) notes.push(`${name} skipped: ${tool.problem}`);
// The benchmark's own time starts after the one-off builds (cached outside the clone).
const started = performance.now();
log(`  (${((started - setupStarted) / 1000).toFixed(0)} s)`);

async function section<K extends keyof Results>(key: K, title: string, run: () => Promise<Results[K]>): Promise<void> {
  log(`${title} ...`);
  const t0 = performance.now();
  try {
    results[key] = await run();
  } catch (error) {
    notes.push(`section "${title}" failed: ${error instanceof Error ? error.message : String(error)}`);
    log(`  FAILED: ${error instanceof Error ? error.stack : String(error)}`);
  }
  log(`  (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
}

try {
  await section("proxies", "1. the rows in real Envoy", () =>
    runProxies({ rounds: ROUNDS, concurrency: CONCURRENCY, turnSeconds: 2, sdkClients: 8 }, aigw, log, () =>
      sampleLoad(machine),
    ),
  );
  await section("upstream", "2. upstream requests per tools/call", () => runUpstreamCount(log));
  await section("bridges", "3. stdio bridges", () =>
    runBridges(
      {
        rounds: ROUNDS,
        concurrency: CONCURRENCY,
        turnSeconds: 2,
        idleSessions: 8,
        cycles: 500,
        cycleConcurrency: 5,
        cycleIdleMs: 5000,
      },
      python.problem ? undefined : { path: python.path!, version: python.version! },
      log,
    ),
  );
} finally {
  killAll();
}

finishMachine(machine);
notes.unshift(...buildNotes);
const seconds = (performance.now() - started) / 1000;
const goals = evaluate(results);
const versions: Record<string, string> = {
  Envoy: envoy.version,
  wrk: wrkTool.version!,
  Node: process.version,
  ...(aigw.problem ? {} : { aigw: `${aigw.version} (its Envoy ${aigw.envoyVersion})` }),
  ...Object.fromEntries(
    bridges(python.problem ? undefined : { path: python.path!, version: python.version! })
      .filter((b) => b.version !== "this repository")
      .map((b) => [b.name, b.version]),
  ),
};
const dir = join(repoRoot, "bench/results");
mkdirSync(dir, { recursive: true });
const caption = `${COMMAND} · ${machine.cores} cores ${machine.cpuModel} · load ${machine.loadAvgAtStart[0]}→${machine.loadAvgAtEnd?.[0]} · Envoy ${envoy.version} · ${machine.gitHead} · ${new Date().toISOString().slice(0, 16)}Z`;
writeFileSync(
  join(dir, "latest.json"),
  JSON.stringify(
    { command: COMMAND, date: new Date().toISOString(), seconds, builds, versions, machine, notes, goals, results },
    null,
    2,
  ) + "\n",
);
writeFileSync(
  join(dir, "latest.md"),
  markdown(results, goals, machine, { command: COMMAND, seconds, notes, versions, builds }),
);
writeFileSync(join(dir, "latest.svg"), chart(results, goals, caption));
log(
  `\n${goals.filter((g) => g.met).length}/${goals.length} goals met; ${seconds.toFixed(0)} s; bench/results/latest.md`,
);
process.exit(0);
