// Both protocol eras through the gateway, and bridged both ways (Higress-compatible mode): 2025 clients reach a
// 2026-07-28-only backend (the filter answers initialize from its server/discover and adds the _meta and headers),
// 2026-07-28 clients reach a 2025-only backend (the filter keeps the backend session). The TypeScript SDK 2.x client
// negotiates in each of its modes: 'legacy' (initialize), 'auto' (server/discover, falling back), pinned to
// 2026-07-28. What the filter checks of a modern request (its headers against its body) holds in both modes.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { own } from "../../helpers/harness.ts";
import { startSdkBackend } from "../../fixtures/backends/sdk-backend.ts";
import { startSdk2Backend, type Sdk2Era } from "../../fixtures/backends/sdk2-backend.ts";
import { json, post, startGateway } from "../../helpers/gateway.ts";

type BackendEra = "2025-only" | Sdk2Era;
type Negotiation = "legacy" | "auto" | { pin: string };
const MODERN = "2026-07-28";

async function backend(t: TestContext, era: BackendEra) {
  if (era === "2025-only") {
    const b = await own(t, startSdkBackend("sse"));
    return { port: b.port, rpcMethods: () => b.requests.map((r) => r.rpcMethod) };
  }
  const b = await own(t, startSdk2Backend(era));
  return { port: b.port, rpcMethods: () => b.seen.map((s) => s.rpcMethod), seen: b.seen };
}

async function gateway(
  t: TestContext,
  era: BackendEra,
  top: Record<string, unknown> = {},
  extra: Record<string, unknown> = {},
) {
  const b = await backend(t, era);
  const gw = await startGateway(t, {
    clusters: { backend: b.port },
    pluginConfig: {
      allowTools: ["echo", "confirm", "note"],
      ...top,
      server: { name: "eras", transport: "http", mcpServerURL: "http://backend/mcp", ...extra },
    },
  });
  return { backend: b, ...gw };
}

