// CPU time of a process, from /proc/PID/stat: utime + stime (fields 14 and 15), in clock ticks of 10 ms, summed over
// all its threads. The figure per request is a difference over a run divided by the requests of that run.
import { readFileSync } from "node:fs";

const TICK_MS = 10;

/** User + system CPU time of `pid` so far, in ms (NaN once it is gone). */
export function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
  } catch {
    return NaN;
  }
}
