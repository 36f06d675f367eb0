// envFromHeaders and who a session belongs to, straight against the sidecar with real stdio children:
// users alternating on their own sessions each see their own value in every call (server-everything's
// get-env dumps its child's environment), a session refuses (403, JSON-RPC error) any request whose
// mapped headers differ from those it was opened with, on every transport that carries headers, and
// those sessions count towards the limits and idle out like any other. No log holds a header value.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { WebSocket } from "ws";
import {
  closeAll,
  connect,
  echoServer,
  EVERYTHING,
  initializeRequest,
  isAlive,
  leftovers,
  openSocket,
  post,
  rpc,
  sseData,
  startTestSidecar,
  toolText,
  waitFor,
  wsUrl,
  type TestSidecar,
} from "./helpers.ts";

const TOKEN = "x-user-token";
const ORG = "x-user-org";
const HOOK = { timeout: 30_000 };
const TEST = { timeout: 90_000 };
/** Every header value this file sends: none may ever show up in a log record. */
const sent = new Set<string>();
let sidecar: TestSidecar;
const clients: Client[] = [];
const sockets: WebSocket[] = [];

before(async () => {
  sidecar = await startTestSidecar({
    mcpServers: {
      everything: { command: EVERYTHING, envFromHeaders: { USER_TOKEN: TOKEN } },
      echo: echoServer({ envFromHeaders: { USER_TOKEN: TOKEN, USER_ORG: ORG } }),
      limited: echoServer({ envFromHeaders: { USER_TOKEN: TOKEN }, maxSessions: 3 }),
      // Nothing is asked of these sessions after initialize, so the short timeout races no request.
      brief: echoServer({ envFromHeaders: { USER_TOKEN: TOKEN }, idleTimeoutMs: 300 }),
      shared: echoServer({ mode: "shared" }),
    },
    sidecar: { gracePeriodMs: 500 },
  });
}, HOOK);

after(() => closeAll(sidecar, clients, sockets), HOOK);

const endpoint = (server: string, path = "mcp") => `${sidecar.url}/servers/${server}/${path}`;

/** The headers of a user, remembered so that the logs can be searched for their values. */
function user(token: string, org?: string): Record<string, string> {
  sent.add(token);
  if (org === undefined) return { [TOKEN]: token };
  sent.add(org);
  return { [TOKEN]: token, [ORG]: org };
}

async function sdkClient(
  server: string,
  transport: "streamable" | "sse",
  headers: Record<string, string>,
): Promise<Client> {
  const client = await connect(endpoint(server, transport === "sse" ? "sse" : "mcp"), { transport, headers });
  clients.push(client);
  return client;
}

/** server-everything's get-env (or the echo fixture's env): the environment of the session's child. */
async function childEnv(client: Client, tool = "get-env"): Promise<Record<string, string>> {
  return JSON.parse(toolText(await client.callTool({ name: tool, arguments: {} })));
}

const envCall = (id: number | string, tool = "get-env") => ({
  jsonrpc: "2.0",
  id,
  method: "tools/call",
  params: { name: tool, arguments: {} },
});
const initialized = { jsonrpc: "2.0", method: "notifications/initialized" };
type Reply = { id: unknown; result?: { content: Array<{ text: string }> }; error?: { code: number; message: string } };

/** A Streamable HTTP session opened by hand with these headers; resolves with its id. */
async function openRaw(server: string, headers: Record<string, string>): Promise<string> {
  const response = await post(endpoint(server), initializeRequest(), headers);
  assert.equal(response.status, 200, await response.clone().text());
  await response.json();
  const id = response.headers.get("mcp-session-id")!;
  assert.equal((await post(endpoint(server), initialized, { ...headers, "mcp-session-id": id })).status, 202);
  return id;
}

const onSession = (session: string, headers: Record<string, string>) => ({ ...headers, "mcp-session-id": session });

/** A tools/call of the env tool on a raw session: the child's environment, or the HTTP refusal. */
async function rawEnv(server: string, session: string, headers: Record<string, string>, tool = "get-env") {
  const response = await post(endpoint(server), envCall(7, tool), onSession(session, headers));
  const body = (await response.json()) as Reply;
  return {
    status: response.status,
    body,
    env: body.result ? (JSON.parse(body.result.content[0].text) as Record<string, string>) : undefined,
  };
}

