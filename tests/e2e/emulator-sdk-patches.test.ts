// Each fix in patches/@solo-io+proxy-runtime+0.1.8.patch (reference §8) is needed: with only that fix's hunks
// reverted (a copy of the SDK under build/tests/unpatched/), the same test filter fails to build, is refused by
// Envoy's import check, fails to start, or gives a wrong result — while the patched build works in the emulator.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startEmulator } from "../../emulator/index.ts";
import { bootstrapYaml } from "../helpers/bootstrap.ts";
import { echoUpstream } from "../helpers/upstream.ts";
import { buildTestFilter, compileFilter, repoRoot, sdkWithout, type Fix } from "../helpers/sdk-build.ts";
import { own, pluginLogs, send } from "../helpers/harness.ts";

const FIXES = {
  allocator: { name: "allocator", markers: ["__pin"] },
  procExit: { name: "proc_exit", markers: ["@external(\"wasi_snapshot_preview1\", \"proc_exit\")"] },
  setBufferBytes: { name: "set_buffer_bytes", markers: ["proxy_set_buffer_bytes"], dropExports: ["set_buffer_bytes"] },
  onConfigure: { name: "on_configure", markers: ["configuration_size == 0"] },
  getMetric: { name: "get_metric", markers: ["Patched: was proxy_record_metric"] },
  sharedData: { name: "shared_data", markers: ["SharedDataResult"] },
  httpCallback: { name: "http_callback", markers: ["AssemblyScript function types are invariant"] },
  propertyOrNull: { name: "property_or_null", markers: ["get_property_or_null"], dropExports: ["get_property_or_null"] },
  dequeue: { name: "dequeue", markers: ["TS2564"] },
} satisfies Record<string, Fix>;

/** A one-file test filter whose on_request_headers runs `body` (a Context method body) and logs through `say`. */
function inlineFilter(name: string, imports: string, body: string) {
  return {
    name,
    text: `export * from "@solo-io/proxy-runtime/assembly/proxy";
import { RootContext, Context, registerRootContext, FilterHeadersStatusValues, log, LogLevelValues, ${imports} } from "@solo-io/proxy-runtime/assembly";
function say(text: string): void { log(LogLevelValues.info, text); }
class Stream extends Context {
  onRequestHeaders(_n: u32, _eos: bool): FilterHeadersStatusValues { ${body} }
}
class Root extends RootContext { createContext(id: u32): Context { return new Stream(id, this); } }
registerRootContext((id: u32): RootContext => new Root(id), "${name}");
`,
  };
}

const filterSource = (name: string) => join(repoRoot, "tests/filters", `${name}.ts`);

/** Builds tests/filters/NAME.ts against the SDK without `fix`. */
function buildWithout(fix: Fix, name: string) {
  return compileFilter(filterSource(name), { sdkRoot: sdkWithout(fix) });
}

function importsOf(wasm: string): string[] {
  return WebAssembly.Module.imports(new WebAssembly.Module(readFileSync(wasm))).map((i) => `${i.module}.${i.name}`);
}

/** Starts the emulator on `wasm` in front of an echo upstream. */
async function serve(t: TestContext, wasm: string, rootId: string, pluginConfig?: string) {
  const upstream = await own(t, echoUpstream());
  const emu = await own(t, startEmulator({ quiet: true, yaml: bootstrapYaml({ wasm, rootId, pluginName: rootId, pluginConfig,
    routes: [{ prefix: "/", cluster: "echo" }], clusters: { echo: upstream.port } }) }));
  return { emu, url: emu.listeners[0].url, upstream };
}

