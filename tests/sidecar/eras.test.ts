// Both eras of MCP at /servers/NAME/mcp, whichever era the stdio child speaks: 2026-07-28 clients (SDK 2.x pinned,
// and 'auto') on 2025 children (server-everything; the 2.x fixture opened with initialize), whose requests to the
// client become input_required by replay; 2025 clients on a child that speaks only 2026-07-28, whose input_required
// results become 2025 requests; 2026-07-28 clients on that child, as they are; and the 2026-07-28 wire rules.
import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
import { after, before, test } from "node:test";
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
  post,
  sseData,
  scratchFiles,
  startTestSidecar,
  toolText,
  waitFor,
  type Negotiation,
  type TestSidecar,
} from "./helpers.ts";
import { allText, answering, answeringModern, CLIENT_CAPABILITIES } from "./answering.ts";

const HOOK = { timeout: 30_000 };
const TEST = { timeout: 60_000 };
const WAIT_MS = 20_000;
const MODERN = "2026-07-28";
const PINNED: Negotiation = { pin: MODERN };
const scratch = scratchFiles("sidecar-eras-");
let sidecar: TestSidecar;

before(async () => {
  sidecar = await startTestSidecar({
    mcpServers: {
      everything: { command: EVERYTHING },
      // Opened with initialize, the dual fixture is a 2025 server; declared 2026-07-28, it is a 2026 one.
      legacy: dualEraServer("dual"),
      declared: dualEraServer("dual", { protocol: MODERN }),
      modern: dualEraServer("2026"),
      refusing: dualEraServer("dual", { inputRequired: "refuse" }),
      users: dualEraServer("dual", { envFromHeaders: { USER_TOKEN: "x-user-token" } }),
      shared: dualEraServer("dual", { mode: "shared" }),
    },
  });
}, HOOK);

after(async () => {
  await sidecar.close();
  scratch.remove();
}, HOOK);

const url = (server: string) => `${sidecar.url}/servers/${server}/mcp`;
const tempFile = scratch.file;

/**
 * Calls the fixture's progress-then-wait, which holds its result until the client has seen its progress (it waits for
 * the file the progress handler writes): progress is shown to arrive before the result, with no sleeps.
 */
async function progressThenWait(client: Awaited<ReturnType<typeof connectModern>>) {
  const releaseFile = tempFile("release");
  const progress: number[] = [];
  const result = await client.callTool(
    { name: "progress-then-wait", arguments: { releaseFile } },
    {
      onprogress: (update) => {
        progress.push(update.progress);
        writeFileSync(releaseFile, "seen");
      },
    },
  );
  return { text: toolText(result), progress };
}

const modernClient = (
  server: string,
  negotiation: Negotiation = PINNED,
  asked?: string[],
  headers?: Record<string, string>,
) =>
  connectModern(url(server), {
    negotiation,
    capabilities: CLIENT_CAPABILITIES,
    prepare: answeringModern(asked),
    headers,
  });

// --- 2026-07-28 clients, 2025 children -------------------------------------------------------------------------

for (const negotiation of [PINNED, "auto"] as const) {
  const name = typeof negotiation === "string" ? negotiation : "pinned to 2026-07-28";
  test(
    `SDK 2.x (${name}) on server-everything (2025): tools, progress, and its sampling and elicitation through input_required`,
    TEST,
    async () => {
      const asked: string[] = [];
      const client = await modernClient("everything", negotiation, asked);
      assert.equal(client.getNegotiatedProtocolVersion(), MODERN);
      // server-everything asks for the roots on its own 350 ms after initialize: a call in flight then would be taken
      // for the one asking (stdio says nothing of it) and run a second round. Its request is refused once it came.
      await waitFor(
        () =>
          sidecar.logs.some(
            (record) =>
              record.server === "everything" &&
              record.method === "roots/list" &&
              record.msg === "the child asked a client something outside any call; refused",
          ),
        WAIT_MS,
        "server-everything's own roots request",
      );
      const { tools } = await client.listTools();
      assert.ok(
        tools.some((tool) => tool.name === "trigger-elicitation-request"),
        "the child was told its client can answer everything",
      );
      assert.match(toolText(await client.callTool({ name: "get-sum", arguments: { a: 2, b: 40 } })), /42/);
      const progress: number[] = [];
      await client.callTool(
        { name: "trigger-long-running-operation", arguments: { duration: 0.2, steps: 2 } },
        {
          onprogress: (update) => {
            progress.push(update.progress);
          },
        },
      );
      assert.deepEqual(progress, [1, 2]);
      assert.match(
        allText(await client.callTool({ name: "trigger-sampling-request", arguments: { prompt: "hi", maxTokens: 5 } })),
        /a sampled reply/,
      );
      assert.match(allText(await client.callTool({ name: "trigger-elicitation-request", arguments: {} })), /Name: Ada/);
      assert.deepEqual(asked, ["sampling", "elicitation: Please provide inputs for the following fields:"]);
    },
  );
}

