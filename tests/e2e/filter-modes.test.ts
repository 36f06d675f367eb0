// requestHeadersMode: "hold" (Envoy >= 1.35 with allow_on_headers_stop_iteration: nothing reaches the route's
// upstream) and "continue" (Istio WasmPlugin / Envoy Gateway: the headers go upstream, the filter buffers the body
// and answers locally, and Envoy resets the upstream request it had started).
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { own } from "../helpers/harness.ts";
import { startScriptedBackend } from "../fixtures/backends/scripted-backend.ts";
import { json, post, startGateway } from "./filter-harness.ts";

/** An upstream that records request headers on arrival and never answers (the body never comes). */
async function silentUpstream(t: TestContext) {
  const seen: IncomingHttpHeaders[] = [];
  const server = createServer((req) => { seen.push(req.headers); });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
  return { port: (server.address() as AddressInfo).port, seen };
}

function config(mode: string) {
  return { requestHeadersMode: mode, servers: [{ pathPrefix: "/mcp", cluster: "mcp", name: "m", transport: "http", mcpServerURL: "/mcp" }] };
}

const call = { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "alpha", arguments: {} } };
const sensitive: [string, string][] = [["x-envoy-allow-mcp-tools", "alpha"], ["authorization", "Bearer secret"]];

test('"hold" with allow_on_headers_stop_iteration: answered locally, nothing reaches the route\'s upstream', async (t) => {
  const route = await silentUpstream(t);
  const backend = await own(t, startScriptedBackend());
  const { url } = await startGateway(t, { pluginConfig: config("hold"), clusters: { route: route.port, mcp: backend.port },
    routes: [{ prefix: "/", cluster: "route" }] });
  assert.ok(json(await post(url, call, sensitive)).result);
  assert.equal(route.seen.length, 0);
});

async function continueMode(t: TestContext) {
  const route = await silentUpstream(t);
  const backend = await own(t, startScriptedBackend());
  const { url } = await startGateway(t, { pluginConfig: config("continue"), clusters: { route: route.port, mcp: backend.port },
    routes: [{ prefix: "/", cluster: "route" }], allowOnHeadersStopIteration: false });
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
  assert.equal(route.seen.length, 1, "Envoy had started the upstream request");
  assert.equal(route.seen[0]["x-envoy-allow-mcp-tools"], undefined);
  assert.equal(route.seen[0].authorization, undefined);
});

test('"hold" without the flag: Envoy turns StopIteration into StopAllIterationAndWatermark and no body ever arrives (documented, not detected)', async (t) => {
  const route = await silentUpstream(t);
  const backend = await own(t, startScriptedBackend());
  const { url } = await startGateway(t, { pluginConfig: config("hold"), clusters: { route: route.port, mcp: backend.port },
    routes: [{ prefix: "/", cluster: "route" }], allowOnHeadersStopIteration: false });
  const outcome = await Promise.race([post(url, call).then(() => "answered", () => "failed"),
    new Promise((resolve) => setTimeout(() => resolve("stalled"), 700))]);
  assert.equal(outcome, "stalled");
  assert.equal(backend.seen.length, 0);
});
