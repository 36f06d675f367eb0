// What Envoy refuses at start-up, and the emulator's command line: a module importing anything Envoy does not
// provide for ABI 0.2.x (env.abort from AssemblyScript without --use abort=..., proxy_clear_route_cache) is
// rejected at load; a bootstrap field that would change behaviour and is not reproduced is refused with an error
// naming its path; `npx envoy-emulator -c FILE` serves the file and prints plugin logs at the console level (info).
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parse, stringify } from "yaml";
import { startEmulator } from "../../emulator/index.ts";
import { bootstrapYaml } from "../helpers/bootstrap.ts";
import { echoUpstream } from "../helpers/upstream.ts";
import { compileFilter, buildTestFilter, repoRoot } from "../helpers/sdk-build.ts";
import { own, send, waitFor } from "../helpers/harness.ts";

const imports = (wasm: string) => WebAssembly.Module.imports(new WebAssembly.Module(readFileSync(wasm))).map((i) => `${i.module}.${i.name}`);

/** startEmulator's rejection message for a bootstrap serving `wasm`; fails if the emulator starts. */
async function refusal(t: TestContext, yaml: string): Promise<string> {
  try {
    const emu = await startEmulator({ yaml, quiet: true });
    t.after(() => emu.close());
  } catch (error) {
    return String((error as Error).message);
  }
  assert.fail("the emulator started");
}

const withWasm = (wasm: string, rootId: string) => bootstrapYaml({ wasm, rootId, routes: [{ prefix: "/", cluster: "echo" }], clusters: { echo: 1 } });

test("Envoy refuses at load a module importing env.abort (AssemblyScript built without --use abort=abort_proc_exit)", async (t) => {
  const built = await compileFilter(join(repoRoot, "tests/filters/passthrough.ts"), { abortToProcExit: false, outFile: join(repoRoot, "build/tests/patched/passthrough-abort.wasm") });
  assert.ok(built.ok, built.stderr);
  assert.ok(imports(built.wasm).includes("env.abort"), "precondition: the module imports env.abort");
  assert.match(await refusal(t, withWasm(built.wasm, "passthrough")), /env\.abort/);
});

test("Envoy refuses at load a module importing proxy_clear_route_cache (ABI 0.1.0 only)", async (t) => {
  const wasm = await buildTestFilter("clearroutecache");
  assert.ok(imports(wasm).includes("env.proxy_clear_route_cache"), "precondition");
  assert.match(await refusal(t, withWasm(wasm, "clearroutecache")), /proxy_clear_route_cache/);
});

/** The test bootstrap with `edit` applied to its parsed form. */
async function editedBootstrap(edit: (doc: any) => void): Promise<string> {
  const doc = parse(bootstrapYaml({ wasm: await buildTestFilter("passthrough"), rootId: "passthrough", routes: [{ prefix: "/", cluster: "echo" }], clusters: { echo: 1 } }));
  edit(doc);
  return stringify(doc);
}

const hcm = (doc: any) => doc.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;

const unsupported: { field: string; path: RegExp; edit: (doc: any) => void }[] = [
  { field: "a cluster's lb_policy", path: /static_resources\.clusters\[0\]\.lb_policy/, edit: (d) => { d.static_resources.clusters[0].lb_policy = "RING_HASH"; } },
  { field: "a route's retry_policy", path: /routes\[0\]\.route\.retry_policy/, edit: (d) => { hcm(d).route_config.virtual_hosts[0].routes[0].route.retry_policy = { num_retries: 3 }; } },
  { field: "the wasm vm_config's environment_variables", path: /vm_config\.environment_variables/, edit: (d) => { hcm(d).http_filters[0].typed_config.config.vm_config.environment_variables = { host_env_keys: ["HOME"] }; } },
];

for (const c of unsupported) {
  test(`Unsupported bootstrap field (${c.field}) is refused at start-up with an error naming its path`, async (t) => {
    assert.match(await refusal(t, await editedBootstrap(c.edit)), c.path);
  });
}

/** Runs `npx envoy-emulator -c FILE` in its own process group, killed when the test ends. */
function cli(t: TestContext, configPath: string) {
  // The npx of the running Node: inside `npm test`, node_modules/.bin comes first on PATH and holds npm 6's npx (a
  // dependency of as-pect's), which does not know a project's own bins and tries the registry instead.
  const npx = join(dirname(process.execPath), "npx");
  const child = spawn(npx, ["envoy-emulator", "-c", configPath], { cwd: repoRoot, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (c) => { output += c; });
  child.stderr.on("data", (c) => { output += c; });
  t.after(() => { if (child.exitCode === null) process.kill(-child.pid!, "SIGKILL"); });
  return { output: () => output };
}

test("npx envoy-emulator -c FILE serves the bootstrap through the filter and prints plugin logs at the console level (info and above)", async (t) => {
  const upstream = await own(t, echoUpstream());
  const dir = mkdtempSync(join(tmpdir(), "emulator-cli-"));
  const configPath = join(dir, "envoy.yaml");
  writeFileSync(configPath, bootstrapYaml({ wasm: await buildTestFilter("loglevels"), rootId: "loglevels", pluginConfig: "from-file",
    routes: [{ prefix: "/", cluster: "echo" }], clusters: { echo: upstream.port } }));
  const run = cli(t, configPath);
  const url = await waitFor("the listener URL on the console", () => /listener \S+ at (http:\/\/127\.0\.0\.1:\d+)/.exec(run.output())?.[1], 90_000);
  const reply = await send(url, { path: "/via-cli" });
  assert.equal(reply.status, 200);
  assert.equal(JSON.parse(reply.body).path, "/via-cli");
  const printed = run.output();
  for (const level of ["info", "warn", "error", "critical"]) assert.ok(printed.includes(`level ${level}`), `${level}\n${printed}`);
  for (const level of ["trace", "debug"]) assert.ok(!printed.includes(`level ${level}`), `${level} is below the console level`);
  assert.ok(printed.includes("text=[from-file]"));
});
