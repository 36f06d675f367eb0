// The filter's memory: it runs AssemblyScript's minimal runtime and collects garbage itself between calls
// (assembly/collector.ts). Left uncollected, every large reply would stay in the module's linear memory, which
// never shrinks; collected at a wrong moment, replies would be corrupted. One worker, so one VM serves every request;
// its memory is the gauge the filter publishes after each collection.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import type { Envoy } from "../../helpers/envoy.ts";
import { own, waitFor } from "../../helpers/harness.ts";
import {
  startScriptedBackend,
  type ScriptedBackend,
  type ScriptedOptions,
} from "../../fixtures/backends/scripted-backend.ts";
import { httpServer, json, post, startGateway, waitForStat } from "../../helpers/gateway.ts";

const MB = 1 << 20;
const GAUGE = "mcp_proxy.vm.linear_memory_bytes";

/** The gateway on one worker; backend sessions idle out fast, so that a tick after the last request shows. */
async function gateway(t: TestContext, backendOptions: ScriptedOptions, top: Record<string, unknown> = {}) {
  const backend = await own(t, startScriptedBackend(backendOptions));
  const { url, envoy } = await startGateway(t, {
    pluginConfig: httpServer({}, { ...top, sessionIdleTimeoutMs: 200 }),
    clusters: { backend: backend.port },
    concurrency: 1,
  });
  return { url, memory: () => memoryAfterTick(envoy, backend) };
}

/**
 * The serving VM's linear memory once it has collected after every request so far. Each tick collects and publishes
 * the gauge (only VMs that serve streams publish it: the main thread's does not); the tick that ends the last
 * request's backend session once it idled out runs after that request, and its DELETE leaves Envoy only when that
 * tick has returned.
 */
async function memoryAfterTick(envoy: Envoy, backend: ScriptedBackend): Promise<number> {
  const last = backend.seen.filter((s) => s.headers["mcp-session-id"] !== undefined).at(-1)!.headers["mcp-session-id"];
  await waitFor(
    "the idle session's DELETE",
    () => backend.seen.some((s) => s.method === "DELETE" && s.headers["mcp-session-id"] === last),
    10_000,
  );
  return waitForStat(envoy, GAUGE, (value) => value > 0, "the serving VM's reading");
}

test(
  "300 filtered tools/list replies of 1,000 tools (~75 MB through the module): memory stays bounded, every reply intact",
  { timeout: 180_000 },
  async (t) => {
    const allowed = ["tool_3", "tool_500", "tool_999"];
    const { url, memory } = await gateway(t, { toolCount: 1000 }, { allowTools: allowed });
    const list = async (id: number) => {
      const reply = json(await post(url, { jsonrpc: "2.0", id, method: "tools/list" }));
      assert.equal(reply.id, id);
      assert.deepEqual(
        reply.result.tools.map((tool: any) => tool.name),
        allowed,
        `reply ${id}`,
      );
      assert.equal(
        reply.result.tools[1].description,
        'Tool number 500: looks a record up by key and returns it with its history, "as is".',
      );
    };
    for (let i = 0; i < 20; i++) await list(i);
    const warm = await memory();
    for (let i = 20; i < 300; i++) await list(i);
    const end = await memory();
    t.diagnostic(`linear memory: ${(warm / MB).toFixed(1)} MB after 20 replies, ${(end / MB).toFixed(1)} MB after 300`);
    assert.ok(end <= 24 * MB, `linear memory grew to ${(end / MB).toFixed(1)} MB`);
    assert.ok(
      end - warm <= 4 * MB,
      `linear memory kept growing: ${(warm / MB).toFixed(1)} -> ${(end / MB).toFixed(1)} MB`,
    );
  },
);

test("many small requests (streams end without large bodies): memory stays flat", { timeout: 180_000 }, async (t) => {
  const { url, memory } = await gateway(t, {});
  const init = {
    jsonrpc: "2.0",
    method: "initialize",
    params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "m", version: "1" } },
  };
  const call = { jsonrpc: "2.0", method: "tools/call", params: { name: "alpha", arguments: { q: "x".repeat(2000) } } };
  const request = async (i: number) => {
    const reply = json(await post(url, { ...(i % 2 ? call : init), id: i }));
    assert.equal(reply.id, i);
    assert.ok(reply.result, JSON.stringify(reply));
  };
  for (let i = 0; i < 300; i++) await request(i);
  const warm = await memory();
  for (let i = 300; i < 1800; i++) await request(i);
  const end = await memory();
  t.diagnostic(
    `linear memory: ${(warm / MB).toFixed(1)} MB after 300 requests, ${(end / MB).toFixed(1)} MB after 1,800`,
  );
  assert.ok(
    end - warm <= 2 * MB,
    `linear memory kept growing: ${(warm / MB).toFixed(1)} -> ${(end / MB).toFixed(1)} MB`,
  );
});
