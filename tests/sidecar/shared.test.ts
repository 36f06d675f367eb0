// mode "shared": one child for every session, ids and progress tokens remapped so that nothing
// crosses between sessions, restarted with backoff after a crash while /readyz tells the truth.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import {
  connect,
  initializeRequest,
  isAlive,
  leftovers,
  post,
  startTestSidecar,
  toolText,
  waitFor,
  type TestSidecar,
} from "./helpers.ts";

const HOOK = { timeout: 30_000 };
const TEST = { timeout: 60_000 };
const INITIAL_DELAY_MS = 100;
const workDir = mkdtempSync(join(tmpdir(), "sidecar-shared-"));
/** While this file exists, a (re)started child waits before it serves: the test decides when it comes up. */
const gate = join(workDir, "gate");
let sidecar: TestSidecar;
const clients: Client[] = [];

before(async () => {
  sidecar = await startTestSidecar({
    mcpServers: {
      shared: {
        command: process.execPath,
        args: [join(dirname(fileURLToPath(import.meta.url)), "gated-echo-server.mjs"), gate],
        // A child "that ran a good while" (longer than maxDelayMs) restarts its backoff: with a minute, none does here.
        mode: "shared",
        restart: { initialDelayMs: INITIAL_DELAY_MS, maxDelayMs: 60_000 },
      },
    },
    sidecar: { gracePeriodMs: 500 },
  });
}, HOOK);

after(async () => {
  await Promise.allSettled(clients.map((client) => client.close()));
  await sidecar.close();
  rmSync(workDir, { recursive: true, force: true });
  assert.deepEqual(leftovers(process.pid), [], "children left after close");
}, HOOK);

async function open(transport: "streamable" | "sse" = "streamable"): Promise<Client> {
  const client = await connect(`${sidecar.url}/servers/shared/${transport === "sse" ? "sse" : "mcp"}`, { transport });
  clients.push(client);
  return client;
}

const whoami = async (client: Client) =>
  JSON.parse(toolText(await client.callTool({ name: "whoami", arguments: {} }))).pid as number;
const endpoint = () => `${sidecar.url}/servers/shared/mcp`;

/** A Streamable HTTP session opened by hand; resolves with its id. */
async function openRaw(): Promise<string> {
  const response = await post(endpoint(), initializeRequest());
  assert.equal(response.status, 200);
  await response.json();
  return response.headers.get("mcp-session-id")!;
}

test("concurrent calls from three sessions (same JSON-RPC ids) each get their own replies", TEST, async () => {
  const sessions = await Promise.all([open(), open(), open("sse")]);
  const pids = await Promise.all(sessions.map(whoami));
  assert.equal(new Set(pids).size, 1, "one child serves every session");
  const calls = sessions.flatMap((client, s) =>
    Array.from({ length: 15 }, async (_, i) => {
      const text = `session ${s} call ${i}`;
      const reply = await client.callTool({ name: "sleep", arguments: { ms: ((i * 7 + s * 13) % 10) * 10, text } });
      assert.equal(toolText(reply), text);
    }),
  );
  await Promise.all(calls);
});

test(
  "concurrent progress from three sessions using the same id and token: each stream gets exactly its own",
  TEST,
  async () => {
    const sessions = await Promise.all([openRaw(), openRaw(), openRaw()]);
    const progressCall = {
      jsonrpc: "2.0",
      id: 1,
      method: "tools/call",
      params: { name: "progress", arguments: { steps: 3 }, _meta: { progressToken: "tok" } },
    };
    for (let round = 0; round < 5; round++) {
      // Read straight off each POST's SSE stream: a token routed to the wrong session shows as a missing or extra event.
      const streams = await Promise.all(
        sessions.map(async (session) => {
          const response = await post(endpoint(), progressCall, { "mcp-session-id": session });
          assert.match(response.headers.get("content-type")!, /text\/event-stream/);
          return (await response.text())
            .split("\n")
            .filter((line) => line.startsWith("data: "))
            .map((line) => JSON.parse(line.slice(6)));
        }),
      );
      for (const events of streams) {
        assert.deepEqual(
          events.map((e) =>
            e.method === undefined ? `reply ${e.id}` : `${e.params.progressToken} ${e.params.progress}`,
          ),
          ["tok 1", "tok 2", "tok 3", "reply 1"],
          `round ${round}`,
        );
      }
    }
  },
);

