// The benchmark's own backend (bench/workers/backend.ts) as a child process, and its request counters.
import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import { firstJsonLine, spawnNodeTs, stop } from "./procs.ts";
import { repoRoot } from "./paths.ts";

export interface Backend {
  child: ChildProcess;
  port: number;
  /** Requests received since the last reset, by "<path> <method>". */
  counts(): Promise<Record<string, number>>;
  reset(): Promise<void>;
  close(): Promise<void>;
}

export async function startBackend(): Promise<Backend> {
  const child = spawnNodeTs(join(repoRoot, "bench/workers/backend.ts"));
  const port = await firstJsonLine(child, (v) => (typeof v?.port === "number" ? (v.port as number) : undefined));
  const base = `http://127.0.0.1:${port}`;
  return {
    child,
    port,
    counts: async () => (await fetch(`${base}/_counts`)).json() as Promise<Record<string, number>>,
    reset: async () => {
      await (await fetch(`${base}/_reset`, { method: "POST" })).arrayBuffer();
    },
    close: () => stop(child),
  };
}

/** Requests counted at `path` (every method), from a counts() answer. */
export function countAt(counts: Record<string, number>, path: string, method?: string): number {
  return Object.entries(counts)
    .filter(([key]) => key.startsWith(`${path} `) && (method === undefined || key === `${path} ${method}`))
    .reduce((sum, [, n]) => sum + n, 0);
}
