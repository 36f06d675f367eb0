// Real Envoy for the tests: the pinned official build (scripts/envoy.mjs) started on a bootstrap, on ephemeral
// ports found through its admin API, with its log kept for assertions and its stats read from the admin API.
// Envoy is killed when the test ends, and by the kernel if the test process itself dies first (setpriv's parent
// death signal), so a failed or timed-out test never leaves one behind.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
// @ts-expect-error: a plain ES module without types
import { envoyBinary, envoyVersionOf } from "../../scripts/envoy.mjs";

export type EnvoyRelease = "newest" | "oldest";

export interface EnvoyOptions {
  /** The bootstrap, as YAML. Give it an admin address on 127.0.0.1:0 (bootstrapYaml does). */
  yaml: string;
  /** Worker threads: each runs its own Wasm VM. Default 2, as the tests' machines have two cores. */
  concurrency?: number;
  release?: EnvoyRelease;
  /** Envoy's working directory (relative Wasm paths resolve against it). Default: a fresh temporary directory. */
  cwd?: string;
  /** Envoy's log level; plugin logs at info and above are kept at the default. */
  logLevel?: "trace" | "debug" | "info" | "warn" | "error";
  /** More arguments, e.g. a --component-log-level. */
  args?: string[];
}

export interface LogLine {
  level: string;
  /** Envoy's logger name: "wasm" for the plugin's own lines. */
  logger: string;
  message: string;
}

export interface Envoy {
  /** The first listener's base URL (http://127.0.0.1:PORT). */
  url: string;
  listeners: { name: string; url: string }[];
  adminUrl: string;
  pid: number;
  version: string;
  /** Every log line so far. */
  logs: LogLine[];
  /** The plugin's own log messages (without Envoy's "wasm log NAME:" prefix), those starting with `prefix`. */
  pluginLogs(prefix?: string): string[];
  /** Counters and gauges by full name (the plugin's own metrics are under "wasmcustom."). */
  stats(): Promise<Map<string, number>>;
  /** One stat; the plugin's metrics may be named without "wasmcustom.". 0 when absent. */
  stat(name: string): Promise<number>;
  /** The process's user + system CPU time so far, in milliseconds (from /proc). */
  cpuMs(): number;
  close(): Promise<void>;
}

const BINARIES = new Map<EnvoyRelease, { path: string; version: string }>();

/** The binary and version of a pinned release (installed on first use). */
export function envoyRelease(release: EnvoyRelease = "newest"): { path: string; version: string } {
  let found = BINARIES.get(release);
  if (!found) {
    const path: string = envoyBinary(release);
    found = { path, version: envoyVersionOf(path) };
    BINARIES.set(release, found);
  }
  return found;
}

const HAS_SETPRIV = spawnSync("setpriv", ["--help"], { stdio: "ignore" }).status === 0;
const LOG_FORMAT = "%l|%n|%v";
const START_TIMEOUT_MS = 60_000;

