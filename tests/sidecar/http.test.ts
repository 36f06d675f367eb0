// The HTTP surface: routing errors, session and body limits, API keys, Origin, keep-alive,
// reply formats, idle timeout and the operational endpoints.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  echoServer,
  initializeRequest,
  isAlive,
  leftovers,
  post,
  startTestSidecar,
  waitFor,
  type TestSidecar,
} from "./helpers.ts";

const API_KEY = "test-api-key-0123456789";
const KEEP_ALIVE_MS = 100;
const HOOK = { timeout: 30_000 };
const TEST = { timeout: 60_000 };
const AUTH = { authorization: `Bearer ${API_KEY}` };
let sidecar: TestSidecar;
const opened: Array<{ server: string; id: string }> = [];

before(async () => {
  sidecar = await startTestSidecar({
    mcpServers: {
      echo: echoServer(),
      limited: echoServer({ maxSessions: 2 }),
      // Nothing is asked of its session after initialize, so the short timeout races no request.
      brief: echoServer({ idleTimeoutMs: 300 }),
    },
    sidecar: {
      apiKeys: [API_KEY],
      maxSessions: 4,
      maxBodyBytes: 2048,
      keepAliveIntervalMs: KEEP_ALIVE_MS,
      retryAfterSeconds: 7,
      gracePeriodMs: 500,
    },
  });
}, HOOK);

after(async () => {
  await sidecar.close();
  assert.deepEqual(leftovers(process.pid), [], "children left after close");
}, HOOK);

const endpoint = (server: string) => `${sidecar.url}/servers/${server}/mcp`;

/** Opens a session with a raw initialize; returns its id. */
async function openSession(server: string): Promise<string> {
  const response = await post(endpoint(server), initializeRequest(), AUTH);
  assert.equal(response.status, 200, await response.clone().text());
  const id = response.headers.get("mcp-session-id")!;
  await response.json();
  opened.push({ server, id });
  return id;
}

async function deleteAll(): Promise<void> {
  for (const { server, id } of opened.splice(0)) {
    await fetch(endpoint(server), { method: "DELETE", headers: { ...AUTH, "mcp-session-id": id } });
  }
}

async function call(server: string, session: string, body: unknown, headers: Record<string, string> = {}) {
  return post(endpoint(server), body, { ...AUTH, "mcp-session-id": session, ...headers });
}

const toolsCall = (id: number | string, name: string, args: object = {}, meta?: object) => ({
  jsonrpc: "2.0",
  id,
  method: "tools/call",
  params: { name, arguments: args, ...(meta ? { _meta: meta } : {}) },
});

test(
  "unknown server 404, missing session id 400, unknown session 404, legacy without sessionId 400",
  TEST,
  async () => {
    assert.equal((await post(endpoint("nope"), initializeRequest(), AUTH)).status, 404);
    assert.equal((await post(endpoint("echo"), toolsCall(1, "echo"), AUTH)).status, 400);
    assert.equal((await call("echo", "no-such-session", toolsCall(1, "echo"))).status, 404);
    assert.equal((await post(`${sidecar.url}/servers/echo/messages`, toolsCall(1, "echo"), AUTH)).status, 400);
    assert.equal(
      (await post(`${sidecar.url}/servers/echo/messages?sessionId=nope`, toolsCall(1, "echo"), AUTH)).status,
      404,
    );
    const get = await fetch(endpoint("echo"), { headers: { ...AUTH, accept: "text/event-stream" } });
    assert.equal(get.status, 400);
  },
);

test("API key required (401 without or with a wrong one); health endpoints stay open", TEST, async () => {
  const none = await post(endpoint("echo"), initializeRequest());
  assert.equal(none.status, 401);
  assert.equal(none.headers.get("www-authenticate"), "Bearer");
  assert.equal(
    (await post(endpoint("echo"), initializeRequest(), { authorization: "Bearer wrong-key-0123456789" })).status,
    401,
  );
  assert.equal((await fetch(`${sidecar.url}/healthz`)).status, 200);
  assert.equal((await fetch(`${sidecar.url}/metrics`)).status, 401);
});

test("a foreign Origin is refused with 403; a local one is allowed", TEST, async () => {
  assert.equal(
    (await post(endpoint("echo"), initializeRequest(), { ...AUTH, origin: "https://evil.example" })).status,
    403,
  );
  const local = await post(endpoint("echo"), initializeRequest(), { ...AUTH, origin: "http://localhost:3000" });
  assert.equal(local.status, 200);
  opened.push({ server: "echo", id: local.headers.get("mcp-session-id")! });
});

test("an over-size body gets 413; notifications get 202; a batch gets an array", TEST, async () => {
  const session = await openSession("echo");
  const big = await call("echo", session, toolsCall(1, "echo", { text: "x".repeat(4096) }));
  assert.equal(big.status, 413);
  const notification = await call("echo", session, { jsonrpc: "2.0", method: "notifications/initialized" });
  assert.equal(notification.status, 202);
  const batch = await call("echo", session, [
    toolsCall("a", "echo", { text: "one" }),
    toolsCall(2, "echo", { text: "two" }),
  ]);
  const replies = (await batch.json()) as Array<{ id: unknown; result: { content: Array<{ text: string }> } }>;
  assert.deepEqual(replies.map((r) => [r.id, r.result.content[0].text]).sort(), [
    [2, "two"],
    ["a", "one"],
  ]);
});

