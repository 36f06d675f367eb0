// Legacy SSE backends (`"transport": "sse"`) through the gateway: the client's POST becomes the backend's SSE GET,
// the filter POSTs the handshake and the request to the announced endpoint and answers from the stream. Against
// server-everything in sse mode, the SDK's SSEServerTransport under a path prefix, and the scripted legacy server.
import { test } from "node:test";
import assert from "node:assert/strict";
import { header, own, waitFor } from "../../helpers/harness.ts";
import { startScriptedLegacyBackend, startSdkLegacyBackend } from "../../fixtures/backends/legacy-sse-backend.ts";
import {
  connectClient,
  json,
  metric,
  post,
  response,
  startEverything,
  startGateway,
  assertFixtureToolsPassThrough,
} from "../../helpers/gateway.ts";
import { SSE_ROUTES, call, legacyGateway, sseServer } from "../../helpers/sse-backends.ts";

test(
  "server-everything (sse) through the gateway with the SDK Client: tools/list and tools/call",
  { timeout: 60_000 },
  async (t) => {
    const port = await startEverything(t, "sse");
    const { url, envoy } = await startGateway(t, {
      pluginConfig: sseServer(),
      clusters: { backend: port },
      routes: SSE_ROUTES,
    });
    const client = await connectClient(t, url);
    const { tools } = await client.listTools();
    assert.ok(
      tools.some((x) => x.name === "echo"),
      tools.map((x) => x.name).join(","),
    );
    const echoed = await client.callTool({ name: "echo", arguments: { message: "through the SSE GET" } });
    assert.match(JSON.stringify(echoed.content), /through the SSE GET/);
    const sum = await client.callTool({ name: "get-sum", arguments: { a: 2, b: 40 } });
    assert.match(JSON.stringify(sum.content), /42/);
    // initialize (answered from the backend's handshake), tools/list and two calls: a stream each.
    assert.equal(await metric(envoy, "mcp-proxy.upstream.legacy.sse_get"), 4);
    assert.equal(await metric(envoy, "mcp-proxy.requests.legacy.tools_call.ok"), 2);
  },
);

test("the SDK's SSEServerTransport under a path prefix: results pass through untouched, string ids kept", async (t) => {
  const backend = await own(t, startSdkLegacyBackend("/legacy"));
  const { url } = await legacyGateway(t, backend, sseServer("http://backend/legacy/sse"), [
    { prefix: "/legacy/", cluster: "backend" },
    { prefix: "/", cluster: "backend" },
  ]);
  const client = await connectClient(t, url);
  await assertFixtureToolsPassThrough(client);
  const raw = response(await post(url, call("id-ü", "echo", { message: "x" })));
  assert.equal(raw.id, "id-ü");
  const posts = backend.seen.filter((s) => s.method === "POST");
  assert.ok(
    posts.every((s) => s.path.startsWith("/legacy/messages?sessionId=")),
    posts.map((s) => s.path).join(" "),
  );
  await waitFor(
    "every SSE stream to be closed (Envoy resets the GET after the reply)",
    () => backend.openStreams() === 0,
  );
});

test("each request costs one SSE GET and three POSTs (a legacy session lives as long as its GET); initialize a GET and the backend's initialize; local answers none", async (t) => {
  const backend = await own(t, startScriptedLegacyBackend());
  const { url } = await legacyGateway(t, backend);
  assert.deepEqual(json(await post(url, { jsonrpc: "2.0", id: 2, method: "ping" })).result, {});
  assert.equal((await post(url, { jsonrpc: "2.0", method: "notifications/initialized" })).status, 202);
  assert.equal(backend.seen.length, 0, "ping and notifications never open a stream");
  const initialized = json(
    await post(url, {
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "c", version: "1" } },
    }),
  );
  assert.equal(initialized.result.serverInfo.name, "legacy");
  assert.deepEqual(initialized.result.capabilities, { tools: {} }, "the backend's own capabilities");
  for (const id of [3, 4]) {
    const reply = await post(url, call(id, "alpha", { n: id }));
    assert.equal(reply.status, 200);
    assert.equal(header(reply, "content-type"), "application/json");
    const body = json(reply);
    assert.equal(body.id, id);
    assert.deepEqual(JSON.parse(body.result.content[0].text).params, { name: "alpha", arguments: { n: id } });
  }
  assert.deepEqual(
    backend.seen.map((s) => `${s.method} ${s.rpc}`),
    [
      "GET ",
      "POST initialize",
      "GET ",
      "POST initialize",
      "POST notifications/initialized",
      "POST tools/call",
      "GET ",
      "POST initialize",
      "POST notifications/initialized",
      "POST tools/call",
    ],
  );
  const ids = backend.seen.filter((s) => s.method === "POST").map((s) => s.path);
  assert.deepEqual(ids, [
    "/message?sessionId=s1",
    ...Array(3).fill("/message?sessionId=s2"),
    ...Array(3).fill("/message?sessionId=s3"),
  ]);
  await waitFor("the streams to be closed", () => backend.openStreams() === 0);
});