test(
  "SDK 2.x (2026-07-28) on a 2025 child: questions in several rounds, roots, progress before the result",
  TEST,
  async () => {
    const asked: string[] = [];
    const client = await modernClient("legacy", PINNED, asked);
    assert.equal(toolText(await client.callTool({ name: "era", arguments: {} })), "legacy");
    // Each round runs the tool again with every answer so far; the child asks the second question only then.
    assert.equal(
      toolText(await client.callTool({ name: "two-questions", arguments: {} })),
      "answer to Your name? likes answer to Your colour?",
    );
    assert.deepEqual(asked, ["elicitation: Your name?", "elicitation: Your colour?"]);
    assert.equal(toolText(await client.callTool({ name: "roots", arguments: {} })), "file:///work/project");
    assert.equal(
      toolText(await client.callTool({ name: "sample", arguments: { prompt: "hi" } })),
      "model said: a sampled reply",
    );
    assert.deepEqual(await progressThenWait(client), { text: "released", progress: [1] });
  },
);

test(
  "SDK 2.x (2026-07-28) on a 2025 child: log messages at the level of the request's envelope, none without one",
  TEST,
  async () => {
    const client = await modernClient("legacy");
    const levels: string[] = [];
    client.setNotificationHandler("notifications/message", (notification) => {
      levels.push(notification.params.level);
    });
    await client.callTool({ name: "log", arguments: {} });
    await client.callTool({ name: "log", arguments: {}, _meta: { "io.modelcontextprotocol/logLevel": "warning" } });
    await waitFor(() => levels.includes("error"), WAIT_MS, "the error message");
    assert.deepEqual(levels, ["warning", "error"]);
  },
);

test(
  "SDK 2.x (2026-07-28) on a 2025 child: subscriptions/listen gets resource updates and list changes",
  TEST,
  async () => {
    const client = await modernClient("legacy");
    const events: string[] = [];
    client.setNotificationHandler("notifications/resources/updated", (notification) => {
      events.push(`updated ${notification.params.uri}`);
    });
    client.setNotificationHandler("notifications/tools/list_changed", () => {
      events.push("tools changed");
    });
    const subscription = await client.listen({
      resourceSubscriptions: ["fixture://watched"],
      toolsListChanged: true,
      promptsListChanged: true,
    });
    assert.deepEqual(
      subscription.honoredFilter,
      { toolsListChanged: true, resourceSubscriptions: ["fixture://watched"] },
      "the child has no prompts to announce",
    );
    await client.callTool({ name: "touch", arguments: {} });
    await client.callTool({ name: "announce", arguments: {} });
    await waitFor(() => events.length === 2, WAIT_MS, "the update and the list change");
    assert.deepEqual(events, ["updated fixture://watched", "tools changed"]);
    await subscription.close();
    assert.equal(await subscription.closed, "local");
  },
);

test("a 2026-07-28 client that closes its response stream cancels the call on the 2025 child", TEST, async () => {
  const client = await modernClient("legacy");
  const markerFile = tempFile("cancelled");
  const aborter = new AbortController();
  const call = client.callTool(
    { name: "wait-for-cancel", arguments: { markerFile } },
    { signal: aborter.signal, onprogress: () => aborter.abort("the test cancels") },
  );
  await assert.rejects(call);
  await waitFor(() => existsSync(markerFile), WAIT_MS, "the child to see the cancellation");
});

test("concurrent 2026-07-28 calls run on children of their own, each with its own progress", TEST, async () => {
  const client = await modernClient("users", PINNED, undefined, { "x-user-token": "concurrent" });
  const started = sidecar.logs.filter((record) => record.msg === "child started" && record.server === "users").length;
  // Both wait for their own progress to be seen: on one child, a log message or question could not tell them apart.
  assert.deepEqual(await Promise.all([progressThenWait(client), progressThenWait(client)]), [
    { text: "released", progress: [1] },
    { text: "released", progress: [1] },
  ]);
  const spawned =
    sidecar.logs.filter((record) => record.msg === "child started" && record.server === "users").length - started;
  assert.equal(
    spawned,
    1,
    "the second call in flight got a child of its own (the first took the one connect had opened)",
  );
});

