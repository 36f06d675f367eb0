// proxy_http_call as Envoy implements it (reference §5), which the filter's dispatched calls rely on: real HTTP to a
// named cluster; the callback goes to the root context and never synchronously; num_headers counts :status; a
// connect failure is a 503 with Envoy's body, a timeout a 504 "upstream request timeout"; an unknown cluster or a
// missing :path/:method/:authority is refused synchronously (BadArgument) and no callback ever comes; a call outlives
// the stream that made it: its callback comes after that stream's on_delete.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:http";
import { closedPort, echoUpstream, slowUpstream, sseUpstream } from "../../helpers/upstream.ts";
import { own, send, startWith, waitForLog } from "../../helpers/harness.ts";

const BAD_ARGUMENT = "2";

/** Starts the callout filter with `side` as the call's cluster; returns the plugin log of one request. */
async function callOut(t: TestContext, sidePort: number, callHeaders: [string, string][]) {
  const upstream = await own(t, echoUpstream());
  const { envoy, url } = await startWith(t, "callout", {
    routes: [{ prefix: "/", cluster: "echo" }],
    clusters: { echo: upstream.port, side: sidePort },
  });
  const reply = await send(url, { path: "/front", headers: callHeaders });
  assert.equal(reply.status, 200, "the request goes upstream after the call either way");
  // Envoy logs apart from proxying: wait for the filter's last line (after its callback, or after a refused call).
  const [result] = await waitForLog(envoy, "http_call result=");
  await waitForLog(envoy, result === "http_call result=0" ? "after-continue " : "returned from on_request_headers");
  return envoy.pluginLogs();
}

const calloutLine = (lines: string[]) => lines.find((l) => l.startsWith("callout ")) ?? "(no callback)";

test("Envoy sends proxy_http_call over real HTTP to the named cluster and calls back on the root context, after the calling callback returned; num_headers counts :status, which comes first", async (t) => {
  const side = await own(t, echoUpstream("side"));
  const lines = await callOut(t, side.port, [
    ["x-call-path", "/lookup?x=1"],
    ["x-call-body", "ping"],
  ]);
  assert.ok(lines.includes("http_call result=0"), lines.join("\n"));
  assert.ok(lines.includes("on_http_call_response ctx=1 known=1"), lines.join("\n"));
  assert.ok(lines.indexOf("returned from on_request_headers") < lines.indexOf("on_http_call_response ctx=1 known=1"));
  const line = calloutLine(lines);
  const [, headers, pairs] = /num_headers=(\d+) pairs=(\d+)/.exec(line)!;
  assert.equal(headers, pairs, line);
  assert.match(line, /^callout status=200 .* first=:status /);
  const seen = side.requests[0];
  assert.deepEqual([seen.method, seen.path, seen.body], ["GET", "/lookup?x=1", "ping"]);
  assert.ok(seen.headers.some(([k, v]) => k === "host" && v === "side"));
  assert.ok(
    seen.headers.some(([k, v]) => k === "content-length" && v === "4"),
    "a non-empty body adds content-length",
  );
  assert.ok(line.endsWith(`body=${JSON.stringify(seen)}`), line);
});

test('Envoy answers a proxy_http_call whose cluster refuses connections with a 503 "upstream connect error or disconnect/reset before headers. reset reason: ..."', async (t) => {
  const lines = await callOut(t, await closedPort(), []);
  const line = calloutLine(lines);
  assert.match(line, /^callout status=503 /);
  assert.match(line, / body=upstream connect error or disconnect\/reset before headers\. reset reason: \S/);
});

test('Envoy answers a proxy_http_call that exceeds its timeout with a 504 "upstream request timeout"', async (t) => {
  const side = await own(t, slowUpstream(60_000));
  const lines = await callOut(t, side.port, [["x-call-timeout", "100"]]);
  assert.match(calloutLine(lines), /^callout status=504 .* body=upstream request timeout$/);
});

test("Envoy refuses proxy_http_call to an unknown cluster with BadArgument, and no callback comes", async (t) => {
  const side = await own(t, echoUpstream("side"));
  const lines = await callOut(t, side.port, [["x-call-cluster", "no-such-cluster"]]);
  assert.ok(lines.includes(`http_call result=${BAD_ARGUMENT}`), lines.join("\n"));
  assert.ok(!lines.some((l) => l.startsWith("on_http_call_response")));
});

for (const pseudo of [":path", ":method", ":authority"]) {
  test(`Envoy refuses proxy_http_call without ${pseudo} with BadArgument`, async (t) => {
    const side = await own(t, echoUpstream("side"));
    const lines = await callOut(t, side.port, [["x-call-omit", pseudo]]);
    assert.ok(lines.includes(`http_call result=${BAD_ARGUMENT}`), lines.join("\n"));
    assert.equal(side.requests.length, 0);
  });
}

test("Envoy does not cancel a proxy_http_call when its stream ends: the callback comes to the root after the stream's on_delete, and set_effective_context to that stream is BadArgument", async (t) => {
  const upstream = await own(t, echoUpstream());
  // The side cluster sends its response headers at once and ends the response when the test says.
  const side = await own(t, sseUpstream());
  const { envoy, url } = await startWith(t, "callout", {
    routes: [{ prefix: "/", cluster: "echo" }],
    clusters: { echo: upstream.port, side: side.port },
  });
  const client = request(`${url}/front`, { agent: false });
  client.on("error", () => {});
  client.end();
  await side.opened();
  client.destroy();
  const [deleted] = await waitForLog(envoy, "on_delete ctx=");
  side.end();
  await waitForLog(envoy, "callout for an ended stream ");
  const lines = envoy.pluginLogs();
  const after = lines.slice(lines.indexOf(deleted));
  assert.ok(after.includes("on_http_call_response ctx=1 known=1"), lines.join("\n"));
  assert.ok(after.includes(`set_effective_context result=${BAD_ARGUMENT}`), lines.join("\n"));
  assert.ok(after.includes("callout for an ended stream status=200"), lines.join("\n"));
  assert.equal(upstream.requests.length, 0, "the ended request never went upstream");
});