test("the SSE GET carries only the allowlist and the upstream credential; the POSTs carry them too", async (t) => {
  const backend = await own(t, startScriptedLegacyBackend());
  const config = sseServer("http://backend/sse", {
    securitySchemes: [{ id: "up", type: "apiKey", in: "header", name: "X-Api-Key", defaultCredential: "k1" }],
    defaultUpstreamSecurity: { id: "up" },
  });
  const { url } = await legacyGateway(t, backend, config);
  const reply = json(
    await post(url, call(1, "alpha"), [
      ["authorization", "Bearer client-secret"],
      ["cookie", "s=1"],
      ["traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"],
      ["x-custom", "nope"],
      ["mcp-protocol-version", "2025-06-18"],
    ]),
  );
  const echo = JSON.parse(reply.result.content[0].text);
  const get = backend.seen[0];
  assert.equal(get.method, "GET");
  assert.equal(get.path, "/sse");
  assert.equal(get.headers.accept, "text/event-stream");
  assert.equal(get.headers.host, "backend");
  for (const h of [echo.get, echo.post]) {
    assert.equal(h["x-api-key"], "k1");
    assert.equal(h.traceparent, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    for (const gone of ["authorization", "cookie", "x-custom", "mcp-protocol-version"])
      assert.equal(h[gone], undefined, gone);
  }
  assert.equal(echo.get["content-length"], undefined, "the drained body goes without content-length");
  assert.equal(echo.get["content-type"], undefined);
});

test("a query-parameter credential goes on the SSE URL and on the message URL", async (t) => {
  const backend = await own(t, startScriptedLegacyBackend());
  const config = sseServer("http://backend/sse", {
    securitySchemes: [{ id: "up", type: "apiKey", in: "query", name: "key", defaultCredential: "q 1" }],
    defaultUpstreamSecurity: { id: "up" },
  });
  const { url } = await legacyGateway(t, backend, config);
  const echo = JSON.parse(json(await post(url, call(1, "alpha"))).result.content[0].text);
  assert.equal(echo.getPath, "/sse?key=q%201");
  assert.equal(echo.postPath, "/message?sessionId=s1&key=q%201");
});

test("allowTools and x-envoy-allow-mcp-tools apply as for Streamable HTTP backends; a denied call opens no stream", async (t) => {
  const backend = await own(t, startScriptedLegacyBackend());
  const { url } = await legacyGateway(
    t,
    backend,
    sseServer("http://backend/sse", {}, { allowTools: ["alpha", "beta"] }),
  );
  const listed = json(
    await post(url, { jsonrpc: "2.0", id: 1, method: "tools/list" }, [["x-envoy-allow-mcp-tools", "beta"]]),
  );
  assert.deepEqual(
    listed.result.tools.map((x: any) => x.name),
    ["beta"],
  );
  const denied = json(await post(url, call(2, "alpha"), [["x-envoy-allow-mcp-tools", "beta"]]));
  assert.equal(denied.error.code, -32602);
  assert.equal(backend.seen.filter((s) => s.method === "GET").length, 1, "only tools/list opened a stream");
  assert.equal(backend.seen[0].headers["x-envoy-allow-mcp-tools"], undefined);
});

test("a relative endpoint resolves against the SSE URL, keeping its path prefix", async (t) => {
  const backend = await own(
    t,
    startScriptedLegacyBackend({ ssePath: "/legacy/v1/sse", endpoint: (id) => `messages?sessionId=${id}` }),
  );
  const { url } = await legacyGateway(t, backend, sseServer("http://backend/legacy/v1/sse"));
  const echo = JSON.parse(json(await post(url, call(1, "alpha"))).result.content[0].text);
  assert.equal(echo.postPath, "/legacy/v1/messages?sessionId=s1");
});

test("an absolute endpoint on the same origin is accepted", async (t) => {
  const backend = await own(
    t,
    startScriptedLegacyBackend({ endpoint: (id, host) => `http://${host}/message?sessionId=${id}` }),
  );
  const { url } = await legacyGateway(t, backend);
  assert.ok(json(await post(url, call(1, "alpha"))).result);
});
