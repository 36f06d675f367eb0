// The official SDK Client, through the gateway, against real SDK servers (JSON responses, SSE responses,
// stateless) and against server-everything; and the upstream request count: 3 cold, 1 warm.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { own, waitFor } from "../helpers/harness.ts";
import { closedPort } from "../helpers/upstream.ts";
import { startSdkBackend, type BackendMode } from "../fixtures/backends/sdk-backend.ts";
import { assertFixtureToolsPassThrough, connectClient, httpServer, json, metric, post, startEverything, startGateway } from "./filter-harness.ts";

async function throughGateway(t: TestContext, mode: BackendMode) {
  const backend = await own(t, startSdkBackend(mode));
  const gw = await startGateway(t, { pluginConfig: httpServer(), clusters: { backend: backend.port } });
  return { backend, ...gw, client: await connectClient(t, gw.url) };
}

for (const mode of ["json", "sse", "stateless"] as BackendMode[]) {
  test(`SDK Client through the gateway to an SDK server (${mode} responses): tools/list and tools/call results pass through untouched`, async (t) => {
    const { client, backend } = await throughGateway(t, mode);
    await assertFixtureToolsPassThrough(client);
    const bad = await client.callTool({ name: "add", arguments: { a: "x" } });
    assert.equal(bad.isError, true, "input validation failures come back as the backend sent them");
    assert.ok(backend.requests.every((r) => r.httpMethod === "POST"), "the backend sees only POSTs");
    const versions = backend.requests.filter((r) => r.rpcMethod !== "initialize").map((r) => r.headers["mcp-protocol-version"]);
    assert.ok(versions.every((v) => v === "2025-11-25"), `negotiated version sent on every later request: ${versions}`);
  });
}

test("a cold tools/call costs 3 upstream requests, a warm one exactly 1; concurrent cold requests share one handshake", async (t) => {
  const backend = await own(t, startSdkBackend("json"));
  const { url, envoy } = await startGateway(t, { pluginConfig: httpServer(), clusters: { backend: backend.port } });
  const call = (id: number) => post(url, { jsonrpc: "2.0", id, method: "tools/call", params: { name: "echo", arguments: { message: String(id) } } });
  assert.equal(json(await call(1)).result.content[0].text, "echo: 1");
  assert.deepEqual(backend.requests.map((r) => r.rpcMethod), ["initialize", "notifications/initialized", "tools/call"]);
  const sessionId = backend.requests[0].headers["mcp-session-id"];
  assert.equal(sessionId, undefined, "initialize goes without a session id");
  assert.ok(backend.requests[2].headers["mcp-session-id"], "the captured session id is sent");
  assert.equal(json(await call(2)).result.content[0].text, "echo: 2");
  assert.equal(backend.requests.length, 4, "warm: one request");
  assert.equal(await metric(envoy, "mcp-proxy.sessions.fixture.hit"), 1);
  assert.equal(await metric(envoy, "mcp-proxy.requests.fixture.tools_call.ok"), 2);

  const other = await own(t, startSdkBackend("json"));
  const { url: url2 } = await startGateway(t, { pluginConfig: httpServer(), clusters: { backend: other.port } });
  const replies = await Promise.all([1, 2, 3, 4, 5].map((id) => post(url2, { jsonrpc: "2.0", id, method: "tools/list" })));
  assert.ok(replies.every((r) => json(r).result.tools.length === 3));
  assert.equal(other.requests.filter((r) => r.rpcMethod === "initialize").length, 1, "one shared handshake");
  assert.equal(other.requests.length, 2 + 5);
});

test("an expired backend session (404 Session not found) is re-initialized once, transparently; ids are the gateway's own", async (t) => {
  const backend = await own(t, startSdkBackend("json"));
  const { url, envoy } = await startGateway(t, { pluginConfig: httpServer(), clusters: { backend: backend.port } });
  const list = (id: unknown) => post(url, { jsonrpc: "2.0", id, method: "tools/list" });
  assert.equal(json(await list("a")).id, "a");
  backend.forgetSessions();
  const reply = await list("b");
  assert.equal(reply.status, 200);
  assert.equal(json(reply).id, "b");
  assert.equal(json(reply).result.tools.length, 3);
  assert.deepEqual(backend.requests.map((r) => r.rpcMethod),
    ["initialize", "notifications/initialized", "tools/list", "tools/list", "initialize", "notifications/initialized", "tools/list"]);
  assert.equal(await metric(envoy, "mcp-proxy.sessions.fixture.lost"), 1);
});

test("backend faults become JSON-RPC errors that say which; the client never hangs past the deadline", async (t) => {
  const dead = await closedPort();
  const { url } = await startGateway(t, { pluginConfig: httpServer(), clusters: { backend: dead } });
  const reply = await post(url, { jsonrpc: "2.0", id: 9, method: "tools/list" });
  assert.equal(reply.status, 200);
  assert.equal(json(reply).id, 9);
  assert.equal(json(reply).error.code, -32603);
  assert.match(json(reply).error.message, /MCP server "fixture" failed initialize: is unreachable/);
});

test("server-everything (streamableHttp) through the gateway with the SDK Client", async (t) => {
  const port = await startEverything(t, "streamableHttp");
  const { url } = await startGateway(t, { pluginConfig: httpServer(), clusters: { backend: port } });
  const client = await connectClient(t, url);
  const { tools } = await client.listTools();
  assert.ok(tools.some((x) => x.name === "echo"), tools.map((x) => x.name).join(","));
  const echoed = await client.callTool({ name: "echo", arguments: { message: "through envoy" } });
  assert.match(JSON.stringify(echoed.content), /through envoy/);
  const sum = await client.callTool({ name: "get-sum", arguments: { a: 2, b: 40 } });
  assert.match(JSON.stringify(sum.content), /42/);
});

test("access-log properties: mcp_server_name, mcp_method and mcp_tool_name are set for each proxied request (Envoy filter state)", async (t) => {
  const backend = await own(t, startSdkBackend("json"));
  const { url, envoy } = await startGateway(t, { pluginConfig: httpServer(), clusters: { backend: backend.port } });
  const reply = await post(url, { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "echo", arguments: { message: "x" } } });
  assert.equal(reply.status, 200);
  await waitFor("the access log entry", () => envoy.accessLog.length > 0);
  const state = envoy.accessLog.at(-1)!.filterState;
  assert.equal(state.mcp_server_name, "fixture");
  assert.equal(state.mcp_method, "tools/call");
  assert.equal(state.mcp_tool_name, "echo");
});