/** What a refusal must look like: 403, a JSON-RPC error naming the header(s), no value of any. */
async function assertRefused(response: Response, headerNames: RegExp): Promise<void> {
  assert.equal(response.status, 403);
  const text = await response.text();
  const body = JSON.parse(text) as { jsonrpc: string; id: unknown; error: { code: number; message: string } };
  assert.equal(body.jsonrpc, "2.0");
  assert.equal(body.id, null);
  assert.equal(body.error.code, -32600);
  assert.match(body.error.message, headerNames);
  assert.match(body.error.message, /open a new session/);
  for (const value of sent) assert.ok(!text.includes(value), "a header value in the refusal");
}

const spawnsOf = async (server: string) =>
  (await (await fetch(`${sidecar.url}/stats`)).json())[server] as {
    sessions: number;
    spawns: number;
    children: number;
  };

test("two users alternating 16 get-env calls on their own sessions: each call sees its own token", TEST, async () => {
  const before = (await spawnsOf("everything")).spawns;
  const users = [
    { name: "alice", client: await sdkClient("everything", "streamable", user("token-alice")) },
    { name: "bob", client: await sdkClient("everything", "streamable", user("token-bob")) },
  ];
  for (let call = 0; call < 16; call++) {
    const { name, client } = users[call % 2];
    assert.equal((await childEnv(client)).USER_TOKEN, `token-${name}`, `call ${call} by ${name}`);
  }
  assert.equal((await spawnsOf("everything")).spawns - before, 2, "one child per session");
});

for (const transport of ["streamable", "sse"] as const) {
  test(`three users alternating on their own ${transport} sessions: each call sees its own token`, TEST, async () => {
    const names = ["carol", "dave", "erin"];
    const users = await Promise.all(
      names.map(async (name) => ({
        name,
        client: await sdkClient("everything", transport, user(`${transport}-token-${name}`)),
      })),
    );
    for (let call = 0; call < 12; call++) {
      const { name, client } = users[call % 3];
      assert.equal((await childEnv(client)).USER_TOKEN, `${transport}-token-${name}`, `call ${call} by ${name}`);
    }
  });
}

test(
  "three users alternating on their own WebSocket sessions: each call sees its own token; the session is the connection's alone",
  TEST,
  async () => {
    const names = ["frank", "grace", "heidi"];
    const users = await Promise.all(
      names.map(async (name) => {
        const ws = await openSocket(`${wsUrl(sidecar, "/servers/everything/ws")}`, {
          headers: user(`ws-token-${name}`),
        });
        sockets.push(ws);
        assert.equal((await rpc(ws, initializeRequest(1))).error, undefined);
        ws.send(JSON.stringify(initialized));
        return { name, ws };
      }),
    );
    for (let call = 0; call < 12; call++) {
      const { name, ws } = users[call % 3];
      const reply = await rpc(ws, envCall(100 + call));
      assert.equal(JSON.parse(toolText(reply.result)).USER_TOKEN, `ws-token-${name}`, `call ${call} by ${name}`);
    }
    // Headers exist only at the upgrade; the session cannot be reached from anywhere but its socket,
    // not even with its id and its own user's header.
    const wsSessions = sidecar.logs.filter(
      (r) => r.msg === "session opened" && r.server === "everything" && r.transport === "ws",
    );
    assert.equal(wsSessions.length, 3);
    for (const record of wsSessions) {
      const response = await post(endpoint("everything"), envCall(1), {
        ...user("ws-token-frank"),
        "mcp-session-id": record.session as string,
      });
      assert.equal(response.status, 404);
    }
  },
);

test(
  "another user's header on a session: POST, GET and DELETE get 403 with a JSON-RPC error; the session keeps working for its owner",
  TEST,
  async () => {
    const alice = user("token-alice");
    const mallory = user("token-mallory");
    const session = await openRaw("everything", alice);
    assert.equal((await rawEnv("everything", session, alice)).env?.USER_TOKEN, "token-alice");

    await assertRefused(
      await post(endpoint("everything"), envCall(2), onSession(session, mallory)),
      /"x-user-token" header differs/,
    );
    await assertRefused(await post(endpoint("everything"), initialized, onSession(session, mallory)), /"x-user-token"/);
    await assertRefused(
      await fetch(endpoint("everything"), { headers: { ...onSession(session, mallory), accept: "text/event-stream" } }),
      /"x-user-token"/,
    );
    await assertRefused(
      await fetch(endpoint("everything"), { method: "DELETE", headers: onSession(session, mallory) }),
      /"x-user-token"/,
    );

    const afterwards = await rawEnv("everything", session, alice);
    assert.equal(afterwards.status, 200);
    assert.equal(afterwards.env?.USER_TOKEN, "token-alice", "the owner still reaches her own child");
    const refusals = sidecar.logs.filter(
      (r) => r.msg === "request refused: its envFromHeaders headers differ from the session's" && r.session === session,
    );
    assert.equal(refusals.length, 4);
    const opened = sidecar.logs.find((r) => r.msg === "session opened" && r.session === session);
    for (const record of refusals) {
      assert.equal(record.level, "warn");
      assert.match(String(record.opened), /^[0-9a-f]{8}$/);
      assert.equal(
        record.opened,
        opened?.identity,
        "the refusal names the session's identity by the tag it was opened with",
      );
      assert.notEqual(record.given, record.opened);
    }
    const deleted = await fetch(endpoint("everything"), { method: "DELETE", headers: onSession(session, alice) });
    assert.equal(deleted.status, 200, "the owner can end it");
  },
);

