// A trap fails the whole VM in Envoy (reference §7.4): the request that trapped and every later one get 503 with
// an empty body, and the plugin is never called again; with fail_open they pass through to the upstream instead.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { echoUpstream } from "../helpers/upstream.ts";
import { own, pluginLogs, send, startWith } from "../helpers/harness.ts";

async function start(t: TestContext, failOpen?: boolean) {
  const upstream = await own(t, echoUpstream());
  const started = await startWith(t, "trap", { routes: [{ prefix: "/", cluster: "echo" }], clusters: { echo: upstream.port }, failOpen });
  return { ...started, upstream };
}

test("Envoy without fail_open: the trapping request and every later one get 503 with an empty body, and the VM is not called again", async (t) => {
  const { emu, url, upstream } = await start(t);
  assert.equal((await send(url, { path: "/ok" })).status, 200);
  const trapped = await send(url, { path: "/trap" });
  assert.deepEqual([trapped.status, trapped.body], [503, ""]);
  const later = await send(url, { path: "/ok" });
  assert.deepEqual([later.status, later.body], [503, ""]);
  assert.deepEqual(pluginLogs(emu, "request "), ["request path=/ok", "request path=/trap"], "the failed VM saw no later request");
  assert.deepEqual(upstream.requests.map((r) => r.path), ["/ok"]);
});

test("Envoy with fail_open: after a trap, requests pass through to the upstream without the filter", async (t) => {
  const { emu, url, upstream } = await start(t, true);
  const trapped = await send(url, { path: "/trap" });
  assert.equal(trapped.status, 200);
  const later = await send(url, { path: "/later" });
  assert.equal(later.status, 200);
  assert.deepEqual(upstream.requests.map((r) => r.path), ["/trap", "/later"]);
  assert.deepEqual(pluginLogs(emu, "request "), ["request path=/trap"]);
});
