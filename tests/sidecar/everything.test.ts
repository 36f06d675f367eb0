// The real thing: @modelcontextprotocol/server-everything over stdio, reached with the SDK client
// through both HTTP transports of the sidecar.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import {
  closeWithDelete,
  connect,
  EVERYTHING,
  leftovers,
  startTestSidecar,
  toolText,
  waitFor,
  type TestSidecar,
} from "./helpers.ts";

const SECRET = "SIDECAR_TEST_SECRET";
const HOOK = { timeout: 30_000 };
const TEST = { timeout: 60_000 };
let sidecar: TestSidecar;
const clients: Client[] = [];

before(async () => {
  // Set on the sidecar's own process: a child must never see it.
  process.env[SECRET] = "do-not-leak";
  sidecar = await startTestSidecar({
    mcpServers: {
      everything: {
        command: EVERYTHING,
        env: { FROM_CATALOG: "catalog-value" },
        envFromHeaders: { GITHUB_TOKEN: "X-GitHub-Token" },
      },
    },
  });
}, HOOK);

after(async () => {
  await Promise.allSettled(clients.map((client) => client.close()));
  await sidecar.close();
  delete process.env[SECRET];
}, HOOK);

async function open(transport: "streamable" | "sse", headers?: Record<string, string>): Promise<Client> {
  const path = transport === "sse" ? "sse" : "mcp";
  const client = await connect(`${sidecar.url}/servers/everything/${path}`, { transport, headers });
  clients.push(client);
  return client;
}

for (const transport of ["streamable", "sse"] as const) {
  test(`${transport}: lists tools and calls echo on server-everything`, TEST, async () => {
    const client = await open(transport);
    const { tools } = await client.listTools();
    assert.ok(
      tools.some((tool) => tool.name === "echo"),
      "echo is listed",
    );
    assert.ok(
      tools.some((tool) => tool.name === "get-env"),
      "get-env is listed",
    );
    const result = await client.callTool({ name: "echo", arguments: { message: `hello over ${transport}` } });
    assert.match(toolText(result), new RegExp(`hello over ${transport}`));
    const sum = await client.callTool({ name: "get-sum", arguments: { a: 2, b: 40 } });
    assert.match(toolText(sum), /42/);
  });
}

test("envFromHeaders reaches each session's child; the sidecar's own environment does not", TEST, async () => {
  const [alice, bob] = await Promise.all([
    open("streamable", { "x-github-token": "token-alice" }),
    open("sse", { "x-github-token": "token-bob" }),
  ]);
  const readEnv = async (client: Client) =>
    JSON.parse(toolText(await client.callTool({ name: "get-env", arguments: {} }))) as Record<string, string>;
  const [aliceEnv, bobEnv] = await Promise.all([readEnv(alice), readEnv(bob)]);
  assert.equal(aliceEnv.GITHUB_TOKEN, "token-alice");
  assert.equal(bobEnv.GITHUB_TOKEN, "token-bob");
  assert.equal(aliceEnv.FROM_CATALOG, "catalog-value");
  assert.equal(aliceEnv[SECRET], undefined, "the sidecar's secret leaked into the child");
  assert.ok(aliceEnv.PATH, "PATH is passed on");
  const allowed = new Set([
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TERM",
    "SHELL",
    "TMPDIR",
    "TZ",
    "GITHUB_TOKEN",
    "FROM_CATALOG",
  ]);
  // Node or npm may add a few variables of their own inside the child; none may come from our environment.
  const inherited = Object.keys(aliceEnv).filter((name) => !allowed.has(name) && process.env[name] === aliceEnv[name]);
  assert.deepEqual(inherited, [], "variables copied from the sidecar's environment");
});

test("closing the clients leaves no server-everything process behind", TEST, async () => {
  const groups = leftovers(process.pid).map((p) => p.pgid);
  assert.ok(groups.length > 0, "children were running");
  await Promise.all(clients.splice(0).map(closeWithDelete));
  await waitFor(() => leftovers(process.pid, groups).length === 0, 30_000, "children to exit");
});
