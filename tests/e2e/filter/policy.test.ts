// Policy and credentials against the scripted header-echo backend: allowTools with the x-envoy-allow-mcp-tools
// header, and the downstream/upstream security scheme matrix.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { own } from "../../helpers/harness.ts";
import { startScriptedBackend, type ScriptedBackend } from "../../fixtures/backends/scripted-backend.ts";
import { httpServer, json, post, startGateway } from "../../helpers/gateway.ts";

async function gateway(
  t: TestContext,
  server: Record<string, unknown>,
  top: Record<string, unknown> = {},
  concurrency?: number,
) {
  const backend = await own(t, startScriptedBackend());
  const gw = await startGateway(t, {
    pluginConfig: httpServer(server, top),
    clusters: { backend: backend.port },
    concurrency,
  });
  return { backend, ...gw };
}

const listAll = (url: string, headers: [string, string][] = []) =>
  post(url, { jsonrpc: "2.0", id: 1, method: "tools/list" }, headers);

async function callSeen(url: string, backend: ScriptedBackend, headers: [string, string][], name = "alpha") {
  const reply = await post(
    url,
    { jsonrpc: "2.0", id: 7, method: "tools/call", params: { name, arguments: {} } },
    headers,
  );
  const body = json(reply);
  assert.ok(body.result, reply.body);
  return { echo: JSON.parse(body.result.content[0].text), calls: backend.seen.filter((s) => s.body?.method) };
}

test("allowTools filters tools/list (every other byte kept) and refuses a disallowed tools/call without reaching the backend", async (t) => {
  const { url, backend } = await gateway(t, {}, { allowTools: ["beta", "gamma"] });
  const page = json(await listAll(url));
  assert.deepEqual(
    page.result.tools.map((x: any) => x.name),
    ["beta"],
  );
  assert.equal(page.result.nextCursor, "page2");
  assert.deepEqual(page.result._meta, { page: 1 });
  assert.equal(page.result.tools[0].description, 'second "quoted"');
  const next = json(await post(url, { jsonrpc: "2.0", id: 2, method: "tools/list", params: { cursor: "page2" } }));
  assert.deepEqual(
    next.result.tools.map((x: any) => x.name),
    ["gamma"],
  );
  assert.equal(next.result.nextCursor, undefined);
  const calls = backend.count("tools/call");
  const denied = json(await post(url, { jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "alpha" } }));
  assert.deepEqual(denied.error, { code: -32602, message: "Tool not allowed: alpha" });
  assert.equal(backend.count("tools/call"), calls);
});

test("x-envoy-allow-mcp-tools: intersection with allowTools, empty = no restriction, only commas = deny all, never widens; never sent upstream", async (t) => {
  const { url, backend } = await gateway(t, {}, { allowTools: ["alpha", "beta"] });
  const names = async (h?: string) =>
    json(await listAll(url, h === undefined ? [] : [["x-envoy-allow-mcp-tools", h]])).result.tools.map(
      (x: any) => x.name,
    );
  assert.deepEqual(await names(), ["alpha", "beta"]);
  assert.deepEqual(await names(""), ["alpha", "beta"]);
  assert.deepEqual(await names("beta, gamma"), ["beta"], "gamma is not in allowTools: the header cannot widen");
  assert.deepEqual(await names(" , ,"), []);
  const denied = json(
    await post(url, { jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "alpha" } }, [
      ["x-envoy-allow-mcp-tools", "beta"],
    ]),
  );
  assert.equal(denied.error.message, "Tool not allowed: alpha");
  assert.ok(backend.seen.every((s) => s.headers["x-envoy-allow-mcp-tools"] === undefined));

  const open = await gateway(t, {});
  const openNames = json(await listAll(open.url, [["x-envoy-allow-mcp-tools", "alpha"]])).result.tools.map(
    (x: any) => x.name,
  );
  assert.deepEqual(openNames, ["alpha"], "no allowTools key: the header alone restricts");
  const none = await gateway(t, {}, { allowTools: [] });
  assert.deepEqual(json(await listAll(none.url)).result.tools, [], "allowTools: [] denies all");
});

const schemes = [
  { id: "in-bearer", type: "http", scheme: "bearer" },
  { id: "in-key", type: "apiKey", in: "header", name: "X-Client-Key" },
  { id: "in-query", type: "apiKey", in: "query", name: "client_key" },
  { id: "out-bearer", type: "http", scheme: "bearer", defaultCredential: "gw-token" },
  { id: "out-basic", type: "http", scheme: "basic", defaultCredential: "svc:pw" },
  { id: "out-key", type: "apiKey", in: "header", name: "X-Api-Key", defaultCredential: "gw-key" },
  { id: "out-query", type: "apiKey", in: "query", name: "api_key", defaultCredential: "gw-q" },
];

