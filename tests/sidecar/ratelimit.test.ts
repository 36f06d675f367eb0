// Per-client rate limits: the token bucket itself (on a fake clock), then 429 + Retry-After with
// the right body on every endpoint, recovery after Retry-After, buckets per API key and per
// server, and the counters in /metrics.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { RateLimiter } from "../../sidecar/ratelimit.ts";
import {
  echoServer,
  initializeRequest,
  leftovers,
  openSocket,
  post,
  rpc,
  startTestSidecar,
  wsUrl,
  type TestSidecar,
} from "./helpers.ts";

const KEY_A = "rate-limit-key-aaaaaaaa";
const KEY_B = "rate-limit-key-bbbbbbbb";
const TIGHT = { requestsPerSecond: 1, burst: 3 };
const HOOK = { timeout: 30_000 };
const TEST = { timeout: 60_000 };
/**
 * The sidecars' rate-limit clock, moved by hand only: no bucket refills while a test runs, however
 * long its requests take on a loaded machine, and "after Retry-After" takes no waiting.
 */
let now = 0;
const clock = () => now;
let open: TestSidecar;
let keyed: TestSidecar;

before(async () => {
  [open, keyed] = await Promise.all([
    startTestSidecar(
      {
        mcpServers: {
          rest: echoServer(),
          mcp: echoServer(),
          ws: echoServer(),
          socket: echoServer(),
          free: echoServer({ rateLimit: { requestsPerSecond: 0 } }),
        },
        sidecar: { rateLimit: TIGHT, gracePeriodMs: 500 },
      },
      { rateLimitClock: clock },
    ),
    startTestSidecar(
      {
        mcpServers: { a: echoServer({ rateLimit: TIGHT }), b: echoServer({ rateLimit: TIGHT }) },
        sidecar: { apiKeys: [KEY_A, KEY_B], gracePeriodMs: 500 },
      },
      { rateLimitClock: clock },
    ),
  ]);
}, HOOK);

after(async () => {
  await Promise.all([open.close(), keyed.close()]);
  assert.deepEqual(leftovers(process.pid), [], "children left after close");
}, HOOK);

test(
  "token bucket: a burst, then refusals with an honest wait, refill at the rate; full buckets are swept",
  TEST,
  () => {
    let now = 0;
    const limiter = new RateLimiter(() => now);
    const limit = { requestsPerSecond: 2, burst: 3 };
    assert.deepEqual(
      [1, 2, 3].map(() => limiter.take("s", "c", limit)),
      [undefined, undefined, undefined],
    );
    assert.equal(limiter.take("s", "c", limit), 1, "half a second to the next token, rounded up to a whole second");
    assert.equal(limiter.take("s", "other", limit), undefined, "another client has its own bucket");
    assert.equal(limiter.take("t", "c", limit), undefined, "another server has its own bucket");
    now += 500;
    assert.equal(limiter.take("s", "c", limit), undefined);
    assert.equal(limiter.take("s", "c", limit), 1);
    assert.equal(limiter.take("s", "c", { requestsPerSecond: 0, burst: 1 }), undefined, "0 means no limit");
    assert.equal(limiter.take("slow", "c", { requestsPerSecond: 0.1, burst: 1 }), undefined);
    assert.equal(limiter.take("slow", "c", { requestsPerSecond: 0.1, burst: 1 }), 10);
    now += 120_000;
    limiter.take("s", "c", limit);
    assert.equal(limiter.size, 1, "only the bucket just used is kept");
  },
);

test(
  "REST over the limit: 429, Retry-After and a JSON error body; the same call succeeds after Retry-After",
  TEST,
  async () => {
    const call = () =>
      fetch(`${open.url}/servers/rest/tools/echo`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: '{"text":"x"}',
      });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await call()).status);
    assert.deepEqual(statuses, [200, 200, 200]);
    const refused = await call();
    assert.equal(refused.status, 429);
    const retryAfter = Number(refused.headers.get("retry-after"));
    assert.ok(retryAfter >= 1, `Retry-After ${retryAfter}`);
    const body = (await refused.json()) as {
      error: { message: string; code: number; data: { retryAfterSeconds: number } };
    };
    assert.match(body.error.message, /rate limit exceeded for "rest"/);
    assert.equal(body.error.data.retryAfterSeconds, retryAfter);
    now += retryAfter * 1000 - 1;
    assert.equal((await call()).status, 429, "no token before Retry-After is over");
    now += 1;
    assert.equal((await call()).status, 200, "recovered after Retry-After");
  },
);