/** Starts Envoy and waits until it is live with every listener bound. Rejects with Envoy's log if it fails. */
export async function startEnvoy(options: EnvoyOptions): Promise<Envoy> {
  const { path, version } = envoyRelease(options.release);
  const dir = mkdtempSync(join(tmpdir(), "mcp-envoy-"));
  const config = join(dir, "envoy.yaml");
  const adminPath = join(dir, "admin-address");
  writeFileSync(config, options.yaml);
  const args = [
    "-c",
    config,
    "--concurrency",
    String(options.concurrency ?? 2),
    "--use-dynamic-base-id",
    "--admin-address-path",
    adminPath,
    "-l",
    options.logLevel ?? "info",
    "--log-format",
    LOG_FORMAT,
    ...(options.args ?? []),
  ];
  const [command, argv] = HAS_SETPRIV ? ["setpriv", ["--pdeathsig", "KILL", "--", path, ...args]] : [path, args];
  const child = spawn(command, argv, { cwd: options.cwd ?? dir, stdio: ["ignore", "pipe", "pipe"] });
  const logs: LogLine[] = [];
  let partial = "";
  const take = (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split("\n");
    partial = lines.pop()!;
    for (const line of lines) logs.push(parseLine(line));
  };
  child.stdout!.on("data", take);
  child.stderr!.on("data", take);
  const exited = new Promise<string>((resolve) => child.once("exit", (code, signal) => resolve(`${signal ?? code}`)));
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const adminUrl = await waitForAdmin(child, adminPath, exited, logs);
    const listeners = await boundListeners(adminUrl);
    const envoy: Envoy = {
      url: listeners[0]?.url ?? "",
      listeners,
      adminUrl,
      pid: child.pid!,
      version,
      logs,
      pluginLogs: (prefix = "") =>
        logs
          .filter((l) => l.logger === "wasm")
          .map((l) => pluginMessage(l.message))
          .filter((m): m is string => m !== undefined && m.startsWith(prefix)),
      stats: () => readStats(adminUrl),
      stat: async (name) => {
        const all = await readStats(adminUrl);
        return all.get(name) ?? all.get(`wasmcustom.${name}`) ?? 0;
      },
      cpuMs: () => cpuMs(child.pid!),
      close,
    };
    return envoy;
  } catch (error) {
    await close();
    // Envoy's start-up banner is long: show its errors, then the last lines.
    const errors = logs.filter((l) => l.level === "error" || l.level === "critical");
    const tail = [...errors, ...logs.slice(-15)]
      .map((l) => `[${l.level}][${l.logger}] ${l.message.slice(0, 600)}`)
      .join("\n");
    throw new Error(`${(error as Error).message}\nEnvoy ${version}'s log:\n${tail}`);
  }
}

/** startEnvoy, closed when the test ends (pass or fail). */
export async function ownEnvoy(t: TestContext, options: EnvoyOptions): Promise<Envoy> {
  const envoy = await startEnvoy(options);
  t.after(() => envoy.close());
  return envoy;
}

function parseLine(line: string): LogLine {
  const first = line.indexOf("|");
  const second = line.indexOf("|", first + 1);
  if (first < 0 || second < 0) return { level: "", logger: "", message: line };
  return { level: line.slice(0, first), logger: line.slice(first + 1, second), message: line.slice(second + 1) };
}

/** "wasm log NAME ROOT: text" -> "text" (Envoy's prefix names the plugin, and its root id when they differ). */
function pluginMessage(message: string): string | undefined {
  const match = /^wasm log[^:]*: ([\s\S]*)$/.exec(message);
  return match?.[1];
}

async function waitForAdmin(
  child: ChildProcess,
  adminPath: string,
  exited: Promise<string>,
  logs: LogLine[],
): Promise<string> {
  let exitCode: string | undefined;
  void exited.then((code) => (exitCode = code));
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (exitCode !== undefined) throw new Error(`Envoy exited (${exitCode}) during start-up`);
    if (existsSync(adminPath)) {
      const address = readFileSync(adminPath, "utf8").trim();
      if (address) {
        const adminUrl = `http://${address}`;
        const ready = await fetch(`${adminUrl}/ready`).then(
          (r) => r.text(),
          () => "",
        );
        if (ready.trim() === "LIVE") return adminUrl;
      }
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  void child;
  throw new Error(`Envoy was not live within ${START_TIMEOUT_MS} ms (${logs.length} log lines)`);
}

async function boundListeners(adminUrl: string): Promise<{ name: string; url: string }[]> {
  const body = (await (await fetch(`${adminUrl}/listeners?format=json`)).json()) as {
    listener_statuses?: { name: string; local_address: { socket_address: { address: string; port_value: number } } }[];
  };
  return (body.listener_statuses ?? []).map((l) => {
    const { address, port_value } = l.local_address.socket_address;
    const host = address === "0.0.0.0" ? "127.0.0.1" : address;
    return { name: l.name, url: `http://${host}:${port_value}` };
  });
}

async function readStats(adminUrl: string): Promise<Map<string, number>> {
  const body = (await (await fetch(`${adminUrl}/stats?format=json`)).json()) as {
    stats: { name?: string; value?: number }[];
  };
  const out = new Map<string, number>();
  for (const s of body.stats) if (s.name !== undefined && typeof s.value === "number") out.set(s.name, s.value);
  return out;
}

const TICK_MS = 1000 / 100; // USER_HZ: /proc reports CPU time in ticks of 10 ms

function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 of /proc/PID/stat: indexes 11 and 12 after the command name.
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
  } catch {
    return 0;
  }
}
