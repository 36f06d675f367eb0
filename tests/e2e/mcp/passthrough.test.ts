// Mode "passthrough": the client's requests go through Envoy's router to the backend, which the client sees as
// its MCP server (sessions, GET stream, server-to-client requests, progress as it comes), with the filter's policy
// applied in line: allow-lists on lists (JSON and SSE replies) and on calls, reads and gets; credentials; Origin.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { Latch, POLICY, assertFilteredLists, interactiveBackend } from "../../fixtures/backends/interactive-backend.ts";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { CreateMessageRequestSchema, ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { parse, stringify } from "yaml";
import { bootstrapYaml } from "../../helpers/bootstrap.ts";
import { ownEnvoy, type EnvoyRelease } from "../../helpers/envoy.ts";
import { filterWasm, json, post, startGateway } from "../../helpers/gateway.ts";

async function gateway(t: TestContext, replies: "json" | "sse", top: Record<string, unknown> = {}, latch?: Latch) {
  const backend = await interactiveBackend(t, replies, latch);
  const gw = await startGateway(t, {
    clusters: { backend: backend.port },
    pluginConfig: {
      ...top,
      ...POLICY,
      server: { name: "interactive", transport: "http", mcpServerURL: "http://backend/mcp", mode: "passthrough" },
    },
    routes: [{ prefix: "/", cluster: "backend", timeout: "0s" }],
  });
  return { backend, ...gw };
}

