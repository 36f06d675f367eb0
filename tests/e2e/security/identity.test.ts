// No request runs in a backend session opened for another identity. The filter keys its reused backend sessions by
// a digest of every value that reaches the backend's identity: the upstream credential (passthroughAuthHeader,
// passthrough schemes) and the forwarded headers that are not trace context (a sidecar maps them into a child's
// environment with envFromHeaders). Users alternate through real Envoy (two workers, so two VMs and their sessions)
// and every call is checked for its own value.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { own, waitFor } from "../../helpers/harness.ts";
import { startTestSidecar, EVERYTHING } from "../../sidecar/helpers.ts";
import { startSdkBackend } from "../../fixtures/backends/sdk-backend.ts";
import { startScriptedBackend } from "../../fixtures/backends/scripted-backend.ts";
import { startSdkLegacyBackend } from "../../fixtures/backends/legacy-sse-backend.ts";
import { httpServer, json, post, startGateway } from "../../helpers/gateway.ts";
import { SSE_ROUTES, sseServer } from "../../helpers/sse-backends.ts";

const USER_HEADER = "x-user-token";
const forwardHeaders = ["traceparent", "tracestate", "baggage", "x-request-id", USER_HEADER];

/** The filter in front of a sidecar whose server-everything child gets USER_TOKEN from the request's header. */
async function sidecarGateway(t: TestContext, top: Record<string, unknown> = {}, concurrency?: number) {
  const sidecar = await own(
    t,
    startTestSidecar({
      mcpServers: {
        everything: { command: EVERYTHING, args: ["stdio"], envFromHeaders: { USER_TOKEN: USER_HEADER } },
      },
    }),
  );
  const pluginConfig = {
    forwardHeaders,
    ...top,
    servers: [{ name: "everything", pathPrefix: "/mcp", cluster: "sidecar", transport: "stdio", timeout: 30_000 }],
  };
  return startGateway(t, {
    pluginConfig,
    clusters: { sidecar: sidecar.port },
    ...(concurrency ? { concurrency } : {}),
  });
}

/** USER_TOKEN in the environment of the child that ran this get-env call. */
async function tokenSeenBy(url: string, id: number, user: string): Promise<string | undefined> {
  const reply = await post(
    url,
    { jsonrpc: "2.0", id, method: "tools/call", params: { name: "get-env", arguments: {} } },
    [[USER_HEADER, user]],
  );
  const body = json(reply);
  assert.ok(body.result, `call ${id} as ${user}: ${reply.body.slice(0, 300)}`);
  return JSON.parse(body.result.content[0].text).USER_TOKEN;
}

async function alternate(url: string, users: string[], calls: number): Promise<void> {
  for (let id = 0; id < calls; id++) {
    const user = users[id % users.length];
    assert.equal(await tokenSeenBy(url, id, user), user, `call ${id} ran with another user's token`);
  }
}

test(
  "stdio through the sidecar: two users alternating 16 calls, each runs with its own token",
  { timeout: 120_000 },
  async (t) => {
    const { url } = await sidecarGateway(t);
    await alternate(url, ["alice-token", "bob-token"], 16);
  },
);

test(
  "stdio through the sidecar: three users alternating, each runs with its own token",
  { timeout: 120_000 },
  async (t) => {
    const { url } = await sidecarGateway(t);
    await alternate(url, ["alice-token", "bob-token", "carol-token"], 18);
  },
);

test(
  "identities count towards maxBackendSessions: three users over a limit of two still each get their own child",
  { timeout: 120_000 },
  async (t) => {
    // One worker, so that one VM sees all three identities (with two, Envoy may give each worker only two of them).
    const { url, envoy } = await sidecarGateway(t, { maxBackendSessions: 2 }, 1);
    await alternate(url, ["alice-token", "bob-token", "carol-token"], 12);
    // The VM keeps two sessions at most: a third identity evicts the least recently used one, DELETEd after the call
    // that needed its place (so the count may land after that call's reply).
    await waitFor(
      "the least recently used sessions' DELETEs",
      async () => (await envoy.stat("mcp-proxy.upstream.everything.delete")) > 0,
    );
  },
);

