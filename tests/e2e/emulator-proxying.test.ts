// Envoy's proxying around the filter (reference §9 "Timeouts", issue 2 "Proxying"): responses stream through
// without buffering (an SSE upstream reaches the client event by event), an upstream that refuses connections
// gives 503, a route timeout 504 "upstream request timeout", and stream_idle_timeout (or a route's idle_timeout)
// 408 "stream timeout" before response headers or a reset after them.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:http";
import type { IncomingMessage } from "node:http";
import { closedPort, echoUpstream, slowUpstream, sseUpstream } from "../helpers/upstream.ts";
import { own, send, startWith, waitFor } from "../helpers/emulator-harness.ts";
import type { BootstrapSpec } from "../helpers/bootstrap.ts";

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
  res.on("data", (c: Buffer) => { received += c.toString(); });
  for (const event of ["one", "two", "three"]) {
    sse.send(event);
    await waitFor(`event ${event} at the client`, () => received.includes(`data: ${event}\n\n`));
  }
  assert.equal(received, "data: one\n\ndata: two\n\ndata: three\n\n");
  sse.end();
  await new Promise((resolve) => res.on("end", resolve));
});

test("Envoy answers 503 with \"upstream connect error or disconnect/reset before headers\" when the cluster refuses connections", async (t) => {
  const { url } = await start(t, { routes: [{ prefix: "/", cluster: "down" }], clusters: { down: await closedPort() } });
  const reply = await send(url);
  assert.equal(reply.status, 503);
  assert.match(reply.body, /^upstream connect error or disconnect\/reset before headers\. reset reason: \S/);
});

test("Envoy answers 504 \"upstream request timeout\" when the route timeout expires", async (t) => {
  const slow = await own(t, slowUpstream(3000));
  const { url } = await start(t, { routes: [{ prefix: "/", cluster: "slow", timeout: "0.2s" }], clusters: { slow: slow.port } });
  const reply = await send(url);
  assert.deepEqual([reply.status, reply.body], [504, "upstream request timeout"]);
});

test("Envoy answers 408 \"stream timeout\" when stream_idle_timeout expires before response headers", async (t) => {
  const slow = await own(t, slowUpstream(3000));
  const { url } = await start(t, { routes: [{ prefix: "/", cluster: "slow" }], clusters: { slow: slow.port }, streamIdleTimeout: "0.2s" });
  const reply = await send(url);
  assert.deepEqual([reply.status, reply.body], [408, "stream timeout"]);
});

test("Envoy applies a route's idle_timeout in place of stream_idle_timeout", async (t) => {
  const slow = await own(t, slowUpstream(3000));
  const { url } = await start(t, { routes: [{ prefix: "/", cluster: "slow", idleTimeout: "0.2s" }], clusters: { slow: slow.port } });
  const reply = await send(url);
  assert.deepEqual([reply.status, reply.body], [408, "stream timeout"]);
});

test("Envoy resets the downstream stream when stream_idle_timeout expires after the response started", async (t) => {
  const sse = await own(t, sseUpstream());
  const { url } = await start(t, { routes: [{ prefix: "/", cluster: "sse" }], clusters: { sse: sse.port }, streamIdleTimeout: "0.3s" });
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

test("Envoy proxies without the wasm filter too (router only)", async (t) => {
  const upstream = await own(t, echoUpstream());
  const { url } = await startWith(t, undefined, { routes: [{ prefix: "/", cluster: "echo" }], clusters: { echo: upstream.port } });
  const reply = await send(url, { path: "/plain" });
  assert.equal(reply.status, 200);
  assert.equal(JSON.parse(reply.body).path, "/plain");
});