async function client(t: TestContext, url: string, headers: Record<string, string> = {}) {
  const c = new Client(
    { name: "passthrough-test", version: "1.0.0" },
    { capabilities: { sampling: {}, elicitation: {} } },
  );
  c.setRequestHandler(CreateMessageRequestSchema, async () => ({
    model: "test",
    role: "assistant",
    content: { type: "text", text: "4" },
  }));
  c.setRequestHandler(ElicitRequestSchema, async () => ({ action: "accept", content: { name: "Ada" } }));
  await c.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp`), { requestInit: { headers } }));
  t.after(() => c.close());
  return c;
}

for (const replies of ["json", "sse"] as const) {
  test(
    `${replies} replies: lists are filtered by the allow-lists, everything else passes untouched`,
    { timeout: 60_000 },
    async (t) => {
      const { url } = await gateway(t, replies);
      const c = await client(t, url);
      assert.deepEqual(
        (await c.listTools()).tools.map((x) => x.name),
        ["echo", "count", "ask"],
      );
      await assertFilteredLists(c);
      assert.deepEqual((await c.callTool({ name: "echo", arguments: { message: "hi" } })).content, [
        { type: "text", text: "echo: hi" },
      ]);
      assert.deepEqual((await c.readResource({ uri: "test://items/7" })).contents, [
        { uri: "test://items/7", text: "item test://items/7" },
      ]);
      assert.equal((await c.getPrompt({ name: "greet" })).messages.length, 1);
    },
  );

  test(
    `${replies} replies: a disallowed tool, resource or prompt is refused at the gateway and never reaches the backend`,
    { timeout: 60_000 },
    async (t) => {
      const { url, backend } = await gateway(t, replies);
      const c = await client(t, url);
      await assert.rejects(c.callTool({ name: "secret", arguments: {} }), /Tool not allowed: secret/);
      await assert.rejects(c.readResource({ uri: "test://private" }), /Resource not allowed: test:\/\/private/);
      await assert.rejects(c.getPrompt({ name: "hidden" }), /Prompt not allowed: hidden/);
      assert.deepEqual(
        backend.seen.filter((s) => ["tools/call", "resources/read", "prompts/get"].includes(s.rpc)),
        [],
      );
    },
  );
}

test(
  "progress reaches the client while the tool runs: the backend holds its result until the client has seen it",
  { timeout: 60_000 },
  async (t) => {
    const latch = new Latch();
    const { url } = await gateway(t, "sse", {}, latch);
    const c = await client(t, url);
    const progress: number[] = [];
    const result = await c.callTool({ name: "count", arguments: { steps: 3 } }, undefined, {
      onprogress: (p) => {
        progress.push(p.progress);
        if (p.progress === 3) latch.open();
      },
    });
    assert.deepEqual(progress, [1, 2, 3]);
    assert.deepEqual(result.content, [{ type: "text", text: "counted 3" }]);
  },
);

test(
  "server-to-client requests (sampling, elicitation) reach the client and its answers reach the backend",
  { timeout: 60_000 },
  async (t) => {
    const { url } = await gateway(t, "sse");
    const c = await client(t, url);
    const result = await c.callTool({ name: "ask", arguments: {} });
    assert.deepEqual(result.content, [{ type: "text", text: 'sampled 4, elicited {"name":"Ada"}' }]);
  },
);

test(
  "credentials: cookies and the client's Authorization never reach the backend; the upstream scheme's credential does",
  { timeout: 60_000 },
  async (t) => {
    const { url, backend } = await gateway(t, "json", {}, undefined);
    await client(t, url, {
      authorization: "Bearer client-secret",
      cookie: "sid=1",
      "x-custom": "dropped",
      traceparent: `00-${"1".repeat(32)}-${"2".repeat(16)}-01`,
    });
    assert.ok(backend.seen.length > 0);
    for (const s of backend.seen) {
      assert.equal(s.headers.authorization, undefined);
      assert.equal(s.headers.cookie, undefined);
      assert.equal(s.headers["x-custom"], undefined);
      assert.equal(s.headers.traceparent, `00-${"1".repeat(32)}-${"2".repeat(16)}-01`, "forwardHeaders pass");
      assert.ok(s.headers["x-forwarded-proto"], "Envoy's own headers stay");
    }

    const scheme = await interactiveBackend(t, "json");
    const { url: url2 } = await startGateway(t, {
      clusters: { backend: scheme.port },
      pluginConfig: {
        server: {
          name: "interactive",
          transport: "http",
          mcpServerURL: "http://backend/mcp",
          mode: "passthrough",
          securitySchemes: [{ id: "up", type: "http", scheme: "bearer", defaultCredential: "backend-token" }],
          defaultUpstreamSecurity: { id: "up" },
        },
      },
    });
    await client(t, url2, { authorization: "Bearer client-secret" });
    assert.ok(scheme.seen.length > 0 && scheme.seen.every((s) => s.headers.authorization === "Bearer backend-token"));
  },
);

test(
  "Origin: a foreign origin gets 403 before anything reaches the backend; localhost and listed origins pass",
  { timeout: 60_000 },
  async (t) => {
    const { url, backend } = await gateway(t, "json", { allowedOrigins: ["https://app.example.com"] });
    const initialize = {
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "o", version: "1" } },
    };
    const refused = await post(url, initialize, [["origin", "http://evil.example.com"]]);
    assert.equal(refused.status, 403);
    assert.match(json(refused).error.message, /Origin http:\/\/evil.example.com is not allowed/);
    assert.equal(backend.seen.length, 0);
    assert.equal((await post(url, initialize, [["origin", "https://app.example.com"]])).status, 200);
    assert.equal((await post(url, initialize)).status, 200, "no Origin: not a browser, unaffected");
  },
);

/** Envoy's stateful_session filter with the envelope state on mcp-session-id: a session stays on its replica. */
const STATEFUL_SESSION = {
  name: "envoy.filters.http.stateful_session",
  typed_config: {
    "@type": "type.googleapis.com/envoy.extensions.filters.http.stateful_session.v3.StatefulSession",
    session_state: {
      name: "envoy.http.stateful_session.envelope",
      typed_config: {
        "@type": "type.googleapis.com/envoy.extensions.http.stateful_session.envelope.v3.EnvelopeSessionState",
        header: { name: "mcp-session-id" },
      },
    },
  },
};

async function twoReplicas(t: TestContext, release: EnvoyRelease, sticky: boolean) {
  const replicas = [await interactiveBackend(t, "json"), await interactiveBackend(t, "json")];
  const bootstrap = parse(
    bootstrapYaml({
      wasm: filterWasm(),
      allowOnHeadersStopIteration: true,
      pluginConfig: {
        ...POLICY,
        server: { name: "interactive", transport: "http", mcpServerURL: "http://backend/mcp", mode: "passthrough" },
      },
      routes: [{ prefix: "/", cluster: "backend" }],
      clusters: { backend: replicas[0].port },
    }),
  );
  const [cluster] = bootstrap.static_resources.clusters;
  cluster.lb_policy = "ROUND_ROBIN";
  cluster.load_assignment.endpoints[0].lb_endpoints.push({
    endpoint: { address: { socket_address: { address: "127.0.0.1", port_value: replicas[1].port } } },
  });
  const filters = bootstrap.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.http_filters;
  if (sticky) filters.splice(1, 0, STATEFUL_SESSION);
  const envoy = await ownEnvoy(t, { yaml: stringify(bootstrap), release });
  return { envoy, replicas };
}

for (const release of ["oldest", "newest"] as EnvoyRelease[]) {
  test(
    `${release} Envoy, two replicas behind ROUND_ROBIN: with stateful_session (envelope on mcp-session-id) every request of a session reaches the replica that opened it`,
    { timeout: 60_000 },
    async (t) => {
      const { envoy, replicas } = await twoReplicas(t, release, true);
      const clients = [await client(t, envoy.url), await client(t, envoy.url), await client(t, envoy.url)];
      for (let round = 0; round < 3; round++) {
        for (const c of clients)
          assert.equal(
            ((await c.callTool({ name: "echo", arguments: { message: "x" } })).content as { text: string }[])[0].text,
            "echo: x",
          );
      }
      // Every call succeeded, so none reached a replica that did not know its session (it answers 404); and both
      // replicas served sessions, so the affinity was needed.
      const calls = replicas.map((r) => r.seen.filter((s) => s.rpc === "tools/call").length);
      assert.equal(calls[0] + calls[1], 9);
      assert.ok(calls[0] > 0 && calls[1] > 0, `sessions on both replicas: ${calls}`);
    },
  );
}

test(
  "two replicas behind ROUND_ROBIN without stateful_session: a session's requests land on the other replica, which does not know it",
  { timeout: 60_000 },
  async (t) => {
    const { envoy } = await twoReplicas(t, "newest", false);
    const failures = await Promise.allSettled(
      [1, 2, 3].map(async () => {
        const c = await client(t, envoy.url);
        for (let i = 0; i < 3; i++) await c.callTool({ name: "echo", arguments: { message: "x" } });
      }),
    );
    assert.ok(
      failures.some((f) => f.status === "rejected"),
      "some session was lost: pass-through needs session affinity",
    );
  },
);
