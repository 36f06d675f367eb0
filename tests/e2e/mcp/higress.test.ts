// The Higress-compatible mode beyond tools: every plain request/response method the backend offers is proxied
// (resources, prompts, completion) under the allow-lists; initialize tells the client the backend's own capabilities,
// less what this mode cannot deliver; notifications the backend sends during a request are delivered with its reply;
// and what this mode cannot do is refused with the reason, never left to hang.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { CreateMessageRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { POLICY, assertFilteredLists, interactiveBackend } from "../../fixtures/backends/interactive-backend.ts";
import { send } from "../../helpers/harness.ts";
import { json, post, startGateway } from "../../helpers/gateway.ts";

async function gateway(t: TestContext, replies: "json" | "sse", timeout = 20_000) {
  const backend = await interactiveBackend(t, replies);
  const gw = await startGateway(t, {
    clusters: { backend: backend.port },
    pluginConfig: {
      ...POLICY,
      server: { name: "interactive", transport: "http", mcpServerURL: "http://backend/mcp", timeout },
    },
  });
  return { backend, ...gw };
}

async function client(t: TestContext, url: string) {
  const c = new Client({ name: "higress-test", version: "1.0.0" }, { capabilities: { sampling: {} } });
  c.setRequestHandler(CreateMessageRequestSchema, async () => ({
    model: "test",
    role: "assistant",
    content: { type: "text", text: "4" },
  }));
  await c.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp`)));
  t.after(() => c.close());
  return c;
}

for (const replies of ["json", "sse"] as const) {
  test(
    `${replies} replies: resources, templates and prompts are proxied and filtered; a disallowed one is refused before the backend`,
    { timeout: 60_000 },
    async (t) => {
      const { url, backend } = await gateway(t, replies);
      const c = await client(t, url);
      await assertFilteredLists(c);
      assert.deepEqual((await c.readResource({ uri: "test://public" })).contents, [
        { uri: "test://public", text: "public text" },
      ]);
      assert.equal((await c.getPrompt({ name: "greet" })).messages.length, 1);
      await assert.rejects(c.readResource({ uri: "test://private" }), /Resource not allowed: test:\/\/private/);
      await assert.rejects(c.getPrompt({ name: "hidden" }), /Prompt not allowed: hidden/);
      assert.deepEqual(
        backend.seen.filter((s) => s.rpc === "resources/read" || s.rpc === "prompts/get").length,
        2,
        "only the allowed ones",
      );
    },
  );
}

test(
  "initialize carries the backend's capabilities, less list-changed notifications, subscriptions and logging",
  { timeout: 60_000 },
  async (t) => {
    const { url } = await gateway(t, "json");
    const reply = json(
      await post(url, {
        jsonrpc: "2.0",
        id: 1,
        method: "initialize",
        params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "t", version: "1" } },
      }),
    );
    assert.equal(reply.result.protocolVersion, "2025-11-25");
    assert.equal(reply.result.serverInfo.name, "interactive");
    // The SDK backend declares tools, resources and prompts with listChanged, and logging.
    assert.deepEqual(reply.result.capabilities, { tools: {}, resources: {}, prompts: {} });
  },
);

test(
  "progress notifications of a tool call are delivered with its reply, in order, before the result",
  { timeout: 60_000 },
  async (t) => {
    const { url } = await gateway(t, "sse");
    const c = await client(t, url);
    const progress: number[] = [];
    const result = await c.callTool({ name: "count", arguments: { steps: 3 } }, undefined, {
      onprogress: (p) => {
        progress.push(p.progress);
      },
    });
    assert.deepEqual(result.content, [{ type: "text", text: "counted 3" }]);
    assert.deepEqual(progress, [1, 2, 3]);
  },
);

test(
  "what needs the client's own stream or session is refused with the reason, never left to hang",
  { timeout: 60_000 },
  async (t) => {
    const { url } = await gateway(t, "sse", 2000);
    const c = await client(t, url);
    // The filter declares no client capabilities to its backend session, but an SDK 1.x server asks anyway and waits
    // for an answer that cannot come: the call ends at the server's timeout, with an error that says why.
    const asked = await c.callTool({ name: "ask", arguments: {} }).then(
      (r) => JSON.stringify(r),
      (e: Error) => e.message,
    );
    assert.match(asked, /asks the client for sampling, elicitation or roots.*mode "passthrough"/);
    for (const method of ["logging/setLevel", "resources/subscribe", "resources/unsubscribe"]) {
      const params = method === "logging/setLevel" ? { level: "debug" } : { uri: "test://public" };
      const { error } = json(await post(url, { jsonrpc: "2.0", id: 2, method, params }));
      assert.equal(error.code, -32601, method);
      assert.match(error.message, /mode "passthrough"/, method);
    }
    const stream = await send(url, { method: "GET", path: "/mcp", headers: [["accept", "text/event-stream"]] });
    assert.equal(stream.status, 405);
  },
);
