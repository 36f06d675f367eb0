// npm run bench: the four measurements of issue 7, then bench/results/latest.{md,json,svg}. Every process it
// starts is killed when it ends, whatever happens; each section is bounded in time; a failing section is reported
// and the others still run.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { installCleanup, killAll } from "./lib/procs.ts";
import { describeMachine, finishMachine } from "./lib/machine.ts";
import { goals as evaluate, type Results } from "./lib/goals.ts";
import { markdown } from "./lib/report.ts";
import { chart } from "./lib/chart.ts";
import { buildNotes } from "./lib/gateway.ts";
import { repoRoot } from "./lib/services.ts";
import { runWasmCost } from "./sections/wasm-cost.ts";
import { runUpstreamCount } from "./sections/upstream-count.ts";
import { runEndToEnd } from "./sections/end-to-end.ts";
import { runBridges } from "./sections/bridges.ts";

const COMMAND = "npm run bench";
const LOAD = { concurrency: 8, durationMs: 8000, warmupMs: 1000, rounds: 4 };

installCleanup();
const started = performance.now();
const log = (line: string) => console.log(line);
const machine = describeMachine();
const results: Results = {};
const notes: string[] = [];

async function section<K extends keyof Results>(key: K, title: string, run: () => Promise<Results[K]>): Promise<void> {
  log(`${title} ...`);
  const t0 = performance.now();
  try {
    results[key] = await run();
  } catch (error) {
    notes.push(`section "${title}" failed: ${error instanceof Error ? error.message : String(error)}`);
    log(`  FAILED: ${error instanceof Error ? error.stack : String(error)}`);
  }
  log(`  (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
}

try {
  await section("wasmCost", "1. filter cost inside the wasm", () => runWasmCost(log));
  await section("upstream", "2. upstream requests per tools/call", () => runUpstreamCount(log));
  await section("endToEnd", "3. end to end", () => runEndToEnd(LOAD, log));
  await section("bridges", "4. stdio bridges", () => runBridges({ load: LOAD, idleSessions: 8, loadSessions: 4, cycles: 500, cycleConcurrency: 5, cycleIdleMs: 5000 }, log));
} finally {
  killAll();
}

finishMachine(machine);
notes.unshift(...buildNotes);
const seconds = (performance.now() - started) / 1000;
const goals = evaluate(results);
const dir = join(repoRoot, "bench/results");
mkdirSync(dir, { recursive: true });
const caption = `${COMMAND} · ${machine.cores} cores ${machine.cpuModel} · Node ${machine.node} · ${machine.gitHead} · ${new Date().toISOString().slice(0, 16)}Z`;
writeFileSync(join(dir, "latest.json"), JSON.stringify({ command: COMMAND, date: new Date().toISOString(), seconds, machine, notes, goals, results }, null, 2) + "\n");
writeFileSync(join(dir, "latest.md"), markdown(results, goals, machine, { command: COMMAND, seconds, notes }));
writeFileSync(join(dir, "latest.svg"), chart(results, goals, caption));
log(`\n${goals.filter((g) => g.met).length}/${goals.length} goals met; ${seconds.toFixed(0)} s; bench/results/latest.md`);
process.exit(0);
