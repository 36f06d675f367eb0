// The whole of MCP (2025 era) through the sidecar's Streamable HTTP endpoint, as the filter's pass-through mode
// forwards it: the child's requests to the client (sampling, elicitation, roots) and the client's answers, progress
// and log messages on the call's SSE stream before its result, the GET stream, logging/setLevel and resource
// subscriptions per session, cancellation, and what a shared child cannot route answered with a clear error.
import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
import { after, before, test } from "node:test";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import {
  LoggingMessageNotificationSchema,
  ResourceUpdatedNotificationSchema,
  ToolListChangedNotificationSchema,
} from "@modelcontextprotocol/sdk/types.js";
import {
  connect,
  connectModern,
  dualEraServer,
  EVERYTHING,
  initializeRequest,
  post,
  sseData,
  scratchFiles,
  startTestSidecar,
  toolText,
  waitFor,
  type TestSidecar,
} from "./helpers.ts";
import { allText, answering, answeringModern, CLIENT_CAPABILITIES } from "./answering.ts";

const HOOK = { timeout: 30_000 };
const TEST = { timeout: 60_000 };
const WAIT_MS = 20_000;
const scratch = scratchFiles("sidecar-features-");
let sidecar: TestSidecar;

before(async () => {
  sidecar = await startTestSidecar({
    mcpServers: {
      everything: { command: EVERYTHING },
      fixture: dualEraServer("dual"),
      shared: dualEraServer("dual", { mode: "shared" }),
      // One child for every session that speaks only 2026-07-28: the sidecar bridges it for all of them.
      sharedModern: dualEraServer("2026", { mode: "shared" }),
    },
  });
}, HOOK);

after(async () => {
  await sidecar.close();
  scratch.remove();
}, HOOK);

const url = (server: string) => `${sidecar.url}/servers/${server}/mcp`;
const tempFile = scratch.file;

/** A 2025 session opened by hand; resolves with its id. */
async function openRaw(server: string): Promise<string> {
  const response = await post(url(server), initializeRequest());
  assert.equal(response.status, 200);
  await response.json();
  const id = response.headers.get("mcp-session-id")!;
  assert.equal(
    (await post(url(server), { jsonrpc: "2.0", method: "notifications/initialized" }, { "mcp-session-id": id })).status,
    202,
  );
  return id;
}

const callTool = (id: number, name: string, args: Record<string, unknown> = {}, meta?: Record<string, unknown>) => ({
  jsonrpc: "2.0",
  id,
  method: "tools/call",
  params: { name, arguments: args, ...(meta ? { _meta: meta } : {}) },
});

/** Log messages a 1.x client gets, in order. */
function collectLogs(client: Client): string[] {
  const levels: string[] = [];
  client.setNotificationHandler(LoggingMessageNotificationSchema, (notification) => {
    levels.push(notification.params.level);
  });
  return levels;
}

/**
 * Resolves once the 1.x client's GET stream is open (it opens it in the background after connecting): the
 * fixture's tool list announcement answers no request, so it can reach the client only on that stream.
 * Returns the count of announcements the client has seen, to wait for a later one.
 */
async function getStreamOpen(client: Client): Promise<{ announced: () => number }> {
  let announcements = 0;
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
    announcements++;
  });
  await waitFor(
    async () => {
      await client.callTool({ name: "announce", arguments: {} });
      return announcements > 0;
    },
    WAIT_MS,
    "the client's GET stream",
  );
  return { announced: () => announcements };
}

/** Resource updates a 1.x client gets. */
function collectUpdates(client: Client): string[] {
  const uris: string[] = [];
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, (notification) => {
    uris.push(notification.params.uri);
  });
  return uris;
}

test(
  "SDK 1.x client: server-everything's sampling, elicitation and roots requests reach the client and its answers come back",
  TEST,
  async () => {
    const client = await connect(url("everything"), { capabilities: CLIENT_CAPABILITIES, prepare: answering });
    const sampled = await client.callTool({
      name: "trigger-sampling-request",
      arguments: { prompt: "hello", maxTokens: 10 },
    });
    assert.match(allText(sampled), /a sampled reply/);
    const elicited = await client.callTool({ name: "trigger-elicitation-request", arguments: {} });
    assert.match(allText(elicited), /Name: Ada/);
    const roots = await client.callTool({ name: "get-roots-list", arguments: {} });
    assert.match(allText(roots), /file:\/\/\/work\/project/);
    await client.close();
  },
);

