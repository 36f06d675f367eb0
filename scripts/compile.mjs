// The one way the project compiles a filter — the gateway (scripts/build.mjs), the test filters
// (tests/helpers/sdk-build.ts) and the builds bench/ab.ts compares: asconfig.json's options, and the filter's own
// collector (assembly/runtime.ts) in place of the minimal runtime's (~lib/rt/tcms). asc can take a runtime by path,
// but compiles any such runtime the incremental runtime's way (a shadow stack in every function, write barriers);
// swapping the one library file keeps the minimal runtime's compilation. The swap is checked: a compiler other than
// the pinned one, or one without that file, fails the build rather than building with another collector.
// (as-pect compiles the unit specs itself, with the incremental runtime its tooling needs.)
import asc from "assemblyscript/asc";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
export const PINNED_ASSEMBLYSCRIPT = "0.27.37";
const REPLACED = "rt/tcms";

/** Throws unless `compiler` (the asc module: its version and library files) is one the collector swap fits. */
export function assertSwappable(compiler) {
  if (compiler.version !== PINNED_ASSEMBLYSCRIPT) {
    throw new Error(
      `scripts/compile.mjs installs the filter's collector into AssemblyScript ${PINNED_ASSEMBLYSCRIPT}, ` +
        `but ${compiler.version} is installed: run npm ci (package.json pins the compiler)`,
    );
  }
  if (typeof compiler.libraryFiles[REPLACED] !== "string") {
    throw new Error(
      `AssemblyScript ${compiler.version} has no library file ${REPLACED} to replace with assembly/runtime.ts`,
    );
  }
}

assertSwappable(asc);
asc.libraryFiles[REPLACED] = readFileSync(new URL("../assembly/runtime.ts", import.meta.url), "utf8");

/** asc colours its diagnostics where it thinks a terminal reads them (e.g. with CI set): callers read plain text. */
const withoutColours = (text) => text.replace(/\x1b\[[0-9;]*m/g, "");

/**
 * Compiles `entry` (a path relative to `baseDir`, default the repository) to `outFile`. Targets: "release" and
 * "debug" as asconfig.json defines them, "test" (release at -O1: test filters build faster). Resolves with the
 * compiler's diagnostics; `ok` is false when it failed.
 */
export async function compileFilter({ entry, outFile, target = "release", baseDir = root, textFile }) {
  const stdout = asc.createMemoryStream();
  const stderr = asc.createMemoryStream();
  const argv = [
    entry,
    "--config",
    `${root}asconfig.json`,
    "--target",
    target === "test" ? "release" : target,
    "--baseDir",
    baseDir,
    "--outFile",
    outFile,
    ...(target === "test" ? ["-O1"] : []),
    ...(textFile ? ["--textFile", textFile] : []),
  ];
  const { error } = await asc.main(argv, { stdout, stderr });
  return { ok: !error, stderr: withoutColours(stderr.toString()) + (error ? `\n${error.message}` : "") };
}