test(
  "credential matrix: upstream schemes applied, downstream credentials passed through or stripped, Authorization and cookies never leak",
  { timeout: 120_000 },
  async (t) => {
    type Case = {
      name: string;
      server: Record<string, unknown>;
      send: [string, string][];
      path?: string;
      expect: (h: Record<string, any>, path: string) => void;
    };
    const cases: Case[] = [
      {
        name: "no scheme: Authorization removed",
        server: {},
        send: [
          ["authorization", "Bearer client"],
          ["cookie", "c=1"],
        ],
        expect: (h) => {
          assert.equal(h.authorization, undefined);
          assert.equal(h.cookie, undefined);
        },
      },
      {
        name: "no scheme + passthroughAuthHeader: Authorization forwarded",
        server: { passthroughAuthHeader: true },
        send: [["authorization", "Bearer client"]],
        expect: (h) => assert.equal(h.authorization, "Bearer client"),
      },
      {
        name: "upstream bearer default",
        server: { defaultUpstreamSecurity: { id: "out-bearer" } },
        send: [["authorization", "Bearer client"]],
        expect: (h) => assert.equal(h.authorization, "Bearer gw-token"),
      },
      {
        name: "upstream basic user:pass",
        server: { defaultUpstreamSecurity: { id: "out-basic" } },
        send: [],
        expect: (h) => assert.equal(h.authorization, `Basic ${Buffer.from("svc:pw").toString("base64")}`),
      },
      {
        name: "upstream apiKey header",
        server: { defaultUpstreamSecurity: { id: "out-key" } },
        send: [],
        expect: (h) => assert.equal(h["x-api-key"], "gw-key"),
      },
      {
        name: "upstream apiKey query",
        server: { defaultUpstreamSecurity: { id: "out-query" } },
        send: [],
        expect: (_h, path) => assert.equal(path, "/mcp?api_key=gw-q"),
      },
      {
        name: "bearer passthrough into upstream apiKey header",
        server: {
          defaultDownstreamSecurity: { id: "in-bearer", passthrough: true },
          defaultUpstreamSecurity: { id: "out-key" },
        },
        send: [["authorization", "Bearer user-tok"]],
        expect: (h) => {
          assert.equal(h["x-api-key"], "user-tok");
          assert.equal(h.authorization, undefined);
        },
      },
      {
        name: "apiKey header passthrough into upstream bearer",
        server: {
          defaultDownstreamSecurity: { id: "in-key", passthrough: true },
          defaultUpstreamSecurity: { id: "out-bearer" },
        },
        send: [["x-client-key", "k1"]],
        expect: (h) => {
          assert.equal(h.authorization, "Bearer k1");
          assert.equal(h["x-client-key"], undefined);
        },
      },
      {
        name: "query passthrough into upstream query",
        path: "/mcp?client_key=q%201",
        server: {
          defaultDownstreamSecurity: { id: "in-query", passthrough: true },
          defaultUpstreamSecurity: { id: "out-query" },
        },
        send: [],
        expect: (_h, path) => assert.equal(path, "/mcp?api_key=q%201"),
      },
      {
        name: "downstream without passthrough: stripped, upstream default used",
        server: { defaultDownstreamSecurity: { id: "in-bearer" }, defaultUpstreamSecurity: { id: "out-bearer" } },
        send: [["authorization", "Bearer user-tok"]],
        expect: (h) => assert.equal(h.authorization, "Bearer gw-token"),
      },
      {
        name: "allowlisted headers forwarded, others not",
        server: {},
        send: [
          ["traceparent", "00-abc-def-01"],
          ["x-custom", "no"],
        ],
        expect: (h) => {
          assert.equal(h.traceparent, "00-abc-def-01");
          assert.equal(h["x-custom"], undefined);
        },
      },
    ];
    for (const c of cases) {
      const { url, backend } = await gateway(t, { securitySchemes: schemes, ...c.server });
      const reply = await post(
        url,
        { jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: "alpha", arguments: {} } },
        c.send,
        c.path ?? "/mcp",
      );
      const body = json(reply);
      assert.ok(body.result, `${c.name}: ${reply.body}`);
      const echo = JSON.parse(body.result.content[0].text);
      c.expect(echo.headers, echo.path);
      // The handshake carries the same upstream identity as the call.
      const init = backend.seen.find((s) => s.body?.method === "initialize")!;
      assert.equal(init.headers.authorization, echo.headers.authorization, c.name);
      assert.equal(init.headers["x-api-key"], echo.headers["x-api-key"], c.name);
    }
  },
);

// One worker: the session counts are those of one VM.
test("tool-level security overrides the server's, and sessions are never shared across upstream credentials", async (t) => {
  const { url, backend } = await gateway(
    t,
    {
      securitySchemes: schemes,
      defaultDownstreamSecurity: { id: "in-bearer", passthrough: true },
      defaultUpstreamSecurity: { id: "out-bearer" },
    },
    { tools: [{ name: "beta", requestTemplate: { security: { id: "out-key" } } }] },
    1,
  );
  const a = await callSeen(url, backend, [["authorization", "Bearer u1"]]);
  assert.equal(a.echo.headers.authorization, "Bearer u1");
  const b = await callSeen(url, backend, [["authorization", "Bearer u1"]], "beta");
  assert.equal(b.echo.headers["x-api-key"], "u1");
  assert.equal(b.echo.headers.authorization, undefined);
  await callSeen(url, backend, [["authorization", "Bearer u2"]]);
  await callSeen(url, backend, [["authorization", "Bearer u1"]]);
  assert.equal(backend.count("initialize"), 3, "u1 via bearer, u1 via api key, u2: three identities, three sessions");
  const sessionsOf = (tok: string) =>
    new Set(
      backend.seen
        .filter((s) => s.body?.method === "tools/call" && s.headers.authorization === `Bearer ${tok}`)
        .map((s) => s.headers["mcp-session-id"]),
    );
  assert.equal(sessionsOf("u1").size, 1);
  assert.notDeepEqual([...sessionsOf("u1")], [...sessionsOf("u2")]);
});