test("each user's 2026-07-28 requests run on a child with their envFromHeaders values", TEST, async () => {
  const env = async (token: string) => {
    const client = await modernClient("users", PINNED, undefined, { "x-user-token": token });
    return JSON.parse(toolText(await client.callTool({ name: "env", arguments: {} }))).USER_TOKEN as string;
  };
  assert.deepEqual(await Promise.all([env("alice"), env("bob")]), ["alice", "bob"]);
});

test(
  'inputRequired: "refuse": the 2025 child is told its client answers nothing, and what it asks anyway is refused',
  TEST,
  async () => {
    const client = await modernClient("refusing");
    const asked = await client.callTool({ name: "ask-name", arguments: {} });
    assert.equal(asked.isError, true);
    assert.match(allText(asked), /did not declare the required capability/);
    assert.match(
      toolText(await client.callTool({ name: "ask-directly", arguments: {} })),
      /^refused: .*roots\/list cannot reach the client: this server is configured with "inputRequired": "refuse"/,
    );
  },
);

test("a shared 2025 child's own request to a 2026-07-28 client is refused with a clear error", TEST, async () => {
  const client = await modernClient("shared");
  assert.match(
    toolText(await client.callTool({ name: "ask-directly", arguments: {} })),
    /roots\/list cannot reach a client: this server runs in mode "shared"/,
  );
});

// --- 2025 clients, a child that speaks only 2026-07-28 ---------------------------------------------------------

test(
  "SDK 1.x on a 2026-07-28-only child: initialize, ping, input_required as 2025 requests, setLevel, subscriptions",
  TEST,
  async () => {
    const client = await connect(url("modern"), { capabilities: CLIENT_CAPABILITIES, prepare: answering });
    assert.equal(client.getServerVersion()?.name, "dual-era-fixture", "initialize is answered from server/discover");
    assert.deepEqual(await client.ping(), {});
    assert.equal(toolText(await client.callTool({ name: "era", arguments: {} })), "modern");
    assert.equal(
      toolText(await client.callTool({ name: "two-questions", arguments: {} })),
      "answer to Your name? likes answer to Your colour?",
    );
    assert.equal(toolText(await client.callTool({ name: "roots", arguments: {} })), "file:///work/project");
    assert.equal(toolText(await client.callTool({ name: "sample", arguments: {} })), "model said: a sampled reply");

    const levels: string[] = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (notification) => {
      levels.push(notification.params.level);
    });
    await client.setLoggingLevel("warning");
    await client.callTool({ name: "log", arguments: {} });
    await waitFor(() => levels.includes("error"), WAIT_MS, "the error message");
    assert.deepEqual(levels, ["warning", "error"]);

    const events: string[] = [];
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (notification) => {
      events.push(`updated ${notification.params.uri}`);
    });
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      events.push("tools changed");
    });
    await client.subscribeResource({ uri: "fixture://watched" });
    // The client's GET stream opens in the background: announce until it carries the list change.
    await waitFor(
      async () => {
        await client.callTool({ name: "announce", arguments: {} });
        return events.includes("tools changed");
      },
      WAIT_MS,
      "the list change on the GET stream",
    );
    await client.callTool({ name: "touch", arguments: {} });
    await waitFor(() => events.includes("updated fixture://watched"), WAIT_MS, "the resource update");
    await client.unsubscribeResource({ uri: "fixture://watched" });
  },
);

test("SDK 1.x on a 2026-07-28-only child: progress before the result, and cancellation", TEST, async () => {
  const client = await connect(url("modern"));
  const releaseFile = tempFile("release");
  const progress: number[] = [];
  const result = await client.callTool({ name: "progress-then-wait", arguments: { releaseFile } }, undefined, {
    onprogress: (update) => {
      progress.push(update.progress);
      writeFileSync(releaseFile, "seen");
    },
  });
  assert.equal(toolText(result), "released");
  assert.deepEqual(progress, [1]);
  const markerFile = tempFile("cancelled");
  const aborter = new AbortController();
  await assert.rejects(
    client.callTool({ name: "wait-for-cancel", arguments: { markerFile } }, undefined, {
      signal: aborter.signal,
      onprogress: () => aborter.abort("the test cancels"),
    }),
  );
  await waitFor(() => existsSync(markerFile), WAIT_MS, "the child to see the cancellation");
});

