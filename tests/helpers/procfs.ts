// Processes as /proc shows them, for tests and the benchmark that must see what really runs (orphans re-parented
// to init included) rather than trust the counters of the program under test.
import { readdirSync, readFileSync } from "node:fs";

export interface ProcessInfo {
  pid: number;
  ppid: number;
  pgid: number;
  /** "Z" for a zombie: it has died and only waits to be reaped. */
  state: string;
  rssKb: number;
  cmdline: string;
}

/** One process from /proc/PID/stat and cmdline, or undefined once it is gone. */
export function processInfo(pid: number): ProcessInfo | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the parenthesised command name: state ppid pgrp ... (rss, in pages, is index 21 here).
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ").trim();
    return {
      pid,
      ppid: Number(fields[1]),
      pgid: Number(fields[2]),
      state: fields[0],
      rssKb: Number(fields[21]) * 4,
      cmdline,
    };
  } catch {
    return undefined; // exited while we looked
  }
}

/** Every process on the machine, zombies included. */
export function processes(): ProcessInfo[] {
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .map((entry) => processInfo(Number(entry)))
    .filter((p): p is ProcessInfo => p !== undefined);
}
