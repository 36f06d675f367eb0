// Issue 4's filter side: a `transport: "stdio"` server in the filter config names a sidecar catalog entry; the filter
// reaches it as a Streamable HTTP backend at /servers/NAME/mcp and reuses its session, so successive client calls
// go to one warm child instead of spawning one per request (one per Envoy worker: each worker's VM has its own
// session).
import { test } from "node:test";
import assert from "node:assert/strict";
import { own } from "../../helpers/harness.ts";
import { startTestSidecar, EVERYTHING, echoServer, leftovers } from "../../sidecar/helpers.ts";
import { connectClient, json, post, startGateway } from "../../helpers/gateway.ts";

function stdioServers(extra: Record<string, unknown> = {}) {
  return {
    servers: [
      { name: "everything", pathPrefix: "/mcp/everything", cluster: "sidecar", transport: "stdio", ...extra },
      { name: "echo", pathPrefix: "/mcp/echo", cluster: "sidecar", transport: "stdio" },
    ],
  };
}

async function gatewayWithSidecar(t: import("node:test").TestContext, concurrency?: number) {
  const sidecar = await own(
    t,
    startTestSidecar({ mcpServers: { everything: { command: EVERYTHING }, echo: echoServer() } }),
  );
  const gw = await startGateway(t, { pluginConfig: stdioServers(), clusters: { sidecar: sidecar.port }, concurrency });
  return { sidecar, ...gw };
}

/** Five whoami calls from five connections: the pids of the children that answered. */
async function whoamiPids(url: string): Promise<Set<string>> {
  const pids = new Set<string>();
  for (let id = 1; id <= 5; id++) {
    const reply = await post(
      url,
      { jsonrpc: "2.0", id, method: "tools/call", params: { name: "whoami", arguments: {} } },
      [],
      "/mcp/echo",
    );
    assert.equal(reply.status, 200, reply.body);
    pids.add(JSON.parse(json(reply).result.content[0].text).pid);
  }
  return pids;
}

async function echoSpawns(sidecar: { url: string }): Promise<number> {
  const stats = (await (await fetch(`${sidecar.url}/stats`)).json()) as Record<string, { spawns: number }>;
  return stats.echo.spawns;
}

test(
  "SDK Client -> Envoy + filter -> sidecar -> server-everything over stdio: list and call tools",
  { timeout: 60_000 },
  async (t) => {
    const { url } = await gatewayWithSidecar(t);
    const client = await connectClient(t, url, {}, "/mcp/everything");
    const { tools } = await client.listTools();
    assert.ok(
      tools.some((tool) => tool.name === "echo"),
      `tools: ${tools.map((x) => x.name)}`,
    );
    const result = await client.callTool({ name: "echo", arguments: { message: "through the sidecar" } });
    assert.match(JSON.stringify(result.content), /through the sidecar/);
  },
);

test("one worker: successive calls from different clients reuse one warm child; the command comes only from the catalog", async (t) => {
  const { url, sidecar } = await gatewayWithSidecar(t, 1);
  const pids = await whoamiPids(url);
  assert.equal(pids.size, 1, `five calls, one child: ${[...pids]}`);
  assert.equal(await echoSpawns(sidecar), 1);
  assert.equal(leftovers(process.pid).length, 1, "exactly one stdio child runs");
  // A request cannot choose what runs: an unknown catalog name is the sidecar's 404, surfaced as an error.
  const unknown = await post(url, { jsonrpc: "2.0", id: 9, method: "tools/list" }, [], "/mcp/nothing-here");
  assert.notEqual(unknown.status, 200);
});

test("two workers: at most one warm child per worker", async (t) => {
  const { url, sidecar } = await gatewayWithSidecar(t, 2);
  const pids = await whoamiPids(url);
  assert.ok(pids.size >= 1 && pids.size <= 2, `five calls, ${pids.size} children: ${[...pids]}`);
  assert.equal(await echoSpawns(sidecar), pids.size, "every child spawned answered: none per request");
  assert.equal(leftovers(process.pid).length, pids.size);
});
