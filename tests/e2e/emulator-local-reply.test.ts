// Local replies as Envoy sends them (reference §6, §9): proxy_send_local_response returns Ok and takes effect after
// the callback; in the request phase the reply goes through the encoder chain (the filter's own
// on_response_headers runs for it) and the upstream is never contacted; from on_response_body while the filter
// holds the response headers, the reply goes straight to the client (no encoder filter runs, the plugin's
// content-type wins, content-length is the body size) and the upstream request is reset.
import { test } from "node:test";
import assert from "node:assert/strict";
import { echoUpstream, sseUpstream } from "../helpers/upstream.ts";
import { header, own, pluginLogs, send, startWith, waitFor } from "../helpers/harness.ts";

test("Envoy sends a request-phase local reply after the callback returns, through the filter's own on_response_headers, without contacting the upstream", async (t) => {
  const upstream = await own(t, echoUpstream());
  const { emu, url } = await startWith(t, "localreply", { routes: [{ prefix: "/", cluster: "echo" }], clusters: { echo: upstream.port } });
  const reply = await send(url, { path: "/denied", headers: [["x-mode", "request"]] });
  assert.equal(reply.status, 403);
  assert.equal(reply.body, "denied by filter");
  assert.equal(header(reply, "x-local"), "1");
  assert.equal(header(reply, "x-seen-by-filter"), "1", "the reply passed through the filter's encoder callbacks");
  assert.equal(header(reply, "content-type"), "text/plain");
  assert.equal(header(reply, "content-length"), String("denied by filter".length));
  const lines = pluginLogs(emu);
  assert.ok(lines.includes("send_local_response result=0"));
  assert.ok(lines.indexOf("after send_local_response path=/denied") < lines.indexOf("on_response_headers status=403"), lines.join("\n"));
  assert.equal(upstream.requests.length, 0);
});

test("Envoy sends a local reply from on_response_body while response headers are held directly to the client: encoder filters skipped, plugin content-type kept, upstream reset", async (t) => {
  const sse = await own(t, sseUpstream());
  const { emu, url } = await startWith(t, "localreply", {
    routes: [{ prefix: "/", cluster: "sse" }], clusters: { sse: sse.port }, allowOnHeadersStopIteration: true,
  });
  const replied = send(url, { path: "/events", headers: [["x-mode", "direct"]] });
  await sse.opened();
  await waitFor("the held response headers", () => pluginLogs(emu, "on_response_headers").length > 0);
  sse.send("first");
  const reply = await replied;
  assert.equal(reply.status, 418);
  assert.equal(reply.body, "short and stout");
  assert.equal(header(reply, "content-type"), "application/x-teapot");
  assert.equal(header(reply, "content-length"), String("short and stout".length));
  assert.equal(header(reply, "x-seen-by-filter"), undefined, "the upstream's response headers were discarded");
  const lines = pluginLogs(emu);
  assert.deepEqual(lines.filter((l) => l.startsWith("on_response_headers")), ["on_response_headers status=200"], "no encoder callback for the reply");
  assert.ok(lines.includes("send_local_response result=0") && lines.includes("after send_local_response"), lines.join("\n"));
  assert.deepEqual(await sse.closed(), { finished: false }, "the upstream request was reset before the upstream ended it");
});
