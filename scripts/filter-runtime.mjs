// The AssemblyScript compiler with the filter's own collector (assembly/runtime.ts) in place of the minimal
// runtime's (~lib/rt/tcms). asc can take a runtime by path, but compiles any such runtime the incremental
// runtime's way (a shadow stack in every function, write barriers); swapping the one library file keeps the
// minimal runtime's compilation. Every build of a filter imports the compiler from here: scripts/build.mjs, the
// test filters (tests/helpers/sdk-build.ts) and the bench's floor filter. A plain `npx asc` build gets
// AssemblyScript's own collector: correct, only slower.
import asc from "assemblyscript/asc";
import { readFileSync } from "node:fs";

asc.libraryFiles["rt/tcms"] = readFileSync(new URL("../assembly/runtime.ts", import.meta.url), "utf8");

export default asc;