test("the catalog's protocol decides the era spoken to a dual-era child", TEST, async () => {
  const era = async (server: string, modern: boolean) => {
    const client = modern ? await modernClient(server) : await connect(url(server));
    return toolText(await client.callTool({ name: "era", arguments: {} }));
  };
  assert.deepEqual(
    await Promise.all([era("legacy", false), era("legacy", true), era("declared", false), era("declared", true)]),
    ["legacy", "legacy", "modern", "modern"],
  );
});

// --- 2026-07-28 clients, a 2026-07-28 child -----------------------------------------------------------------------

test(
  "SDK 2.x (2026-07-28) on a 2026-07-28-only child: input_required, logs, progress and listen pass through",
  TEST,
  async () => {
    const asked: string[] = [];
    const client = await modernClient("modern", PINNED, asked);
    assert.equal(
      toolText(await client.callTool({ name: "two-questions", arguments: {} })),
      "answer to Your name? likes answer to Your colour?",
    );
    assert.deepEqual(asked, ["elicitation: Your name?", "elicitation: Your colour?"]);
    const levels: string[] = [];
    client.setNotificationHandler("notifications/message", (notification) => {
      levels.push(notification.params.level);
    });
    await client.callTool({ name: "log", arguments: {}, _meta: { "io.modelcontextprotocol/logLevel": "error" } });
    await waitFor(() => levels.includes("error"), WAIT_MS, "the error message");
    assert.deepEqual(levels, ["error"]);
    const releaseFile = tempFile("release");
    const result = await client.callTool(
      { name: "progress-then-wait", arguments: { releaseFile } },
      { onprogress: () => writeFileSync(releaseFile, "seen") },
    );
    assert.equal(toolText(result), "released");
    const updates: string[] = [];
    client.setNotificationHandler("notifications/resources/updated", (notification) => {
      updates.push(notification.params.uri);
    });
    const subscription = await client.listen({ resourceSubscriptions: ["fixture://watched"] });
    await client.callTool({ name: "touch", arguments: {} });
    await waitFor(() => updates.length === 1, WAIT_MS, "the resource update");
    await subscription.close();
  },
);

// --- the 2026-07-28 wire ---------------------------------------------------------------------------------------

const ENVELOPE = {
  "io.modelcontextprotocol/protocolVersion": MODERN,
  "io.modelcontextprotocol/clientCapabilities": {},
  "io.modelcontextprotocol/clientInfo": { name: "raw", version: "1" },
};
const modernHeaders = (method: string, name?: string): Record<string, string> => ({
  "mcp-protocol-version": MODERN,
  "mcp-method": method,
  ...(name === undefined ? {} : { "mcp-name": name }),
});
const modernCall = (id: number, name: string, extra: Record<string, unknown> = {}) => ({
  jsonrpc: "2.0",
  id,
  method: "tools/call",
  params: { name, arguments: {}, _meta: ENVELOPE, ...extra },
});

test("2026-07-28 wire: server/discover of a 2025 child carries what 2026-07-28 requires", TEST, async () => {
  const response = await post(
    url("legacy"),
    { jsonrpc: "2.0", id: 1, method: "server/discover", params: { _meta: ENVELOPE } },
    modernHeaders("server/discover"),
  );
  assert.equal(response.status, 200);
  const { result } = await response.json();
  assert.deepEqual(
    [result.resultType, result.supportedVersions, result.ttlMs, result.cacheScope],
    ["complete", [MODERN], 0, "private"],
  );
  assert.equal(result._meta["io.modelcontextprotocol/serverInfo"].name, "dual-era-fixture");
  assert.deepEqual(result.capabilities.resources, { subscribe: true, listChanged: true });
});

