// The filter on the oldest and the newest pinned Envoy (scripts/envoy.mjs): both requestHeadersModes, with and
// without allow_on_headers_stop_iteration, and a large request body sent in chunks (Envoy 1.40 fixed a loss of
// buffered request-body bytes with that flag; this test would show it on a version that still has it).
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { listenUntilEnd } from "../../helpers/upstream.ts";
import { own, send } from "../../helpers/harness.ts";
import { waitFor } from "../../helpers/harness.ts";
import { parse, stringify } from "yaml";
import { bootstrapYaml } from "../../helpers/bootstrap.ts";
import { ownEnvoy, type EnvoyRelease } from "../../helpers/envoy.ts";
import { startSdkBackend } from "../../fixtures/backends/sdk-backend.ts";
import { filterWasm, json, post, startGateway } from "../../helpers/gateway.ts";

/** The route's own upstream: records each request it gets and whether it was cut before its body ended. */
async function routeSink(t: TestContext) {
  const requests: { aborted: boolean }[] = [];
  const server = createServer((req) => {
    const seen = { aborted: false };
    requests.push(seen);
    req.on("error", () => (seen.aborted = true));
    req.on("aborted", () => (seen.aborted = true));
    req.resume();
  });
  const port = await listenUntilEnd(t, server);
  return { port, requests };
}

async function gateway(t: TestContext, release: EnvoyRelease, mode: string, flag: boolean, deadlineMs = 30_000) {
  const backend = await own(t, startSdkBackend("json"));
  const sink = await routeSink(t);
  const pluginConfig = {
    requestHeadersMode: mode,
    deadlineMs,
    servers: [{ pathPrefix: "/mcp", cluster: "backend", name: "fixture", transport: "http", mcpServerURL: "/mcp" }],
  };
  const { url, envoy } = await startGateway(t, {
    release,
    pluginConfig,
    allowOnHeadersStopIteration: flag,
    clusters: { route: sink.port, backend: backend.port },
    routes: [{ prefix: "/", cluster: "route" }],
  });
  return { url, envoy, backend, sink };
}

const echo = (id: number, message: string) => ({
  jsonrpc: "2.0",
  id,
  method: "tools/call",
  params: { name: "echo", arguments: { message } },
});

/** A message whose every 1 KB block differs, so a lost or repeated chunk cannot go unnoticed. */
function bigMessage(kb: number): string {
  return Array.from({ length: kb }, (_, i) => `[block ${String(i).padStart(5, "0")}]`.padEnd(1024, "abcdefghij")).join(
    "",
  );
}

function sendChunked(url: string, body: string, pieces: number, headers: [string, string][] = []) {
  const size = Math.ceil(body.length / pieces);
  const chunks = Array.from({ length: pieces }, (_, i) => body.slice(i * size, (i + 1) * size));
  return send(url, {
    method: "POST",
    path: "/mcp",
    chunks,
    timeoutMs: 30_000,
    headers: [["content-type", "application/json"], ["accept", "application/json, text/event-stream"], ...headers],
  });
}

for (const release of ["oldest", "newest"] as EnvoyRelease[]) {
  for (const flag of [true, false]) {
    test(
      `${release} Envoy, "continue" ${flag ? "with" : "without"} allow_on_headers_stop_iteration: answered by the filter; every request also reached the route's upstream, which Envoy then reset`,
      { timeout: 60_000 },
      async (t) => {
        const { url, sink, backend } = await gateway(t, release, "continue", flag);
        const replies = [];
        for (let id = 1; id <= 3; id++) replies.push(json(await post(url, echo(id, `call ${id}`))));
        assert.deepEqual(
          replies.map((r) => r.result.content[0].text),
          ["echo: call 1", "echo: call 2", "echo: call 3"],
        );
        // The cost of this mode: one request per client request at the route's upstream, cut when the filter answers.
        await waitFor(
          "the route's upstream to see every request cut",
          () => sink.requests.length === 3 && sink.requests.every((r) => r.aborted),
        );
        assert.equal(backend.requests.filter((r) => r.rpcMethod === "tools/call").length, 3);
      },
    );
  }

  test(
    `${release} Envoy, "hold" with the flag: nothing reaches the route's upstream; a 300 KB body sent in 40 chunks reaches the backend whole`,
    { timeout: 60_000 },
    async (t) => {
      const { url, sink } = await gateway(t, release, "hold", true);
      const message = bigMessage(300);
      const reply = await sendChunked(url, JSON.stringify(echo(7, message)), 40);
      assert.equal(reply.status, 200, reply.body.slice(0, 300));
      const text: string = json(reply).result.content[0].text;
      assert.equal(text.length, `echo: ${message}`.length);
      assert.ok(text === `echo: ${message}`, "the body arrived with every block in order");
      assert.equal(sink.requests.length, 0);
    },
  );

  test(
    `${release} Envoy, "continue": a 300 KB body sent in 40 chunks reaches the backend whole`,
    { timeout: 60_000 },
    async (t) => {
      const { url } = await gateway(t, release, "continue", false);
      const message = bigMessage(300);
      const reply = await sendChunked(url, JSON.stringify(echo(8, message)), 40);
      assert.equal(json(reply).result.content[0].text, `echo: ${message}`);
    },
  );

  test(
    `${release} Envoy, "hold" without the flag: Envoy never hands the body to the filter; the client gets -32001 naming the flag at deadlineMs, not a hang`,
    { timeout: 60_000 },
    async (t) => {
      const { url, backend, sink } = await gateway(t, release, "hold", false, 1000);
      const reply = await post(url, echo(9, "never read"));
      assert.equal(reply.status, 200);
      const { error } = json(reply);
      assert.equal(error.code, -32001);
      assert.match(error.message, /allow_on_headers_stop_iteration: true/);
      assert.equal(backend.requests.length, 0);
      assert.equal(sink.requests.length, 0);
    },
  );
}

