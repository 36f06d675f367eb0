// Compiles test filters with the AssemblyScript compiler API, against the patched SDK in node_modules or against
// a copy of it in which the hunks of one patch fix are reverted (to prove each fix is needed). Copies live in
// build/tests/unpatched/<fix>/node_modules/@solo-io/proxy-runtime and are reused while the patch is unchanged.
import { compileFilter as compileWithProjectToolchain } from "../../scripts/compile.mjs";
import { spawnSync } from "node:child_process";
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";

export const repoRoot = new URL("../..", import.meta.url).pathname;
const PATCH = join(repoRoot, "patches/@solo-io+proxy-runtime+0.1.8.patch");
const SDK = "node_modules/@solo-io/proxy-runtime";

export interface Compiled {
  ok: boolean;
  /** Compiler diagnostics. */
  stderr: string;
  wasm: string;
}

export interface CompileOptions {
  /** A directory holding node_modules/@solo-io/proxy-runtime; default the repository (the patched SDK). */
  sdkRoot?: string;
  /** Output path; default next to the copied source. */
  outFile?: string;
}

/**
 * Compiles `source` (a .ts path or {name, text}) as every filter is compiled (scripts/compile.mjs), against the
 * patched SDK in node_modules or against a copy of it (`sdkRoot`) in which one patch fix is reverted.
 */
export async function compileFilter(
  source: string | { name: string; text: string },
  options: CompileOptions = {},
): Promise<Compiled> {
  const sdkRoot = options.sdkRoot ?? repoRoot;
  const name = typeof source === "string" ? basename(source, ".ts") : source.name;
  // The entry sits under sdkRoot so that its SDK import resolves to sdkRoot's node_modules.
  const dir = join(sdkRoot, options.sdkRoot ? "filters" : "build/tests/patched");
  mkdirSync(dir, { recursive: true });
  const entry = join(dir, `${name}.ts`);
  if (typeof source === "string") copyFileSync(source, entry);
  else writeFileSync(entry, source.text);
  const wasm = options.outFile ?? join(dir, `${name}.wasm`);
  const { ok, stderr } = await compileWithProjectToolchain({
    entry: `${name}.ts`,
    baseDir: dir,
    outFile: wasm,
    target: "test",
  });
  return { ok, stderr, wasm };
}

const toolchainInputs = [
  "asconfig.json",
  "scripts/compile.mjs",
  "assembly/runtime.ts",
  "assembly/exports.ts",
  "assembly/collector.ts",
].map((f) => join(repoRoot, f));

/**
 * Path of build/tests/NAME.wasm, compiled from tests/filters/NAME.ts as scripts/build.mjs does if out of date.
 * Only that filter is built, so a test does not depend on the state of the main filter under assembly/.
 */
export async function buildTestFilter(name: string): Promise<string> {
  const source = join(repoRoot, "tests/filters", `${name}.ts`);
  const wasm = join(repoRoot, "build/tests", `${name}.wasm`);
  const inputs = Math.max(...[source, PATCH, ...toolchainInputs].map((f) => statSync(f).mtimeMs));
  if (existsSync(wasm) && statSync(wasm).mtimeMs >= inputs) return wasm;
  const { ok, stderr } = await compileWithProjectToolchain({
    entry: `tests/filters/${name}.ts`,
    outFile: wasm,
    target: "test",
  });
  if (!ok) throw new Error(`building test filter ${name} failed: ${stderr}`);
  return wasm;
}

interface Hunk {
  file: string;
  header: string;
  text: string;
}

function hunks(patch: string): Hunk[] {
  const out: Hunk[] = [];
  for (const section of patch.split(/^(?=diff --git )/m).filter((s) => s.startsWith("diff --git"))) {
    const [header, ...bodies] = section.split(/^(?=@@ )/m);
    const file = /^\+\+\+ b\/(.*)$/m.exec(header)![1];
    for (const text of bodies) out.push({ file, header, text });
  }
  return out;
}

/** A sub-patch holding the hunks that contain any of `markers`, grouped under their file headers. */
function subPatch(markers: string[]): string {
  const selected = hunks(readFileSync(PATCH, "utf8")).filter((h) => markers.some((m) => h.text.includes(m)));
  if (selected.length === 0) throw new Error(`no hunk of the SDK patch contains ${markers.join(" / ")}`);
  const files = [...new Set(selected.map((h) => h.file))];
  return files
    .map(
      (f) =>
        selected[selected.findIndex((h) => h.file === f)].header +
        selected
          .filter((h) => h.file === f)
          .map((h) => h.text)
          .join(""),
    )
    .join("");
}

export interface Fix {
  /** Directory name under build/tests/unpatched/. */
  name: string;
  /** Text found only in the hunks of this fix. */
  markers: string[];
  /** Names to drop from the patched index.ts export list when the reverted code no longer defines them. */
  dropExports?: string[];
}

/** A copy of the SDK with `fix` reverted; returns its root (to pass as sdkRoot). */
export function sdkWithout(fix: Fix): string {
  const root = join(repoRoot, "build/tests/unpatched", fix.name);
  const sdk = join(root, SDK);
  const stamp = join(root, "patch.mtime");
  const patchTime = String(statSync(PATCH).mtimeMs);
  if (existsSync(stamp) && readFileSync(stamp, "utf8") === patchTime) return root;
  rmSync(root, { recursive: true, force: true });
  cpSync(join(repoRoot, SDK), sdk, { recursive: true });
  const reverted = spawnSync("patch", ["-R", "-p1", "--no-backup-if-mismatch", "-d", root], {
    input: subPatch(fix.markers),
  });
  if (reverted.status !== 0) throw new Error(`reverting ${fix.name} failed: ${reverted.stdout}${reverted.stderr}`);
  if (fix.dropExports) {
    const index = join(sdk, "assembly/index.ts");
    let text = readFileSync(index, "utf8");
    for (const name of fix.dropExports) text = text.replace(new RegExp(`\\b${name},\\s*`), "");
    writeFileSync(index, text);
  }
  writeFileSync(stamp, patchTime);
  return root;
}
