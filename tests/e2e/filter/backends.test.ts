// The official SDK Client, through the gateway, against real SDK servers (JSON responses, SSE responses,
// stateless) and against server-everything; and the upstream request count: 3 cold, 1 warm. Each Envoy worker runs
// its own VM with its own backend sessions: tests of one VM's session mechanics run one worker, and a two-worker
// test checks what holds whatever worker a connection lands on.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { own, waitFor } from "../../helpers/harness.ts";
import { closedPort } from "../../helpers/upstream.ts";
import { startSdkBackend, type BackendMode } from "../../fixtures/backends/sdk-backend.ts";
import {
  accessLog,
  assertFixtureToolsPassThrough,
  connectClient,
  httpServer,
  json,
  metric,
  post,
  startEverything,
  startGateway,
} from "../../helpers/gateway.ts";

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
    assert.ok(
      backend.requests.every((r) => r.httpMethod === "POST"),
      "the backend sees only POSTs",
    );
    const versions = backend.requests
      .filter((r) => r.rpcMethod !== "initialize")
      .map((r) => r.headers["mcp-protocol-version"]);
    assert.ok(
      versions.every((v) => v === "2025-11-25"),
      `negotiated version sent on every later request: ${versions}`,
    );
  });
}

const echoCall = (url: string, id: number) =>
  post(url, { jsonrpc: "2.0", id, method: "tools/call", params: { name: "echo", arguments: { message: String(id) } } });

test("one worker: a cold tools/call costs 3 upstream requests, a warm one exactly 1; concurrent cold requests share one handshake", async (t) => {
  const backend = await own(t, startSdkBackend("json"));
  const { url, envoy } = await startGateway(t, {
    pluginConfig: httpServer(),
    clusters: { backend: backend.port },
    concurrency: 1,
  });
  assert.equal(json(await echoCall(url, 1)).result.content[0].text, "echo: 1");
  assert.deepEqual(
    backend.requests.map((r) => r.rpcMethod),
    ["initialize", "notifications/initialized", "tools/call"],
  );
  const sessionId = backend.requests[0].headers["mcp-session-id"];
  assert.equal(sessionId, undefined, "initialize goes without a session id");
  assert.ok(backend.requests[2].headers["mcp-session-id"], "the captured session id is sent");
  assert.equal(json(await echoCall(url, 2)).result.content[0].text, "echo: 2");
  assert.equal(backend.requests.length, 4, "warm: one request");
  assert.equal(await metric(envoy, "mcp-proxy.sessions.fixture.hit"), 1);
  assert.equal(await metric(envoy, "mcp-proxy.requests.fixture.tools_call.ok"), 2);

  const other = await own(t, startSdkBackend("json"));
  const { url: url2 } = await startGateway(t, {
    pluginConfig: httpServer(),
    clusters: { backend: other.port },
    concurrency: 1,
  });
  const replies = await Promise.all(
    [1, 2, 3, 4, 5].map((id) => post(url2, { jsonrpc: "2.0", id, method: "tools/list" })),
  );
  assert.ok(replies.every((r) => json(r).result.tools.length === 3));
  assert.equal(other.requests.filter((r) => r.rpcMethod === "initialize").length, 1, "one shared handshake");
  assert.equal(other.requests.length, 2 + 5);
});

// The kernel spreads connections over the workers, so which VM serves a call is not known; what holds is counted at
// the backend.
test("two workers: at most one handshake per worker, even for concurrent cold calls; after it, every call is exactly one upstream request", async (t) => {
  const backend = await own(t, startSdkBackend("json"));
  const { url } = await startGateway(t, {
    pluginConfig: httpServer(),
    clusters: { backend: backend.port },
    concurrency: 2,
  });
  const ids = Array.from({ length: 16 }, (_, i) => i + 1);
  const cold = await Promise.all(ids.slice(0, 6).map((id) => echoCall(url, id)));
  const warm = [];
  for (const id of ids.slice(6)) warm.push(await echoCall(url, id));
  assert.deepEqual(
    [...cold, ...warm].map((r) => json(r).result.content[0].text),
    ids.map((id) => `echo: ${id}`),
  );
  const count = (rpc: string) => backend.requests.filter((r) => r.rpcMethod === rpc).length;
  const handshakes = count("initialize");
  t.diagnostic(`${handshakes} handshake(s) for ${ids.length} calls on two workers`);
  assert.ok(handshakes >= 1 && handshakes <= 2, `${handshakes} handshakes`);
  assert.equal(count("notifications/initialized"), handshakes);
  assert.equal(count("tools/call"), ids.length);
  assert.equal(
    backend.requests.length,
    2 * handshakes + ids.length,
    "nothing but the handshakes and one request per call",
  );
  const sessions = new Set(
    backend.requests.filter((r) => r.rpcMethod === "tools/call").map((r) => r.headers["mcp-session-id"]),
  );
  assert.equal(sessions.size, handshakes, "every call went on a session its worker had opened");
});

