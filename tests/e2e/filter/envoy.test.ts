// What Envoy itself does around the filter, as clients see it: its own 503 and 504 answers and x-envoy-* headers,
// and which of its timeouts bound a long tool call. The route's `timeout` starts only once the whole request has
// reached the router, so it never applies to a request the filter answers itself: in "hold" mode the router never
// sees it, in "continue" mode it sees the head but never the end (the filter keeps the body). The dispatched calls
// are bounded by the server's `timeout` and the remaining `deadlineMs`. A legacy SSE request, though, does go
// through the router as the SSE GET, so the SSE URL's route timeout (15 s unless set) bounds its tool calls. The
// stream idle timeout counts from the last activity on the client's stream, which a tool call does not produce.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { header, own, send, waitFor } from "../../helpers/harness.ts";
import { closedPort, echoUpstream, silentUpstream, slowUpstream } from "../../helpers/upstream.ts";
import { startScriptedBackend } from "../../fixtures/backends/scripted-backend.ts";
import { startScriptedLegacyBackend } from "../../fixtures/backends/legacy-sse-backend.ts";
import { json, metric, post, startGateway } from "../../helpers/gateway.ts";
import { call as legacyCall, legacyGateway, sseServer } from "../../helpers/sse-backends.ts";

const CALL = { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "alpha", arguments: {} } };
/** Longer than every route timeout below, shorter than every server timeout and deadline. */
const TOOL_MS = 1000;
/** Long enough that only a limit can end the wait. */
const LATE_MS = 10_000;
const ENVOY_503 = "upstream connect error or disconnect/reset before headers. reset reason: remote connection failure";

function mcpServer(top: Record<string, unknown> = {}, server: Record<string, unknown> = {}) {
  return {
    ...top,
    servers: [{ pathPrefix: "/mcp", cluster: "mcp", name: "m", transport: "http", mcpServerURL: "/mcp", ...server }],
  };
}

test("paths the filter does not serve: Envoy's 503 (unreachable cluster) and 504 (route timeout) reach the client as Envoy sent them; x-envoy-upstream-service-time only on proxied answers", async (t) => {
  const backend = await own(t, startScriptedBackend());
  const echo = await own(t, echoUpstream());
  const slow = await own(t, slowUpstream(LATE_MS));
  const { url, envoy } = await startGateway(t, {
    pluginConfig: mcpServer(),
    clusters: { mcp: backend.port, dead: await closedPort(), slow: slow.port, echo: echo.port },
    routes: [
      { prefix: "/dead", cluster: "dead" },
      { prefix: "/slow", cluster: "slow", timeout: "0.2s" },
      { prefix: "/echo", cluster: "echo" },
      { prefix: "/", cluster: "mcp" },
    ],
  });

  const unreachable = await send(url, { path: "/dead/x" });
  assert.equal(unreachable.status, 503);
  assert.equal(header(unreachable, "content-type"), "text/plain");
  assert.equal(unreachable.body, ENVOY_503);
  const timedOut = await send(url, { path: "/slow/x" });
  assert.equal(timedOut.status, 504);
  assert.equal(timedOut.body, "upstream request timeout");
  assert.equal(await metric(envoy, "cluster.slow.upstream_rq_timeout"), 1);
  for (const reply of [unreachable, timedOut]) assert.equal(header(reply, "x-envoy-upstream-service-time"), undefined);

  const proxied = await send(url, { path: "/echo/x" });
  assert.equal(proxied.status, 200);
  assert.match(
    header(proxied, "x-envoy-upstream-service-time") ?? "",
    /^\d+$/,
    "the router's timing header passes the filter",
  );
  const local = await post(url, CALL);
  assert.ok(json(local).result, local.body);
  assert.equal(
    header(local, "x-envoy-upstream-service-time"),
    undefined,
    "the filter's own answer never went through the router",
  );
});

test('"hold": a tool call longer than the route timeout is bounded by the server timeout and the deadline, never by the route\'s', async (t) => {
  const backend = await own(t, startScriptedBackend({ callDelayMs: TOOL_MS }));
  const { url, envoy } = await startGateway(t, {
    pluginConfig: mcpServer({ deadlineMs: 10_000 }, { timeout: 20_000 }),
    clusters: { mcp: backend.port },
    routes: [{ prefix: "/", cluster: "mcp", timeout: "0.2s" }],
  });
  const reply = json(await post(url, CALL));
  assert.ok(reply.result, JSON.stringify(reply));
  assert.equal(await metric(envoy, "cluster.mcp.upstream_rq_timeout"), 0);
  // Envoy tells the backend the timeout it enforces on each dispatched call.
  const expected = (rpc: string) =>
    Number(backend.seen.find((s) => s.body?.method === rpc)?.headers["x-envoy-expected-rq-timeout-ms"]);
  assert.equal(expected("initialize"), 20_000, "the handshake: the server's timeout");
  const call = expected("tools/call");
  assert.ok(call <= 10_000 && call > TOOL_MS, `the call: what is left of the deadline (${call} ms)`);

  const short = await own(t, startScriptedBackend({ callDelayMs: LATE_MS }));
  const limited = await startGateway(t, {
    pluginConfig: mcpServer({}, { timeout: 600 }),
    clusters: { mcp: short.port },
    routes: [{ prefix: "/", cluster: "mcp", timeout: "0.2s" }],
  });
  assert.match(json(await post(limited.url, CALL)).error.message, /MCP server "m" timed out after 600 ms/);
  assert.equal(
    await metric(limited.envoy, "cluster.mcp.upstream_rq_timeout"),
    1,
    "Envoy's own timeout of the dispatched call ended it",
  );
});