test(
  "a header missing on a session opened with it, present on one opened without it, or one of two changed: 403 each time",
  TEST,
  async () => {
    const both = user("token-ivan", "org-ivan");
    const withHeaders = await openRaw("echo", both);
    await assertRefused(
      await post(endpoint("echo"), envCall(1, "env"), onSession(withHeaders, {})),
      /"x-user-token", "x-user-org" headers differ/,
    );
    await assertRefused(
      await post(endpoint("echo"), envCall(2, "env"), onSession(withHeaders, { [TOKEN]: "token-ivan" })),
      /headers differ/,
    );
    await assertRefused(
      await post(endpoint("echo"), envCall(3, "env"), onSession(withHeaders, user("token-ivan", "org-judy"))),
      /headers differ/,
    );
    // An empty value is a value: it is not the same as no header.
    await assertRefused(
      await post(endpoint("echo"), envCall(4, "env"), onSession(withHeaders, { [TOKEN]: "token-ivan", [ORG]: "" })),
      /headers differ/,
    );
    const owner = await rawEnv("echo", withHeaders, both, "env");
    assert.deepEqual([owner.env?.USER_TOKEN, owner.env?.USER_ORG], ["token-ivan", "org-ivan"]);

    const without = await openRaw("echo", {});
    await assertRefused(
      await post(endpoint("echo"), envCall(5, "env"), onSession(without, user("token-judy"))),
      /headers differ/,
    );
    await assertRefused(
      await post(endpoint("echo"), envCall(6, "env"), onSession(without, { [ORG]: "" })),
      /headers differ/,
    );
    const anonymous = await rawEnv("echo", without, {}, "env");
    assert.equal(anonymous.status, 200);
    assert.equal(anonymous.env?.USER_TOKEN, undefined);
    assert.equal(anonymous.env?.USER_ORG, undefined);
  },
);

test(
  "legacy SSE: a POST to the message endpoint with another user's header gets 403; the stream goes on for its owner",
  TEST,
  async () => {
    const kate = user("token-kate");
    const controller = new AbortController();
    try {
      const stream = await fetch(endpoint("everything", "sse"), {
        headers: { ...kate, accept: "text/event-stream" },
        signal: controller.signal,
      });
      assert.equal(stream.status, 200);
      const events = sseData(stream.body!);
      const messages = new URL((await events.next()).value!, stream.url).href;
      // The stream also carries the child's own notifications: the next reply is the next message with an id.
      const nextReply = async () => {
        for (;;) {
          const message = JSON.parse((await events.next()).value!) as Reply & { method?: string };
          if (message.method === undefined) return message;
        }
      };
      assert.equal((await post(messages, initializeRequest(1), kate)).status, 202);
      assert.equal((await nextReply()).id, 1);
      assert.equal((await post(messages, initialized, kate)).status, 202);

      await assertRefused(await post(messages, envCall(2), user("token-leo")), /"x-user-token" header differs/);
      await assertRefused(await post(messages, envCall(3), {}), /"x-user-token" header differs/);

      assert.equal((await post(messages, envCall(4), kate)).status, 202);
      const reply = await nextReply();
      assert.equal(reply.id, 4, "the refused requests never reached the child");
      assert.equal(JSON.parse(reply.result!.content[0].text).USER_TOKEN, "token-kate");
    } finally {
      controller.abort();
    }
  },
);

test(
  "REST: three users and a caller without the header alternate, each on a pooled child of their own",
  TEST,
  async () => {
    const callers = [user("rest-token-mia"), user("rest-token-nick"), user("rest-token-olga"), {}];
    const before = await spawnsOf("everything");
    for (let call = 0; call < 12; call++) {
      const headers = callers[call % 4];
      const response = await fetch(`${sidecar.url}/servers/everything/tools/get-env`, { method: "POST", headers });
      assert.equal(response.status, 200);
      const env = JSON.parse(toolText(await response.json()));
      assert.equal(env.USER_TOKEN, headers[TOKEN], `call ${call}`);
    }
    const afterwards = await spawnsOf("everything");
    assert.equal(afterwards.spawns - before.spawns, 4, "one pooled child per identity, reused");
  },
);

