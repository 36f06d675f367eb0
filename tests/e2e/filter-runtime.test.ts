// The filter's runtime (assembly/runtime.ts), built the way every filter is (scripts/filter-runtime.mjs): after each
// collection every object still reachable is intact, whether it lives on a free list's size class or in TLSF, grew
// in place or moved, is reachable only through static data, or only by being pinned; and freed blocks are reused,
// so linear memory stops growing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { echoUpstream } from "../helpers/upstream.ts";
import { own, send, startWith } from "../helpers/harness.ts";

test("the runtime keeps every reachable object intact across collections and reuses what it frees", async (t) => {
  const upstream = await own(t, echoUpstream());
  const { envoy, url } = await startWith(t, "heap", { routes: [{ prefix: "/", cluster: "echo" }], clusters: { echo: upstream.port } });
  const memory: number[] = [];
  for (let seed = 1; seed <= 120; seed++) {
    const reply = await send(url, { path: "/", headers: [["x-seed", String(seed)]] });
    assert.equal(reply.status, 200, `seed ${seed}: ${reply.body}`);
    assert.match(reply.body, /^ok kept=\d+ buffers=\d+ static=\d+$/);
    memory.push(envoy.wasmMemoryBytes());
  }
  assert.equal(upstream.requests.length, 0);
  // Each request allocates over a megabyte (2,400 strings and buffers of up to 10 KB) and keeps a bounded set;
  // without reuse 120 requests would need over 120 MB.
  // The history array is dropped every 34 requests: by the second time it has reached its peak size.
  t.diagnostic(`linear memory: ${(memory[59] / 2 ** 20).toFixed(1)} MB after 60 requests, ${(memory[119] / 2 ** 20).toFixed(1)} MB after 120`);
  assert.ok(memory[119] <= memory[59] + 2 ** 20, `memory grew from ${memory[59]} to ${memory[119]} bytes`);
});
