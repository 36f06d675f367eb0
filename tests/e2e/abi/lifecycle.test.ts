// Start-up order, context ids and the per-request callback order of Envoy's proxy-wasm host (reference §1 "Start-up
// order" and "Per request"), which the filter relies on: its root context is configured before any stream exists,
// and a stream's on_log comes before its on_delete (access-log properties are set by then; state is freed after).
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { echoUpstream } from "../../helpers/upstream.ts";
import { own, send, startWith, waitForLog } from "../../helpers/harness.ts";

async function start(t: TestContext, concurrency?: number) {
  const upstream = await own(t, echoUpstream());
  return startWith(
    t,
    "lifecycle",
    { routes: [{ prefix: "/", cluster: "echo" }], clusters: { echo: upstream.port } },
    { concurrency },
  );
}

/** The callbacks of one context, without the "cb " prefix and the context id. */
function callbacksOf(lines: string[], ctx: number): string[] {
  return lines.filter((l) => l.includes(` ctx=${ctx}`)).map((l) => l.replace(/^cb /, "").replace(` ctx=${ctx}`, ""));
}

const START_UP = ["cb on_context_create ctx=1 parent=0", "cb on_vm_start ctx=1", "cb on_configure ctx=1"];

test("Envoy starts each VM as: root on_context_create(1, 0), on_vm_start(1), on_configure(1); one VM per worker and more on the main thread; no stream context before the first request", async (t) => {
  const workers = 2;
  const { envoy } = await start(t, workers);
  await waitForLog(envoy, START_UP[2], workers + 1);
  const lines = envoy.pluginLogs("cb ");
  assert.ok(
    lines.every((l) => START_UP.includes(l)),
    lines.join("\n"),
  );
  // VMs start on several threads at once, so their lines interleave: in every prefix of the log each step has been
  // reached at most as often as the step before it, and in the end every VM took all three.
  const counts = [0, 0, 0];
  for (const line of lines) {
    const step = START_UP.indexOf(line);
    counts[step]++;
    assert.ok(step === 0 || counts[step] <= counts[step - 1], `${line} before its VM's ${START_UP[step - 1]}`);
  }
  assert.ok(counts[0] > workers, `${counts[0]} VMs started for ${workers} workers`);
  assert.deepEqual(counts, [counts[0], counts[0], counts[0]]);
  t.diagnostic(`${counts[0]} VMs started for ${workers} workers`);
});

test("Envoy creates a stream context lazily at the first request headers (ids 2, 3, ... in a VM, never reused) and calls on_log before on_done and on_delete; a GET gets on_request_headers(eos=1) and no request body callback", async (t) => {
  // One worker: context ids are per VM.
  const { envoy, url } = await start(t, 1);
  assert.equal((await send(url, { path: "/one" })).status, 200);
  await waitForLog(envoy, "cb on_delete ctx=2");
  assert.equal((await send(url, { path: "/two" })).status, 200);
  await waitForLog(envoy, "cb on_delete ctx=3");
  const lines = envoy.pluginLogs("cb ");
  for (const ctx of [2, 3]) {
    const calls = callbacksOf(lines, ctx);
    const responseBodies = calls.filter((c) => c.startsWith("on_response_body"));
    assert.deepEqual(
      calls.filter((c) => !c.startsWith("on_response_body")),
      [
        "on_context_create parent=1",
        "on_request_headers eos=1",
        "on_response_headers eos=0",
        "on_log",
        "on_done",
        "on_delete",
      ],
      `context ${ctx}`,
    );
    assert.ok(
      responseBodies.length >= 1 && responseBodies.at(-1)!.endsWith("eos=1"),
      `response body callbacks of ${ctx}: ${responseBodies}`,
    );
    // Response body callbacks come between on_response_headers and on_log.
    assert.ok(
      calls.indexOf(responseBodies[0]) > calls.indexOf("on_response_headers eos=0") &&
        calls.indexOf(responseBodies.at(-1)!) < calls.indexOf("on_log"),
    );
  }
  assert.ok(!lines.some((l) => l.startsWith("cb on_request_body")), "a GET has no request body callback");
});

test("Envoy delivers a request body as on_request_body callbacks after on_request_headers(eos=0), the last with eos=1, and the total size is the body size", async (t) => {
  const { envoy, url } = await start(t, 1);
  const body = "x".repeat(1000);
  assert.equal((await send(url, { method: "POST", path: "/post", body })).status, 200);
  await waitForLog(envoy, "cb on_delete ctx=2");
  const calls = callbacksOf(envoy.pluginLogs("cb "), 2);
  assert.equal(calls[1], "on_request_headers eos=0");
  const bodies = calls.filter((c) => c.startsWith("on_request_body"));
  assert.ok(bodies.at(-1)!.endsWith("eos=1"), `${bodies}`);
  const total = bodies.reduce((sum, c) => sum + Number(/size=(\d+)/.exec(c)![1]), 0);
  assert.equal(total, body.length);
  assert.ok(
    calls.indexOf(bodies.at(-1)!) < calls.indexOf("on_response_headers eos=0"),
    "request body before response headers",
  );
});