/** The filter in mode "passthrough" in front of an SDK backend; `runtime` is an Envoy runtime layer. */
async function passthroughGateway(
  t: TestContext,
  release: EnvoyRelease,
  runtime?: Record<string, unknown>,
  mode = "hold",
) {
  const backend = await own(t, startSdkBackend("json"));
  const bootstrap = parse(
    bootstrapYaml({
      wasm: filterWasm(),
      allowOnHeadersStopIteration: mode === "hold",
      pluginConfig: {
        requestHeadersMode: mode,
        server: { name: "fixture", transport: "http", mcpServerURL: "http://backend/mcp", mode: "passthrough" },
      },
      routes: [{ prefix: "/", cluster: "backend" }],
      clusters: { backend: backend.port },
    }),
  );
  if (runtime) bootstrap.layered_runtime = { layers: [{ name: "test", static_layer: runtime }] };
  return ownEnvoy(t, { yaml: stringify(bootstrap), release });
}

/** Initializes a session at the backend through the gateway; returns the headers its later requests carry. */
async function session(url: string): Promise<[string, string][]> {
  const init = await post(url, {
    jsonrpc: "2.0",
    id: 0,
    method: "initialize",
    params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "v", version: "1" } },
  });
  const id = init.headers.find(([k]) => k === "mcp-session-id")?.[1];
  assert.ok(id, init.body);
  return [
    ["mcp-session-id", id],
    ["mcp-protocol-version", "2025-11-25"],
  ];
}

// Envoy 1.40 fixed a filter-manager bug that dropped a buffered body frame when a filter that stopped on its
// headers continued (runtime guard envoy.reloadable_features.filter_manager_forward_added_data_on_continue). The
// pass-through mode holds the headers, buffers the body and then continues: this is the path it would hit.
for (const release of ["oldest", "newest"] as EnvoyRelease[]) {
  test(
    `${release} Envoy, "passthrough": a 300 KB body sent in 40 chunks reaches the backend whole through the router`,
    { timeout: 60_000 },
    async (t) => {
      const envoy = await passthroughGateway(t, release);
      const headers = await session(envoy.url);
      const message = bigMessage(300);
      const reply = await sendChunked(envoy.url, JSON.stringify(echo(5, message)), 40, headers);
      assert.equal(json(reply).result.content[0].text, `echo: ${message}`);
    },
  );
}

// Turned off, the fix changes nothing for the filter: it buffers with StopIterationAndBuffer and continues once, so
// Envoy keeps the bytes in its own buffer; this guards that the filter never comes to depend on the fix.
for (const mode of ["hold", "continue"]) {
  test(
    `newest Envoy with that fix turned off, "passthrough" in "${mode}" mode: the 300 KB chunked body still arrives whole`,
    { timeout: 60_000 },
    async (t) => {
      const envoy = await passthroughGateway(
        t,
        "newest",
        { "envoy.reloadable_features.filter_manager_forward_added_data_on_continue": false },
        mode,
      );
      const headers = await session(envoy.url);
      const message = bigMessage(300);
      const reply = await sendChunked(envoy.url, JSON.stringify(echo(6, message)), 40, headers);
      assert.equal(json(reply).result.content[0].text, `echo: ${message}`);
    },
  );
}
