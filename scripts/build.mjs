#!/usr/bin/env node
// Builds the filter (build/mcp-proxy.wasm, and build/mcp-proxy.debug.wasm with names and a text listing) and the
// small test filters under tests/filters/, each through scripts/compile.mjs.
// Usage: node scripts/build.mjs [--if-needed] [--filter-only]
import { compileFilter } from "./compile.mjs";
import { readdirSync, statSync, existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const args = new Set(process.argv.slice(2));

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

function upToDate(output, sourceMtime) {
  return existsSync(output) && statSync(output).mtimeMs >= sourceMtime;
}

async function compile(options, label) {
  const { ok, stderr } = await compileFilter(options);
  if (!ok) {
    console.error(`build of ${label} failed:\n${stderr}`);
    process.exit(1);
  }
}

const toolchain = Math.max(
  newestMtime(join(root, "patches")),
  ...["asconfig.json", "scripts/compile.mjs"].map((f) => statSync(join(root, f)).mtimeMs),
);
const filterInputs = Math.max(newestMtime(join(root, "assembly")), toolchain);
mkdirSync(join(root, "build/tests"), { recursive: true });

const targets = [
  { target: "release", outFile: "build/mcp-proxy.wasm" },
  { target: "debug", outFile: "build/mcp-proxy.debug.wasm", textFile: "build/mcp-proxy.debug.wat" },
];
for (const { target, outFile, textFile } of targets) {
  if (args.has("--if-needed") && upToDate(join(root, outFile), filterInputs)) continue;
  await compile({ entry: "assembly/index.ts", outFile, textFile, target }, `filter (${target})`);
}

if (!args.has("--filter-only")) {
  const testFilterDir = join(root, "tests/filters");
  // The test filters import assembly/exports.ts (the collector's brackets) and the runtime: they depend on assembly/.
  for (const file of readdirSync(testFilterDir).filter((f) => f.endsWith(".ts"))) {
    const outFile = join("build/tests", file.replace(/\.ts$/, ".wasm"));
    const inputs = Math.max(statSync(join(testFilterDir, file)).mtimeMs, filterInputs);
    if (args.has("--if-needed") && upToDate(join(root, outFile), inputs)) continue;
    await compile({ entry: join("tests/filters", file), outFile, target: "test" }, `test filter ${file}`);
  }
}
