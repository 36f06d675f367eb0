// 200 connect/disconnect cycles, clean and abrupt, over both transports, must leave no child
// process behind: checked by process group in /proc, not by the sidecar's own counters.
import assert from "node:assert/strict";
import { request } from "node:http";
import { after, before, test } from "node:test";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import {
  closeWithDelete,
  connect,
  echoServer,
  groupMembers,
  initializeRequest,
  leftovers,
  post,
  sseData,
  startTestSidecar,
  toolText,
  waitFor,
  type TestSidecar,
} from "./helpers.ts";

const CYCLES = 200;
const LANES = 4;
/** How long the books may take to close once the cycles are done: a bound for a hang, not a speed goal. */
const SETTLE_MS = 30_000;
let sidecar: TestSidecar;

before(
  async () => {
    sidecar = await startTestSidecar({
      mcpServers: {
        // Sessions a client goes on using: the default idle timeout (15 minutes) never races the client.
        echo: echoServer(),
        // Sessions nobody will ever use after initialize (abandoned, or cut before the id was known):
        // only the idle timeout can end them, and nothing is asked of them that it could race.
        abandoned: echoServer({ idleTimeoutMs: 300 }),
      },
      sidecar: { gracePeriodMs: 500, maxSessions: 50 },
    });
  },
  { timeout: 30_000 },
);

after(
  async () => {
    await sidecar.close();
  },
  { timeout: 30_000 },
);

const mcpUrl = (server = "echo") => `${sidecar.url}/servers/${server}/mcp`;
const whoamiCall = (id: number) => ({
  jsonrpc: "2.0",
  id,
  method: "tools/call",
  params: { name: "whoami", arguments: {} },
});

/** Runs `use` on a fresh SDK client and closes the client whatever happens, so that a failure leaves no stream reconnecting. */
async function withClient<T>(
  url: string,
  transport: "streamable" | "sse",
  use: (client: Client) => Promise<T>,
): Promise<T> {
  const client = await connect(url, { transport });
  try {
    return await use(client);
  } finally {
    await client.close();
  }
}

const whoamiGroup = async (client: Client) =>
  JSON.parse(toolText(await client.callTool({ name: "whoami", arguments: {} }))).pgid as number;

/** Streamable HTTP, ended properly with DELETE. */
function streamableClean(): Promise<number | undefined> {
  return withClient(mcpUrl(), "streamable", async (client) => {
    const pgid = await whoamiGroup(client);
    await closeWithDelete(client);
    return pgid;
  });
}

/**
 * Streamable HTTP, abandoned right after initialize (no DELETE, no stream): the idle timeout must end
 * it. Its child (a process group leader, so pgid = pid) is known from the sidecar's log, not from a
 * call that the idle timeout could race.
 */
async function streamableAbandoned(): Promise<number | undefined> {
  const response = await post(mcpUrl("abandoned"), initializeRequest());
  assert.equal(response.status, 200, await response.clone().text());
  await response.json();
  const session = response.headers.get("mcp-session-id");
  const started = sidecar.logs.find((r) => r.msg === "child started" && r.session === session);
  assert.ok(started, "the abandoned session's child was logged");
  return started.pid as number;
}

/** Streamable HTTP, socket destroyed while initialize is still in flight: nobody will ever know the session id. */
function streamableCutDuringInitialize(): Promise<number | undefined> {
  return new Promise((resolve) => {
    const body = JSON.stringify(initializeRequest());
    const req = request(mcpUrl("abandoned"), {
      method: "POST",
      agent: false,
      headers: {
        "content-type": "application/json",
        accept: "application/json",
        "content-length": Buffer.byteLength(body),
      },
    });
    req.on("error", () => resolve(undefined));
    req.on("close", () => resolve(undefined));
    // Aimed at the child's start-up, but no more than aimed: cut before the request is read, nothing
    // opens; cut after the answer, nobody knows the id and the idle timeout ends the session.
    req.end(body, () => setTimeout(() => req.destroy(), 5));
  });
}

/** 2024-11-05 SSE through the SDK client, closed properly (the stream closes). */
function legacyClean(): Promise<number | undefined> {
  return withClient(`${sidecar.url}/servers/echo/sse`, "sse", whoamiGroup);
}

/** 2024-11-05 SSE by hand, the stream dropped (connection aborted) right after a reply. */
async function legacyDropped(): Promise<number | undefined> {
  const controller = new AbortController();
  try {
    const response = await fetch(`${sidecar.url}/servers/echo/sse`, {
      headers: { accept: "text/event-stream" },
      signal: controller.signal,
    });
    const events = sseData(response.body!);
    const endpoint = new URL((await events.next()).value!, response.url).href;
    await post(endpoint, initializeRequest());
    await events.next();
    await post(endpoint, whoamiCall(2));
    const reply = JSON.parse((await events.next()).value!);
    return JSON.parse(reply.result.content[0].text).pgid;
  } finally {
    controller.abort();
  }
}

const KINDS = [streamableClean, streamableAbandoned, streamableCutDuringInitialize, legacyClean, legacyDropped];

test(
  `${CYCLES} connect/disconnect cycles, clean and abrupt, leave zero child processes`,
  { timeout: 240_000 },
  async () => {
    const groups = new Set<number>();
    const started = Date.now();
    let next = 0;
    let failed = false;
    let reported = 0;
    // The first failure stops every lane, so that nothing goes on connecting once the test has lost.
    const lane = async () => {
      while (next < CYCLES && !failed) {
        const kind = KINDS[next++ % KINDS.length];
        try {
          const pgid = await kind();
          if (pgid !== undefined) {
            reported++;
            groups.add(pgid);
          }
        } catch (error) {
          failed = true;
          throw error;
        }
      }
    };
    await Promise.all(Array.from({ length: LANES }, lane));
    const cyclesMs = Date.now() - started;
    // Four kinds of five report their child's group, each a child of its own (distinct but for the
    // kernel handing out a pid again, pid_max being as low as 32768).
    assert.equal(reported, (CYCLES * 4) / KINDS.length);
    assert.ok(groups.size >= reported * 0.9, `${reported} children reported, ${groups.size} distinct`);
    await waitFor(() => leftovers(process.pid, groups).length === 0, SETTLE_MS, "every child to be gone");
    console.log(
      `${CYCLES} cycles in ${cyclesMs} ms, ${groups.size} children seen by their own pgid, ` +
        `all gone ${Date.now() - started - cyclesMs} ms later`,
    );
    assert.deepEqual(groupMembers(groups), []);
    type Stats = Record<"echo" | "abandoned", { sessions: number; children: number; spawns: number }>;
    const readStats = async () => (await (await fetch(`${sidecar.url}/stats`)).json()) as Stats;
    // A session is forgotten once its child's exit has been handled, which can trail the process's end by a moment:
    // wait for the books to close too, within the same bound (a leaked session never gets there).
    const settled = (stats: Stats) => Object.values(stats).every((s) => s.sessions === 0 && s.children === 0);
    await waitFor(async () => settled(await readStats()), SETTLE_MS, "every session to be forgotten");
    const stats = await readStats();
    assert.ok(settled(stats), JSON.stringify(stats));
    assert.ok(stats.echo.spawns + stats.abandoned.spawns >= CYCLES * 0.9, `spawns ${JSON.stringify(stats)}`);
  },
);
