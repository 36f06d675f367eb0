// Children that crash, print garbage or a huge line, hang at initialize, or leave grandchildren.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import {
  closeWithDelete,
  connect,
  echoServer,
  FIXTURES,
  groupMembers,
  isAlive,
  leftovers,
  post,
  startTestSidecar,
  toolText,
  waitFor,
  type TestSidecar,
} from "./helpers.ts";

const INITIALIZE_TIMEOUT_MS = 400;
const MAX_LINE_BYTES = 64 * 1024;
const HOOK = { timeout: 30_000 };
const TEST = { timeout: 60_000 };
let sidecar: TestSidecar;
/**
 * The hanging child gets a sidecar of its own: `initializeTimeoutMs` is global, and a short one would
 * race the start-up of every well-behaved child on a loaded machine.
 */
let hangSidecar: TestSidecar;
const clients: Client[] = [];

before(async () => {
  [sidecar, hangSidecar] = await Promise.all([
    startTestSidecar({
      mcpServers: { echo: echoServer(), missing: { command: "/nonexistent/mcp-server" } },
      sidecar: { maxLineBytes: MAX_LINE_BYTES, gracePeriodMs: 300 },
    }),
    startTestSidecar({
      mcpServers: { hang: { command: process.execPath, args: [join(FIXTURES, "hang.mjs")] } },
      sidecar: { initializeTimeoutMs: INITIALIZE_TIMEOUT_MS, gracePeriodMs: 300 },
    }),
  ]);
}, HOOK);

after(async () => {
  await Promise.allSettled(clients.map((client) => client.close()));
  await Promise.all([sidecar.close(), hangSidecar.close()]);
  assert.deepEqual(leftovers(process.pid), [], "children left after close");
}, HOOK);

async function echoClient(): Promise<Client> {
  const client = await connect(`${sidecar.url}/servers/echo/mcp`);
  clients.push(client);
  return client;
}

async function whoami(client: Client): Promise<{ pid: number; pgid: number }> {
  return JSON.parse(toolText(await client.callTool({ name: "whoami", arguments: {} })));
}

test("a child crashing mid-call fails the call at once, and its session ends (404 afterwards)", TEST, async () => {
  const client = await echoClient();
  const { pid } = await whoami(client);
  // The sleep cannot finish (its child is gone) and is far longer than any wait here: its error is the crash's.
  const slow = assert.rejects(
    client.callTool({ name: "sleep", arguments: { ms: 600_000, text: "never" } }, undefined, { timeout: 600_000 }),
    /exited/,
  );
  await assert.rejects(client.callTool({ name: "crash", arguments: {} }), /exited/);
  await slow;
  await waitFor(() => !isAlive(pid), 30_000, "the crashed child to be reaped");
  const sessionId = (client.transport as { sessionId?: string }).sessionId!;
  const after = await post(
    `${sidecar.url}/servers/echo/mcp`,
    { jsonrpc: "2.0", id: 9, method: "tools/list" },
    { "mcp-session-id": sessionId },
  );
  assert.equal(after.status, 404);
});

test("garbage on stdout is logged and the child goes on serving", TEST, async () => {
  const client = await echoClient();
  assert.equal(toolText(await client.callTool({ name: "garbage", arguments: {} })), "after garbage");
  assert.equal(toolText(await client.callTool({ name: "echo", arguments: { text: "still here" } })), "still here");
  assert.ok(
    sidecar.logs.some((r) => r.msg === "child wrote non-JSON to stdout, ignored" && r.sample === "this is not JSON"),
  );
});

test(
  "a stdout line over the limit is discarded and logged, without holding it, and the child goes on serving",
  TEST,
  async () => {
    const client = await echoClient();
    const bytes = 128 * 1024 * 1024;
    const used = () => {
      const m = process.memoryUsage();
      return m.heapUsed + m.arrayBuffers;
    };
    const baseline = used();
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, used());
    }, 2);
    try {
      assert.equal(toolText(await client.callTool({ name: "huge", arguments: { bytes } })), "after huge");
    } finally {
      clearInterval(sampler);
    }
    // Holding the line would cost at least its size; chunks read and dropped but not yet collected
    // account for the growth we see (30-45 MB measured: V8 collects them once they add up).
    console.log(`peak memory growth ${peak - baseline} bytes for a ${bytes}-byte line`);
    assert.ok(
      peak - baseline < bytes * 0.75,
      `memory peaked ${peak - baseline} bytes over baseline for a ${bytes}-byte line`,
    );
    const record = sidecar.logs.find((r) => r.msg === "child stdout line over the limit, discarded");
    assert.equal(record?.bytes, bytes);
    assert.equal(record?.limit, MAX_LINE_BYTES);
    assert.equal(toolText(await client.callTool({ name: "echo", arguments: { text: "after" } })), "after");
  },
);

test(
  "a child that never answers initialize is killed (even ignoring SIGTERM) and the client gets an error",
  TEST,
  async () => {
    const started = performance.now();
    await assert.rejects(connect(`${hangSidecar.url}/servers/hang/mcp`), /did not answer initialize within 400 ms/);
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= INITIALIZE_TIMEOUT_MS, `answered after ${elapsed} ms, before the timeout`);
    // The client's error comes from the child's exit, which is logged first.
    const exit = hangSidecar.logs.find((r) => r.msg === "child exited" && r.server === "hang");
    assert.ok(exit, "the hanging child's exit was logged");
    assert.equal(exit.reason, "initialize-timeout");
    assert.equal(exit.signal, "SIGKILL", "hang.mjs ignores SIGTERM, so only SIGKILL can have ended it");
    assert.ok(!isAlive(exit.pid as number));
  },
);

test("a command that cannot be started gives the client an error, not a hang", TEST, async () => {
  await assert.rejects(connect(`${sidecar.url}/servers/missing/mcp`), /could not be started/);
});

test("grandchildren die with their child's process group, even when they ignore SIGTERM", TEST, async () => {
  const client = await echoClient();
  const { pgid } = await whoami(client);
  const grandchild = JSON.parse(toolText(await client.callTool({ name: "grandchild", arguments: {} }))).pid as number;
  assert.ok(isAlive(grandchild));
  await closeWithDelete(client);
  await waitFor(() => !isAlive(grandchild), 30_000, "the grandchild to be killed");
  assert.deepEqual(groupMembers([pgid]), []);
});
