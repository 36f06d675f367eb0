// Filter statuses and deferral (reference §4, §7.2, §9), which the filter's request handling relies on (it holds
// requests at their headers while it calls backends): StopIteration from on_request_headers becomes
// StopAllIterationAndWatermark unless allow_on_headers_stop_iteration is set; continue_stream returns Ok at once and
// takes effect only after the VM call returns; after it, request header calls are BadArgument.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { echoUpstream, sseUpstream } from "../../helpers/upstream.ts";
import { own, send, startWith, waitFor, waitForLog } from "../../helpers/harness.ts";

const OK = "0";
const BAD_ARGUMENT = "2";
const BODY = "b".repeat(300);

/**
 * The callout filter holds each POST at its headers until its side call returns. The side answers when the test ends
 * its response: once the call reached it (the body, written with the headers, is then in Envoy), and, when the filter
 * may see body callbacks while it holds, once the whole body reached the filter.
 */
async function heldPost(t: TestContext, allowOnHeadersStopIteration?: boolean) {
  const upstream = await own(t, echoUpstream());
  const side = await own(t, sseUpstream());
  const { envoy, url } = await startWith(t, "callout", {
    routes: [{ prefix: "/", cluster: "echo" }],
    clusters: { echo: upstream.port, side: side.port },
    allowOnHeadersStopIteration,
  });
  const replied = send(url, { method: "POST", path: "/held", body: BODY });
  await side.opened();
  if (allowOnHeadersStopIteration)
    await waitFor("the whole body at the filter", () => bodyLines(envoy.pluginLogs()).some((l) => l.includes("eos=1")));
  side.end();
  const reply = await replied;
  assert.equal(reply.status, 200);
  // Envoy logs apart from proxying: wait until the callback and every body callback logged.
  await waitForLog(envoy, "after-continue ");
  await waitFor("the body callback with eos", () => bodyLines(envoy.pluginLogs()).some((l) => l.includes("eos=1")));
  return { lines: envoy.pluginLogs(), upstream };
}

const bodyLines = (lines: string[]) => lines.filter((l) => l.startsWith("body "));
const indexOf = (lines: string[], prefix: string) => lines.findIndex((l) => l.startsWith(prefix));

test("Without allow_on_headers_stop_iteration, Envoy turns StopIteration from on_request_headers into StopAllIterationAndWatermark: no body callback until continue, then the held body arrives as one on_request_body(size, eos=1)", async (t) => {
  const { lines, upstream } = await heldPost(t);
  assert.deepEqual(bodyLines(lines), [`body size=${BODY.length} eos=1 continued=1`]);
  assert.ok(indexOf(lines, "body ") > indexOf(lines, "continue result="), lines.join("\n"));
  assert.equal(upstream.requests[0].body, BODY);
});

test("With allow_on_headers_stop_iteration, Envoy passes StopIteration through: body callbacks reach the filter while it holds the headers", async (t) => {
  const { lines, upstream } = await heldPost(t, true);
  const early = bodyLines(lines).filter((l) => l.endsWith("continued=0"));
  assert.ok(early.length >= 1 && early.at(-1)!.includes("eos=1"), lines.join("\n"));
  assert.ok(indexOf(lines, "body ") < indexOf(lines, "continue result="));
  assert.equal(upstream.requests[0].body, BODY);
});

test("Envoy defers continue_stream: it returns Ok at once; header changes made while held go upstream; after continue, request header calls are BadArgument even in the same callback", async (t) => {
  const { lines, upstream } = await heldPost(t);
  assert.ok(lines.includes(`before-continue add=${OK}`), lines.join("\n"));
  assert.ok(lines.includes(`continue result=${OK}`));
  assert.ok(lines.includes(`after-continue add=${BAD_ARGUMENT}`));
  const names = upstream.requests[0].headers.map(([k]) => k);
  assert.ok(names.includes("x-added-while-held"));
  assert.ok(!names.includes("x-added-after-continue"));
});
