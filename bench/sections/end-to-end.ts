// 3. End to end at fixed concurrency and duration: tools/call through the emulator + filter to a Streamable HTTP
// backend against the client calling the backend directly (and through a bare forwarder: the extra hop alone);
// then the same through the sidecar to a stdio server (server-everything), against its pipes directly.
import { McpSession, newAgent } from "../lib/mcp-http.ts";
import { runInterleaved, type LoadResult, type LoadSettings, type Request } from "../lib/load.ts";
import { startGateway } from "../lib/gateway.ts";
import { perRequest, splitBetween, startBackend, startForwarder, type EmulatorService, type WasmSplit, type WasmTimings } from "../lib/services.ts";
import { EVERYTHING, marked, SIDECAR } from "../lib/bridges.ts";
import { spawnTracked, stop } from "../lib/procs.ts";
import { StdioConnection } from "../lib/stdio-client.ts";

export interface PathResult extends LoadResult { path: string; baseline?: string }

export interface LatencySplit {
  /** p50 through the gateway minus p50 direct, ms. */
  addedMs: number;
  /** Per request, ms: the module's own code and the host functions it called. */
  wasmMs: number;
  hostCallsMs: number;
  /** p50 through the bare forwarder minus p50 direct, ms: the extra network hop. */
  hopMs: number;
  /** What is left: the emulator's own code outside the module (HTTP, dispatch, buffering). */
  emulatorOtherMs: number;
  /** The filter's own time per warm tools/call as a share of the direct call's p50 (goal < 5%). */
  wasmShareOfDirect: number;
  split: WasmSplit;
}

export interface EndToEndResult { settings: LoadSettings; http: PathResult[]; stdio: PathResult[]; split: LatencySplit }

/** One session per loop is what agents do; the gateway still shares one backend session among them. */
async function sessionsCall(url: URL, concurrency: number, tool: string, args: Record<string, unknown>): Promise<Request> {
  const agent = newAgent(concurrency);
  const sessions = await Promise.all(Array.from({ length: concurrency }, () => new McpSession(url, agent).open()));
  return async (worker) => { await sessions[worker].callTool(tool, args); };
}

function rows(names: string[], results: LoadResult[], log: (l: string) => void): PathResult[] {
  return results.map((r, i) => {
    log(`  ${names[i]}: ${r.rps.toFixed(0)} req/s, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, errors ${r.errors}${r.firstError ? ` (${r.firstError.slice(0, 160)})` : ""}`);
    return { path: names[i], ...(i > 0 ? { baseline: names[0] } : {}), ...r };
  });
}

/** Accumulates the gateway's wasm time over its own turns only. */
function wasmTracker(emu: EmulatorService, kind: number) {
  let before: WasmTimings | undefined;
  let total: WasmSplit | undefined;
  const add = (a: WasmSplit | undefined, b: WasmSplit) => (a ? Object.fromEntries(Object.entries(b).map(([k, v]) => [k, v + (a as any)[k]])) as unknown as WasmSplit : b);
  return {
    between: async (k: number, phase: "before" | "after") => {
      if (k !== kind) return;
      if (phase === "before") before = await emu.timings();
      else total = add(total, splitBetween(before!, await emu.timings()));
    },
    total: () => total!,
  };
}

async function httpPaths(s: LoadSettings, log: (l: string) => void): Promise<{ rows: PathResult[]; split: LatencySplit }> {
  const backend = await startBackend();
  const forwarder = await startForwarder(backend.port);
  const emu = await startGateway([{ prefix: "/json/10", backendPath: "/json/10/mcp" }], { backend: backend.port });
  try {
    const names = ["client → backend (direct)", "client → forwarder → backend (extra hop only)", "client → emulator + filter → backend"];
    const urls = [`http://127.0.0.1:${backend.port}/json/10/mcp`, `http://127.0.0.1:${forwarder.port}/json/10/mcp`, `${emu.url}/json/10`];
    const requests = await Promise.all(urls.map((u) => sessionsCall(new URL(u), s.concurrency, "blob", { bytes: 1024 })));
    const tracker = wasmTracker(emu, 2);
    const [direct, hop, gw] = rows(names, await runInterleaved(requests, s, tracker.between), log);
    const split = perRequest(tracker.total(), gw.completed);
    const addedMs = gw.p50 - direct.p50;
    const hopMs = hop.p50 - direct.p50;
    const wasmMs = split.wasmNs / 1e6;
    const hostCallsMs = split.hostNs / 1e6;
    return {
      rows: [direct, hop, gw],
      split: { addedMs, wasmMs, hostCallsMs, hopMs, emulatorOtherMs: addedMs - wasmMs - hostCallsMs - hopMs, wasmShareOfDirect: wasmMs / direct.p50, split },
    };
  } finally {
    await emu.close();
    await forwarder.close();
    await backend.close();
  }
}

async function stdioPaths(s: LoadSettings, log: (l: string) => void): Promise<PathResult[]> {
  const direct = marked(EVERYTHING).server;
  const child = spawnTracked(direct.command, direct.args, { stdio: ["pipe", "pipe", "ignore"] });
  // Shared mode: every client session of the sidecar and gateway paths reaches one child, like the single pipe.
  const sidecar = await SIDECAR.start(EVERYTHING, { idleTimeoutMs: 600_000, mode: "shared" });
  const emu = await startGateway([{ prefix: "/s", name: "s", transport: "stdio", cluster: "sidecar" }], { sidecar: Number(sidecar.url.port) });
  try {
    const echo = { message: "hello" };
    const pipe = await new StdioConnection(child).open();
    const requests: Request[] = [
      async () => { await pipe.request("tools/call", { name: "echo", arguments: echo }); },
      await sessionsCall(sidecar.url, s.concurrency, "echo", echo),
      await sessionsCall(new URL(`${emu.url}/s`), s.concurrency, "echo", echo),
    ];
    const names = ["client → stdio server (pipes, direct)", "client → sidecar (shared child) → stdio server", "client → emulator + filter → sidecar → stdio server"];
    return rows(names, await runInterleaved(requests, s), log);
  } finally {
    await emu.close();
    await sidecar.close();
    await stop(child);
  }
}

export async function runEndToEnd(settings: LoadSettings, log: (l: string) => void): Promise<EndToEndResult> {
  const { rows: http, split } = await httpPaths(settings, log);
  const stdio = await stdioPaths(settings, log);
  return { settings, http, stdio, split };
}
