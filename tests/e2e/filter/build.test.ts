// One way to compile a filter (scripts/compile.mjs): it installs the filter's collector (assembly/runtime.ts) into
// the pinned AssemblyScript compiler, refuses loudly to build with any other compiler or without the file it
// replaces (the check runs when the module is imported, before anything is compiled), and the module it builds
// carries that collector.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { PINNED_ASSEMBLYSCRIPT, assertSwappable } from "../../../scripts/compile.mjs";
import { filterWasm, repoRoot } from "../../helpers/gateway.ts";

test("the built filter carries the filter's collector, not AssemblyScript's", { timeout: 120_000 }, () => {
  filterWasm();
  const listing = readFileSync(join(repoRoot, "build/mcp-proxy.debug.wat"), "utf8");
  // The swapped library file keeps the path of the one it replaces: its functions are named after it.
  for (const name of ["freeListOf", "returnListedBlocks", "takeBlock"])
    assert.ok(listing.includes(`~lib/rt/tcms/${name}`), name);
});

test("the swap refuses a compiler other than the pinned one, or one without the file it replaces", () => {
  const files = { "rt/tcms": "// AssemblyScript's collector" };
  assert.throws(
    () => assertSwappable({ version: "0.28.0", libraryFiles: files }),
    /installs the filter's collector into AssemblyScript 0\.27\.37, but 0\.28\.0 is installed/,
  );
  assert.throws(
    () => assertSwappable({ version: PINNED_ASSEMBLYSCRIPT, libraryFiles: {} }),
    /has no library file rt\/tcms to replace/,
  );
  assert.doesNotThrow(() => assertSwappable({ version: PINNED_ASSEMBLYSCRIPT, libraryFiles: files }));
});