test("MCP over the limit: 429 with a JSON-RPC error body; an unlimited server is untouched", TEST, async () => {
  const statuses = [];
  for (let i = 0; i < 4; i++)
    statuses.push((await post(`${open.url}/servers/mcp/mcp`, { jsonrpc: "2.0", id: i, method: "ping" })).status);
  assert.deepEqual(statuses, [400, 400, 400, 429], "the bucket is spent before the request is even looked at");
  const refused = await post(`${open.url}/servers/mcp/mcp`, initializeRequest());
  assert.equal(refused.status, 429);
  assert.ok(refused.headers.get("retry-after"));
  const body = (await refused.json()) as { jsonrpc: string; id: null; error: { code: number } };
  assert.equal(body.jsonrpc, "2.0");
  assert.equal(body.error.code, -32029);
  const free = [];
  for (let i = 0; i < 10; i++) free.push((await fetch(`${open.url}/servers/free/tools`)).status);
  assert.deepEqual(new Set(free), new Set([200]), "rateLimit.requestsPerSecond 0: no limit");
});

test(
  "WebSocket: the upgrade is refused with 429 over the limit; frames over the limit get JSON-RPC errors, the socket stays",
  TEST,
  async () => {
    const upgrades = [];
    for (let i = 0; i < 4; i++) {
      upgrades.push(
        await openSocket(wsUrl(open, "/servers/ws/ws")).then(
          (ws) => {
            ws.terminate();
            return 101;
          },
          (error) => error.status,
        ),
      );
    }
    assert.deepEqual(upgrades, [101, 101, 101, 429]);
    const ws = await openSocket(wsUrl(open, "/servers/socket/ws"));
    try {
      assert.equal((await rpc(ws, initializeRequest(1))).error, undefined);
      assert.deepEqual((await rpc(ws, { id: 2, method: "ping" })).result, {});
      const refused = await rpc(ws, { id: 3, method: "ping" });
      assert.equal(refused.error?.code, -32029);
      assert.ok((refused.error?.data as { retryAfterSeconds: number }).retryAfterSeconds >= 1);
      assert.equal(ws.readyState, ws.OPEN);
    } finally {
      ws.terminate();
    }
  },
);

test("with API keys each key has its own bucket", TEST, async () => {
  const list = (key: string, server = "a") =>
    fetch(`${keyed.url}/servers/${server}/tools`, { headers: { authorization: `Bearer ${key}` } });
  const spent = [];
  for (let i = 0; i < 4; i++) spent.push((await list(KEY_A)).status);
  assert.deepEqual(spent, [200, 200, 200, 429]);
  assert.equal((await list(KEY_B)).status, 200, "key B is not slowed by key A");
  assert.equal((await list(KEY_A, "b")).status, 200, "key A on another server has a fresh bucket");
});

test("/metrics shows the configured limits and the refusals by server and endpoint", TEST, async () => {
  const metrics = await (await fetch(`${open.url}/metrics`)).text();
  assert.match(metrics, /^mcp_sidecar_rate_limit_requests_per_second\{server="rest"\} 1$/m);
  assert.match(metrics, /^mcp_sidecar_rate_limit_burst\{server="rest"\} 3$/m);
  assert.match(metrics, /^mcp_sidecar_rate_limit_requests_per_second\{server="free"\} 0$/m);
  assert.match(metrics, /^mcp_sidecar_rate_limited_total\{server="rest",endpoint="tools"\} 2$/m);
  assert.match(metrics, /^mcp_sidecar_rate_limited_total\{server="mcp",endpoint="mcp"\} 2$/m);
  assert.match(metrics, /^mcp_sidecar_rate_limited_total\{server="ws",endpoint="ws"\} 1$/m);
  assert.match(metrics, /^mcp_sidecar_rate_limited_total\{server="socket",endpoint="ws"\} 1$/m);
});
