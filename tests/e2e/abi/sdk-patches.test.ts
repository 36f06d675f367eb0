// Each fix in patches/@solo-io+proxy-runtime+0.1.8.patch (reference §8) is needed: with only that fix's hunks
// reverted (a copy of the SDK under build/tests/unpatched/), the same test filter fails to build, is refused by
// Envoy's import check, fails to start in Envoy, or gives a wrong result in Envoy — while the patched build works in
// Envoy.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { bootstrapYaml } from "../../helpers/bootstrap.ts";
import { ownEnvoy, type EnvoyOptions } from "../../helpers/envoy.ts";
import { echoUpstream } from "../../helpers/upstream.ts";
import { buildTestFilter, compileFilter, repoRoot, sdkWithout, type Fix } from "../../helpers/sdk-build.ts";
import { envoyRefusal, own, send, waitFor, waitForLog } from "../../helpers/harness.ts";

const FIXES = {
  allocator: { name: "allocator", markers: ["__pin"] },
  procExit: { name: "proc_exit", markers: ['@external("wasi_snapshot_preview1", "proc_exit")'] },
  setBufferBytes: { name: "set_buffer_bytes", markers: ["proxy_set_buffer_bytes"], dropExports: ["set_buffer_bytes"] },
  onConfigure: { name: "on_configure", markers: ["configuration_size == 0"] },
  getMetric: { name: "get_metric", markers: ["Patched: was proxy_record_metric"] },
  sharedData: { name: "shared_data", markers: ["SharedDataResult"] },
  httpCallback: { name: "http_callback", markers: ["AssemblyScript function types are invariant"] },
  propertyOrNull: {
    name: "property_or_null",
    markers: ["get_property_or_null"],
    dropExports: ["get_property_or_null"],
  },
  dequeue: { name: "dequeue", markers: ["TS2564"] },
  // The hunks that only remove debug logs (others that remove some also hold another fix, tested above).
  debugLogs: {
    name: "debug_logs",
    markers: [
      ': onDone()");',
      ': onDelete()");',
      ': onLog()");',
      "ensureRootContext(root_context_id: ",
      "ensureContext(context_id: ",
    ],
  },
  indexExports: { name: "index_exports", markers: ["Patched: export the rest of the host API"] },
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

/** The test bootstrap serving `wasm` (root id and plugin name `rootId`) in front of the echo upstream on `port`. */
function bootstrap(wasm: string, rootId: string, port: number, pluginConfig?: string): string {
  return bootstrapYaml({
    wasm,
    rootId,
    pluginName: rootId,
    pluginConfig,
    routes: [{ prefix: "/", cluster: "echo" }],
    clusters: { echo: port },
  });
}

/** Starts Envoy on `wasm` in front of an echo upstream. */
async function serve(
  t: TestContext,
  wasm: string,
  rootId: string,
  pluginConfig?: string,
  options: Omit<EnvoyOptions, "yaml"> = {},
) {
  const upstream = await own(t, echoUpstream());
  const envoy = await ownEnvoy(t, { ...options, yaml: bootstrap(wasm, rootId, upstream.port, pluginConfig) });
  return { envoy, url: envoy.url, upstream };
}

/** Envoy's refusal of `wasm` (its error and the tail of its log); fails the test if Envoy starts. */
function refusal(t: TestContext, wasm: string, rootId: string, pluginConfig?: string): Promise<string> {
  return envoyRefusal(t, bootstrap(wasm, rootId, 1, pluginConfig));
}

test("SDK fix, allocator: malloc pins with __pin; 0.1.8's __retain/__release from rt/index-full do not build on AssemblyScript 0.27", async (t) => {
  const unpatched = await buildWithout(FIXES.allocator, "loglevels");
  assert.equal(unpatched.ok, false);
  assert.match(unpatched.stderr, /rt\/index-full/);
  // Patched: Envoy's copy-outs into the module (plugin_root_id, the configuration) go through malloc and work.
  const { envoy } = await serve(t, await buildTestFilter("loglevels"), "loglevels", "cfg");
  await waitForLog(envoy, "config size=3 text=[cfg]");
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

test("SDK fix, set_buffer_bytes: 0.1.8's only body writer, proxy_set_buffer_status, imports proxy_get_buffer_status with 5 parameters, and Envoy refuses the module", async (t) => {
  const built = await compileFilter(
    {
      name: "old-set-buffer",
      text: `
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
`,
    },
    { sdkRoot: sdkWithout(FIXES.setBufferBytes) },
  );
  assert.ok(built.ok, built.stderr);
  assert.ok(importsOf(built.wasm).includes("env.proxy_get_buffer_status"));
  assert.match(
    await refusal(t, built.wasm, "old-set-buffer"),
    /Failed to load Wasm module due to an import type mismatch: env\.proxy_get_buffer_status, want: i32 i32 i32 i32 i32 -> i32, but host exports: i32 i32 i32 -> i32/,
  );
});

test("SDK fix, set_buffer_bytes: the patched wrapper imports proxy_set_buffer_bytes and replaces the body in Envoy", async (t) => {
  const wasm = await buildTestFilter("body");
  assert.ok(importsOf(wasm).includes("env.proxy_set_buffer_bytes"));
  const { url, upstream } = await serve(t, wasm, "body");
  assert.equal(
    (await send(url, { method: "POST", body: "original", headers: [["x-op", "0,8,replaced"]] })).status,
    200,
  );
  assert.equal(upstream.requests[0].body, "replaced");
});

test('SDK fix, onConfigure: with 0.1.8\'s code an empty plugin configuration traps in proxy_on_configure and Envoy fails to start; patched it reads as ""', async (t) => {
  const unpatched = await buildWithout(FIXES.onConfigure, "loglevels");
  assert.ok(unpatched.ok, unpatched.stderr);
  const refused = await refusal(t, unpatched.wasm, "loglevels");
  assert.match(refused, /Function: proxy_on_configure failed: Uncaught RuntimeError/);
  assert.match(refused, /Failed to configure base Wasm plugin/);
  const { envoy } = await serve(t, await buildTestFilter("loglevels"), "loglevels");
  await waitForLog(envoy, "config size=0 text=[]");
});

test("SDK fix, get_metric: 0.1.8 calls proxy_record_metric, so it reads no value and adds a pointer to the counter; patched it reads 1, 2, 3", async (t) => {
  const unpatched = await buildWithout(FIXES.getMetric, "metrics");
  assert.ok(unpatched.ok, unpatched.stderr);
  const old = await serve(t, unpatched.wasm, "metrics");
  for (let i = 0; i < 3; i++) assert.equal((await send(old.url)).status, 200);
  const oldReads = await waitForLog(old.envoy, "get_metric counter", 3);
  assert.notDeepEqual(
    oldReads,
    [1, 2, 3].map((n) => `get_metric counter result=0 value=${n}`),
  );
  const counter = await old.envoy.stat("emutest_requests");
  assert.ok(counter > 3, `record_metric(id, pointer) must have added the pointer to the counter: ${counter}`);
  const patched = await serve(t, await buildTestFilter("metrics"), "metrics");
  for (let i = 0; i < 3; i++) assert.equal((await send(patched.url)).status, 200);
  assert.deepEqual(
    await waitForLog(patched.envoy, "get_metric counter", 3),
    [1, 2, 3].map((n) => `get_metric counter result=0 value=${n}`),
  );
  assert.equal(await patched.envoy.stat("emutest_requests"), 3);
});

test("SDK fix, shared data and queues: 0.1.8's get/set_shared_data and register/resolve_shared_queue cannot express the calls (no value to set, no token or cas out), so the shared filter does not build; patched it works in Envoy", async (t) => {
  const unpatched = await buildWithout(FIXES.sharedData, "shared");
  assert.equal(unpatched.ok, false);
  assert.match(
    unpatched.stderr,
    /get_shared_data|set_shared_data|register_shared_queue|resolve_shared_queue|Expected \d arguments/,
  );
  const { envoy, url } = await serve(t, await buildTestFilter("shared"), "shared");
  assert.equal((await send(url)).status, 200);
  await waitForLog(envoy, "get-v2 result=0 value=v2");
  await waitForLog(envoy, "dequeue result=0 data=hello");
});

/**
 * The inline filter does not build against the SDK without `fix` (the compiler says `refusal`); built against the
 * patched SDK it is served by Envoy.
 */
async function onlyBuildsWithFix(t: TestContext, fix: Fix, filter: { name: string; text: string }, refusal: RegExp) {
  const unpatched = await compileFilter(filter, { sdkRoot: sdkWithout(fix) });
  assert.equal(unpatched.ok, false);
  assert.match(unpatched.stderr, refusal);
  const patched = await compileFilter(filter);
  assert.ok(patched.ok, patched.stderr);
  return serve(t, patched.wasm, filter.name);
}

const CALLOUT_FILTER = inlineFilter(
  "httpcallback",
  "Headers, HeaderPair, continue_request, stream_context",
  `
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
    return FilterHeadersStatusValues.StopIteration;`,
);

test("SDK fix, httpCall callback type: 0.1.8 stores the Context-typed callback as a BaseContext one, which AssemblyScript 0.27 refuses; patched, RootContext.httpCall works in Envoy", async (t) => {
  const { envoy, url, upstream } = await onlyBuildsWithFix(
    t,
    FIXES.httpCallback,
    CALLOUT_FILTER,
    /TS2322|not assignable/,
  );
  assert.equal((await send(url, { path: "/client" })).status, 200);
  assert.match((await waitForLog(envoy, "callout status="))[0], /^callout status=200 size=[1-9]/);
  assert.deepEqual(
    upstream.requests.map((r) => r.path),
    ["/from-callout", "/client"],
  );
});

const PROPERTY_FILTER = inlineFilter(
  "propertyornull",
  "get_property_or_null",
  `
    say("missing is null=" + (get_property_or_null("no\\0such") === null ? "yes" : "no"));
    const cluster = get_property_or_null("xds\\0cluster_name");
    say("cluster=" + (cluster === null ? "null" : String.UTF8.decode(cluster)));
    return FilterHeadersStatusValues.Continue;`,
);

/** 0.1.8's package index exported no host API: get_property came from the runtime module. */
const GET_PROPERTY_FILTER = withPreamble(
  inlineFilter(
    "getproperty",
    "stream_context",
    `
    say("missing has " + get_property("no\\0such").byteLength.toString() + " bytes");
    return FilterHeadersStatusValues.Continue;`,
  ),
  `import { get_property } from "@solo-io/proxy-runtime/assembly/runtime";`,
);

/** `filter` with top-level declarations of its own (an import, an external) after its first line. */
function withPreamble(filter: { name: string; text: string }, preamble: string) {
  const lines = filter.text.split("\n");
  return { name: filter.name, text: [lines[0], preamble, ...lines.slice(1)].join("\n") };
}

test("SDK fix, get_property_or_null: 0.1.8 only has get_property, which traps in Envoy on a missing property (503, VM failed); the patched variant returns null", async (t) => {
  const { envoy, url } = await onlyBuildsWithFix(t, FIXES.propertyOrNull, PROPERTY_FILTER, /get_property_or_null/);
  assert.equal((await send(url)).status, 200, "a missing property must not trap the VM");
  assert.deepEqual(await waitForLog(envoy, "missing is null="), ["missing is null=yes"]);
  assert.deepEqual(await waitForLog(envoy, "cluster="), ["cluster=echo"]);
  // What a filter had without the fix.
  const old = await compileFilter(GET_PROPERTY_FILTER, { sdkRoot: sdkWithout(FIXES.propertyOrNull) });
  assert.ok(old.ok, old.stderr);
  const trapping = await serve(t, old.wasm, GET_PROPERTY_FILTER.name, undefined, { concurrency: 1 });
  const reply = await send(trapping.url);
  assert.deepEqual([reply.status, reply.body], [503, ""]);
  assert.equal(trapping.upstream.requests.length, 0);
  await waitFor("Envoy's log of the trap", () =>
    trapping.envoy.logs.some(
      (l) =>
        l.level === "error" &&
        l.message.startsWith("Function: proxy_on_request_headers failed: Uncaught RuntimeError: unreachable"),
    ),
  );
});

/**
 * Registers its queue through the raw import: the patch's hunk that fixes dequeue also changes the queue wrappers
 * (tested above), so only dequeue_shared_queue is the SDK's here.
 */
const DEQUEUE_FILTER = withPreamble(
  inlineFilter(
    "dequeue",
    "enqueue_shared_queue, dequeue_shared_queue",
    `
    const name = String.UTF8.encode("q");
    const token = new ArrayBuffer(4);
    say("register result=" + proxy_register_shared_queue(changetype<usize>(name), name.byteLength, changetype<usize>(token)).toString());
    const queue = load<u32>(changetype<usize>(token));
    enqueue_shared_queue(queue, String.UTF8.encode("item"));
    const first = dequeue_shared_queue(queue);
    const second = dequeue_shared_queue(queue);
    say("dequeued=" + String.UTF8.decode(first.data) + " then result=" + second.result.toString());
    return FilterHeadersStatusValues.Continue;`,
  ),
  `// @ts-ignore: decorator
@external("env", "proxy_register_shared_queue") declare function proxy_register_shared_queue(name: usize, len: usize, token: usize): u32;`,
);

test("SDK fix, dequeue_shared_queue: 0.1.8's result class has a field without initializer, which AssemblyScript 0.27 refuses; patched it dequeues in Envoy, then reports Empty", async (t) => {
  const { envoy, url } = await onlyBuildsWithFix(
    t,
    FIXES.dequeue,
    DEQUEUE_FILTER,
    /TS2564: Property '[^']*DequeueSharedQueueResult#data' has no initializer[\s\S]*FAILURE 1 compile error/,
  );
  assert.equal((await send(url)).status, 200);
  assert.deepEqual(await waitForLog(envoy, "register result="), ["register result=0"]);
  assert.deepEqual(await waitForLog(envoy, "dequeued="), ["dequeued=item then result=7"]);
});

test("SDK fix, hot-path debug logs: 0.1.8 logs (building each string and calling proxy_log) in every stream callback whatever Envoy's level; patched the SDK logs nothing per request", async (t) => {
  // Envoy shows debug lines only at debug level; the calls and the strings are made at any level. The lifecycle
  // filter logs each callback itself ("cb ..."): any other line is the SDK's.
  const options = { concurrency: 1, args: ["--component-log-level", "wasm:debug"] };
  const unpatched = await buildWithout(FIXES.debugLogs, "lifecycle");
  assert.ok(unpatched.ok, unpatched.stderr);
  const old = await serve(t, unpatched.wasm, "lifecycle", undefined, options);
  assert.equal((await send(old.url)).status, 200);
  await waitForLog(old.envoy, "cb on_delete ctx=2");
  const oldLines = sdkLines(old.envoy).filter((l) => !SDK_START_UP.test(l));
  assert.ok(
    oldLines.some((l) => l.startsWith("ensureContext(context_id: 2")),
    old.envoy.pluginLogs().join("\n"),
  );
  t.diagnostic(`0.1.8's own lines besides its start-up ones: ${oldLines.length}`);
  const patched = await serve(t, await buildTestFilter("lifecycle"), "lifecycle", undefined, options);
  assert.equal((await send(patched.url)).status, 200);
  await waitForLog(patched.envoy, "cb on_delete ctx=2");
  const patchedLines = sdkLines(patched.envoy);
  assert.ok(
    patchedLines.every((l) => SDK_START_UP.test(l)),
    `the patched SDK logs only at a VM's start-up:\n${patchedLines.join("\n")}`,
  );
});

/** The SDK's own lines: the lifecycle filter's are "cb ...". */
const sdkLines = (envoy: { pluginLogs(): string[] }) => envoy.pluginLogs().filter((l) => !l.startsWith("cb "));
/** The debug lines the patch keeps: once per VM, at its root's start-up. */
const SDK_START_UP =
  /^(Registering new root context for \w+ with id: 1|context id: 1: onConfigure\(configuration_size: \d+\))$/;

test("SDK fix, index exports: without it the host API (get_buffer_bytes, set_buffer_bytes, metrics, shared data, properties...) is not exported from the package index, so filters importing it through the one path do not build", async () => {
  const unpatched = await buildWithout(FIXES.indexExports, "metrics");
  assert.equal(unpatched.ok, false);
  assert.match(unpatched.stderr, /TS2305|has no exported member|define_metric/);
  const patched = await compileFilter(filterSource("metrics"));
  assert.ok(patched.ok, patched.stderr);
});