test(
  "trace context is not identity: calls with different traceparent values share one session",
  { timeout: 60_000 },
  async (t) => {
    const backend = await own(t, startSdkBackend("json"));
    const { url } = await startGateway(t, {
      concurrency: 1,
      pluginConfig: httpServer({}, { forwardHeaders }),
      clusters: { backend: backend.port },
    });
    for (let id = 1; id <= 3; id++) {
      const traceparent = `00-${String(id).padStart(32, "0")}-${"1".repeat(16)}-01`;
      assert.ok(
        json(
          await post(url, { jsonrpc: "2.0", id, method: "tools/list" }, [
            ["traceparent", traceparent],
            [USER_HEADER, "same"],
          ]),
        ).result,
      );
    }
    assert.equal(backend.requests.filter((r) => r.rpcMethod === "initialize").length, 1);
    const traced = backend.requests.filter((r) => r.rpcMethod === "tools/list").map((r) => r.headers.traceparent);
    assert.equal(new Set(traced).size, 3, "each request carries its own trace context");
  },
);

test(
  "passthroughAuthHeader: each client's Authorization gets its own backend session, and every call carries its own",
  { timeout: 60_000 },
  async (t) => {
    const backend = await own(t, startScriptedBackend());
    const { url } = await startGateway(t, {
      pluginConfig: httpServer({ passthroughAuthHeader: true }),
      clusters: { backend: backend.port },
    });
    const users = ["Bearer alice", "Bearer bob"];
    for (let id = 0; id < 8; id++) {
      const auth = users[id % 2];
      const reply = json(
        await post(url, { jsonrpc: "2.0", id, method: "tools/call", params: { name: "alpha", arguments: {} } }, [
          ["authorization", auth],
        ]),
      );
      assert.ok(reply.result, JSON.stringify(reply));
    }
    const calls = backend.seen.filter((s) => s.body?.method === "tools/call");
    assert.equal(calls.length, 8);
    const sessionsByUser = new Map<string, Set<string>>();
    for (const call of calls) {
      const auth = String(call.headers.authorization);
      if (!sessionsByUser.has(auth)) sessionsByUser.set(auth, new Set());
      sessionsByUser.get(auth)!.add(String(call.headers["mcp-session-id"]));
    }
    assert.deepEqual([...sessionsByUser.keys()].sort(), users);
    const [alice, bob] = users.map((u) => sessionsByUser.get(u)!);
    assert.ok(
      [...alice].every((s) => !bob.has(s)),
      "no session served both users",
    );
  },
);

test(
  "legacy SSE backends open a stream per request: every POST carries its own user's header",
  { timeout: 60_000 },
  async (t) => {
    const backend = await own(t, startSdkLegacyBackend(""));
    const { url } = await startGateway(t, {
      pluginConfig: sseServer("http://backend/sse", {}, { forwardHeaders }),
      clusters: { backend: backend.port },
      routes: SSE_ROUTES,
    });
    const users = ["alice-token", "bob-token"];
    for (let id = 0; id < 6; id++) {
      assert.ok(
        json(await post(url, { jsonrpc: "2.0", id, method: "tools/list" }, [[USER_HEADER, users[id % 2]]])).result,
      );
    }
    const lists = backend.seen.filter((s) => s.rpc === "tools/list").map((s) => s.headers[USER_HEADER]);
    assert.deepEqual(
      lists,
      [0, 1, 2, 3, 4, 5].map((i) => users[i % 2]),
    );
  },
);

test(
  "an identity that goes away is cleaned up like any idle session: its backend session is DELETEd",
  { timeout: 60_000 },
  async (t) => {
    const backend = await own(t, startSdkBackend("json"));
    const { url } = await startGateway(t, {
      concurrency: 1,
      clusters: { backend: backend.port },
      pluginConfig: httpServer({}, { forwardHeaders, sessionIdleTimeoutMs: 300 }),
    });
    for (const user of ["alice-token", "bob-token"]) {
      assert.ok(json(await post(url, { jsonrpc: "2.0", id: 1, method: "tools/list" }, [[USER_HEADER, user]])).result);
    }
    const sessions = new Set(backend.requests.map((r) => r.headers["mcp-session-id"]).filter((id) => id !== undefined));
    assert.equal(sessions.size, 2, "one session per identity");
    await waitFor(
      "both identities' sessions to be DELETEd once idle",
      () => [...sessions].every((id) => backend.deleted.includes(id as string)),
      20_000,
    );
  },
);