test("2026-07-28 wire: headers that disagree with the body, or are missing, get 400 and -32020", TEST, async () => {
  const cases: Array<[string, Record<string, string>]> = [
    ["Mcp-Name names another tool", modernHeaders("tools/call", "env")],
    ["Mcp-Name missing", modernHeaders("tools/call")],
    ["Mcp-Method missing", { "mcp-protocol-version": MODERN, "mcp-name": "echo" }],
    ["Mcp-Method names another method", modernHeaders("tools/list", "echo")],
    ["MCP-Protocol-Version missing", { "mcp-method": "tools/call", "mcp-name": "echo" }],
    [
      "MCP-Protocol-Version differs from the envelope",
      { ...modernHeaders("tools/call", "echo"), "mcp-protocol-version": "2025-11-25" },
    ],
    ["Mcp-Name with a broken base64 value", modernHeaders("tools/call", "=?base64?not base64?=")],
  ];
  for (const [what, headers] of cases) {
    const response = await post(url("legacy"), modernCall(7, "echo"), headers);
    assert.equal(response.status, 400, what);
    const body = await response.json();
    assert.equal(body.error.code, -32020, what);
  }
  // The base64 form of the right name is the right name.
  const encoded = await post(
    url("legacy"),
    modernCall(8, "echo"),
    modernHeaders("tools/call", `=?base64?${Buffer.from("echo").toString("base64")}?=`),
  );
  assert.equal(encoded.status, 200);
});

test(
  "2026-07-28 wire: what would change a pooled 2025 child for every client is refused, with what to use instead",
  TEST,
  async () => {
    const cases: Array<[string, Record<string, unknown>, RegExp]> = [
      ["logging/setLevel", { level: "debug" }, /send io\.modelcontextprotocol\/logLevel in the _meta of each request/],
      ["resources/subscribe", { uri: "fixture://watched" }, /use subscriptions\/listen/],
    ];
    for (const [method, params, hint] of cases) {
      const response = await post(
        url("legacy"),
        { jsonrpc: "2.0", id: 1, method, params: { ...params, _meta: ENVELOPE } },
        modernHeaders(method),
      );
      assert.equal(response.status, 404, method);
      const { error } = await response.json();
      assert.equal(error.code, -32601, method);
      assert.match(error.message, hint, method);
    }
  },
);

test(
  "2026-07-28 wire: a 2025 child asking for what the client did not declare gets the client -32021 and HTTP 400",
  TEST,
  async () => {
    const response = await post(url("legacy"), modernCall(1, "sample"), modernHeaders("tools/call", "sample"));
    assert.equal(response.status, 400);
    const { error, id } = await response.json();
    assert.deepEqual([id, error.code, error.data], [1, -32021, { requiredCapabilities: { sampling: {} } }]);
    assert.match(
      error.message,
      /tools\/call needs the client capability sampling \(the server sent sampling\/createMessage\)/,
    );
  },
);

test(
  "2026-07-28 wire: Mcp-Param-* headers must agree with the arguments the tool marks with x-mcp-header",
  TEST,
  async () => {
    for (const server of ["legacy", "modern"]) {
      const call = (region: string | undefined, header?: string) =>
        post(url(server), modernCall(1, "region", { arguments: region === undefined ? {} : { region } }), {
          ...modernHeaders("tools/call", "region"),
          ...(header === undefined ? {} : { "mcp-param-region": header }),
        });
      const refused = async (response: Response, what: string) => {
        assert.equal(response.status, 400, `${server}: ${what}`);
        assert.equal((await response.json()).error.code, -32020, `${server}: ${what}`);
      };
      await refused(await call("eu-west", "us-east"), "a header naming another value");
      await refused(await call("eu-west"), "no header for a value");
      await refused(await call("Hello", "=?base64?SGVsbG8?="), "base64 without its padding");
      const answered = async (response: Response, text: string, what: string) => {
        assert.equal(response.status, 200, `${server}: ${what}`);
        assert.equal((await response.json()).result.content[0].text, text, `${server}: ${what}`);
      };
      await answered(await call("eu-west", "eu-west"), "region eu-west", "the same value");
      await answered(
        await call("Grüße", `=?base64?${Buffer.from("Grüße").toString("base64")}?=`),
        "region Grüße",
        "base64 of the value",
      );
      await answered(await call(undefined), "region none", "no value, no header");
    }
  },
);

