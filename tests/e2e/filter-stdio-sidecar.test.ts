// Issue 4's filter side: a `transport: "stdio"` server in the filter config names a sidecar catalog entry; the filter
// reaches it as a Streamable HTTP backend at /servers/NAME/mcp and reuses its session, so successive client calls
// go to one warm child instead of spawning one per request.
import { test } from "node:test";
import assert from "node:assert/strict";
import { own } from "../helpers/harness.ts";
import { startTestSidecar, EVERYTHING, echoServer, leftovers } from "../sidecar/helpers.ts";
import { connectClient, json, post, startGateway } from "./filter-harness.ts";

function stdioServers(extra: Record<string, unknown> = {}) {
  return {
    servers: [
      { name: "everything", pathPrefix: "/mcp/everything", cluster: "sidecar", transport: "stdio", ...extra },
      { name: "echo", pathPrefix: "/mcp/echo", cluster: "sidecar", transport: "stdio" },
    ],
  };
}

async function gatewayWithSidecar(t: import("node:test").TestContext) {
  const sidecar = await own(t, startTestSidecar({ mcpServers: { everything: { command: EVERYTHING }, echo: echoServer() } }));
  const gw = await startGateway(t, { pluginConfig: stdioServers(), clusters: { sidecar: sidecar.port } });
  return { sidecar, ...gw };
}

test("SDK Client -> emulator + filter -> sidecar -> server-everything over stdio: list and call tools", async (t) => {
  const { url } = await gatewayWithSidecar(t);
  const client = await connectClient(t, url, {}, "/mcp/everything");
  const { tools } = await client.listTools();
  assert.ok(tools.some((tool) => tool.name === "echo"), `tools: ${tools.map((x) => x.name)}`);
  const result = await client.callTool({ name: "echo", arguments: { message: "through the sidecar" } });
  assert.match(JSON.stringify(result.content), /through the sidecar/);
});

test("successive calls from different clients reuse one warm child; the command comes only from the catalog", async (t) => {
  const { url, sidecar } = await gatewayWithSidecar(t);
  const pids = new Set<string>();
  for (let id = 1; id <= 5; id++) {
    const reply = await post(url, { jsonrpc: "2.0", id, method: "tools/call", params: { name: "whoami", arguments: {} } }, [], "/mcp/echo");
    assert.equal(reply.status, 200, reply.body);
    pids.add(JSON.parse(json(reply).result.content[0].text).pid);
  }
  assert.equal(pids.size, 1, `five calls, one child: ${[...pids]}`);
  const stats = (await (await fetch(`${sidecar.url}/stats`)).json()) as Record<string, { spawns: number }>;
  assert.equal(stats.echo.spawns, 1, JSON.stringify(stats.echo));
  assert.equal(leftovers(process.pid).length, 1, "exactly one stdio child runs");
  // A request cannot choose what runs: an unknown catalog name is the sidecar's 404, surfaced as an error.
  const unknown = await post(url, { jsonrpc: "2.0", id: 9, method: "tools/list" }, [], "/mcp/nothing-here");
  assert.notEqual(unknown.status, 200);
});
