// Child processes of the benchmark: each one in its own process group, tagged on its command line with the run's
// tag, so that cleanup can find it (and anything it spawned, even re-parented orphans) through /proc alone.
import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { processes, type ProcessInfo } from "../../tests/helpers/procfs.ts";

/** Unique per run; appended to every command line we start, so /proc can tell our processes from the rest. */
export const RUN_TAG = `mcp-bench-${process.pid}-${Date.now().toString(36)}`;

const groups = new Set<number>();

/** Spawns `command` detached (its own process group) and remembers the group for killAll(). */
export function spawnTracked(command: string, args: string[], options: SpawnOptions = {}): ChildProcess {
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], ...options, detached: true });
  if (child.pid) groups.add(child.pid);
  child.on("exit", () => child.pid && groups.delete(child.pid));
  return child;
}

/** A node child running a TypeScript file through tsx, with an IPC channel. */
export function spawnNodeTs(file: string, args: string[] = []): ChildProcess {
  return spawnTracked(process.execPath, ["--import", "tsx", file, ...args, RUN_TAG], {
    stdio: ["ignore", "pipe", "inherit", "ipc"],
  });
}

export type ProcInfo = ProcessInfo;

/** Live processes (zombies hold no memory and are their parent's to reap). */
export function listProcs(): ProcInfo[] {
  return processes().filter((p) => p.state !== "Z");
}

/** `root` and every live descendant (by ppid), plus every process carrying the run tag that is not us. */
export function processTree(root: number, procs = listProcs()): ProcInfo[] {
  const found = new Map<number, ProcInfo>();
  const byParent = new Map<number, ProcInfo[]>();
  for (const p of procs) byParent.set(p.ppid, [...(byParent.get(p.ppid) ?? []), p]);
  const visit = (pid: number) => {
    for (const child of byParent.get(pid) ?? [])
      if (!found.has(child.pid)) {
        found.set(child.pid, child);
        visit(child.pid);
      }
  };
  const self = procs.find((p) => p.pid === root);
  if (self) found.set(root, self);
  visit(root);
  return [...found.values()];
}

/**
 * Processes started (directly or not) by `root`: its descendants and orphans that carry `marker` on their command
 * line; with `withRoot`, `root` itself too.
 */
export function offspring(root: number, marker: string, withRoot = false): ProcInfo[] {
  const procs = listProcs();
  const tree = processTree(root, procs).filter((p) => withRoot || p.pid !== root);
  const orphans = procs.filter(
    (p) => p.pid !== root && p.pid !== process.pid && p.cmdline.includes(marker) && !tree.some((t) => t.pid === p.pid),
  );
  return [...tree, ...orphans];
}

export function rssKb(procs: ProcInfo[]): number {
  return procs.reduce((sum, p) => sum + p.rssKb, 0);
}

function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    /* already gone */
  }
}

/** SIGKILL to every group we started and to every process carrying the run tag (children in groups of their own). */
export function killAll(): void {
  for (const pgid of groups) kill(-pgid, "SIGKILL");
  groups.clear();
  for (const p of listProcs()) if (p.pid !== process.pid && p.cmdline.includes(RUN_TAG)) kill(p.pid, "SIGKILL");
}

/** SIGTERM, then SIGKILL to the whole group after `graceMs`; resolves when the process has exited. */
export async function stop(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || !child.pid) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  kill(child.pid, "SIGTERM");
  const timer = setTimeout(() => kill(-child.pid!, "SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
  kill(-child.pid, "SIGKILL"); // whatever it left behind in its group
}

let installed = false;
/** Kills everything we started when the process ends, however it ends. */
export function installCleanup(): void {
  if (installed) return;
  installed = true;
  process.on("exit", killAll);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(signal, () => {
      killAll();
      process.exit(130);
    });
  }
}

/** Resolves with the first stdout line that `match` accepts (parsed JSON lines). */
export function firstJsonLine<T>(
  child: ChildProcess,
  match: (value: any) => T | undefined,
  timeoutMs = 20_000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    let buffer = "";
    const timer = setTimeout(() => reject(new Error(`no ready line within ${timeoutMs} ms`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString("utf8");
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        let value: unknown;
        try {
          value = JSON.parse(line);
        } catch {
          continue;
        }
        const result = match(value);
        if (result !== undefined) {
          clearTimeout(timer);
          child.stdout!.off("data", onData);
          child.stdout!.resume();
          resolve(result);
          return;
        }
      }
    };
    child.stdout!.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`exited (${code}) before it was ready`));
    });
  });
}