test("2026-07-28 wire: versions, unknown methods, GET and DELETE, notifications", TEST, async () => {
  const future = { ...ENVELOPE, "io.modelcontextprotocol/protocolVersion": "2027-01-01" };
  const unsupported = await post(
    url("legacy"),
    { jsonrpc: "2.0", id: 1, method: "tools/list", params: { _meta: future } },
    { ...modernHeaders("tools/list"), "mcp-protocol-version": "2027-01-01" },
  );
  assert.equal(unsupported.status, 400);
  const error = (await unsupported.json()).error;
  assert.deepEqual([error.code, error.data.requested, error.data.supported], [-32022, "2027-01-01", [MODERN]]);

  const unknown = await post(
    url("legacy"),
    { jsonrpc: "2.0", id: 2, method: "no/such", params: { _meta: ENVELOPE } },
    modernHeaders("no/such"),
  );
  assert.equal(unknown.status, 404);
  assert.equal((await unknown.json()).error.code, -32601);

  for (const method of ["GET", "DELETE"]) {
    const response = await fetch(url("legacy"), {
      method,
      headers: { "mcp-protocol-version": MODERN, accept: "text/event-stream" },
    });
    assert.equal(response.status, 405, method);
  }
  const notification = await post(
    url("legacy"),
    { jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 1, _meta: ENVELOPE } },
    modernHeaders("notifications/cancelled"),
  );
  assert.equal(notification.status, 202);
});

/** The first round of ask-name as a raw 2026-07-28 client: its input_required result. */
async function firstRound(
  headers: Record<string, string> = {},
): Promise<{ requestState: string; inputRequests: Record<string, { method: string }> }> {
  const capabilities = { ...ENVELOPE, "io.modelcontextprotocol/clientCapabilities": { elicitation: {} } };
  const response = await post(url("users"), modernCall(1, "ask-name", { _meta: capabilities }), {
    ...modernHeaders("tools/call", "ask-name"),
    ...headers,
  });
  const { result } = await response.json();
  assert.equal(result.resultType, "input_required");
  return result;
}

test("2026-07-28 wire: a bridged requestState is sealed, bound to its user and its request", TEST, async () => {
  const alice = { "x-user-token": "alice" };
  const { requestState, inputRequests } = await firstRound(alice);
  assert.deepEqual(
    Object.values(inputRequests).map((request) => request.method),
    ["elicitation/create"],
  );
  const [key] = Object.keys(inputRequests);
  const capabilities = { ...ENVELOPE, "io.modelcontextprotocol/clientCapabilities": { elicitation: {} } };
  const retry = (state: string, name: string, headers: Record<string, string>) =>
    post(
      url("users"),
      modernCall(2, name, {
        _meta: capabilities,
        requestState: state,
        inputResponses: { [key]: { action: "accept", content: { name: "Ada" } } },
      }),
      { ...modernHeaders("tools/call", name), ...headers },
    );
  const refused = async (response: Response, what: string) => {
    const body = await response.json();
    assert.equal(body.error?.code, -32602, what);
    assert.match(body.error.message, /requestState/, what);
  };
  await refused(await retry(`${requestState}x`, "ask-name", alice), "an altered state");
  await refused(await retry(requestState, "ask-name", { "x-user-token": "bob" }), "another user");
  await refused(await retry(requestState, "two-questions", alice), "another request");
  const accepted = await (await retry(requestState, "ask-name", alice)).json();
  assert.equal(accepted.result.content[0].text, "hello Ada");
});

test(
  "2026-07-28 wire: a reply is JSON, or SSE once the child sends progress first; listen needs SSE",
  TEST,
  async () => {
    const plain = await post(
      url("legacy"),
      modernCall(1, "echo", { arguments: { text: "hi" } }),
      modernHeaders("tools/call", "echo"),
    );
    assert.match(plain.headers.get("content-type")!, /application\/json/);
    const releaseFile = tempFile("release");
    const streamed = await post(
      url("legacy"),
      modernCall(2, "progress-then-wait", {
        arguments: { releaseFile },
        _meta: { ...ENVELOPE, progressToken: "mine" },
      }),
      modernHeaders("tools/call", "progress-then-wait"),
    );
    assert.match(streamed.headers.get("content-type")!, /text\/event-stream/);
    const events = sseData(streamed.body!);
    const first = JSON.parse((await events.next()).value as string);
    assert.deepEqual([first.method, first.params.progressToken], ["notifications/progress", "mine"]);
    writeFileSync(releaseFile, "seen");
    const last = JSON.parse((await events.next()).value as string);
    assert.deepEqual([last.id, last.result.resultType, last.result.content[0].text], [2, "complete", "released"]);

    const listen = await post(
      url("legacy"),
      {
        jsonrpc: "2.0",
        id: 3,
        method: "subscriptions/listen",
        params: { notifications: { toolsListChanged: true }, _meta: ENVELOPE },
      },
      { ...modernHeaders("subscriptions/listen"), accept: "application/json" },
    );
    assert.equal((await listen.json()).error.code, -32600);
  },
);
