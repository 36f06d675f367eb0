// The filter as the MCP server clients see: what it answers itself, and how it answers bad input (never a trap).
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { echoUpstream } from "../../helpers/upstream.ts";
import { header, own, send } from "../../helpers/harness.ts";
import { startScriptedBackend } from "../../fixtures/backends/scripted-backend.ts";
import { httpServer, json, post, startGateway } from "../../helpers/gateway.ts";

async function gateway(t: TestContext, top: Record<string, unknown> = {}) {
  const upstream = await own(t, echoUpstream("backend"));
  const gw = await startGateway(t, { pluginConfig: httpServer({}, top), clusters: { backend: upstream.port } });
  return { ...gw, upstream };
}

const init = (version: unknown, id: unknown = 1) => ({
  jsonrpc: "2.0",
  id,
  method: "initialize",
  params: { protocolVersion: version, capabilities: {}, clientInfo: { name: "c", version: "1" } },
});

// One worker: one handshake serves every initialize.
test("initialize is answered by the filter from the backend's capabilities: known versions echoed, others get the latest; serverInfo names the server; no session id", async (t) => {
  const backend = await own(t, startScriptedBackend());
  const { url } = await startGateway(t, {
    pluginConfig: httpServer(),
    clusters: { backend: backend.port },
    concurrency: 1,
  });
  for (const version of ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"]) {
    const reply = await post(url, init(version));
    assert.equal(reply.status, 200);
    assert.equal(header(reply, "content-type"), "application/json");
    assert.equal(header(reply, "mcp-session-id"), undefined);
    // The backend declares tools with listChanged: false; list-changed notifications cannot reach clients here.
    assert.deepEqual(json(reply), {
      jsonrpc: "2.0",
      id: 1,
      result: {
        protocolVersion: version,
        capabilities: { tools: {} },
        serverInfo: { name: "fixture", version: "0.1.0" },
      },
    });
  }
  assert.equal(json(await post(url, init("1999-01-01"))).result.protocolVersion, "2025-11-25");
  assert.equal(json(await post(url, { jsonrpc: "2.0", id: 1, method: "initialize", params: {} })).error.code, -32602);
  assert.deepEqual(
    backend.seen.map((s) => s.body?.method),
    ["initialize", "notifications/initialized"],
    "only the backend's handshake, once",
  );
});

test("the client's id comes back exactly: strings stay strings, numbers keep their spelling", async (t) => {
  const { url } = await gateway(t);
  assert.equal(
    (await post(url, '{"jsonrpc":"2.0","id":"abc\\"1","method":"ping"}')).body,
    '{"jsonrpc":"2.0","id":"abc\\"1","result":{}}',
  );
  assert.equal(
    (await post(url, '{"jsonrpc":"2.0","id":12345678901234567890,"method":"ping"}')).body,
    '{"jsonrpc":"2.0","id":12345678901234567890,"result":{}}',
  );
});

test("notifications and responses get 202 with an empty body", async (t) => {
  const { url } = await gateway(t);
  for (const body of [
    { jsonrpc: "2.0", method: "notifications/initialized" },
    { jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 1 } },
    { jsonrpc: "2.0", id: 4, result: {} },
  ]) {
    const reply = await post(url, body);
    assert.equal(reply.status, 202, JSON.stringify(body));
    assert.equal(reply.body, "");
  }
});

test("methods that would act on the shared backend session get -32601 with the reason; tools/call without a name gets -32602; neither reaches the backend", async (t) => {
  const { url, upstream } = await gateway(t);
  for (const method of ["logging/setLevel", "resources/subscribe", "resources/unsubscribe"]) {
    const reply = await post(url, { jsonrpc: "2.0", id: 2, method, params: {} });
    assert.equal(reply.status, 200);
    assert.equal(json(reply).error.code, -32601, method);
    assert.match(json(reply).error.message, /shares .*mode "passthrough"/, method);
  }
  for (const params of [{}, { name: "" }, { name: 5 }]) {
    assert.equal(
      json(await post(url, { jsonrpc: "2.0", id: 3, method: "tools/call", params })).error.code,
      -32602,
      JSON.stringify(params),
    );
  }
  assert.equal(upstream.requests.length, 0);
});

test("bad input: malformed JSON 400/-32700 with id null, not JSON-RPC 400/-32600, GET/DELETE 405 with Allow, bad protocol version 400, empty body 400", async (t) => {
  const { url } = await gateway(t);
  const malformed = await post(url, '{"jsonrpc":"2.0","id":1,"method":"ping"');
  assert.equal(malformed.status, 400);
  assert.deepEqual(json(malformed), { jsonrpc: "2.0", id: null, error: { code: -32700, message: "Parse error" } });
  for (const body of [
    '{"id":1,"method":"ping"}',
    '[{"jsonrpc":"2.0","id":1,"method":"ping"}]',
    '"x"',
    '{"jsonrpc":"2.0","id":null,"method":"ping"}',
  ]) {
    const reply = await post(url, body);
    assert.equal(reply.status, 400, body);
    assert.equal(json(reply).error.code, -32600, body);
  }
  for (const method of ["GET", "DELETE", "PUT"]) {
    const reply = await send(url, { method, path: "/mcp" });
    assert.equal(reply.status, 405, method);
    assert.equal(header(reply, "allow"), "POST");
  }
  const version = await post(url, { jsonrpc: "2.0", id: 1, method: "ping" }, [["mcp-protocol-version", "2030-01-01"]]);
  assert.equal(version.status, 400);
  assert.equal(
    (await post(url, { jsonrpc: "2.0", id: 1, method: "ping" }, [["mcp-protocol-version", "2025-06-18"]])).status,
    200,
  );
  assert.equal(
    (await post(url, { jsonrpc: "2.0", id: 1, method: "ping" }, [["mcp-protocol-version", ""]])).status,
    200,
    "an empty header is no version",
  );
  assert.equal((await send(url, { method: "POST", path: "/mcp", headers: [["content-length", "0"]] })).status, 400);
});

test("an over-size body gets 413, by content-length or by the bytes actually sent", async (t) => {
  const { url } = await gateway(t, { maxRequestBodyBytes: 1000 });
  const big = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping", params: { pad: "x".repeat(2000) } });
  assert.equal((await post(url, big)).status, 413);
  const chunked = await send(url, {
    method: "POST",
    path: "/mcp",
    headers: [["content-type", "application/json"]],
    chunks: [big.slice(0, 600), big.slice(600)],
  });
  assert.equal(chunked.status, 413);
  assert.equal((await post(url, { jsonrpc: "2.0", id: 1, method: "ping" })).status, 200);
});

test("multi-server form: paths of no configured server pass through untouched", async (t) => {
  const upstream = await own(t, echoUpstream("other"));
  const { url } = await startGateway(t, {
    pluginConfig: {
      servers: [{ pathPrefix: "/mcp/a", cluster: "other", name: "a", transport: "http", mcpServerURL: "/mcp" }],
    },
    clusters: { other: upstream.port },
  });
  const passed = await send(url, { method: "GET", path: "/mcp/ab", headers: [["x-envoy-allow-mcp-tools", "x"]] });
  assert.equal(passed.status, 200);
  assert.equal(JSON.parse(passed.body).path, "/mcp/ab");
  assert.equal((await send(url, { method: "GET", path: "/mcp/a" })).status, 405);
  assert.equal(
    json(await post(url, { jsonrpc: "2.0", id: 1, method: "ping" }, [], "/mcp/a/x")).result !== undefined,
    true,
  );
});
