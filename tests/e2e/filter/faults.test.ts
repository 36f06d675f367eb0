// Backend replies a gateway must survive: SSE with noise before the response, JSON-RPC errors (passed through
// verbatim), 401 challenges, timeouts, a request deadline; and a configuration the filter refuses.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { envoyRefusal, header, own, send } from "../../helpers/harness.ts";
import { bootstrapYaml } from "../../helpers/bootstrap.ts";
import { startScriptedBackend, type ScriptedOptions } from "../../fixtures/backends/scripted-backend.ts";
import { filterWasm, httpServer, json, messages, metric, post, startGateway } from "../../helpers/gateway.ts";

async function gateway(
  t: TestContext,
  options: ScriptedOptions,
  server: Record<string, unknown> = {},
  top: Record<string, unknown> = {},
  concurrency?: number,
) {
  const backend = await own(t, startScriptedBackend(options));
  const gw = await startGateway(t, {
    pluginConfig: httpServer(server, top),
    clusters: { backend: backend.port },
    concurrency,
  });
  return { backend, ...gw };
}

const call = (url: string, name: string, id: unknown = 11) =>
  post(url, {
    jsonrpc: "2.0",
    id,
    method: "tools/call",
    params: { name, arguments: { q: 1 }, _meta: { progressToken: "p1" } },
  });

// One worker: both requests share its backend session.
test("SSE replies: priming event, comments, server-to-client requests and other ids are skipped; the matching response wins; the notification before it reaches clients that accept SSE", async (t) => {
  const { url, backend } = await gateway(t, { sse: true }, {}, {}, 1);
  const progress = { jsonrpc: "2.0", method: "notifications/progress", params: { progressToken: 1, progress: 1 } };
  const listed = await post(url, { jsonrpc: "2.0", id: "L", method: "tools/list" });
  assert.equal(header(listed, "content-type"), "text/event-stream");
  const [notification, list] = messages(listed);
  assert.deepEqual(notification, progress);
  assert.equal(list.id, "L");
  assert.deepEqual(
    list.result.tools.map((x: any) => x.name),
    ["alpha", "beta"],
  );
  assert.equal(messages(listed).length, 2, listed.body);
  // A client that accepts only JSON gets the response alone.
  const body = JSON.stringify({
    jsonrpc: "2.0",
    id: 11,
    method: "tools/call",
    params: { name: "alpha", arguments: { q: 1 }, _meta: { progressToken: "p1" } },
  });
  const called = await send(url, {
    method: "POST",
    path: "/mcp",
    body,
    headers: [
      ["content-type", "application/json"],
      ["accept", "application/json"],
    ],
  });
  assert.equal(header(called, "content-type"), "application/json");
  const echo = JSON.parse(json(called).result.content[0].text);
  assert.deepEqual(
    echo.params,
    { name: "alpha", arguments: { q: 1 }, _meta: { progressToken: "p1" } },
    "params pass through verbatim",
  );
  assert.equal(backend.count("initialize"), 1);
});

test("a backend JSON-RPC error passes through verbatim (code, message, data) with the client's id", async (t) => {
  const { url } = await gateway(t, {});
  const reply = await call(url, "boom", "x-1");
  assert.equal(reply.status, 200);
  assert.equal(
    reply.body,
    '{"jsonrpc":"2.0","id":"x-1","error":{"code":-32042,"message":"boom happened","data":{"why":"test"}}}',
  );
});

test("401/403 from the backend keep their HTTP status and WWW-Authenticate", async (t) => {
  for (const status of [401, 403]) {
    const { url } = await gateway(t, { toolStatus: status });
    const reply = await call(url, "alpha");
    assert.equal(reply.status, status);
    assert.equal(header(reply, "www-authenticate"), 'Bearer realm="scripted"');
    assert.match(json(reply).error.message, new RegExp(`returned HTTP ${status}`));
  }
});

// The backend's answers come long after the limits, so an answer in time can only be the limit's.
const LATE_MS = 10_000;