async function startError(wasm: string, rootId: string, pluginConfig?: string): Promise<string | undefined> {
  try {
    const emu = await startEmulator({ quiet: true, yaml: bootstrapYaml({ wasm, rootId, pluginConfig, routes: [{ prefix: "/", cluster: "echo" }], clusters: { echo: 1 } }) });
    await emu.close();
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

test("SDK fix, allocator: malloc pins with __pin; 0.1.8's __retain/__release from rt/index-full do not build on AssemblyScript 0.27", async (t) => {
  const unpatched = await buildWithout(FIXES.allocator, "loglevels");
  assert.equal(unpatched.ok, false);
  assert.match(unpatched.stderr, /rt\/index-full/);
  // Patched: the host's copy-outs (plugin_root_id, the configuration) go through malloc and work.
  const { emu } = await serve(t, await buildTestFilter("loglevels"), "loglevels", "cfg");
  assert.ok(pluginLogs(emu).includes("config size=3 text=[cfg]"));
});

test("SDK fix, proc_exit: imported from wasi_snapshot_preview1 (which Envoy provides); 0.1.8's bindings/wasi_unstable does not build on AssemblyScript 0.27", async (t) => {
  const unpatched = await buildWithout(FIXES.procExit, "trap");
  assert.equal(unpatched.ok, false);
  assert.match(unpatched.stderr, /bindings\/wasi_unstable/);
  const wasm = await buildTestFilter("trap");
  assert.ok(importsOf(wasm).includes("wasi_snapshot_preview1.proc_exit"));
  const { url } = await serve(t, wasm, "trap");
  assert.equal((await send(url, { path: "/ok" })).status, 200, "Envoy accepts the module");
});

test("SDK fix, set_buffer_bytes: without it the body filter does not build (0.1.8 has no way to write a body)", async () => {
  const unpatched = await buildWithout(FIXES.setBufferBytes, "body");
  assert.equal(unpatched.ok, false);
  assert.match(unpatched.stderr, /set_buffer_bytes/);
});

test("SDK fix, set_buffer_bytes: 0.1.8's only body writer, proxy_set_buffer_status, imports proxy_get_buffer_status with 5 parameters, and Envoy refuses the module", async () => {
  const root = sdkWithout(FIXES.setBufferBytes);
  const built = await compileFilter({ name: "old-set-buffer", text: `
export * from "@solo-io/proxy-runtime/assembly/proxy";
import { RootContext, Context, registerRootContext, FilterDataStatusValues, BufferTypeValues } from "@solo-io/proxy-runtime/assembly";
import { proxy_set_buffer_status } from "@solo-io/proxy-runtime/assembly/imports";
class Stream extends Context {
  onRequestBody(size: usize, end: bool): FilterDataStatusValues {
    const data = String.UTF8.encode("replaced");
    proxy_set_buffer_status(BufferTypeValues.HttpRequestBody, 0, <u32>size, changetype<usize>(data), data.byteLength);
    return FilterDataStatusValues.Continue;
  }
}
class Root extends RootContext { createContext(id: u32): Context { return new Stream(id, this); } }
registerRootContext((id: u32): RootContext => new Root(id), "old-set-buffer");
` }, { sdkRoot: root });
  assert.ok(built.ok, built.stderr);
  assert.ok(importsOf(built.wasm).includes("env.proxy_get_buffer_status"));
  assert.match((await startError(built.wasm, "old-set-buffer")) ?? "(started)", /proxy_get_buffer_status/);
});

test("SDK fix, set_buffer_bytes: the patched wrapper imports proxy_set_buffer_bytes and replaces the body", async (t) => {
  const wasm = await buildTestFilter("body");
  assert.ok(importsOf(wasm).includes("env.proxy_set_buffer_bytes"));
  const { url, upstream } = await serve(t, wasm, "body");
  assert.equal((await send(url, { method: "POST", body: "original", headers: [["x-op", "0,8,replaced"]] })).status, 200);
  assert.equal(upstream.requests[0].body, "replaced");
});

test("SDK fix, onConfigure: with 0.1.8's code an empty plugin configuration traps in proxy_on_configure and Envoy fails to start; patched it reads as \"\"", async (t) => {
  const unpatched = await buildWithout(FIXES.onConfigure, "loglevels");
  assert.ok(unpatched.ok, unpatched.stderr);
  assert.notEqual(await startError(unpatched.wasm, "loglevels"), undefined, "the unpatched module must fail on an empty configuration");
  const { emu } = await serve(t, await buildTestFilter("loglevels"), "loglevels");
  assert.ok(pluginLogs(emu).includes("config size=0 text=[]"), pluginLogs(emu).join("\n"));
});

test("SDK fix, get_metric: 0.1.8 calls proxy_record_metric, so it reads no value and adds a pointer to the counter; patched it reads 1, 2, 3", async (t) => {
  const unpatched = await buildWithout(FIXES.getMetric, "metrics");
  assert.ok(unpatched.ok, unpatched.stderr);
  const old = await serve(t, unpatched.wasm, "metrics");
  for (let i = 0; i < 3; i++) assert.equal((await send(old.url)).status, 200);
  assert.notDeepEqual(pluginLogs(old.emu, "get_metric counter"), [1, 2, 3].map((n) => `get_metric counter result=0 value=${n}`));
  const counter = old.emu.metrics().get("emutest_requests");
  assert.ok(counter !== undefined && counter !== 3, `record_metric(id, pointer) changed the counter: ${counter}`);
  const patched = await serve(t, await buildTestFilter("metrics"), "metrics");
  for (let i = 0; i < 3; i++) assert.equal((await send(patched.url)).status, 200);
  assert.deepEqual(pluginLogs(patched.emu, "get_metric counter"), [1, 2, 3].map((n) => `get_metric counter result=0 value=${n}`));
});

test("SDK fix, shared data and queues: 0.1.8's get/set_shared_data and register/resolve_shared_queue cannot express the calls (no value to set, no token or cas out), so the shared filter does not build", async () => {
  const unpatched = await buildWithout(FIXES.sharedData, "shared");
  assert.equal(unpatched.ok, false);
  assert.match(unpatched.stderr, /get_shared_data|set_shared_data|register_shared_queue|resolve_shared_queue|Expected \d arguments/);
});

/**
 * The inline filter does not build against the SDK without `fix` (the compiler says `refusal`); built against the
 * patched SDK it is served in the emulator.
 */
async function onlyBuildsWithFix(t: TestContext, fix: Fix, filter: { name: string; text: string }, refusal: RegExp) {
  const unpatched = await compileFilter(filter, { sdkRoot: sdkWithout(fix) });
  assert.equal(unpatched.ok, false);
  assert.match(unpatched.stderr, refusal);
  const patched = await compileFilter(filter);
  assert.ok(patched.ok, patched.stderr);
  return serve(t, patched.wasm, filter.name);
}

const CALLOUT_FILTER = inlineFilter("httpcallback", "Headers, HeaderPair, continue_request, stream_context", `
    const headers: Headers = [];
    const pairs = [":method", "GET", ":path", "/from-callout", ":authority", "echo"];
    for (let i = 0; i < pairs.length; i += 2) {
      headers.push(new HeaderPair(String.UTF8.encode(pairs[i]), String.UTF8.encode(pairs[i + 1])));
    }
    this.root_context.httpCall("echo", headers, new ArrayBuffer(0), [], 1000, this,
      (origin: Context, _h: u32, size: usize, _t: u32): void => {
        say("callout status=" + stream_context.headers.http_callback.get(":status") + " size=" + size.toString());
        continue_request();
      });
    return FilterHeadersStatusValues.StopIteration;`);

test("SDK fix, httpCall callback type: 0.1.8 stores the Context-typed callback as a BaseContext one, which AssemblyScript 0.27 refuses; patched, RootContext.httpCall works", async (t) => {
  const { emu, url } = await onlyBuildsWithFix(t, FIXES.httpCallback, CALLOUT_FILTER, /TS2322|not assignable/);
  assert.equal((await send(url, { path: "/client" })).status, 200);
  assert.match(pluginLogs(emu, "callout status=")[0] ?? "", /^callout status=200 size=[1-9]/);
});

const PROPERTY_FILTER = inlineFilter("propertyornull", "get_property_or_null", `
    say("missing is null=" + (get_property_or_null("no\\0such") === null ? "yes" : "no"));
    const cluster = get_property_or_null("xds\\0cluster_name");
    say("cluster=" + (cluster === null ? "null" : String.UTF8.decode(cluster)));
    return FilterHeadersStatusValues.Continue;`);

test("SDK fix, get_property_or_null: 0.1.8 only has get_property, which traps on a missing property; the patched variant returns null", async (t) => {
  const { emu, url } = await onlyBuildsWithFix(t, FIXES.propertyOrNull, PROPERTY_FILTER, /get_property_or_null/);
  assert.equal((await send(url)).status, 200, "a missing property must not trap the VM");
  assert.deepEqual(pluginLogs(emu, "missing is null="), ["missing is null=yes"]);
  assert.deepEqual(pluginLogs(emu, "cluster="), ["cluster=echo"]);
});

const DEQUEUE_FILTER = inlineFilter("dequeue", "register_shared_queue, enqueue_shared_queue, dequeue_shared_queue", `
    const queue = register_shared_queue("q");
    enqueue_shared_queue(queue.token, String.UTF8.encode("item"));
    const first = dequeue_shared_queue(queue.token);
    const second = dequeue_shared_queue(queue.token);
    say("dequeued=" + String.UTF8.decode(first.data) + " then result=" + second.result.toString());
    return FilterHeadersStatusValues.Continue;`);

test("SDK fix, dequeue_shared_queue: 0.1.8's result class has a field without initializer, which AssemblyScript 0.27 refuses; patched it dequeues, then reports Empty", async (t) => {
  const { emu, url } = await onlyBuildsWithFix(t, FIXES.dequeue, DEQUEUE_FILTER, /TS2564/);
  assert.equal((await send(url)).status, 200);
  assert.deepEqual(pluginLogs(emu, "dequeued="), ["dequeued=item then result=7"]);
});
