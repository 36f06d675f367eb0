// A closed loop in this process, for the clients that are not HTTP load generators: the MCP SDK client (the
// reference the load generator must beat) and a stdio server driven over its own pipes. `concurrency` loops each
// send their next request as soon as the previous one is answered, for a fixed time.
import { performance } from "node:perf_hooks";
import { summarize, type Summary } from "./stats.ts";

/** One request; `worker` is the loop's index (0..concurrency-1), so loops can own sessions. */
export type Request = (worker: number) => Promise<void>;

export type LoopResult = Summary & { firstError?: string };

export async function closedLoop(request: Request, concurrency: number, durationMs: number): Promise<LoopResult> {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: unknown;
  const start = performance.now();
  const end = start + durationMs;
  const loop = async (worker: number) => {
    while (performance.now() < end) {
      const t0 = performance.now();
      try {
        await request(worker);
        latencies.push(performance.now() - t0);
      } catch (error) {
        errors++;
        firstError ??= error;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, i) => loop(i)));
  const summary = summarize(latencies, errors, (performance.now() - start) / 1000);
  return { ...summary, ...(firstError !== undefined ? { firstError: String(firstError) } : {}) };
}