test("a backend slower than server.timeout: the call times out with a message saying so", async (t) => {
  const { url, envoy } = await gateway(t, { callDelayMs: LATE_MS }, { timeout: 200 });
  const started = Date.now();
  const reply = json(await call(url, "alpha"));
  assert.match(reply.error.message, /MCP server "fixture" timed out after 200 ms/);
  assert.ok(Date.now() - started < LATE_MS / 2, `answered after ${Date.now() - started} ms`);
  assert.equal(
    await metric(envoy, "cluster.backend.upstream_rq_timeout"),
    1,
    "Envoy's own timeout of the dispatched call ended it",
  );
});

// One worker: the two requests wait on one handshake.
test("the overall deadline ends a request waiting on a slow handshake, and the waiters it shares", async (t) => {
  const { url, envoy, backend } = await gateway(
    t,
    { initDelayMs: LATE_MS },
    { timeout: LATE_MS * 2 },
    { deadlineMs: 400 },
    1,
  );
  const started = Date.now();
  const replies = await Promise.all([call(url, "alpha", 1), call(url, "alpha", 2)]);
  for (const r of replies) assert.equal(json(r).error.code, -32001, r.body);
  assert.ok(Date.now() - started < LATE_MS / 2, `answered after ${Date.now() - started} ms`);
  assert.equal(backend.count("initialize"), 1, "one handshake shared by both");
  assert.equal(await metric(envoy, "mcp-proxy.requests.fixture.tools_call.timeout"), 2);
});

const INVALID: [unknown, string][] = [
  [
    { server: { name: "a", transport: "ws", mcpServerURL: "/mcp" } },
    'server.transport: must be "http", "sse" or "stdio"',
  ],
  [
    { requestHeadersMode: "continue", server: { name: "a", transport: "sse", mcpServerURL: "/sse" } },
    'server.transport: "sse" needs requestHeadersMode "hold" (and allow_on_headers_stop_iteration: true, Envoy >= 1.35): ' +
      'in "continue" mode the request headers go upstream before the body is read, so the POST cannot become the SSE GET',
  ],
  [
    { server: { name: "a", transport: "http", mcpServerURL: "/m" }, allowTools: "echo" },
    "allowTools: must be an array",
  ],
  ["{not json", "(root): not valid JSON"],
];

// Envoy configures the plugin on its main thread as it loads the listener, before any worker starts: refused there,
// the filter cannot be created, and with a static bootstrap Envoy exits. fail_open does not apply (it is about a VM
// that fails while serving).
test(
  "an invalid configuration is refused at proxy_on_configure with one log line naming the field: Envoy does not start, fail_open or not",
  { timeout: 120_000 },
  async (t) => {
    for (const [config, expected] of INVALID) {
      for (const failOpen of [undefined, true]) {
        const yaml = bootstrapYaml({
          wasm: filterWasm(),
          pluginConfig: config,
          routes: [{ prefix: "/", cluster: "c" }],
          clusters: { c: 1 },
          allowOnHeadersStopIteration: true,
          failOpen,
        });
        const refusal = await envoyRefusal(t, yaml);
        assert.match(refusal, /^Envoy exited \(1\) during start-up/, `fail_open ${failOpen}: ${refusal}`);
        const log = refusal.split("\n");
        // The log excerpt may show a line twice (errors first, then the last lines): count distinct ones.
        const complaints = new Set(log.filter((l) => l.includes("mcp-proxy: ")));
        assert.deepEqual(
          [...complaints],
          [`[error][wasm] wasm log mcp-proxy: mcp-proxy: invalid configuration: ${expected}`],
          refusal,
        );
        assert.ok(log.includes("[critical][wasm] Plugin mcp-proxy failed to load"), refusal);
        assert.ok(
          log.some((l) => l.includes("error `Unable to create Wasm plugin mcp-proxy` initializing config")),
          refusal,
        );
      }
    }
  },
);
