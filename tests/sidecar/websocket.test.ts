// The WebSocket transport: server-everything through the SDK's WebSocket client, protocol edges,
// keep-alive, maxSessions before the upgrade, and connections dropped every which way leaving no
// child behind (checked by process group in /proc).
import assert from "node:assert/strict";
import { connect as tcpConnect } from "node:net";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { WebSocket } from "ws";
import {
  closeAll,
  connect,
  echoServer,
  EVERYTHING,
  FIXTURES,
  groupMembers,
  initializeRequest,
  leftovers,
  openSocket,
  rpc,
  startTestSidecar,
  toolText,
  waitFor,
  wsUrl,
  type TestSidecar,
} from "./helpers.ts";

/**
 * The keep-alive test's interval. A peer is dropped when its pong is not in by the next ping, and the
 * test process is both peers: a stall longer than this (GC, a loaded machine) would drop a healthy one.
 * Only that test's sidecar runs so short an interval; the others keep the 15 s default.
 */
const KEEP_ALIVE_MS = 1_000;
const HOOK = { timeout: 30_000 };
const TEST = { timeout: 90_000 };
const SETTLE_MS = 30_000;
let sidecar: TestSidecar;
const clients: Client[] = [];
const sockets: WebSocket[] = [];

before(async () => {
  sidecar = await startTestSidecar({
    mcpServers: { everything: { command: EVERYTHING }, echo: echoServer(), limited: echoServer({ maxSessions: 1 }) },
    sidecar: { maxBodyBytes: 4096, retryAfterSeconds: 3, gracePeriodMs: 500 },
  });
}, HOOK);

after(() => closeAll(sidecar, clients, sockets), HOOK);

const url = (server: string, on: TestSidecar = sidecar) => wsUrl(on, `/servers/${server}/ws`);

async function socket(server: string, options = {}, on: TestSidecar = sidecar): Promise<WebSocket> {
  const ws = await openSocket(url(server, on), options);
  sockets.push(ws);
  return ws;
}

