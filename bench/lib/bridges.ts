// The stdio bridges under test, each started as its own process (so /proc sees it and its children): our
// sidecar, supergateway (stateful Streamable HTTP) and npm mcp-proxy. Every child command line carries the run
// tag, so processes they leave behind are found even after re-parenting.
import type { ChildProcess } from "node:child_process";
import { writeFileSync, mkdtempSync } from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { firstJsonLine, RUN_TAG, spawnTracked, stop } from "./procs.ts";
import { repoRoot } from "./services.ts";

/** A stdio MCP server command: program and arguments. */
export interface StdioCommand { command: string; args: string[] }

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
  /** What it runs per session, for the report. */
  model: string;
  start(server: StdioCommand, options: BridgeOptions): Promise<RunningBridge>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

async function waitForPort(port: number, child: ChildProcess, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode} before listening`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, "127.0.0.1", () => { socket.destroy(); resolve(true); });
      socket.on("error", () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`not listening on ${port} after ${timeoutMs} ms`);
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

function running(name: string, url: string, child: ChildProcess, marker: string): RunningBridge {
  return { name, url: new URL(url), child, marker, close: () => stop(child) };
}

/** A peer bridge run as `node SCRIPT ARGS` (SCRIPT relative to the repository), serving MCP at /mcp on `port`. */
async function startListening(name: string, marker: string, port: number, script: string, args: string[]): Promise<RunningBridge> {
  const child = spawnTracked(process.execPath, [join(repoRoot, script), ...args]);
  child.stdout!.resume();
  child.stderr!.resume();
  await waitForPort(port, child);
  return running(name, `http://127.0.0.1:${port}/mcp`, child, marker);
}

function sidecar(mode: "session" | "shared"): BridgeKind {
  return {
    name: mode === "shared" ? "mcp-sidecar (shared)" : "mcp-sidecar",
    model: mode === "shared" ? "one child for all sessions" : "a child per session",
    async start(unmarked, options) {
      const { server, marker } = marked(unmarked);
      const dir = mkdtempSync(join(tmpdir(), "mcp-bench-"));
      const catalog = join(dir, "catalog.json");
      writeFileSync(catalog, JSON.stringify({
        mcpServers: { s: { command: server.command, args: server.args, mode, idleTimeoutMs: options.idleTimeoutMs } },
        // Peers have no rate limit; ours (per client, default 100/s) would throttle the load itself: 0 turns it off.
        sidecar: { maxSessions: 1000, rateLimit: { requestsPerSecond: 0 } },
      }));
      const child = spawnTracked(process.execPath, [join(repoRoot, "sidecar/bin.mjs"), "--config", catalog, "--host", "127.0.0.1", "--port", "0"]);
      child.stderr!.resume();
      const url = await firstJsonLine(child, (v) => (v?.msg === "listening" ? v.url as string : undefined));
      return running(this.name, `${url.replace(/\/$/, "")}/servers/s/mcp`, child, marker);
    },
  };
}

const supergateway: BridgeKind = {
  name: "supergateway",
  model: "a child per session (--stateful)",
  async start(unmarked, options) {
    const { server, marker } = marked(unmarked);
    const port = await freePort();
    const cmd = [server.command, ...server.args].map(shellQuote).join(" ");
    return startListening(this.name, marker, port, "node_modules/supergateway/dist/index.js", ["--stdio", cmd,
      "--outputTransport", "streamableHttp", "--stateful", "--sessionTimeout", String(options.idleTimeoutMs), "--port", String(port), "--logLevel", "none"]);
  },
};

const mcpProxy: BridgeKind = {
  name: "mcp-proxy (npm)",
  model: "one child for all sessions",
  async start(unmarked, options) {
    const { server, marker } = marked(unmarked);
    const port = await freePort();
    return startListening(this.name, marker, port, "node_modules/mcp-proxy/dist/bin/mcp-proxy.mjs", ["--port", String(port),
      "--host", "127.0.0.1", "--server", "stream", "--sessionIdleTimeout", String(options.idleTimeoutMs), "--", server.command, ...server.args]);
  },
};

export const BRIDGES: BridgeKind[] = [sidecar("session"), supergateway, mcpProxy, sidecar("shared")];
export const SIDECAR = BRIDGES[0];