test(
  "a crash fails in-flight calls of every session at once; /readyz is 503 until the restarted child is up",
  TEST,
  async () => {
    const [alice, bob] = await Promise.all([open(), open()]);
    const oldPid = await whoami(alice);
    writeFileSync(gate, "");
    try {
      // The sleep cannot finish (its child is gone) and is far longer than the test: its error is the crash's.
      const pending = assert.rejects(
        bob.callTool({ name: "sleep", arguments: { ms: 600_000, text: "never" } }, undefined, { timeout: 600_000 }),
        /exited.*restarting/,
      );
      await assert.rejects(alice.callTool({ name: "crash", arguments: {} }), /exited \(code 3.*restarting/);
      await pending;
      // Held at the gate, the child cannot be ready yet, however long the steps above took.
      const notReady = await fetch(`${sidecar.url}/readyz`);
      assert.equal(notReady.status, 503);
      const readiness = (await notReady.json()) as { ready: boolean; servers: { shared: string } };
      assert.equal(readiness.ready, false);
      assert.match(readiness.servers.shared, /^(restarting|starting)$/);
      await assert.rejects(
        bob.callTool({ name: "echo", arguments: { text: "too early" } }),
        /MCP server is (restarting|starting)/,
      );
    } finally {
      rmSync(gate, { force: true });
    }
    await waitFor(
      async () => (await fetch(`${sidecar.url}/readyz`)).status === 200,
      30_000,
      "the shared child to be back",
    );
    assert.ok(!isAlive(oldPid));
    const newPid = await whoami(bob);
    assert.notEqual(newPid, oldPid);
    assert.equal(
      toolText(await alice.callTool({ name: "echo", arguments: { text: "after restart" } })),
      "after restart",
    );
    const metrics = await (await fetch(`${sidecar.url}/metrics`)).text();
    assert.match(metrics, /mcp_sidecar_child_restarts_total\{server="shared"\} 1/);
    assert.match(metrics, /mcp_sidecar_child_exits_total\{server="shared",reason="crashed"\} 1/);
  },
);

test("repeated crashes back off exponentially, and each restart waits its delay", TEST, async () => {
  const client = await open();
  const restartsBefore = restartRecords().length;
  for (let i = 0; i < 3; i++) {
    await assert.rejects(client.callTool({ name: "crash", arguments: {} }));
    await waitFor(async () => (await fetch(`${sidecar.url}/readyz`)).status === 200, 30_000, "restart");
  }
  // The crash test used the initial delay; each crash since doubles it. Read from the sidecar's own records,
  // so that no delay on the test's side can blur them.
  const restarts = restartRecords().slice(restartsBefore);
  assert.deepEqual(
    restarts.map((r) => r.delayMs),
    [2, 4, 8].map((factor) => factor * INITIAL_DELAY_MS),
  );
  for (const { delayMs, exitedAt, startedAt } of restarts) {
    // Timers never fire early (but for rounding to the millisecond on each side).
    assert.ok(
      startedAt - exitedAt >= delayMs - 2,
      `restarted ${startedAt - exitedAt} ms after the exit, delay ${delayMs} ms`,
    );
  }
});

/** Each restart of the shared child: its delay, when the old child's exit was logged and when the new one started. */
function restartRecords(): Array<{ delayMs: number; exitedAt: number; startedAt: number }> {
  const records = sidecar.logs.filter((r) => r.server === "shared");
  const at = (index: number) => Date.parse(records[index].time);
  // Logged in this order for each restart: the old child's exit, the delay chosen, the new child's start.
  return records.flatMap((record, i) => {
    if (record.msg !== "shared child will be restarted") return [];
    const exited = records
      .slice(0, i)
      .map((r) => r.msg)
      .lastIndexOf("child exited");
    const started = records.findIndex((r, j) => j > i && r.msg === "child started");
    return started === -1 ? [] : [{ delayMs: record.delayMs as number, exitedAt: at(exited), startedAt: at(started) }];
  });
}
