// Closed-loop load: `concurrency` loops, each issuing its next request as soon as the previous one is answered,
// for a fixed duration after a warm-up. Bounded by time, never by a count that could run away. Paths that are
// compared run interleaved in rounds (A B C, A B C, ...) so that load from elsewhere on the machine falls on all
// of them alike.
import { performance } from "node:perf_hooks";
import { summarize, type Summary } from "./stats.ts";

export interface LoadSettings { concurrency: number; durationMs: number; warmupMs: number; rounds: number }

/** One request; `worker` is the loop's index (0..concurrency-1), so loops can own sessions. */
export type Request = (worker: number) => Promise<void>;

interface Raw { latencies: number[]; errors: number; completed: number; firstError?: unknown }

async function runOnce(request: Request, concurrency: number, warmupMs: number, durationMs: number): Promise<Raw> {
  const raw: Raw = { latencies: [], errors: 0, completed: 0 };
  const warmEnd = performance.now() + warmupMs;
  const end = warmEnd + durationMs;
  const loop = async (worker: number) => {
    while (performance.now() < end) {
      const t0 = performance.now();
      try {
        await request(worker);
        raw.completed++;
        if (t0 >= warmEnd) raw.latencies.push(performance.now() - t0);
      } catch (error) {
        if (t0 >= warmEnd) raw.errors++;
        raw.firstError ??= error;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, i) => loop(i)));
  return raw;
}

export type LoadResult = Summary & { completed: number; firstError?: string };

/**
 * Runs every request kind for `durationMs / rounds` per round, `rounds` times, interleaved; `between` runs
 * before and after each kind's turn (e.g. to snapshot counters). Returns the merged summary per kind.
 */
export async function runInterleaved(requests: Request[], s: LoadSettings, between?: (kind: number, phase: "before" | "after") => Promise<void>): Promise<LoadResult[]> {
  const merged: Raw[] = requests.map(() => ({ latencies: [], errors: 0, completed: 0 }));
  for (let round = 0; round < s.rounds; round++) {
    for (let k = 0; k < requests.length; k++) {
      await between?.(k, "before");
      const raw = await runOnce(requests[k], s.concurrency, round === 0 ? s.warmupMs : 0, s.durationMs / s.rounds);
      await between?.(k, "after");
      merged[k].latencies.push(...raw.latencies);
      merged[k].errors += raw.errors;
      merged[k].completed += raw.completed;
      merged[k].firstError ??= raw.firstError;
    }
  }
  return merged.map((m) => {
    if (m.latencies.length === 0) throw new Error(`no request succeeded: ${String(m.firstError)}`);
    return { ...summarize(m.latencies, m.errors, s.durationMs / 1000), completed: m.completed, ...(m.errors > 0 ? { firstError: String(m.firstError) } : {}) };
  });
}
