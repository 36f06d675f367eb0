#!/usr/bin/env node
// `npm test`: builds what is missing, runs the AssemblyScript specs (as-pect), then every Node test file
// (tests/**/*.test.ts) with Node's test runner. Extra arguments narrow the Node test files by substring.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join, relative } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const filters = process.argv.slice(2);

function run(command, args) {
  const { status, signal } = spawnSync(command, args, { cwd: root, stdio: "inherit" });
  if (status !== 0) {
    console.error(`${command} ${args.join(" ")} failed (${signal ?? `exit ${status}`})`);
    process.exit(status || 1);
  }
}

function testFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === "fixtures" ? [] : testFiles(path);
    return entry.name.endsWith(".test.ts") ? [relative(root, path)] : [];
  });
}

run(process.execPath, ["scripts/build.mjs", "--if-needed"]);
if (filters.length === 0) {
  run(process.execPath, ["node_modules/typescript/bin/tsc", "--noEmit", "-p", "tsconfig.json"]);
  run(process.execPath, ["node_modules/@as-pect/cli/bin/asp.js", "--config", "as-pect.config.js"]);
}
// The status-page test drives Debian's chromium; a fresh machine gets it from the project's own set-up.
run(process.execPath, ["scripts/ensure-chromium.mjs"]);
const files = testFiles(join(root, "tests")).filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
run(process.execPath, ["--import", "tsx", "--test", "--test-reporter=spec", ...files]);
