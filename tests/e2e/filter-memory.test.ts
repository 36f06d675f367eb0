// The filter's memory: it runs AssemblyScript's minimal runtime and collects garbage itself between calls
// (assembly/collector.ts). Left uncollected, every large reply would stay in the module's linear memory, which
// never shrinks; collected at a wrong moment, replies would be corrupted.
import { test } from "node:test";
import assert from "node:assert/strict";
import { own } from "../helpers/harness.ts";
import { startScriptedBackend } from "../fixtures/backends/scripted-backend.ts";
import { httpServer, json, post, startGateway } from "./filter-harness.ts";

const MB = 1 << 20;

test("300 filtered tools/list replies of 1,000 tools (~75 MB through the module): memory stays bounded, every reply intact", async (t) => {
  const backend = await own(t, startScriptedBackend({ toolCount: 1000 }));
  const allowed = ["tool_3", "tool_500", "tool_999"];
  const { url, envoy } = await startGateway(t, { pluginConfig: httpServer({}, { allowTools: allowed }), clusters: { backend: backend.port } });
  const list = async (id: number) => {
    const reply = json(await post(url, { jsonrpc: "2.0", id, method: "tools/list" }));
    assert.equal(reply.id, id);
    assert.deepEqual(reply.result.tools.map((tool: any) => tool.name), allowed, `reply ${id}`);
    assert.equal(reply.result.tools[1].description, 'Tool number 500: looks a record up by key and returns it with its history, "as is".');
  };
  for (let i = 0; i < 20; i++) await list(i);
  const warm = envoy.wasmMemoryBytes();
  for (let i = 20; i < 300; i++) await list(i);
  const end = envoy.wasmMemoryBytes();
  t.diagnostic(`linear memory: ${(warm / MB).toFixed(1)} MB after 20 replies, ${(end / MB).toFixed(1)} MB after 300`);
  assert.ok(end <= 24 * MB, `linear memory grew to ${(end / MB).toFixed(1)} MB`);
  assert.ok(end - warm <= 4 * MB, `linear memory kept growing: ${(warm / MB).toFixed(1)} -> ${(end / MB).toFixed(1)} MB`);
});

test("many small requests (streams end without large bodies): memory stays flat", async (t) => {
  const backend = await own(t, startScriptedBackend({}));
  const { url, envoy } = await startGateway(t, { pluginConfig: httpServer(), clusters: { backend: backend.port } });
  const init = { jsonrpc: "2.0", method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "m", version: "1" } } };
  const call = { jsonrpc: "2.0", method: "tools/call", params: { name: "alpha", arguments: { q: "x".repeat(2000) } } };
  const request = async (i: number) => {
    const reply = json(await post(url, { ...(i % 2 ? call : init), id: i }));
    assert.equal(reply.id, i);
    assert.ok(reply.result, JSON.stringify(reply));
  };
  for (let i = 0; i < 300; i++) await request(i);
  const warm = envoy.wasmMemoryBytes();
  for (let i = 300; i < 1800; i++) await request(i);
  const end = envoy.wasmMemoryBytes();
  t.diagnostic(`linear memory: ${(warm / MB).toFixed(1)} MB after 300 requests, ${(end / MB).toFixed(1)} MB after 1,800`);
  assert.ok(end - warm <= 2 * MB, `linear memory kept growing: ${(warm / MB).toFixed(1)} -> ${(end / MB).toFixed(1)} MB`);
});
