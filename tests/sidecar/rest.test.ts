// The REST tool API: server-everything's tools listed and called over plain HTTP from a warm
// pooled session (one spawn, not one per call), per-credential pooling, and the error mapping.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { statusForError } from "../../sidecar/transport-rest.ts";
import { echoServer, EVERYTHING, leftovers, startTestSidecar, toolText, waitFor, type TestSidecar } from "./helpers.ts";

const HOOK = { timeout: 30_000 };
const TEST = { timeout: 60_000 };
let sidecar: TestSidecar;

before(async () => {
  sidecar = await startTestSidecar({
    mcpServers: {
      everything: { command: EVERYTHING },
      credentials: { command: EVERYTHING, envFromHeaders: { GITHUB_TOKEN: "x-github-token" } },
      echo: echoServer(),
      shared: echoServer({ mode: "shared" }),
    },
    sidecar: { gracePeriodMs: 500, retryAfterSeconds: 4 },
  });
}, HOOK);

after(async () => {
  await sidecar.close();
  assert.deepEqual(leftovers(process.pid), [], "children left after close");
}, HOOK);

const toolsUrl = (server: string, tool?: string) =>
  `${sidecar.url}/servers/${server}/tools${tool === undefined ? "" : `/${encodeURIComponent(tool)}`}`;

async function callTool(server: string, tool: string, args?: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(toolsUrl(server, tool), {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: args === undefined ? undefined : typeof args === "string" ? args : JSON.stringify(args),
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, any> };
}

const stats = async (server: string) => (await (await fetch(`${sidecar.url}/stats`)).json())[server];

test("server-everything: GET lists every tool; POST calls them; all calls share one warm child", TEST, async () => {
  const listed = await fetch(toolsUrl("everything"));
  assert.equal(listed.status, 200);
  const { tools } = (await listed.json()) as { tools: Array<{ name: string; inputSchema: object }> };
  assert.ok(
    tools.some((tool) => tool.name === "echo" && tool.inputSchema),
    "echo is listed with its schema",
  );
  const echoed = await callTool("everything", "echo", { message: "hello over REST" });
  assert.equal(echoed.status, 200);
  assert.match(toolText(echoed.body), /hello over REST/);
  const sums = await Promise.all([1, 2, 3, 4, 5].map((n) => callTool("everything", "get-sum", { a: n, b: 40 })));
  assert.deepEqual(
    sums.map((sum) => sum.status),
    [200, 200, 200, 200, 200],
  );
  sums.forEach((sum, i) => assert.match(toolText(sum.body), new RegExp(`\\b${i + 41}\\b`)));
  const { spawns, sessions } = await stats("everything");
  assert.equal(spawns, 1, "one child for every REST call");
  assert.equal(sessions, 1, "one pooled session");
  const live = (await (await fetch(`${sidecar.url}/status`)).json()) as {
    sessions: Array<{ server: string; transport: string }>;
  };
  assert.ok(live.sessions.some((s) => s.server === "everything" && s.transport === "rest"));
});

test(
  "error mapping: unknown tool 404, tool error 422, bad body 400/415, unknown server 404, wrong method 405",
  TEST,
  async () => {
    const unknown = await callTool("everything", "no-such-tool", {});
    assert.equal(unknown.status, 404);
    assert.match(unknown.body.error.message, /unknown tool "no-such-tool"/);
    const toolError = await callTool("everything", "get-sum", { a: "one" });
    assert.equal(toolError.status, 422);
    assert.equal(toolError.body.error.data.isError, true, "the tools/call result rides along");
    assert.equal((await callTool("everything", "echo", "[1, 2]")).status, 400);
    assert.equal((await callTool("everything", "echo", "{oops")).status, 400);
    assert.equal((await callTool("everything", "echo", "{}", { "content-type": "text/plain" })).status, 415);
    const noServer = await callTool("nope", "echo", {});
    assert.equal(noServer.status, 404);
    assert.match(noServer.body.error.message, /unknown MCP server/);
    assert.equal((await fetch(toolsUrl("everything", "echo"))).status, 405);
    assert.equal((await fetch(toolsUrl("everything"), { method: "POST" })).status, 405);
    // No body means no arguments.
    const empty = await callTool("echo", "whoami");
    assert.equal(empty.status, 200);
  },
);

test("JSON-RPC errors map to HTTP statuses", TEST, () => {
  const status = (code: number) => statusForError({ code, message: "" });
  assert.deepEqual(
    [-32700, -32600, -32602, -32601, -32603, -32000, -32001, -32029, -31999, 42].map(status),
    [400, 400, 400, 501, 502, 503, 504, 429, 502, 502],
  );
});

test("a child that dies mid-call: 503 with Retry-After; the next call gets a fresh pooled child", TEST, async () => {
  const first = JSON.parse(toolText((await callTool("echo", "whoami", {})).body)).pid;
  const crashed = await callTool("echo", "crash", {});
  assert.equal(crashed.status, 503);
  assert.equal(crashed.headers.get("retry-after"), "4");
  assert.match(crashed.body.error.message, /exited/);
  await waitFor(async () => (await stats("echo")).sessions === 0, 30_000, "the crashed session to end");
  const second = JSON.parse(toolText((await callTool("echo", "whoami", {})).body)).pid;
  assert.notEqual(second, first);
});

test("envFromHeaders: each set of credentials gets its own pooled child, and never sees another's", TEST, async () => {
  const env = async (token: string) =>
    JSON.parse(toolText((await callTool("credentials", "get-env", {}, { "x-github-token": token })).body)).GITHUB_TOKEN;
  assert.deepEqual(await Promise.all([env("alice"), env("bob"), env("alice"), env("bob")]), [
    "alice",
    "bob",
    "alice",
    "bob",
  ]);
  const { spawns, sessions } = await stats("credentials");
  assert.equal(spawns, 2);
  assert.equal(sessions, 2);
});

test("a shared server: REST calls ride on its one child", TEST, async () => {
  const pids = await Promise.all(
    [1, 2, 3].map(async () => JSON.parse(toolText((await callTool("shared", "whoami", {})).body)).pid),
  );
  assert.equal(new Set(pids).size, 1);
  assert.equal((await stats("shared")).spawns, 1);
});