test('"continue": the route\'s upstream has the request head, but its timeout never starts (the filter keeps the end of the request): a longer tool call is answered', async (t) => {
  const route = await own(t, silentUpstream());
  const backend = await own(t, startScriptedBackend({ callDelayMs: TOOL_MS }));
  const { url, envoy } = await startGateway(t, {
    pluginConfig: mcpServer({ requestHeadersMode: "continue" }),
    clusters: { route: route.port, mcp: backend.port },
    routes: [{ prefix: "/", cluster: "route", timeout: "0.2s" }],
  });
  const reply = await post(url, CALL);
  assert.equal(reply.status, 200);
  assert.ok(json(reply).result, reply.body);
  assert.equal(await metric(envoy, "cluster.route.upstream_rq_timeout"), 0);
  assert.equal(await metric(envoy, "cluster.route.upstream_rq_total"), 1, "the router had started the route's request");
});

async function unreachableRoute(t: TestContext, allowOnHeadersStopIteration: boolean) {
  const backend = await own(t, startScriptedBackend());
  const { url } = await startGateway(t, {
    pluginConfig: mcpServer({ requestHeadersMode: "continue" }),
    allowOnHeadersStopIteration,
    clusters: { route: await closedPort(), mcp: backend.port },
    routes: [{ prefix: "/", cluster: "route" }],
  });
  const reply = await post(url, CALL);
  assert.notEqual(reply.body, ENVOY_503);
  assert.equal(reply.status, 200);
  assert.ok(json(reply).result, reply.body);
}

// Without the flag Envoy turns the filter's StopIteration on the route's answer into StopAllIterationAndWatermark:
// nothing of it moves until the filter's own reply replaces it.
test("\"continue\" (without allow_on_headers_stop_iteration, as in Istio): an unreachable route cluster does not replace the filter's answer with Envoy's 503", async (t) => {
  await unreachableRoute(t, false);
});

// With the flag, Envoy hands the held response's body to the filter too: the filter drops it while it waits, or
// returning Continue would release the 503's held headers before the filter's own answer.
test(
  "\"continue\" with allow_on_headers_stop_iteration: an unreachable route cluster does not replace the filter's answer with Envoy's 503",
  { timeout: 60_000 },
  async (t) => {
    await unreachableRoute(t, true);
  },
);

// The SSE GET goes through the router, whose route timeout (15 s by default) would cut the stream mid-call and send
// Envoy's 504 straight to the client, past the filter that holds the GET's response headers. The filter gives the
// GET its own deadline instead (x-envoy-upstream-rq-timeout-ms): a call longer than the route's timeout is
// answered, and the filter's deadlineMs, not the route, bounds it with a JSON-RPC error.
test(
  "legacy SSE: the SSE GET carries the filter's deadline as its timeout: a tool call longer than the SSE route's timeout is answered; deadlineMs bounds it with -32001",
  { timeout: 60_000 },
  async (t) => {
    const backend = await own(t, startScriptedLegacyBackend({ callDelayMs: TOOL_MS }));
    const routes = [
      { path: "/sse", cluster: "backend", timeout: "0.3s" },
      { prefix: "/", cluster: "backend" },
    ];
    const gateway = await legacyGateway(t, backend, sseServer(), routes);
    const reply = await post(gateway.url, legacyCall(1, "alpha"));
    assert.equal(reply.status, 200);
    assert.equal(json(reply).id, 1);
    assert.ok(json(reply).result, reply.body);
    assert.equal(await metric(gateway.envoy, "cluster.backend.upstream_rq_timeout"), 0);

    const bounded = await legacyGateway(t, backend, sseServer("http://backend/sse", {}, { deadlineMs: 500 }), routes);
    const late = await post(bounded.url, legacyCall(2, "alpha"));
    assert.equal(late.status, 200);
    assert.equal(json(late).error.code, -32001);
    assert.match(json(late).error.message, /deadlineMs/);
  },
);

async function idleLimited(t: TestContext, mode: string, limit: { route?: string; connectionManager?: string }) {
  const backend = await own(t, startScriptedBackend({ callDelayMs: LATE_MS }));
  const { url, envoy } = await startGateway(t, {
    pluginConfig: mcpServer({ requestHeadersMode: mode }),
    clusters: { mcp: backend.port },
    routes: [{ prefix: "/", cluster: "mcp", idleTimeout: limit.route }],
    streamIdleTimeout: limit.connectionManager,
  });
  return { backend, url, envoy };
}

test(
  "Envoy's stream idle timeout (route idle_timeout, or the connection manager's stream_idle_timeout) ends a longer tool call with its own 504 in either mode: deadlineMs must stay below it",
  { timeout: 120_000 },
  async (t) => {
    for (const [mode, limit] of [
      ["hold", { route: "0.5s" }],
      ["continue", { route: "0.5s" }],
      ["hold", { connectionManager: "0.5s" }],
      ["continue", { connectionManager: "0.5s" }],
    ] as const) {
      const { backend, url, envoy } = await idleLimited(t, mode, limit);
      const reply = await post(url, CALL);
      const what = `${mode}, ${JSON.stringify(limit)}`;
      assert.equal(reply.status, 504, what);
      assert.equal(reply.body, "stream timeout", what);
      assert.equal(await metric(envoy, "http.ingress.downstream_rq_idle_timeout"), 1, what);
      await waitFor(`${what}: the call under way at the backend`, () => backend.count("tools/call") === 1);
      // The filter gave that request up; the next one is served.
      const list = json(await post(url, { jsonrpc: "2.0", id: 2, method: "tools/list" }));
      assert.deepEqual(
        list.result.tools.map((x: { name: string }) => x.name),
        ["alpha", "beta"],
        what,
      );
    }
  },
);
