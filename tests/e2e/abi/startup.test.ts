// What Envoy refuses at start-up, which decides how the filter must be built: a module importing anything Envoy does
// not provide for ABI 0.2.x (env.abort from AssemblyScript built without --use abort=..., proxy_clear_route_cache,
// which exists only under ABI 0.1.0) fails to load, and Envoy exits naming the missing import.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import asc from "assemblyscript/asc";
import { bootstrapYaml } from "../../helpers/bootstrap.ts";
import { ownEnvoy } from "../../helpers/envoy.ts";
import { buildTestFilter, compileFilter, repoRoot } from "../../helpers/sdk-build.ts";
import { envoyRefusal } from "../../helpers/harness.ts";

const imports = (wasm: string) =>
  WebAssembly.Module.imports(new WebAssembly.Module(readFileSync(wasm))).map((i) => `${i.module}.${i.name}`);

/**
 * The negative control: a filter compiled as the project never compiles one (scripts/compile.mjs always aliases
 * abort), with AssemblyScript's default abort, which imports env.abort.
 */
async function compileWithDefaultAbort(entry: string, wasm: string) {
  mkdirSync(dirname(wasm), { recursive: true });
  // A config of its own: without --config, asc would pick up the project's asconfig.json and its abort alias.
  const config = join(dirname(wasm), "default-abort.asconfig.json");
  writeFileSync(config, JSON.stringify({ options: { runtime: "minimal" } }));
  const stderr = asc.createMemoryStream();
  const { error } = await asc.main([entry, "--config", config, "-O1", "--outFile", wasm], {
    stdout: asc.createMemoryStream(),
    stderr,
  });
  return { ok: !error, stderr: stderr.toString(), wasm };
}

/** A bootstrap serving `wasm` (nothing listens on the cluster's port: only loading matters here). */
const serving = (wasm: string, rootId: string) =>
  bootstrapYaml({
    wasm,
    rootId,
    pluginName: rootId,
    routes: [{ prefix: "/", cluster: "echo" }],
    clusters: { echo: 1 },
  });

/** Envoy's refusal of a bootstrap serving `wasm` (its error and log tail); fails the test if Envoy starts. */
const refusal = (t: TestContext, wasm: string, rootId: string) => envoyRefusal(t, serving(wasm, rootId));

test("Envoy refuses at load a module importing env.abort (AssemblyScript built without --use abort=abort_proc_exit)", async (t) => {
  const built = await compileWithDefaultAbort(
    join(repoRoot, "tests/filters/passthrough.ts"),
    join(repoRoot, "build/tests/patched/passthrough-abort.wasm"),
  );
  assert.ok(built.ok, built.stderr);
  assert.ok(imports(built.wasm).includes("env.abort"), "precondition: the module imports env.abort");
  assert.match(
    await refusal(t, built.wasm, "passthrough"),
    /Failed to load Wasm module due to a missing import: env\.abort/,
  );
});

test("Envoy refuses at load a module importing proxy_clear_route_cache (ABI 0.1.0 only)", async (t) => {
  const wasm = await buildTestFilter("clearroutecache");
  assert.ok(imports(wasm).includes("env.proxy_clear_route_cache"), "precondition");
  assert.match(
    await refusal(t, wasm, "clearroutecache"),
    /Failed to load Wasm module due to a missing import: env\.proxy_clear_route_cache/,
  );
});

test("Envoy loads the same test filter built as the project builds it (--use abort=abort_proc_exit)", async (t) => {
  const built = await compileFilter(join(repoRoot, "tests/filters/passthrough.ts"));
  assert.ok(built.ok, built.stderr);
  assert.ok(!imports(built.wasm).includes("env.abort"));
  const envoy = await ownEnvoy(t, { yaml: serving(built.wasm, "passthrough") });
  assert.equal(envoy.listeners.length, 1);
});
