// The filter's runtime (assembly/runtime.ts), built the way every filter is (scripts/filter-runtime.mjs): after each
// collection every object still reachable is intact, whether it lives on a free list's size class or in TLSF, grew
// in place or moved, is reachable only through static data, or only by being pinned; and freed blocks are reused,
// so linear memory stops growing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { echoUpstream } from "../../helpers/upstream.ts";
import { own, send, startWith } from "../../helpers/harness.ts";
import { waitForStat } from "../../helpers/gateway.ts";

const GAUGE = "mcp_proxy.vm.linear_memory_bytes";
/** collector.ts collects (and publishes the gauge) after this many ended streams; the heap filter has no tick. */
const STREAMS_PER_COLLECTION = 128;
/** Readings are taken this many requests after a collection, so the stream that triggered it has surely ended. */
const MARGIN = 64;

test(
  "the runtime keeps every reachable object intact across collections and reuses what it frees",
  { timeout: 120_000 },
  async (t) => {
    const upstream = await own(t, echoUpstream());
    // One worker: one VM serves every request and alone publishes the gauge.
    const { envoy, url } = await startWith(
      t,
      "heap",
      { routes: [{ prefix: "/", cluster: "echo" }], clusters: { echo: upstream.port } },
      { concurrency: 1 },
    );
    let seed = 0;
    const requestsUpTo = async (last: number) => {
      while (seed < last) {
        seed++;
        const reply = await send(url, { path: "/", headers: [["x-seed", String(seed)]] });
        assert.equal(reply.status, 200, `seed ${seed}: ${reply.body}`);
        assert.match(reply.body, /^ok kept=\d+ buffers=\d+ static=\d+$/);
      }
    };
    await requestsUpTo(STREAMS_PER_COLLECTION + MARGIN);
    const first = await waitForStat(envoy, GAUGE, (value) => value > 0, "the first collection's reading");
    await requestsUpTo(2 * STREAMS_PER_COLLECTION + MARGIN);
    const second = await envoy.stat(GAUGE);
    assert.equal(upstream.requests.length, 0);
    // Each request allocates over a megabyte (2,400 strings and buffers of up to 10 KB) and keeps a bounded set;
    // without reuse 256 requests would need over 256 MB. The history array is dropped every 34 requests, so it has
    // reached its peak size long before the first collection.
    const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
    t.diagnostic(
      `linear memory: ${mb(first)} MB after ${STREAMS_PER_COLLECTION} requests, ${mb(second)} MB after ${2 * STREAMS_PER_COLLECTION}`,
    );
    assert.ok(second <= first + 2 ** 20, `memory grew from ${first} to ${second} bytes`);
  },
);
