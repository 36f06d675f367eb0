// Starting the benchmark's own servers as child processes, and talking to them.
import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import { HOST_FUNCTIONS, type TimingOverhead } from "../../emulator/api.ts";
import { firstJsonLine, spawnNodeTs, stop } from "./procs.ts";
import type { NodeScenario } from "./node-baseline.ts";

export const repoRoot = new URL("../..", import.meta.url).pathname;
const workers = join(repoRoot, "bench/workers");

export interface Service {
  child: ChildProcess;
  close(): Promise<void>;
}

export interface Backend extends Service {
  port: number;
  /** Requests received since the last reset, by "<path> <method>". */
  counts(): Promise<Record<string, number>>;
  reset(): Promise<void>;
}

async function startPortWorker(file: string, args: string[] = []): Promise<{ child: ChildProcess; port: number }> {
  const child = spawnNodeTs(join(workers, file), args);
  const port = await firstJsonLine(child, (v) => (typeof v?.port === "number" ? v.port as number : undefined));
  return { child, port };
}

export async function startBackend(): Promise<Backend> {
  const { child, port } = await startPortWorker("backend.ts");
  const base = `http://127.0.0.1:${port}`;
  return {
    child, port,
    counts: async () => (await fetch(`${base}/_counts`)).json() as Promise<Record<string, number>>,
    reset: async () => { await (await fetch(`${base}/_reset`, { method: "POST" })).arrayBuffer(); },
    close: () => stop(child),
  };
}

export async function startForwarder(targetPort: number): Promise<Service & { port: number }> {
  const { child, port } = await startPortWorker("forwarder.ts", [String(targetPort)]);
  return { child, port, close: () => stop(child) };
}

export type WasmTimings = Record<string, { calls: number; ns: number }>;

export interface EmulatorService extends Service {
  url: string;
  /** emu.wasmTime() of the worker: guest-only time per export, host functions under HOST_FUNCTIONS. */
  timings(): Promise<WasmTimings>;
  /** Sets the Node baseline's per-request work in the emulator's process. */
  setNodeWork(s: NodeScenario): Promise<void>;
  /** Runs that work once there, between the emulator's requests; its nanoseconds. */
  nodeOnce(): Promise<number>;
  /** emu.timingOverhead() of the worker: what its stopwatch charges per export call and per host call. */
  timingOverhead(): Promise<TimingOverhead>;
}

function ask<T>(child: ChildProcess, message: unknown, pick: (reply: any) => T | undefined): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (reply: any) => {
      if (reply?.error) { child.off("message", onMessage); reject(new Error(reply.error)); return; }
      const value = pick(reply);
      if (value !== undefined) { child.off("message", onMessage); resolve(value); }
    };
    child.on("message", onMessage);
    child.send(message as any);
  });
}

export async function startEmulatorWorker(yaml: string): Promise<EmulatorService> {
  const child = spawnNodeTs(join(workers, "emulator.ts"));
  const url = await ask(child, { yaml }, (r) => r.url as string | undefined);
  return {
    child, url,
    timings: async () => {
      const raw = await ask(child, "wasmTime", (r) => r.timings as Record<string, { calls: number; ns: string }> | undefined);
      return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, { calls: v.calls, ns: Number(v.ns) }]));
    },
    setNodeWork: async (s) => { await ask(child, { nodeWork: s }, (r) => r.nodeReady as boolean | undefined); },
    nodeOnce: () => ask(child, "nodeOnce", (r) => r.nodeNs as number | undefined),
    timingOverhead: () => ask(child, "timingOverhead", (r) => r.overhead as TimingOverhead | undefined),
    close: async () => { if (child.connected) child.disconnect(); await stop(child); },
  };
}

export interface WasmSplit {
  /** Time inside the module's exports (emulator's measure), request exports only. */
  exportNs: number;
  /** Of which: host functions the module called (the emulator's JavaScript), without the wasm they called back. */
  hostNs: number;
  /** Of which: the module's own code. */
  wasmNs: number;
  hostCalls: number;
  /** Calls of the module's exports, allocation and ticks included. */
  exportCalls: number;
  /** Of wasmNs: the periodic tick, counted because it collects the garbage requests left (assembly/collector.ts). */
  tickNs: number;
}

const ALLOCATORS = new Set(["malloc", "proxy_on_memory_allocate"]);

/**
 * Time between two snapshots. The emulator charges host functions apart from the export that called them; an
 * allocation export runs nested inside a host function (the host asking for memory), so its guest time is also
 * inside the host functions' total and is moved back to the guest side.
 */
export function splitBetween(before: WasmTimings, after: WasmTimings): WasmSplit {
  const delta = (name: string) => ({ calls: (after[name]?.calls ?? 0) - (before[name]?.calls ?? 0), ns: (after[name]?.ns ?? 0) - (before[name]?.ns ?? 0) });
  const split: WasmSplit = { exportNs: 0, hostNs: 0, wasmNs: 0, hostCalls: 0, exportCalls: 0, tickNs: delta("proxy_on_tick").ns };
  let allocNs = 0;
  for (const name of Object.keys(after)) {
    if (name === HOST_FUNCTIONS) continue;
    split.wasmNs += delta(name).ns;
    split.exportCalls += delta(name).calls;
    if (ALLOCATORS.has(name)) allocNs += delta(name).ns;
  }
  const host = delta(HOST_FUNCTIONS);
  split.hostNs = host.ns - allocNs;
  split.hostCalls = host.calls;
  split.exportNs = split.wasmNs + split.hostNs;
  return split;
}

/** Every field divided by `n`. */
export function perRequest(split: WasmSplit, n: number): WasmSplit {
  return Object.fromEntries(Object.entries(split).map(([k, v]) => [k, v / n])) as unknown as WasmSplit;
}
