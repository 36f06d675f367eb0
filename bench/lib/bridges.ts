// The stdio bridges under test, each started as its own process (so /proc sees it and its children): our
// sidecar, supergateway (stateful Streamable HTTP), npm mcp-proxy and the Python mcp-proxy (PyPI). Every child
// command line carries the run tag, so processes they leave behind are found even after re-parenting.
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, waitForPort } from "./net.ts";
import { repoRoot } from "./paths.ts";
import { firstJsonLine, RUN_TAG, spawnTracked, stop } from "./procs.ts";

/** A stdio MCP server command: program and arguments. */
export interface StdioCommand {
  command: string;
  args: string[];
}

export const EVERYTHING: StdioCommand = {
  command: process.execPath,
  args: [join(repoRoot, "node_modules/@modelcontextprotocol/server-everything/dist/index.js"), "stdio"],
};
/** Answers initialize with shell builtins only: the connect/disconnect cycles measure process handling, not start-up. */
export const SH_SERVER: StdioCommand = { command: "/bin/sh", args: [join(repoRoot, "bench/fixtures/sh-server.sh")] };

let instances = 0;
/** `server` with a marker of its own appended (both servers ignore extra arguments): its processes are findable. */
export function marked(server: StdioCommand): { server: StdioCommand; marker: string } {
  const marker = `${RUN_TAG}/${++instances}/`;
  return { server: { command: server.command, args: [...server.args, marker] }, marker };
}

export interface BridgeOptions {
  /** Idle session timeout, in ms, configured the same on every bridge. */
  idleTimeoutMs: number;
  /** Sidecar only: "session" (a child per session) or "shared". */
  mode?: "session" | "shared";
}

export interface RunningBridge {
  name: string;
  /** The Streamable HTTP endpoint. */
  url: URL;
  /** On the command line of every server process this bridge starts. */
  marker: string;
  child: ChildProcess;
  close(): Promise<void>;
}

export interface BridgeKind {
  name: string;
  version: string;
  /** What it runs per session, for the report. */
  model: string;
  /** Sessions it ends after this long idle; the Python mcp-proxy has no such setting. */
  idleTimeout: boolean;
  start(server: StdioCommand, options: BridgeOptions): Promise<RunningBridge>;
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

function running(name: string, url: string, child: ChildProcess, marker: string): RunningBridge {
  return { name, url: new URL(url), child, marker, close: () => stop(child) };
}

/** A peer bridge run as `node SCRIPT ARGS` (SCRIPT relative to the repository), serving MCP at /mcp on `port`. */
async function startListening(
  name: string,
  marker: string,
  port: number,
  command: string,
  args: string[],
): Promise<RunningBridge> {
  const child = spawnTracked(command, args);
  child.stdout!.resume();
  child.stderr!.resume();
  await waitForPort(port, child, 60_000);
  return running(name, `http://127.0.0.1:${port}/mcp`, child, marker);
}

const npmVersion = (name: string) =>
  (JSON.parse(readFileSync(join(repoRoot, "node_modules", name, "package.json"), "utf8")) as { version: string })
    .version;

function sidecar(mode: "session" | "shared"): BridgeKind {
  return {
    name: mode === "shared" ? "mcp-sidecar (shared)" : "mcp-sidecar",
    version: "this repository",
    model: mode === "shared" ? "one child for all sessions" : "a child per session",
    idleTimeout: true,
    async start(unmarked, options) {
      const { server, marker } = marked(unmarked);
      const dir = mkdtempSync(join(tmpdir(), "mcp-bench-"));
      const catalog = join(dir, "catalog.json");
      writeFileSync(
        catalog,
        JSON.stringify({
          mcpServers: { s: { command: server.command, args: server.args, mode, idleTimeoutMs: options.idleTimeoutMs } },
          // Peers have no rate limit; ours (per client, default 100/s) would throttle the load itself: 0 turns it off.
          sidecar: { maxSessions: 1000, rateLimit: { requestsPerSecond: 0 } },
        }),
      );
      const child = spawnTracked(process.execPath, [
        join(repoRoot, "sidecar/bin.mjs"),
        "--config",
        catalog,
        "--host",
        "127.0.0.1",
        "--port",
        "0",
      ]);
      child.stderr!.resume();
      const url = await firstJsonLine(child, (v) => (v?.msg === "listening" ? (v.url as string) : undefined));
      return running(this.name, `${url.replace(/\/$/, "")}/servers/s/mcp`, child, marker);
    },
  };
}

const supergateway: BridgeKind = {
  name: "supergateway",
  version: npmVersion("supergateway"),
  model: "a child per session (--stateful)",
  idleTimeout: true,
  async start(unmarked, options) {
    const { server, marker } = marked(unmarked);
    const port = await freePort();
    const cmd = [server.command, ...server.args].map(shellQuote).join(" ");
    return startListening(this.name, marker, port, process.execPath, [
      join(repoRoot, "node_modules/supergateway/dist/index.js"),
      "--stdio",
      cmd,
      "--outputTransport",
      "streamableHttp",
      "--stateful",
      "--sessionTimeout",
      String(options.idleTimeoutMs),
      "--port",
      String(port),
      "--logLevel",
      "none",
    ]);
  },
};

const mcpProxy: BridgeKind = {
  name: "mcp-proxy (npm)",
  version: npmVersion("mcp-proxy"),
  model: "one child for all sessions",
  idleTimeout: true,
  async start(unmarked, options) {
    const { server, marker } = marked(unmarked);
    const port = await freePort();
    return startListening(this.name, marker, port, process.execPath, [
      join(repoRoot, "node_modules/mcp-proxy/dist/bin/mcp-proxy.mjs"),
      "--port",
      String(port),
      "--host",
      "127.0.0.1",
      "--server",
      "stream",
      "--sessionIdleTimeout",
      String(options.idleTimeoutMs),
      "--",
      server.command,
      ...server.args,
    ]);
  },
};

/** The Python mcp-proxy (PyPI), stateful Streamable HTTP at /mcp; `bin` from the venv the benchmark installs. */
function pythonMcpProxy(bin: string, version: string): BridgeKind {
  return {
    name: "mcp-proxy (Python)",
    version,
    model: "one child for all sessions",
    idleTimeout: false,
    async start(unmarked) {
      const { server, marker } = marked(unmarked);
      const port = await freePort();
      return startListening(this.name, marker, port, bin, [
        "--port",
        String(port),
        "--host",
        "127.0.0.1",
        "--log-level",
        "WARNING",
        "--",
        server.command,
        ...server.args,
      ]);
    },
  };
}

export const SIDECAR = sidecar("session");

/** Our sidecar first (the goals compare it), then the peers; the Python one when it could be installed. */
export function bridges(python?: { path: string; version: string }): BridgeKind[] {
  return [
    SIDECAR,
    supergateway,
    mcpProxy,
    ...(python ? [pythonMcpProxy(python.path, python.version)] : []),
    sidecar("shared"),
  ];
}
