#!/usr/bin/env node
// Unused code in the filter (assembly/): asc has no such check, so tsc reads the sources with AssemblyScript's own
// types (assembly/tsconfig.json) and only its unused-declaration diagnostics are kept — the rest of what tsc says
// about AssemblyScript (its intrinsics, its decorators) is asc's business. Exits 1 when anything is unused.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
/** TS6133 (declared, never read), TS6192 (all imports unused), TS6196 (declared, never used), TS6198 (all destructured unused). */
const UNUSED = /^assembly\/.*error TS(6133|6192|6196|6198):/;

const run = spawnSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "assembly/tsconfig.json"], {
  cwd: root,
  encoding: "utf8",
});
const unused = run.stdout.split("\n").filter((line) => UNUSED.test(line));
if (unused.length > 0) {
  console.error(`Unused code in assembly/ (prefix a parameter an interface requires with "_"):\n${unused.join("\n")}`);
  process.exit(1);
}
console.log("assembly/: no unused code");
