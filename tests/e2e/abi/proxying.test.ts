// Envoy's proxying around a wasm filter (reference §9 "Timeouts"), which the filter's SSE and error handling rely
// on: responses stream through without buffering (an SSE upstream reaches the client event by event), an upstream
// that refuses connections gives 503, a route timeout 504 "upstream request timeout", and stream_idle_timeout (or a
// route's idle_timeout) "stream timeout" before response headers (504 once the request is complete, 408 while it is
// not) or a reset after them.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:http";
import type { IncomingMessage } from "node:http";
import { closedPort, slowUpstream, sseUpstream } from "../../helpers/upstream.ts";
import { own, send, startWith, waitFor } from "../../helpers/harness.ts";
import type { BootstrapSpec, RouteSpec } from "../../helpers/bootstrap.ts";

function start(t: TestContext, spec: Omit<BootstrapSpec, "wasm">) {
  return startWith(t, "passthrough", spec);
}

/** Opens a GET and resolves with the response as soon as its headers arrive. */
function open(url: string, t: TestContext): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/events`, { agent: false }, resolve);
    req.on("error", reject);
    req.end();
    t.after(() => req.destroy());
  });
}

test("Envoy streams an SSE response event by event: the client receives each event before the upstream sends the next", async (t) => {
  const sse = await own(t, sseUpstream());
  const { url } = await start(t, { routes: [{ prefix: "/", cluster: "sse" }], clusters: { sse: sse.port } });
  const res = await open(url, t);
  assert.equal(res.headers["content-type"], "text/event-stream");
  let received = "";
  res.on("data", (c: Buffer) => {
    received += c.toString();
  });
  for (const event of ["one", "two", "three"]) {
    sse.send(event);
    await waitFor(`event ${event} at the client`, () => received.includes(`data: ${event}\n\n`));
  }
  assert.equal(received, "data: one\n\ndata: two\n\ndata: three\n\n");
  sse.end();
  await new Promise((resolve) => res.on("end", resolve));
});

test('Envoy answers 503 with "upstream connect error or disconnect/reset before headers" when the cluster refuses connections', async (t) => {
  const { url } = await start(t, {
    routes: [{ prefix: "/", cluster: "down" }],
    clusters: { down: await closedPort() },
  });
  const reply = await send(url);
  assert.equal(reply.status, 503);
  assert.match(reply.body, /^upstream connect error or disconnect\/reset before headers\. reset reason: \S/);
});

/**
 * Against an upstream that does not answer in time, Envoy's timeouts answer, each with its own status and body. A
 * stream idle timeout answers 504 once the whole request was received and 408 before (Envoy's
 * Http::Utility::maybeRequestTimeoutCode).
 */
const timeouts: { behaviour: string; route: RouteSpec; streamIdleTimeout?: string; status: number; body: string }[] = [
  {
    behaviour: '504 "upstream request timeout" when the route timeout expires',
    route: { prefix: "/", cluster: "slow", timeout: "0.2s" },
    status: 504,
    body: "upstream request timeout",
  },
  {
    behaviour: '504 "stream timeout" when stream_idle_timeout expires after the whole request, before response headers',
    route: { prefix: "/", cluster: "slow" },
    streamIdleTimeout: "0.2s",
    status: 504,
    body: "stream timeout",
  },
  {
    behaviour: '504 "stream timeout" from a route\'s idle_timeout, which replaces stream_idle_timeout',
    route: { prefix: "/", cluster: "slow", idleTimeout: "0.2s" },
    status: 504,
    body: "stream timeout",
  },
];

for (const c of timeouts) {
  test(`Envoy answers ${c.behaviour}`, async (t) => {
    const slow = await own(t, slowUpstream(60_000));
    const { url } = await start(t, {
      routes: [c.route],
      clusters: { slow: slow.port },
      streamIdleTimeout: c.streamIdleTimeout,
    });
    const reply = await send(url);
    assert.deepEqual([reply.status, reply.body], [c.status, c.body]);
  });
}

test('Envoy answers 408 "stream timeout" when stream_idle_timeout expires while the request body is still incomplete', async (t) => {
  const slow = await own(t, slowUpstream(60_000));
  const { url } = await start(t, {
    routes: [{ prefix: "/", cluster: "slow" }],
    clusters: { slow: slow.port },
    streamIdleTimeout: "0.2s",
  });
  const reply = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(
      `${url}/partial`,
      { method: "POST", agent: false, headers: { "content-length": "100" } },
      (res) => {
        let body = "";
        res.on("data", (c: Buffer) => {
          body += c.toString();
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("error", reject);
    req.write("only part of the body");
    t.after(() => req.destroy());
  });
  assert.deepEqual([reply.status, reply.body], [408, "stream timeout"]);
});

test("Envoy resets the downstream stream when stream_idle_timeout expires after the response started", async (t) => {
  const sse = await own(t, sseUpstream());
  const { url } = await start(t, {
    routes: [{ prefix: "/", cluster: "sse" }],
    clusters: { sse: sse.port },
    streamIdleTimeout: "0.3s",
  });
  const res = await open(url, t);
  const outcome = await new Promise<string>((resolve) => {
    res.on("end", () => resolve("ended"));
    res.on("aborted", () => resolve("aborted"));
    res.on("error", () => resolve("aborted"));
    res.resume();
  });
  assert.equal(outcome, "aborted");
  assert.deepEqual(await sse.closed(), { finished: false }, "the upstream request was reset too");
});