async function client(t: TestContext, url: string, negotiation: Negotiation) {
  const c = new Client(
    { name: "eras-test", version: "1.0.0" },
    { versionNegotiation: { mode: negotiation }, capabilities: { elicitation: {} } },
  );
  c.setRequestHandler("elicitation/create", async () => ({ action: "accept", content: { confirm: true } }));
  await c.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp`)));
  t.after(() => c.close());
  return c;
}

for (const era of ["2025-only", "dual", "modern"] as BackendEra[]) {
  for (const negotiation of ["legacy", "auto", { pin: MODERN }] as Negotiation[]) {
    test(
      `${era} backend, SDK 2.x client ${JSON.stringify(negotiation)}: tools listed (filtered) and called, a disallowed one refused`,
      { timeout: 60_000 },
      async (t) => {
        const { url } = await gateway(t, era);
        const c = await client(t, url, negotiation);
        const names = (await c.listTools()).tools.map((x: { name: string }) => x.name);
        assert.ok(names.includes("echo") && !names.includes("secret"), names.join(","));
        const echoed = await c.callTool({ name: "echo", arguments: { message: "across eras" } });
        assert.deepEqual(echoed.content, [{ type: "text", text: "echo: across eras" }]);
        await assert.rejects(c.callTool({ name: "secret", arguments: {} }), /not allowed/);
      },
    );
  }
}

test(
  "2026-07-28 client and a backend that speaks it: requests go statelessly, and an input_required round trip passes untouched",
  { timeout: 60_000 },
  async (t) => {
    const { url, backend: b } = await gateway(t, "dual");
    const c = await client(t, url, { pin: MODERN });
    const result = await c.callTool({ name: "confirm", arguments: {} });
    assert.deepEqual(result.content, [{ type: "text", text: "confirmed" }]);
    const calls = b.seen!.filter((s) => s.rpcMethod === "tools/call");
    assert.equal(calls.length, 2, "the first call got input_required, the client's retry carried its answer");
    assert.deepEqual(calls[1].body.params.inputResponses.confirm.content, { confirm: true });
    assert.ok(
      calls.every((s) => s.headers["mcp-session-id"] === undefined && s.headers["mcp-protocol-version"] === MODERN),
      "no backend session: the client's own era and headers",
    );
  },
);

test(
  "2025 client and a 2026-07-28-only backend that needs input from it: the backend's own error (the filter declared no client capabilities), not a hang",
  { timeout: 60_000 },
  async (t) => {
    const { url } = await gateway(t, "modern");
    const c = await client(t, url, "legacy");
    await assert.rejects(
      c.callTool({ name: "confirm", arguments: {} }),
      (error: Error & { code?: number }) => error.code === -32021 && /elicitation/i.test(error.message),
    );
  },
);

test(
  "2026-07-28 client on a bridged 2025 session: log messages only when the request asks for them, at its level or above",
  { timeout: 60_000 },
  async (t) => {
    const { url } = await gateway(t, "2025-only");
    const echo = (id: number, meta: Record<string, unknown>) => ({
      jsonrpc: "2.0",
      id,
      method: "tools/call",
      params: {
        name: "echo",
        arguments: { message: "x" },
        _meta: {
          "io.modelcontextprotocol/protocolVersion": MODERN,
          "io.modelcontextprotocol/clientCapabilities": {},
          ...meta,
        },
      },
    });
    const modern: [string, string][] = [
      ["mcp-protocol-version", MODERN],
      ["mcp-method", "tools/call"],
      ["mcp-name", "echo"],
    ];
    const quiet = await post(url, echo(1, {}), modern);
    assert.equal(
      quiet.headers.find(([k]) => k === "content-type")?.[1],
      "application/json",
      "no log message: a plain JSON reply",
    );
    assert.equal(json(quiet).result.resultType, "complete");
    const told = await post(url, echo(2, { "io.modelcontextprotocol/logLevel": "info" }), modern);
    assert.match(told.body, /notifications\/message[\s\S]*"id":2/, "the info message, then the response");
    const stricter = await post(url, echo(3, { "io.modelcontextprotocol/logLevel": "error" }), modern);
    assert.doesNotMatch(stricter.body, /notifications\/message/, "an info message is below the requested level");
  },
);

const meta = { "io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": {} };
const modernCall = (name: string) => ({
  jsonrpc: "2.0",
  id: 7,
  method: "tools/call",
  params: { name, arguments: { message: "m" }, _meta: meta },
});
const headersFor = (name: string): [string, string][] => [
  ["mcp-protocol-version", MODERN],
  ["mcp-method", "tools/call"],
  ["mcp-name", name],
];

for (const mode of ["higress", "passthrough"]) {
  for (const headersMode of ["hold", "continue"]) {
    test(
      `${mode} mode, "${headersMode}": a 2026-07-28 request's headers must agree with its body, and a disallowed Mcp-Name never reaches the backend`,
      { timeout: 60_000 },
      async (t) => {
        const { url, backend: b } = await gateway(t, "dual", { requestHeadersMode: headersMode }, { mode });
        const calls = () => b.rpcMethods().filter((m) => m === "tools/call").length;

        const refused = await post(url, modernCall("secret"), headersFor("secret"));
        assert.equal(refused.status, 403);
        assert.match(json(refused).error.message, /Tool not allowed: secret/);

        const smuggled = await post(url, modernCall("secret"), headersFor("echo"));
        assert.equal(smuggled.status, 400, "Mcp-Name says echo, the body calls secret");
        assert.equal(json(smuggled).error.code, -32020);

        const encoded = await post(
          url,
          modernCall("echo"),
          headersFor(`=?base64?${Buffer.from("echo").toString("base64")}?=`),
        );
        assert.equal(json(encoded).result.content[0].text, "echo: m", "a base64 Mcp-Name is decoded");
        assert.equal(calls(), 1, "only the agreeing call reached the backend");

        const noMeta = await post(
          url,
          { jsonrpc: "2.0", id: 8, method: "tools/call", params: { name: "echo", arguments: {} } },
          headersFor("echo"),
        );
        assert.equal(noMeta.status, 400);
        assert.equal(json(noMeta).error.code, -32602);
      },
    );
  }
}

test(
  "an unsupported protocol version gets 400 -32022 with the versions the gateway speaks",
  { timeout: 60_000 },
  async (t) => {
    const { url } = await gateway(t, "dual");
    const reply = await post(url, modernCall("echo"), [
      ["mcp-protocol-version", "1900-01-01"],
      ["mcp-method", "tools/call"],
      ["mcp-name", "echo"],
    ]);
    assert.equal(reply.status, 400);
    const { error } = json(reply);
    assert.equal(error.code, -32022);
    assert.deepEqual(error.data, {
      supported: [MODERN, "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"],
      requested: "1900-01-01",
    });
  },
);