const whoami = (id: number) => ({ id, method: "tools/call", params: { name: "whoami", arguments: {} } });
const pgidOf = (reply: { result?: unknown }) => JSON.parse(toolText(reply.result)).pgid as number;
const upgradeRequest = (server: string) =>
  `GET /servers/${server}/ws HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
  "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
const closed = (ws: WebSocket) => new Promise<number>((resolve) => ws.once("close", resolve));

test("server-everything over WebSocket with the SDK client: lists tools, calls echo and get-sum", TEST, async () => {
  const client = await connect(url("everything"), { transport: "ws" });
  clients.push(client);
  const { tools } = await client.listTools();
  assert.ok(
    tools.some((tool) => tool.name === "echo"),
    "echo is listed",
  );
  assert.match(
    toolText(await client.callTool({ name: "echo", arguments: { message: "hello over ws" } })),
    /hello over ws/,
  );
  assert.match(toolText(await client.callTool({ name: "get-sum", arguments: { a: 2, b: 40 } })), /42/);
  const stats = (await (await fetch(`${sidecar.url}/stats`)).json()) as {
    everything: { sessions: number; children: number };
  };
  assert.equal(stats.everything.sessions, 1);
  assert.equal(stats.everything.children, 1);
  await client.close();
  await waitFor(
    async () => (await (await fetch(`${sidecar.url}/stats`)).json()).everything.children === 0,
    SETTLE_MS,
    "the child to end with its socket",
  );
});

test(
  'subprotocol "mcp"; bad JSON gets a parse error; a binary frame or an over-size frame closes the socket',
  TEST,
  async () => {
    const ws = await socket("echo");
    assert.equal(ws.protocol, "mcp");
    assert.equal((await rpc(ws, initializeRequest(1))).error, undefined);
    const parseError = new Promise<{ error: { code: number } }>((resolve) =>
      ws.once("message", (data) => resolve(JSON.parse(String(data)))),
    );
    ws.send("{not json");
    assert.equal((await parseError).error.code, -32700);
    const echoed = await rpc(ws, {
      id: "two",
      method: "tools/call",
      params: { name: "echo", arguments: { text: "still open" } },
    });
    assert.equal(toolText(echoed.result), "still open");
    const binaryClosed = closed(ws);
    ws.send(Buffer.from("{}"), { binary: true });
    assert.equal(await binaryClosed, 1003);
    const big = await socket("echo");
    const bigClosed = closed(big);
    big.send(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping", params: { pad: "x".repeat(8192) } }));
    assert.equal(await bigClosed, 1009);
  },
);

test(
  "keep-alive: pings at the configured interval; a peer that stops answering them is dropped, and its child with it",
  TEST,
  async () => {
    const pinging = await startTestSidecar({
      mcpServers: { echo: echoServer() },
      sidecar: { keepAliveIntervalMs: KEEP_ALIVE_MS, gracePeriodMs: 500 },
    });
    try {
      const started = performance.now();
      const healthy = await socket("echo", {}, pinging);
      let pings = 0;
      healthy.on("ping", () => pings++);
      // Bounded below the 45 s three pings would take at the default interval; never earlier than three intervals.
      await waitFor(() => pings >= 3, SETTLE_MS, "three pings");
      const elapsed = performance.now() - started;
      assert.ok(elapsed >= 3 * KEEP_ALIVE_MS - 5, `three pings after ${elapsed} ms at a ${KEEP_ALIVE_MS} ms interval`);
      assert.equal(healthy.readyState, healthy.OPEN, "a peer answering pings stays connected");
      healthy.close();
      const running = new Set(leftovers(process.pid).map((p) => p.pgid));
      const silent = await socket("echo", { autoPong: false }, pinging);
      // The child is spawned before the upgrade completes, so it is there by now.
      const groups = leftovers(process.pid)
        .map((p) => p.pgid)
        .filter((pgid) => !running.has(pgid));
      assert.equal(groups.length, 1, "the silent peer's session has a child");
      assert.equal(await closed(silent), 1006, "dropped without a closing handshake");
      await waitFor(() => groupMembers(groups).length === 0, SETTLE_MS, "the silent peer's child to be gone");
    } finally {
      await pinging.close();
    }
  },
);

test(
  "beyond maxSessions the upgrade is refused with 429 and Retry-After, nothing spawned; a slot frees when a socket closes",
  TEST,
  async () => {
    const first = await socket("limited");
    await rpc(first, initializeRequest(1));
    const before = new Set(leftovers(process.pid).map((p) => p.pid));
    const refusal = await openSocket(url("limited")).then(
      () => assert.fail("a second session was opened"),
      (error) => error,
    );
    assert.equal(refusal.status, 429);
    assert.equal(refusal.headers["retry-after"], "3");
    assert.deepEqual(
      leftovers(process.pid).filter((p) => !before.has(p.pid)),
      [],
      "a child was spawned for a refused session",
    );
    first.close();
    await waitFor(
      async () => (await (await fetch(`${sidecar.url}/stats`)).json()).limited.sessions === 0,
      SETTLE_MS,
      "the slot to free",
    );
    const again = await socket("limited");
    assert.equal((await rpc(again, initializeRequest(1))).error, undefined);
    again.close();
  },
);

test("the upgrade goes through the same Origin and API-key checks as HTTP: 403, 401", TEST, async () => {
  const foreign = await openSocket(url("echo"), { origin: "https://evil.example" }).then(
    () => assert.fail("upgraded"),
    (error) => error,
  );
  assert.equal(foreign.status, 403);
  const keyed = await startTestSidecar({
    mcpServers: { echo: echoServer() },
    sidecar: { apiKeys: ["ws-test-key-0123456789"] },
  });
  try {
    const target = wsUrl(keyed, "/servers/echo/ws");
    const anonymous = await openSocket(target).then(
      () => assert.fail("upgraded"),
      (error) => error,
    );
    assert.equal(anonymous.status, 401);
    const ws = await openSocket(target, { headers: { authorization: "Bearer ws-test-key-0123456789" } });
    ws.terminate();
  } finally {
    await keyed.close();
  }
});

test(
  "a connection reset while the upgrade waits for a shared child to be ready: the sidecar carries on",
  TEST,
  async () => {
    // The shared child never becomes ready: the upgrade waits initializeTimeoutMs for it, then answers 503.
    const waiting = await startTestSidecar({
      mcpServers: { hang: { command: process.execPath, args: [join(FIXTURES, "hang.mjs")], mode: "shared" } },
      sidecar: { initializeTimeoutMs: 3_000, gracePeriodMs: 300 },
    });
    try {
      await new Promise<void>((resolve) => {
        const tcp = tcpConnect(waiting.port, "127.0.0.1", () => {
          // Reset well inside the 3 s the upgrade waits (aimed there; a late reset fails the wait below, never passes wrongly).
          tcp.write(upgradeRequest("hang"), () => setTimeout(() => tcp.resetAndDestroy(), 100));
        });
        tcp.on("close", () => resolve());
        tcp.on("error", () => {});
      });
      // The refusal (503 once initializeTimeoutMs is over) is written to the reset socket.
      await waitFor(() => waiting.logs.some((r) => r.msg === "upgrade socket error"), SETTLE_MS, "the write to fail");
      assert.equal((await fetch(`${waiting.url}/healthz`)).status, 200);
    } finally {
      await waiting.close();
    }
  },
);

/** Clean close after a reply. */
async function cleanClose(): Promise<number | undefined> {
  const ws = await openSocket(url("echo"));
  await rpc(ws, initializeRequest(1));
  const pgid = pgidOf(await rpc(ws, whoami(2)));
  ws.close(1000);
  await closed(ws);
  return pgid;
}

/** TCP connection destroyed right after a reply: no closing handshake. */
async function abruptAfterReply(): Promise<number | undefined> {
  const ws = await openSocket(url("echo"));
  await rpc(ws, initializeRequest(1));
  const pgid = pgidOf(await rpc(ws, whoami(2)));
  ws.terminate();
  return pgid;
}

/** Destroyed while initialize is in flight. */
async function abruptDuringInitialize(): Promise<undefined> {
  const ws = await openSocket(url("echo"));
  ws.send(JSON.stringify(initializeRequest(1)));
  ws.terminate();
  return undefined;
}

/** The upgrade request sent and the connection dropped before the handshake could finish. */
function abruptDuringUpgrade(): Promise<undefined> {
  return new Promise((resolve) => {
    const tcp = tcpConnect(sidecar.port, "127.0.0.1", () => {
      tcp.write(upgradeRequest("echo"), () => tcp.destroy());
    });
    tcp.on("close", () => resolve(undefined));
    tcp.on("error", () => {});
  });
}

test(
  "80 WebSocket connections closed cleanly or dropped (after a reply, during initialize, during the upgrade) leave no child",
  TEST,
  async () => {
    const kinds = [cleanClose, abruptAfterReply, abruptDuringInitialize, abruptDuringUpgrade];
    const cycles = 80;
    const groups = new Set<number>();
    const spawnsBefore = (await (await fetch(`${sidecar.url}/stats`)).json()).echo.spawns as number;
    let next = 0;
    const lane = async () => {
      while (next < cycles) {
        const pgid = await kinds[next++ % kinds.length]();
        if (pgid !== undefined) groups.add(pgid);
      }
    };
    await Promise.all(Array.from({ length: 4 }, lane));
    assert.equal(groups.size, cycles / 2, "each reply came from a child of its own");
    await waitFor(() => leftovers(process.pid, groups).length === 0, SETTLE_MS, "every child to be gone");
    assert.deepEqual(groupMembers(groups), []);
    await waitFor(
      async () => {
        const stats = (await (await fetch(`${sidecar.url}/stats`)).json()).echo;
        return stats.sessions === 0 && stats.children === 0;
      },
      SETTLE_MS,
      "no session or child counted",
    );
    const stats = (await (await fetch(`${sidecar.url}/stats`)).json()).echo;
    assert.ok(
      stats.spawns - spawnsBefore >= cycles * 0.75,
      `${stats.spawns - spawnsBefore} spawns for ${cycles} connections`,
    );
    assert.ok(stats.exits.disconnected >= cycles * 0.75, `exits ${JSON.stringify(stats.exits)}`);
  },
);