test(
  "SDK 2.x client (2025 handshake): the same requests of a per-session child, through its handlers",
  TEST,
  async () => {
    const client = await connectModern(url("everything"), {
      negotiation: "legacy",
      capabilities: CLIENT_CAPABILITIES,
      prepare: answeringModern(),
    });
    assert.match(
      allText(
        await client.callTool({ name: "trigger-sampling-request", arguments: { prompt: "hello", maxTokens: 10 } }),
      ),
      /a sampled reply/,
    );
    assert.match(allText(await client.callTool({ name: "trigger-elicitation-request", arguments: {} })), /Name: Ada/);
    await client.close();
  },
);

test(
  "a 2.x server's multi-round questions become 2025 requests one after the other (per-session child)",
  TEST,
  async () => {
    const client = await connect(url("fixture"), { capabilities: CLIENT_CAPABILITIES, prepare: answering });
    assert.equal(
      toolText(await client.callTool({ name: "two-questions", arguments: {} })),
      "answer to Your name? likes answer to Your colour?",
    );
    assert.equal(toolText(await client.callTool({ name: "roots", arguments: {} })), "file:///work/project");
    await client.close();
  },
);

for (const sdk of ["1.x", "2.x"] as const) {
  test(
    `SDK ${sdk}: progress reaches the client before the result (the child answers only once the client has seen it)`,
    TEST,
    async () => {
      const releaseFile = tempFile("release");
      const progress: number[] = [];
      // The child waits for this file: the result cannot exist before the client has handled a progress notification.
      const onprogress = (update: { progress: number }) => {
        progress.push(update.progress);
        writeFileSync(releaseFile, "seen");
      };
      const call = { name: "progress-then-wait", arguments: { releaseFile } };
      const result =
        sdk === "1.x"
          ? await (await connect(url("fixture"))).callTool(call, undefined, { onprogress })
          : await (await connectModern(url("fixture"), { negotiation: "legacy" })).callTool(call, { onprogress });
      assert.equal(toolText(result), "released");
      assert.deepEqual(progress, [1]);
    },
  );
}

test(
  "a POST is answered with JSON until the child says something else first; then it becomes an SSE stream",
  TEST,
  async () => {
    const session = await openRaw("fixture");
    const plain = await post(url("fixture"), callTool(1, "echo", { text: "hi" }), { "mcp-session-id": session });
    assert.match(plain.headers.get("content-type")!, /application\/json/);
    assert.equal((await plain.json()).result.content[0].text, "hi");

    const releaseFile = tempFile("release");
    const streamed = await post(
      url("fixture"),
      callTool(2, "progress-then-wait", { releaseFile }, { progressToken: "p" }),
      { "mcp-session-id": session },
    );
    assert.match(streamed.headers.get("content-type")!, /text\/event-stream/);
    const events = sseData(streamed.body!);
    const first = JSON.parse((await events.next()).value as string);
    assert.deepEqual([first.method, first.params.progressToken], ["notifications/progress", "p"]);
    writeFileSync(releaseFile, "seen");
    const last = JSON.parse((await events.next()).value as string);
    assert.deepEqual([last.id, last.result.content[0].text], [2, "released"]);
    assert.equal((await events.next()).done, true, "the stream ends with the result");
  },
);

test("the GET stream delivers what answers no request (a tool list change); the POST stays JSON", TEST, async () => {
  const session = await openRaw("fixture");
  const aborter = new AbortController();
  const stream = await fetch(url("fixture"), {
    headers: { accept: "text/event-stream", "mcp-session-id": session },
    signal: aborter.signal,
  });
  assert.equal(stream.status, 200);
  const events = sseData(stream.body!);
  const reply = await post(url("fixture"), callTool(1, "announce"), { "mcp-session-id": session });
  assert.match(reply.headers.get("content-type")!, /application\/json/);
  assert.equal((await reply.json()).result.content[0].text, "announced");
  const notification = JSON.parse((await events.next()).value as string);
  assert.equal(notification.method, "notifications/tools/list_changed");
  aborter.abort();
});

test("logging/setLevel is per session, on children of their own", TEST, async () => {
  const quiet = await connect(url("fixture"));
  const chatty = await connect(url("fixture"));
  const [quietLogs, chattyLogs] = [collectLogs(quiet), collectLogs(chatty)];
  await quiet.setLoggingLevel("error");
  await chatty.setLoggingLevel("debug");
  await Promise.all([quiet.callTool({ name: "log", arguments: {} }), chatty.callTool({ name: "log", arguments: {} })]);
  // The error message is the last one each child sends: once it is in, everything before it is too.
  await waitFor(() => quietLogs.includes("error") && chattyLogs.includes("error"), WAIT_MS, "the error messages");
  assert.deepEqual(quietLogs, ["error"]);
  assert.deepEqual(chattyLogs, ["debug", "info", "warning", "error"]);
});

