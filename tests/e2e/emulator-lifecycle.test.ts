// Start-up order, context ids and the per-request callback order of Envoy's proxy-wasm host
// (reference §1 "Start-up order" and "Per request").
import { test } from "node:test";
import assert from "node:assert/strict";
import { echoUpstream } from "../helpers/upstream.ts";
import { own, pluginLogs, send, startWith, waitForLog } from "../helpers/harness.ts";

async function start(t: import("node:test").TestContext) {
  const upstream = await own(t, echoUpstream());
  return startWith(t, "lifecycle", { routes: [{ prefix: "/", cluster: "echo" }], clusters: { echo: upstream.port } });
}

/** The callbacks of one context, without the "cb " prefix and the context id. */
function callbacksOf(lines: string[], ctx: number): string[] {
  return lines.filter((l) => l.includes(` ctx=${ctx}`)).map((l) => l.replace(/^cb /, "").replace(` ctx=${ctx}`, ""));
}

test("Envoy starts the VM as: root on_context_create(1, 0), on_vm_start(1), on_configure(1); no stream context before the first request", async (t) => {
  const { emu } = await start(t);
  assert.deepEqual(pluginLogs(emu, "cb "), ["cb on_context_create ctx=1 parent=0", "cb on_vm_start ctx=1", "cb on_configure ctx=1"]);
});

test("Envoy creates a stream context lazily at the first request headers (ids 2, 3, ... never reused) and calls on_log before on_done and on_delete; a GET gets on_request_headers(eos=1) and no request body callback", async (t) => {
  const { emu, url } = await start(t);
  assert.equal((await send(url, { path: "/one" })).status, 200);
  await waitForLog(emu, "cb on_delete ctx=2");
  assert.equal((await send(url, { path: "/two" })).status, 200);
  await waitForLog(emu, "cb on_delete ctx=3");
  const lines = pluginLogs(emu, "cb ");
  for (const ctx of [2, 3]) {
    const calls = callbacksOf(lines, ctx);
    const responseBodies = calls.filter((c) => c.startsWith("on_response_body"));
    assert.deepEqual(calls.filter((c) => !c.startsWith("on_response_body")), [
      "on_context_create parent=1", "on_request_headers eos=1", "on_response_headers eos=0", "on_log", "on_done", "on_delete",
    ], `context ${ctx}`);
    assert.ok(responseBodies.length >= 1 && responseBodies.at(-1)!.endsWith("eos=1"), `response body callbacks of ${ctx}: ${responseBodies}`);
    // Response body callbacks come between on_response_headers and on_log.
    assert.ok(calls.indexOf(responseBodies[0]) > calls.indexOf("on_response_headers eos=0") && calls.indexOf(responseBodies.at(-1)!) < calls.indexOf("on_log"));
  }
  assert.ok(!lines.some((l) => l.startsWith("cb on_request_body")), "a GET has no request body callback");
});

test("Envoy delivers a request body as on_request_body callbacks after on_request_headers(eos=0), the last with eos=1, and the total size is the body size", async (t) => {
  const { emu, url } = await start(t);
  const body = "x".repeat(1000);
  assert.equal((await send(url, { method: "POST", path: "/post", body })).status, 200);
  await waitForLog(emu, "cb on_delete ctx=2");
  const calls = callbacksOf(pluginLogs(emu, "cb "), 2);
  assert.equal(calls[1], "on_request_headers eos=0");
  const bodies = calls.filter((c) => c.startsWith("on_request_body"));
  assert.ok(bodies.at(-1)!.endsWith("eos=1"), `${bodies}`);
  const total = bodies.reduce((sum, c) => sum + Number(/size=(\d+)/.exec(c)![1]), 0);
  assert.equal(total, body.length);
  assert.ok(calls.indexOf(bodies.at(-1)!) < calls.indexOf("on_response_headers eos=0"), "request body before response headers");
});
