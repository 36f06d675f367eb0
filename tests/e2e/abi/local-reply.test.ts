// Local replies as Envoy sends them (reference §6, §9), the way the filter answers every MCP request it handles
// itself: proxy_send_local_response returns Ok and takes effect after the callback; in the request phase the reply
// (status, plugin headers, content-type text/plain unless the plugin set one, content-length) goes through the
// encoder chain (the filter's own on_response_headers runs for it) and the upstream is never contacted; from a
// proxy_http_call callback (on the root context, made effective for the stream) the held request is answered the
// same way; from on_response_body while the filter holds the response headers, the reply goes straight to the client
// (no encoder filter runs, the plugin's content-type wins, content-length is the body size) and the upstream request
// is reset. A second reply in the same callback is ignored; one sent while the first goes through the filter's
// on_response_headers replaces it.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { echoUpstream, sseUpstream } from "../../helpers/upstream.ts";
import { header, own, send, startWith, waitFor, waitForLog } from "../../helpers/harness.ts";

/** One request in `mode`; returns the reply and the plugin's log once it holds `logged` lines (Envoy logs apart from replying). */
async function localReply(t: TestContext, mode: string, logged: number) {
  const upstream = await own(t, echoUpstream());
  const { envoy, url } = await startWith(t, "localreply", {
    routes: [{ prefix: "/", cluster: "echo" }],
    clusters: { echo: upstream.port },
  });
  const reply = await send(url, { path: "/denied", headers: [["x-mode", mode]] });
  assert.equal(upstream.requests.length, 0, "the upstream was never contacted");
  return { reply, lines: await waitForLog(envoy, "", logged) };
}

test("Envoy sends a request-phase local reply after the callback returns, through the filter's own on_response_headers, without contacting the upstream", async (t) => {
  // send_local_response, after..., on_response_headers, on_response_body
  const { reply, lines } = await localReply(t, "request", 4);
  assert.equal(reply.status, 403);
  assert.equal(reply.body, "denied by filter");
  assert.equal(header(reply, "x-local"), "1");
  assert.equal(header(reply, "x-seen-by-filter"), "1", "the reply passed through the filter's encoder callbacks");
  assert.equal(header(reply, "content-type"), "text/plain");
  assert.equal(header(reply, "content-length"), String("denied by filter".length));
  assert.ok(lines.includes("send_local_response result=0"));
  assert.ok(
    lines.indexOf("after send_local_response path=/denied") < lines.indexOf("on_response_headers status=403"),
    lines.join("\n"),
  );
});

test("Envoy answers a request held at its headers with a local reply sent from a proxy_http_call callback: the plugin's status, headers and content-type, and the upstream is never contacted", async (t) => {
  const upstream = await own(t, echoUpstream());
  const side = await own(t, echoUpstream("side"));
  const { envoy, url } = await startWith(t, "callout", {
    routes: [{ prefix: "/", cluster: "echo" }],
    clusters: { echo: upstream.port, side: side.port },
  });
  const reply = await send(url, { path: "/front", headers: [["x-reply-in-callback", "1"]] });
  assert.deepEqual([reply.status, reply.body], [502, '{"side":200}']);
  assert.equal(header(reply, "content-type"), "application/json");
  assert.equal(header(reply, "x-from-callback"), "1");
  assert.equal(header(reply, "content-length"), String(reply.body.length));
  await waitForLog(envoy, "callback send_local_response result=0");
  assert.equal(side.requests.length, 1);
  assert.equal(upstream.requests.length, 0);
});

test("Envoy sends a local reply from on_response_body while response headers are held directly to the client: encoder filters skipped, plugin content-type kept, upstream reset", async (t) => {
  const sse = await own(t, sseUpstream());
  const { envoy, url } = await startWith(t, "localreply", {
    routes: [{ prefix: "/", cluster: "sse" }],
    clusters: { sse: sse.port },
    allowOnHeadersStopIteration: true,
  });
  const replied = send(url, { path: "/events", headers: [["x-mode", "direct"]] });
  await sse.opened();
  await waitFor("the held response headers", () => envoy.pluginLogs("on_response_headers").length > 0);
  sse.send("first");
  const reply = await replied;
  assert.equal(reply.status, 418);
  assert.equal(reply.body, "short and stout");
  assert.equal(header(reply, "content-type"), "application/x-teapot");
  assert.equal(header(reply, "content-length"), String("short and stout".length));
  assert.equal(header(reply, "x-seen-by-filter"), undefined, "the upstream's response headers were discarded");
  const lines = await waitForLog(envoy, "", 4);
  assert.deepEqual(
    lines.filter((l) => l.startsWith("on_response_headers")),
    ["on_response_headers status=200"],
    "no encoder callback for the reply",
  );
  assert.ok(
    lines.includes("send_local_response result=0") && lines.includes("after send_local_response"),
    lines.join("\n"),
  );
  assert.deepEqual(
    await sse.closed(),
    { finished: false },
    "the upstream request was reset before the upstream ended it",
  );
});

test("Envoy accepts a second local reply in the same callback (Ok) and ignores it: the first one is sent", async (t) => {
  // two send_local_response, on_response_headers, on_response_body
  const { reply, lines } = await localReply(t, "twice", 4);
  assert.deepEqual([reply.status, reply.body, header(reply, "x-reply")], [403, "first reply", "first"]);
  assert.deepEqual(
    lines.filter((l) => l.startsWith("send_local_response")),
    ["send_local_response result=0", "send_local_response result=0"],
  );
});

test("Envoy replaces a local reply with a second one sent from the filter's on_response_headers for the first: the second goes straight to the client", async (t) => {
  // send_local_response, on_response_headers, send_local_response
  const { reply, lines } = await localReply(t, "again", 3);
  assert.deepEqual([reply.status, reply.body, header(reply, "x-reply")], [500, "second reply", "second"]);
  assert.equal(header(reply, "x-seen-by-filter"), undefined, "no encoder callback ran for the second reply");
  assert.deepEqual(
    lines.filter((l) => l.startsWith("on_response_headers")),
    ["on_response_headers status=403"],
  );
  assert.deepEqual(
    lines.filter((l) => l.startsWith("send_local_response")),
    ["send_local_response result=0", "send_local_response result=0"],
  );
});