test("replies come as JSON, or as SSE when the client only takes SSE or asked for progress", TEST, async () => {
  const session = await openSession("echo");
  const json = await call("echo", session, toolsCall(1, "echo", { text: "j" }));
  assert.match(json.headers.get("content-type")!, /application\/json/);
  const sseOnly = await call("echo", session, toolsCall(2, "echo", { text: "s" }), { accept: "text/event-stream" });
  assert.match(sseOnly.headers.get("content-type")!, /text\/event-stream/);
  assert.match(await sseOnly.text(), /event: message\ndata: \{.*"id":2/);
  const progress = await call("echo", session, toolsCall(3, "progress", { steps: 3 }, { progressToken: "tok" }));
  assert.match(progress.headers.get("content-type")!, /text\/event-stream/);
  const events = (await progress.text())
    .split("\n")
    .filter((line) => line.startsWith("data: "))
    .map((line) => JSON.parse(line.slice(6)));
  assert.deepEqual(
    events.map((e) => e.method ?? `reply ${e.id}`),
    ["notifications/progress", "notifications/progress", "notifications/progress", "reply 3"],
  );
  assert.equal(events[0].params.progressToken, "tok");
});

test("the GET stream carries keep-alive comments, no more often than the configured interval", TEST, async () => {
  const session = await openSession("echo");
  const controller = new AbortController();
  try {
    const started = performance.now();
    const response = await fetch(endpoint("echo"), {
      headers: { ...AUTH, accept: "text/event-stream", "mcp-session-id": session },
      signal: controller.signal,
    });
    assert.equal(response.status, 200);
    const second = await fetch(endpoint("echo"), {
      headers: { ...AUTH, accept: "text/event-stream", "mcp-session-id": session },
    });
    assert.equal(second.status, 409, "one GET stream per session");
    const reader = response.body!.getReader();
    let text = "";
    // Bounded far above any delay load could cause, and far below the 15 s default an ignored setting would give.
    const deadline = setTimeout(() => controller.abort(new Error("no three keep-alives within 10 s")), 10_000);
    try {
      while ((text.match(/: keep-alive/g) ?? []).length < 3)
        text += new TextDecoder().decode((await reader.read()).value);
    } finally {
      clearTimeout(deadline);
    }
    // A loaded machine can only make them late: the third cannot come before three intervals (timers may round down a millisecond).
    const elapsed = performance.now() - started;
    assert.ok(
      elapsed >= 3 * KEEP_ALIVE_MS - 5,
      `three keep-alives after ${elapsed} ms at a ${KEEP_ALIVE_MS} ms interval`,
    );
  } finally {
    controller.abort();
  }
});

test("beyond maxSessions: 429 with Retry-After and a JSON-RPC error, and nothing spawned", TEST, async () => {
  await deleteAll();
  const refuse = async (server: string, message: RegExp) => {
    const pids = new Set(leftovers(process.pid).map((p) => p.pid));
    const refused = await post(endpoint(server), initializeRequest(42), AUTH);
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get("retry-after"), "7");
    const body = (await refused.json()) as { id: number; error: { code: number; message: string } };
    assert.equal(body.id, 42);
    assert.match(body.error.message, message);
    const spawned = leftovers(process.pid).filter((p) => !pids.has(p.pid));
    assert.deepEqual(spawned, [], "a child was spawned for a refused session");
  };
  await openSession("limited");
  await openSession("limited");
  await refuse("limited", /too many sessions for "limited" \(limit 2\)/);
  await openSession("echo");
  await openSession("echo");
  await refuse("echo", /too many sessions \(limit 4\)/);
  await deleteAll();
  await openSession("echo");
});

test("an idle session ends after idleTimeoutMs: 404, and its child is gone", TEST, async () => {
  const session = await openSession("brief");
  // From the log, not from a call: any request after initialize would race the 300 ms timeout.
  const pid = sidecar.logs.find((r) => r.msg === "child started" && r.session === session)?.pid as number;
  assert.ok(Number.isInteger(pid), "the session's child was logged");
  await waitFor(() => !isAlive(pid), 30_000, "the idle child to be stopped");
  // Gone from /proc is not yet seen by the sidecar (a zombie, not yet reaped): its exit record says it was.
  await waitFor(
    () => sidecar.logs.some((r) => r.msg === "child exited" && r.session === session),
    30_000,
    "the sidecar to see the exit",
  );
  assert.equal((await call("brief", session, toolsCall(2, "echo"))).status, 404);
  assert.ok(sidecar.logs.some((r) => r.msg === "session ended" && r.session === session && r.reason === "idle"));
});

test("/readyz, /metrics and /stats report sessions, children, spawns, exits and requests", TEST, async () => {
  const ready = await fetch(`${sidecar.url}/readyz`);
  assert.equal(ready.status, 200);
  const metrics = await (await fetch(`${sidecar.url}/metrics`, { headers: AUTH })).text();
  for (const name of [
    "mcp_sidecar_sessions",
    "mcp_sidecar_children",
    "mcp_sidecar_child_spawns_total",
    "mcp_sidecar_child_exits_total",
    "mcp_sidecar_rpc_requests_total",
    "mcp_sidecar_rpc_duration_seconds_bucket",
    "mcp_sidecar_sessions_rejected_total",
    "mcp_sidecar_http_requests_total",
  ]) {
    assert.match(metrics, new RegExp(`^${name}\\{`, "m"), `${name} is exported`);
  }
  assert.match(metrics, /mcp_sidecar_child_exits_total\{server="brief",reason="idle"\} 1/);
  const stats = (await (await fetch(`${sidecar.url}/stats`, { headers: AUTH })).json()) as Record<
    string,
    Record<string, unknown>
  >;
  assert.equal(stats.limited.maxSessions, 2);
  assert.equal(stats.echo.sessions, 1);
  assert.ok((stats.echo.spawns as number) >= 5);
  assert.deepEqual(stats.brief.exits, { idle: 1 });
});
