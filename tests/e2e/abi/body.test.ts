// Body buffering and set_buffer_bytes as Envoy implements them (reference §4), which the filter's request and response
// rewrites rely on: returning StopIterationAndBuffer until end of stream accumulates the body, so the last callback's
// size is the whole body and get_buffer_bytes reads all of it (start past the end gives nothing, an over-long range is
// truncated); set_buffer_bytes with start 0 drops the first `len` bytes and prepends the data, start >= size appends,
// anything else is BadArgument; Envoy never fixes content-length (the test filter removes it when it rewrites).
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { echoUpstream } from "../../helpers/upstream.ts";
import { own, send, startWith, waitForLog, type RequestSpec } from "../../helpers/harness.ts";

const CHUNKS = ["alpha-", "beta-", "gamma"];
const WHOLE = CHUNKS.join("");

async function post(t: TestContext, spec: RequestSpec) {
  const upstream = await own(t, echoUpstream());
  const { envoy, url } = await startWith(t, "body", {
    routes: [{ prefix: "/", cluster: "echo" }],
    clusters: { echo: upstream.port },
  });
  const reply = await send(url, { method: "POST", path: "/body", ...spec });
  assert.equal(reply.status, 200, reply.body);
  // Envoy logs apart from proxying: wait for the filter's last line.
  await waitForLog(envoy, spec.headers?.some(([k]) => k === "x-op") ? "set result=" : "body past-end=");
  return { lines: envoy.pluginLogs(), received: upstream.requests[0] };
}

test("Envoy accumulates a buffered body: each on_request_body reports the buffered size, eos only on the last, whose size is the whole body", async (t) => {
  const { lines, received } = await post(t, { chunks: CHUNKS });
  const sizes = lines
    .filter((l) => l.startsWith("body-cb "))
    .map((l) => /size=(\d+) eos=(\d)/.exec(l)!.slice(1).map(Number));
  assert.deepEqual(sizes.at(-1), [WHOLE.length, 1], lines.join("\n"));
  assert.ok(sizes.slice(0, -1).every(([, eos]) => eos === 0));
  assert.ok(
    sizes.every(([size], i) => i === 0 || size >= sizes[i - 1][0]),
    "sizes never shrink while buffering",
  );
  assert.equal(received.body, WHOLE);
});

test("Envoy get_buffer_bytes on the buffered body: (0, size) is all of it, a range past the end is truncated, a start past the end gives nothing", async (t) => {
  const { lines } = await post(t, { chunks: CHUNKS });
  assert.ok(lines.includes(`body all=${WHOLE}`), lines.join("\n"));
  assert.ok(lines.includes(`body from1=${WHOLE.slice(1)}`));
  assert.ok(lines.includes("body past-end="));
});

const setCases: { name: string; op: string; result: string; upstreamBody: string }[] = [
  {
    name: "start 0 with len >= size replaces the body",
    op: `0,${WHOLE.length},REPLACED`,
    result: "0",
    upstreamBody: "REPLACED",
  },
  { name: "start 0 with len 0 prepends", op: "0,0,PRE-", result: "0", upstreamBody: `PRE-${WHOLE}` },
  {
    name: "start 0 with 0 < len < size drops the first len bytes and prepends",
    op: "0,6,A-",
    result: "0",
    upstreamBody: `A-${WHOLE.slice(6)}`,
  },
  { name: "start >= size appends", op: `${WHOLE.length},0,-POST`, result: "0", upstreamBody: `${WHOLE}-POST` },
  { name: "start 0 with an empty value drains the body", op: `0,${WHOLE.length},`, result: "0", upstreamBody: "" },
  {
    name: "a start inside the body is BadArgument and leaves the body as it was",
    op: "2,1,x",
    result: "2",
    upstreamBody: WHOLE,
  },
];

for (const c of setCases) {
  test(`Envoy set_buffer_bytes: ${c.name}`, async (t) => {
    const { lines, received } = await post(t, { body: WHOLE, headers: [["x-op", c.op]] });
    assert.ok(lines.includes(`set result=${c.result}`), lines.join("\n"));
    assert.equal(received.body, c.upstreamBody);
  });
}

test("Envoy keeps the client's content-length after set_buffer_bytes changed the body's size: the upstream would wait for bytes that never come", async (t) => {
  // The body filter removes content-length when told to rewrite; x-keep-length makes it keep the original.
  const upstream = await own(t, echoUpstream());
  const { url } = await startWith(t, "body", {
    routes: [{ prefix: "/", cluster: "echo", timeout: "1s" }],
    clusters: { echo: upstream.port },
  });
  const shrunk = await send(url, {
    method: "POST",
    path: "/body",
    body: WHOLE,
    headers: [
      ["x-op", "0,100,short"],
      ["x-keep-length", "1"],
    ],
  });
  assert.deepEqual(
    [shrunk.status, shrunk.body],
    [504, "upstream request timeout"],
    "the upstream never saw a complete request",
  );
  assert.equal(upstream.requests.length, 0, `the upstream got ${JSON.stringify(upstream.requests)}`);
});
