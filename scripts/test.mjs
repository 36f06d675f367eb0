#!/usr/bin/env node
// `npm test`: builds what is missing, gets the pinned Envoy builds, type-checks, looks for unused code in the filter,
// checks the format, runs the AssemblyScript specs (as-pect), then every Node test file (tests/**/*.test.ts) with
// Node's test runner.
// Extra arguments narrow the Node test files by substring.
//
// A run never hangs and never leaves anything behind: every test has a time limit (the runner's default below, or
// the test's own), and every process started during the run carries a marker in its environment; whatever still
// carries it once the tests are over (a child a failed test could not stop) is listed, killed, and fails the run.
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const filters = process.argv.slice(2);
/** A test without a limit of its own is cancelled after this (the slowest tests set theirs, below it). */
const TEST_TIMEOUT_MS = 5 * 60_000;
const RUN_MARKER = "MCP_PROXY_WASM_TEST_RUN";
const marker = randomUUID();

function run(command, args, env = process.env) {
  const { status, signal } = spawnSync(command, args, { cwd: root, stdio: "inherit", env });
  if (status !== 0) {
    console.error(`${command} ${args.join(" ")} failed (${signal ?? `exit ${status}`})`);
    return false;
  }
  return true;
}

function runOrExit(command, args) {
  if (!run(command, args)) process.exit(1);
}

function testFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === "fixtures" ? [] : testFiles(path);
    return entry.name.endsWith(".test.ts") ? [relative(root, path)] : [];
  });
}

/** Processes other than this one whose environment carries this run's marker. */
function markedProcesses() {
  const found = [];
  for (const entry of readdirSync("/proc").filter((e) => /^\d+$/.test(e))) {
    const pid = Number(entry);
    if (pid === process.pid) continue;
    try {
      if (!readFileSync(`/proc/${pid}/environ`, "latin1").split("\0").includes(`${RUN_MARKER}=${marker}`)) continue;
      found.push({ pid, cmdline: readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ").trim() });
    } catch {
      // gone while we looked, or not ours to read
    }
  }
  return found;
}

runOrExit(process.execPath, ["scripts/build.mjs", "--if-needed"]);
runOrExit(process.execPath, ["scripts/envoy.mjs"]);
if (filters.length === 0) {
  runOrExit(process.execPath, ["node_modules/typescript/bin/tsc", "--noEmit", "-p", "tsconfig.json"]);
  runOrExit(process.execPath, ["scripts/lint-assembly.mjs"]);
  // One format for every source file (`npm run format` writes it; .prettierignore says what is left out and why).
  runOrExit(process.execPath, [
    "node_modules/prettier/bin/prettier.cjs",
    "--check",
    "--log-level",
    "warn",
    "**/*.{ts,mjs,js}",
  ]);
  runOrExit(process.execPath, ["node_modules/@as-pect/cli/bin/asp.js", "--config", "as-pect.config.js"]);
}
// The status-page test drives Debian's chromium; a fresh machine gets it from the project's own set-up.
runOrExit(process.execPath, ["scripts/ensure-chromium.mjs"]);
const files = testFiles(join(root, "tests")).filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
const passed = run(
  process.execPath,
  ["--import", "tsx", "--test", "--test-reporter=spec", `--test-timeout=${TEST_TIMEOUT_MS}`, ...files],
  { ...process.env, [RUN_MARKER]: marker },
);
const leftovers = markedProcesses();
for (const { pid } of leftovers) {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    /* already gone */
  }
}
if (leftovers.length > 0) {
  console.error(
    `npm test: ${leftovers.length} process(es) started by the tests outlived them (killed now):\n` +
      leftovers.map((p) => `  ${p.pid} ${p.cmdline}`).join("\n"),
  );
}
process.exit(passed && leftovers.length === 0 ? 0 : 1);
