// A trap fails the whole VM in Envoy (reference §7.4), which is why the filter must never trap: Envoy logs the
// failed function at error level, the request that trapped and every later one on that VM (one per worker) get 503
// with an empty body, and the plugin is never called again; with fail_open they pass through to the upstream instead.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { echoUpstream } from "../../helpers/upstream.ts";
import { own, send, startWith, waitFor, waitForLog } from "../../helpers/harness.ts";

/** One worker, so that every request meets the VM that trapped. */
async function start(t: TestContext, failOpen?: boolean) {
  const upstream = await own(t, echoUpstream());
  const started = await startWith(
    t,
    "trap",
    { routes: [{ prefix: "/", cluster: "echo" }], clusters: { echo: upstream.port }, failOpen },
    { concurrency: 1 },
  );
  return { ...started, upstream };
}

test("Envoy without fail_open: the trapping request and every later one get 503 with an empty body, and the VM is not called again", async (t) => {
  const { envoy, url, upstream } = await start(t);
  assert.equal((await send(url, { path: "/ok" })).status, 200);
  const trapped = await send(url, { path: "/trap" });
  assert.deepEqual([trapped.status, trapped.body], [503, ""]);
  const later = await send(url, { path: "/ok" });
  assert.deepEqual([later.status, later.body], [503, ""]);
  await waitFor("Envoy's log of the trap", () =>
    envoy.logs.some(
      (l) =>
        l.level === "error" &&
        l.logger === "wasm" &&
        l.message === "Function: proxy_on_request_headers failed: Uncaught RuntimeError: unreachable",
    ),
  );
  assert.deepEqual(
    envoy.pluginLogs("request "),
    ["request path=/ok", "request path=/trap"],
    "the failed VM saw no later request",
  );
  assert.deepEqual(
    upstream.requests.map((r) => r.path),
    ["/ok"],
  );
});

test("Envoy with fail_open: after a trap, requests pass through to the upstream without the filter", async (t) => {
  const { envoy, url, upstream } = await start(t, true);
  const trapped = await send(url, { path: "/trap" });
  assert.equal(trapped.status, 200);
  const later = await send(url, { path: "/later" });
  assert.equal(later.status, 200);
  assert.deepEqual(
    upstream.requests.map((r) => r.path),
    ["/trap", "/later"],
  );
  await waitForLog(envoy, "request path=/trap");
  assert.deepEqual(envoy.pluginLogs("request "), ["request path=/trap"]);
});