test("one worker: an expired backend session (404 Session not found) is re-initialized once, transparently; ids are the gateway's own", async (t) => {
  const backend = await own(t, startSdkBackend("json"));
  const { url, envoy } = await startGateway(t, {
    pluginConfig: httpServer(),
    clusters: { backend: backend.port },
    concurrency: 1,
  });
  const list = (id: unknown) => post(url, { jsonrpc: "2.0", id, method: "tools/list" });
  assert.equal(json(await list("a")).id, "a");
  backend.forgetSessions();
  const reply = await list("b");
  assert.equal(reply.status, 200);
  assert.equal(json(reply).id, "b");
  assert.equal(json(reply).result.tools.length, 3);
  assert.deepEqual(
    backend.requests.map((r) => r.rpcMethod),
    [
      "initialize",
      "notifications/initialized",
      "tools/list",
      "tools/list",
      "initialize",
      "notifications/initialized",
      "tools/list",
    ],
  );
  assert.equal(await metric(envoy, "mcp-proxy.sessions.fixture.lost"), 1);
});

test("backend faults become JSON-RPC errors that say which; the client never hangs past the deadline", async (t) => {
  const dead = await closedPort();
  const { url } = await startGateway(t, { pluginConfig: httpServer(), clusters: { backend: dead } });
  const reply = await post(url, { jsonrpc: "2.0", id: 9, method: "tools/list" });
  assert.equal(reply.status, 200);
  assert.equal(json(reply).id, 9);
  assert.equal(json(reply).error.code, -32603);
  // Envoy's own 503 for the refused connection, named in the error.
  assert.match(
    json(reply).error.message,
    /MCP server "fixture" failed initialize: is unreachable \(upstream connect error or disconnect\/reset before headers\. reset reason: remote connection failure\)/,
  );
});

test("server-everything (streamableHttp) through the gateway with the SDK Client", { timeout: 60_000 }, async (t) => {
  const port = await startEverything(t, "streamableHttp");
  const { url } = await startGateway(t, { pluginConfig: httpServer(), clusters: { backend: port } });
  const client = await connectClient(t, url);
  const { tools } = await client.listTools();
  assert.ok(
    tools.some((x) => x.name === "echo"),
    tools.map((x) => x.name).join(","),
  );
  const echoed = await client.callTool({ name: "echo", arguments: { message: "through envoy" } });
  assert.match(JSON.stringify(echoed.content), /through envoy/);
  const sum = await client.callTool({ name: "get-sum", arguments: { a: 2, b: 40 } });
  assert.match(JSON.stringify(sum.content), /42/);
});

test("access-log properties: mcp_server_name, mcp_method and mcp_tool_name are set for each proxied request (Envoy filter state)", async (t) => {
  const backend = await own(t, startSdkBackend("json"));
  const log = accessLog(t);
  const { url } = await startGateway(t, {
    pluginConfig: httpServer(),
    clusters: { backend: backend.port },
    accessLogPath: log.path,
    args: log.args,
  });
  const reply = await post(url, {
    jsonrpc: "2.0",
    id: 1,
    method: "tools/call",
    params: { name: "echo", arguments: { message: "x" } },
  });
  assert.equal(reply.status, 200);
  assert.equal((await post(url, { jsonrpc: "2.0", id: 2, method: "tools/list" })).status, 200);
  const [call, list] = await waitFor("both access log entries", () => {
    const e = log.entries();
    return e.length >= 2 && e;
  });
  assert.deepEqual(call, {
    method: "POST",
    path: "/mcp",
    status: 200,
    mcp_server_name: "fixture",
    mcp_method: "tools/call",
    mcp_tool_name: "echo",
  });
  assert.deepEqual(
    list,
    {
      method: "POST",
      path: "/mcp",
      status: 200,
      mcp_server_name: "fixture",
      mcp_method: "tools/list",
      mcp_tool_name: null,
    },
    "no tool name where there is no tool",
  );
});
