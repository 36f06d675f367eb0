// Legacy SSE backends that misbehave: every fault becomes the right JSON-RPC error at once, never a hang. Also what
// Envoy does without allow_on_headers_stop_iteration, and a route that does not send the SSE URL anywhere.
import { test } from "node:test";
import assert from "node:assert/strict";
import { header, own, waitFor } from "../../helpers/harness.ts";
import { closedPort } from "../../helpers/upstream.ts";
import { startScriptedLegacyBackend, type ScriptedLegacyOptions } from "../../fixtures/backends/legacy-sse-backend.ts";
import { json, messages, post, response, startGateway } from "../../helpers/gateway.ts";
import { SSE_ROUTES, call, legacyGateway, sseServer } from "../../helpers/sse-backends.ts";

async function callThrough(
  t: import("node:test").TestContext,
  options: ScriptedLegacyOptions,
  top: Record<string, unknown> = {},
) {
  const backend = await own(t, startScriptedLegacyBackend(options));
  const gw = await legacyGateway(t, backend, sseServer("http://backend/sse", {}, top));
  const started = Date.now();
  const reply = await post(gw.url, call("c-1", "alpha"));
  return { backend, ...gw, reply, body: response(reply), ms: Date.now() - started };
}

test("events split across reads, CRLF line ends, and noise first (priming, comments, server requests, other ids skipped; the notification delivered)", async (t) => {
  const { reply, backend } = await callThrough(t, { split: true, crlf: true, noise: true });
  const [notification, body, ...rest] = messages(reply);
  assert.deepEqual(notification, {
    jsonrpc: "2.0",
    method: "notifications/message",
    params: { level: "info", data: "x" },
  });
  assert.equal(body.id, "c-1");
  assert.deepEqual(JSON.parse(body.result.content[0].text).params, { name: "alpha", arguments: {} });
  assert.deepEqual(rest, []);
  assert.equal(backend.seen.length, 4);
});

test("a backend JSON-RPC error passes through verbatim with the client's id", async (t) => {
  const backend = await own(t, startScriptedLegacyBackend({ noise: true }));
  const { url } = await legacyGateway(t, backend);
  // The notification the backend sent first comes before it (the client accepts SSE).
  const body = response(await post(url, call(7, "boom")));
  assert.deepEqual(body, {
    jsonrpc: "2.0",
    id: 7,
    error: { code: -32042, message: "boom happened", data: { why: "test" } },
  });
});

test("a stream that closes before the reply: an error at once", async (t) => {
  const { body, reply } = await callThrough(t, { closeOn: "tools/call" });
  assert.equal(reply.status, 200);
  assert.equal(body.id, "c-1");
  assert.equal(body.error.code, -32603);
  assert.match(body.error.message, /MCP server "legacy" closed the SSE stream before answering tools_call/);
});

test("no endpoint event: the deadline ends the wait with -32001", async (t) => {
  const { body, ms } = await callThrough(t, { endpoint: null }, { deadlineMs: 800 });
  assert.equal(body.error.code, -32001);
  assert.match(body.error.message, /timed out after 800 ms/);
  assert.ok(ms < 3000, `answered after ${ms} ms`);
});

test("an endpoint on another origin is refused and never contacted", async (t) => {
  const { body, backend } = await callThrough(t, { endpoint: (id) => `http://evil.example:9/message?sessionId=${id}` });
  assert.equal(body.error.code, -32603);
  assert.match(
    body.error.message,
    /sent an endpoint on another origin \(http:\/\/evil\.example:9\/message\?sessionId=s1\), refused/,
  );
  assert.deepEqual(
    backend.seen.map((s) => s.method),
    ["GET"],
  );
});

test("a rejected POST: the error names it; a rejected notification is only logged", async (t) => {
  const rejected = await callThrough(t, { rejectPost: { rpc: "initialize", status: 400 } });
  assert.match(rejected.body.error.message, /rejected the initialize POST: returned HTTP 400/);
  const notified = await callThrough(t, { rejectPost: { rpc: "notifications/initialized", status: 500 } });
  assert.ok(notified.body.result, JSON.stringify(notified.body));
  // Envoy's log reaches this process through a pipe, possibly after the reply.
  await waitFor("the logged rejection", () =>
    notified.envoy.pluginLogs().some((l) => l.includes("rejected notifications/initialized: returned HTTP 500")),
  );
});

