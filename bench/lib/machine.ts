// What the figures were measured on, and from which code.
import { execSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { repoRoot } from "./paths.ts";

export interface Machine {
  cpuModel: string;
  cores: number;
  memoryGb: number;
  node: string;
  os: string;
  loadAvgAtStart: number[];
  loadAvgAtEnd?: number[];
  /** The 1-minute load average sampled during the run (after each round of the rows in Envoy). */
  loadSamples: number[];
  gitHead: string;
  /** Uncommitted changes under assembly/ (the filter being measured may differ from HEAD). */
  filterDirty: boolean;
  wasmSha256: string;
}

const git = (args: string) => {
  try {
    return execSync(`git ${args}`, { cwd: repoRoot, encoding: "utf8" }).trim();
  } catch {
    return "?";
  }
};

export function describeMachine(): Machine {
  return {
    cpuModel: os.cpus()[0]?.model.trim() ?? "?",
    cores: os.cpus().length,
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    loadAvgAtStart: os.loadavg().map((v) => Number(v.toFixed(2))),
    loadSamples: [],
    gitHead: git("rev-parse --short HEAD"),
    filterDirty: git("status --porcelain -- assembly").length > 0,
    wasmSha256: "?",
  };
}

/** One sample of the 1-minute load average. */
export function sampleLoad(m: Machine): void {
  m.loadSamples.push(Number(os.loadavg()[0].toFixed(2)));
}

/** At the end: the load meanwhile, and which build of the filter was measured. */
export function finishMachine(m: Machine): void {
  const wasm = join(repoRoot, "build/mcp-proxy.wasm");
  m.wasmSha256 = existsSync(wasm) ? createHash("sha256").update(readFileSync(wasm)).digest("hex").slice(0, 16) : "?";
  m.loadAvgAtEnd = os.loadavg().map((v) => Number(v.toFixed(2)));
}
