#!/usr/bin/env node
// Builds the filter (release + debug) and the small test filters under tests/filters/.
// Usage: node scripts/build.mjs [--if-needed] [--filter-only]
//        node scripts/build.mjs --asc ASC_ARGS...   (any other filter build, with the filter's runtime)
import asc from "./filter-runtime.mjs";
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

async function compile(argv, label) {
  const { error, stderr } = await asc.main(argv, { stdout: process.stdout, stderr: process.stderr });
  if (error) {
    console.error(`build of ${label} failed: ${error.message}\n${stderr.toString()}`);
    process.exit(1);
  }
}

if (process.argv[2] === "--asc") {
  await compile(process.argv.slice(3), "asc");
  process.exit(0);
}

const sdkInputs = Math.max(newestMtime(join(root, "patches")), ...["asconfig.json", "assembly/runtime.ts"].map((f) => statSync(join(root, f)).mtimeMs));
const filterInputs = Math.max(newestMtime(join(root, "assembly")), sdkInputs);
mkdirSync(join(root, "build/tests"), { recursive: true });

for (const target of ["release", "debug"]) {
  const output = join(root, target === "release" ? "build/mcp-proxy.wasm" : "build/mcp-proxy.debug.wasm");
  if (args.has("--if-needed") && upToDate(output, filterInputs)) continue;
  await compile(["assembly/index.ts", "--config", "asconfig.json", "--target", target], `filter (${target})`);
}

if (!args.has("--filter-only")) {
  const testFilterDir = join(root, "tests/filters");
  for (const file of readdirSync(testFilterDir).filter((f) => f.endsWith(".ts"))) {
    const output = join(root, "build/tests", file.replace(/\.ts$/, ".wasm"));
    const inputs = Math.max(statSync(join(testFilterDir, file)).mtimeMs, sdkInputs);
    if (args.has("--if-needed") && upToDate(output, inputs)) continue;
    // Test filters share the filter's toolchain options; -O1 keeps the test build fast.
    await compile([join("tests/filters", file), "--config", "asconfig.json", "--target", "release", "-O1",
      "--outFile", output], `test filter ${file}`);
  }
}