test("a non-SSE answer to the GET becomes the client's JSON-RPC error (in place of that answer)", async (t) => {
  const json200 = await callThrough(t, {
    getReply: { status: 200, contentType: "application/json", body: '{"not":"sse"}' },
  });
  assert.equal(json200.reply.status, 200);
  assert.equal(header(json200.reply, "content-type"), "application/json");
  assert.match(
    json200.body.error.message,
    /answered the SSE GET with content-type "application\/json", not text\/event-stream/,
  );
  const auth = await callThrough(t, {
    getReply: {
      status: 401,
      contentType: "text/plain",
      body: "no",
      headers: { "www-authenticate": 'Bearer realm="legacy"' },
    },
  });
  assert.equal(auth.reply.status, 401);
  assert.equal(header(auth.reply, "www-authenticate"), 'Bearer realm="legacy"');
  assert.equal(auth.body.id, "c-1");
  assert.match(auth.body.error.message, /returned HTTP 401/);
});

test("an unreachable backend: Envoy's 503 becomes a JSON-RPC error", async (t) => {
  const port = await closedPort();
  const { url } = await startGateway(t, { pluginConfig: sseServer(), clusters: { backend: port }, routes: SSE_ROUTES });
  const reply = await post(url, call(3, "alpha"));
  assert.equal(reply.status, 200);
  assert.equal(json(reply).id, 3);
  assert.match(json(reply).error.message, /MCP server "legacy" is unreachable \(upstream connect error/);
});

test("an event larger than maxResponseBodyBytes ends the request, whether it comes in pieces or whole", async (t) => {
  for (const hugeEventEnds of [false, true]) {
    const { body } = await callThrough(
      t,
      { hugeEvent: 64 * 1024, hugeEventEnds },
      { maxResponseBodyBytes: 16 * 1024, deadlineMs: 5000 },
    );
    assert.match(
      body.error.message,
      /sent an SSE event larger than maxResponseBodyBytes/,
      `event finished: ${hugeEventEnds}`,
    );
  }
});

test("the SSE URL must be routed to the backend: without a route the client's error says so, in place of Envoy's 404", async (t) => {
  const backend = await own(t, startScriptedLegacyBackend());
  const { url } = await legacyGateway(t, backend, sseServer(), [{ prefix: "/mcp", cluster: "backend" }]);
  const reply = await post(url, call(1, "alpha"));
  assert.equal(reply.status, 200);
  assert.equal(json(reply).id, 1);
  assert.equal(
    json(reply).error.message,
    'MCP server "legacy" cannot be reached: Envoy has no route for its SSE URL /sse (route it to the backend\'s cluster)',
  );
  assert.equal(backend.seen.length, 0);
});

test("servers[] form: an SSE URL routed to another cluster than the server's is refused with the reason", async (t) => {
  const backend = await own(t, startScriptedLegacyBackend());
  const other = await own(t, startScriptedLegacyBackend());
  const config = {
    servers: [
      { pathPrefix: "/mcp", cluster: "backend", name: "legacy", transport: "sse", mcpServerURL: "http://backend/sse" },
    ],
  };
  const { url } = await startGateway(t, {
    pluginConfig: config,
    clusters: { backend: backend.port, other: other.port },
    routes: [
      { path: "/sse", cluster: "other" },
      { prefix: "/", cluster: "backend" },
    ],
  });
  const body = json(await post(url, call(1, "alpha")));
  assert.match(body.error.message, /has its SSE URL routed to cluster "other", not "backend"/);
  assert.equal(backend.seen.length, 0);
});

test("without allow_on_headers_stop_iteration Envoy never hands the body over: no stream is opened, and the deadline names the flag", async (t) => {
  const backend = await own(t, startScriptedLegacyBackend());
  const { url } = await startGateway(t, {
    pluginConfig: sseServer("http://backend/sse", {}, { deadlineMs: 500 }),
    clusters: { backend: backend.port },
    routes: SSE_ROUTES,
    allowOnHeadersStopIteration: false,
  });
  const reply = json(await post(url, call(1, "alpha")));
  assert.equal(reply.error.code, -32001);
  assert.match(
    reply.error.message,
    /^Request timed out after 500 ms \(deadlineMs\): its body never reached the filter\. .*allow_on_headers_stop_iteration: true/,
  );
  assert.equal(backend.seen.length, 0);
});