for (const server of ["shared", "sharedModern"]) {
  test(
    `logging/setLevel is per session on a shared child too (${server}): each session gets what its own level lets through`,
    TEST,
    async () => {
      const quiet = await connect(url(server));
      const chatty = await connect(url(server));
      const [quietLogs, chattyLogs] = [collectLogs(quiet), collectLogs(chatty)];
      await quiet.setLoggingLevel("error");
      await chatty.setLoggingLevel("info");
      // A shared child's log messages answer no request of a session: the other one gets them on its GET stream.
      await getStreamOpen(chatty);
      await quiet.callTool({ name: "log", arguments: {} });
      await waitFor(() => quietLogs.includes("error") && chattyLogs.includes("error"), WAIT_MS, "the error messages");
      assert.deepEqual(quietLogs, ["error"]);
      assert.deepEqual(chattyLogs, ["info", "warning", "error"]);
    },
  );
}

for (const server of ["fixture", "shared", "sharedModern"]) {
  test(
    `resources/subscribe is per session (${server === "fixture" ? "children of their own" : `one shared child: ${server}`})`,
    TEST,
    async () => {
      const watcher = await connect(url(server));
      const other = await connect(url(server));
      const [watcherUpdates, otherUpdates] = [collectUpdates(watcher), collectUpdates(other)];
      await getStreamOpen(watcher);
      const otherStream = await getStreamOpen(other);
      await watcher.subscribeResource({ uri: "fixture://watched" });
      await other.callTool({ name: "touch", arguments: {} });
      await watcher.callTool({ name: "touch", arguments: {} });
      // One shared child is subscribed once it has a subscriber: the other session's touch changes the resource too.
      await waitFor(() => watcherUpdates.length === (server === "fixture" ? 1 : 2), WAIT_MS, "the watcher's updates");
      await other.subscribeResource({ uri: "fixture://watched" });
      await other.callTool({ name: "touch", arguments: {} });
      // Everything on the GET stream comes in order: once this announcement is in, so is every update before it.
      const seen = otherStream.announced();
      await other.callTool({ name: "announce", arguments: {} });
      await waitFor(() => otherStream.announced() > seen, WAIT_MS, "the other session's announcement");
      assert.deepEqual(otherUpdates, ["fixture://watched"], "only the update after its own subscription");
      await watcher.unsubscribeResource({ uri: "fixture://watched" });
    },
  );
}

test(
  "notifications/cancelled reaches the child (per-session and shared, 2025 and 2026-07-28 children)",
  TEST,
  async () => {
    for (const server of ["fixture", "shared", "sharedModern"]) {
      const client = await connect(url(server));
      const markerFile = tempFile("cancelled");
      const aborter = new AbortController();
      // The tool reports progress once it runs: the client cancels then.
      const call = client.callTool({ name: "wait-for-cancel", arguments: { markerFile } }, undefined, {
        signal: aborter.signal,
        onprogress: () => aborter.abort("the test cancels"),
      });
      await assert.rejects(call);
      await waitFor(() => existsSync(markerFile), WAIT_MS, `the ${server} child to see the cancellation`);
    }
  },
);

test("a shared child's own request to a client is refused with a clear error", TEST, async () => {
  const client = await connect(url("shared"), { capabilities: CLIENT_CAPABILITIES, prepare: answering });
  const text = toolText(await client.callTool({ name: "ask-directly", arguments: {} }));
  assert.match(text, /^refused: /);
  assert.match(text, /roots\/list cannot reach a client: this server runs in mode "shared"/);
  assert.match(text, /run it in mode "session"/);
});

test("a request of the child that no stream can carry is refused at once, not left waiting", TEST, async () => {
  // A client that takes only JSON and has no GET stream: the child's request has no way to the client.
  const session = await openRaw("fixture");
  const reply = await post(url("fixture"), callTool(1, "ask-directly"), {
    "mcp-session-id": session,
    accept: "application/json",
  });
  assert.match(reply.headers.get("content-type")!, /application\/json/);
  assert.match(
    (await reply.json()).result.content[0].text,
    /^refused: .*roots\/list cannot reach the client: it has no stream open/,
  );
});
