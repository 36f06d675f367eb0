// requestHeadersMode: "hold" (Envoy >= 1.35 with allow_on_headers_stop_iteration: nothing reaches the route's
// upstream) and "continue" (Istio WasmPlugin / Envoy Gateway: the headers go upstream, the filter buffers the body
// and answers locally, and Envoy resets the upstream request it had started).
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { own, waitFor } from "../../helpers/harness.ts";
import { silentUpstream } from "../../helpers/upstream.ts";
import { startScriptedBackend } from "../../fixtures/backends/scripted-backend.ts";
import { json, post, startGateway } from "../../helpers/gateway.ts";

function config(mode: string, top: Record<string, unknown> = {}) {
  return {
    requestHeadersMode: mode,
    ...top,
    servers: [{ pathPrefix: "/mcp", cluster: "mcp", name: "m", transport: "http", mcpServerURL: "/mcp" }],
  };
}

const call = { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "alpha", arguments: {} } };
const sensitive: [string, string][] = [
  ["x-envoy-allow-mcp-tools", "alpha"],
  ["authorization", "Bearer secret"],
];

test('"hold" with allow_on_headers_stop_iteration: answered locally, nothing reaches the route\'s upstream', async (t) => {
  const route = await own(t, silentUpstream());
  const backend = await own(t, startScriptedBackend());
  const { url } = await startGateway(t, {
    pluginConfig: config("hold"),
    clusters: { route: route.port, mcp: backend.port },
    routes: [{ prefix: "/", cluster: "route" }],
  });
  assert.ok(json(await post(url, call, sensitive)).result);
  assert.equal(route.requests.length, 0);
});

async function continueMode(t: TestContext) {
  const route = await own(t, silentUpstream());
  const backend = await own(t, startScriptedBackend());
  const { url } = await startGateway(t, {
    pluginConfig: config("continue"),
    clusters: { route: route.port, mcp: backend.port },
    routes: [{ prefix: "/", cluster: "route" }],
    allowOnHeadersStopIteration: false,
  });
  const reply = json(await post(url, call, sensitive));
  return { route, url, reply };
}

test('"continue" without the flag: the body is buffered and the request answered locally', async (t) => {
  const { url, reply } = await continueMode(t);
  assert.ok(reply.result, JSON.stringify(reply));
  assert.equal(json(await post(url, { jsonrpc: "2.0", id: 2, method: "ping" })).id, 2);
});

// Envoy's codec sends the request headers once the connection is up, before the filter has read the body.
test('"continue": the route\'s upstream saw the headers, stripped of the allow-list and credentials', async (t) => {
  const { route } = await continueMode(t);
  // The head arrived before the filter's reply, but this process may read the two sockets in either order.
  await waitFor("the route's upstream to see the request head", () => route.requests.length > 0);
  assert.equal(route.requests.length, 1, "Envoy had started the upstream request");
  assert.equal(route.requests[0].headers["x-envoy-allow-mcp-tools"], undefined);
  assert.equal(route.requests[0].headers.authorization, undefined);
});

test('"hold" without the flag: Envoy turns StopIteration into StopAllIterationAndWatermark, no body ever arrives, and the deadline names the flag', async (t) => {
  const route = await own(t, silentUpstream());
  const backend = await own(t, startScriptedBackend());
  const { url } = await startGateway(t, {
    pluginConfig: config("hold", { deadlineMs: 500 }),
    clusters: { route: route.port, mcp: backend.port },
    routes: [{ prefix: "/", cluster: "route" }],
    allowOnHeadersStopIteration: false,
  });
  const reply = json(await post(url, call));
  assert.equal(reply.error.code, -32001);
  assert.match(
    reply.error.message,
    /^Request timed out after 500 ms \(deadlineMs\): its body never reached the filter\. .*allow_on_headers_stop_iteration: true/,
  );
  assert.equal(backend.seen.length, 0);
  assert.equal(route.requests.length, 0);
});