test(
  "each identity's session counts towards maxSessions: 429 beyond it, nothing spawned; a slot frees when one ends",
  TEST,
  async () => {
    const owners = [user("limit-1"), user("limit-2"), user("limit-3")];
    const sessions = [];
    for (const headers of owners) sessions.push(await openRaw("limited", headers));
    const running = new Set(leftovers(process.pid).map((p) => p.pid));
    const refused = await post(endpoint("limited"), initializeRequest(9), user("limit-4"));
    assert.equal(refused.status, 429);
    assert.ok(refused.headers.get("retry-after"));
    assert.match(((await refused.json()) as Reply).error!.message, /too many sessions for "limited" \(limit 3\)/);
    const rest = await fetch(`${sidecar.url}/servers/limited/tools/env`, { method: "POST", headers: user("limit-4") });
    assert.equal(rest.status, 429, "a REST caller's pooled session counts too");
    await rest.arrayBuffer();
    assert.deepEqual(
      leftovers(process.pid).filter((p) => !running.has(p.pid)),
      [],
      "a child was spawned for a refused session",
    );

    // Someone else cannot free a slot by ending another user's session.
    assert.equal(
      (await fetch(endpoint("limited"), { method: "DELETE", headers: onSession(sessions[0], owners[1]) })).status,
      403,
    );
    assert.equal((await post(endpoint("limited"), initializeRequest(10), user("limit-4"))).status, 429);
    assert.equal(
      (await fetch(endpoint("limited"), { method: "DELETE", headers: onSession(sessions[0], owners[0]) })).status,
      200,
    );
    const fourth = await openRaw("limited", user("limit-4"));
    assert.equal((await rawEnv("limited", fourth, user("limit-4"), "env")).env?.USER_TOKEN, "limit-4");
  },
);

test(
  "sessions of users who went away end after idleTimeoutMs like any idle session: children stopped, slots freed",
  TEST,
  async () => {
    const sessions = await Promise.all(
      [user("idle-pat"), user("idle-quinn")].map(async (headers) => {
        const response = await post(endpoint("brief"), initializeRequest(), headers);
        assert.equal(response.status, 200);
        await response.json();
        return { id: response.headers.get("mcp-session-id")!, headers };
      }),
    );
    const pids = sessions.map(
      ({ id }) => sidecar.logs.find((r) => r.msg === "child started" && r.session === id)?.pid as number,
    );
    assert.equal(pids.filter((pid) => Number.isInteger(pid)).length, 2, "each session started a child of its own");
    assert.notEqual(pids[0], pids[1]);
    const endedIdle = (id: string) =>
      sidecar.logs.some((r) => r.msg === "session ended" && r.session === id && r.reason === "idle");
    await waitFor(() => sessions.every(({ id }) => endedIdle(id)), 30_000, "both sessions to idle out");
    await waitFor(() => pids.every((pid) => !isAlive(pid)), 30_000, "both children to be stopped");
    await waitFor(async () => (await spawnsOf("brief")).sessions === 0, 30_000, "both slots to be freed");
    for (const { id, headers } of sessions) {
      assert.equal((await post(endpoint("brief"), envCall(1, "env"), onSession(id, headers))).status, 404);
    }
  },
);

test("a shared child runs with the catalog's environment only: no client's header reaches it", TEST, async () => {
  const client = await sdkClient("shared", "streamable", user("token-ruth"));
  const env = await childEnv(client, "env");
  assert.equal(env.USER_TOKEN, undefined);
  assert.ok(!Object.values(env).includes("token-ruth"), "a client's header value in the shared child's environment");
});

test("no log record holds a header value; /status shows session ids cut short", TEST, async () => {
  assert.ok(sent.size >= 20, `only ${sent.size} values were sent`);
  const logged = JSON.stringify(sidecar.logs);
  for (const value of sent) assert.ok(!logged.includes(value), `"${value}" was logged`);
  const status = (await (await fetch(`${sidecar.url}/status`)).json()) as { problems: Array<{ session?: string }> };
  const refusals = status.problems.filter((p) => p.session !== undefined);
  assert.ok(refusals.length >= 4, "the refusals are among the problems");
  for (const problem of refusals) assert.equal(problem.session!.length, 6, "a whole session id on /status");
});
