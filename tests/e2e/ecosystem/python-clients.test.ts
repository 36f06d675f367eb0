// The Python MCP SDK's client (PyPI `mcp` 2.x, pinned by scripts/python.mjs) drives the gateway as a Python agent
// would, in each of its connection modes: its default `Client(url)` ("auto": probes server/discover, falls back to
// the initialize handshake), the pinned legacy mode (initialize only) and a pin to 2026-07-28 (no handshake). For
// every backend kind: Streamable HTTP with JSON and with SSE replies (the TS SDK fixture), legacy HTTP+SSE, and a
// stdio server through the sidecar (PyPI's mcp-server-time), each in the filter's Higress-compatible mode and, where
// the filter offers it, in pass-through mode. Each connection lists the tools (under allowTools), calls an allowed
// tool, one that fails, and one the policy refuses, and ends its session. One Python process runs every connection
// (its imports cost seconds); the subtests check its report per endpoint.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { own, waitFor } from "../../helpers/harness.ts";
import { closedPort } from "../../helpers/upstream.ts";
import { startSdkBackend, type SdkBackend } from "../../fixtures/backends/sdk-backend.ts";
import { startSdkLegacyBackend } from "../../fixtures/backends/legacy-sse-backend.ts";
import { startTestSidecar } from "../../sidecar/helpers.ts";
import { connected, pythonServer, runPythonClient, type ClientReport, type ClientSpec } from "../../python/harness.ts";
import { startGateway } from "../../helpers/gateway.ts";

const MODES = ["auto", "legacy", "2026-07-28"] as const;
type Mode = (typeof MODES)[number];

/** What a connection in each mode negotiates, or the failure it meets. */
type Expected = Record<Mode, { version: string; server: string | null } | { failure: RegExp }>;

/** The filter answers the handshake itself: it names the server after its own entry; a pinned client gets no name. */
const viaFilter = (name: string): Expected => ({
  auto: { version: "2026-07-28", server: name },
  legacy: { version: "2025-11-25", server: name },
  "2026-07-28": { version: "2026-07-28", server: null },
});

interface Endpoint {
  name: string;
  filter: Record<string, unknown>;
  route: { cluster: string; prefixRewrite?: string };
  expected: Expected;
  calls: ClientSpec["calls"];
  /** What each connected mode's calls must show. */
  check(report: ClientReport): void;
}

const FIXTURE_TOOLS = ["echo", "fail"];
const fixtureCalls = [
  { name: "echo", arguments: { message: "from Python" } },
  { name: "fail" },
  { name: "add", arguments: { a: 1, b: 2 } },
];

function checkFixture(report: ClientReport): void {
  const [echo, fail, add] = report.calls;
  assert.deepEqual(echo.result?.content, [{ type: "text", text: "echo: from Python" }]);
  assert.deepEqual(echo.result?._meta, { fixture: true }, "the backend's result passes through whole");
  assert.equal(fail.result?.isError, true);
  assert.deepEqual(fail.result?.content, [{ type: "text", text: "it failed" }]);
  assert.deepEqual(add.error, { code: -32602, message: "Tool not allowed: add" });
}

function checkTime(report: ClientReport): void {
  const [now, invalid, convert] = report.calls;
  assert.equal(now.result?.isError, false, JSON.stringify(now));
  assert.equal(now.result?.structuredContent.timezone, "UTC");
  assert.equal(invalid.result?.isError, true);
  assert.match(invalid.result!.content[0].text, /Invalid timezone/);
  assert.deepEqual(convert.error, { code: -32602, message: "Tool not allowed: convert_time" });
}

const timeCalls = [
  { name: "get_current_time", arguments: { timezone: "UTC" } },
  { name: "get_current_time", arguments: { timezone: "Nowhere/Invalid" } },
  { name: "convert_time", arguments: { source_timezone: "UTC", time: "12:00", target_timezone: "Asia/Tokyo" } },
];

function httpEndpoints(kind: "json" | "sse"): Endpoint[] {
  const common = { transport: "http", mcpServerURL: "/mcp", cluster: kind, allowTools: FIXTURE_TOOLS };
  return [
    {
      name: kind,
      filter: common,
      route: { cluster: kind },
      expected: viaFilter(kind),
      calls: fixtureCalls,
      check: checkFixture,
    },
    {
      name: `${kind}-passthrough`,
      filter: { ...common, mode: "passthrough" },
      route: { cluster: kind, prefixRewrite: "/mcp" },
      calls: fixtureCalls,
      check: checkFixture,
      // The backend is what the client sees. The fixture (TS SDK 1.x) speaks only the 2025 protocol: "auto" falls
      // back to initialize after its server/discover probe, and a client pinned to 2026-07-28 gets the backend's refusal.
      expected: {
        auto: { version: "2025-11-25", server: "fixture" },
        legacy: { version: "2025-11-25", server: "fixture" },
        "2026-07-28": { failure: /MCPError: Bad Request: Server not initialized/ },
      },
    },
  ];
}

const ENDPOINTS: Endpoint[] = [
  ...httpEndpoints("json"),
  ...httpEndpoints("sse"),
  {
    name: "legacy",
    route: { cluster: "legacy" },
    expected: viaFilter("legacy"),
    calls: fixtureCalls,
    check: checkFixture,
    // Only the Higress-compatible mode serves legacy SSE (the filter turns each request into the SSE GET).
    filter: { transport: "sse", mcpServerURL: "http://backend/sse", cluster: "legacy", allowTools: FIXTURE_TOOLS },
  },
  {
    name: "time",
    route: { cluster: "sidecar" },
    expected: viaFilter("time"),
    calls: timeCalls,
    check: checkTime,
    filter: { transport: "stdio", cluster: "sidecar", allowTools: ["get_current_time"], timeout: 60_000 },
  },
  {
    name: "time-passthrough",
    route: { cluster: "sidecar", prefixRewrite: "/servers/time/mcp" },
    calls: timeCalls,
    check: checkTime,
    filter: { transport: "stdio", cluster: "sidecar", mode: "passthrough", allowTools: ["get_current_time"] },
    // mcp-server-time serves both eras, through the sidecar: the client gets what the server itself says.
    expected: {
      auto: { version: "2026-07-28", server: "mcp-time" },
      legacy: { version: "2025-11-25", server: "mcp-time" },
      "2026-07-28": { version: "2026-07-28", server: null },
    },
  },
];

async function startBackends(t: TestContext) {
  const json = await own(t, startSdkBackend("json"));
  const sse = await own(t, startSdkBackend("sse"));
  const legacy = await own(t, startSdkLegacyBackend(""));
  const sidecar = await own(
    t,
    startTestSidecar({ mcpServers: { time: pythonServer("mcp-server-time", ["--local-timezone", "UTC"]) } }),
  );
  return { json, sse, legacy, sidecar };
}

function checkConnection(endpoint: Endpoint, report: ClientReport): void {
  const expected = endpoint.expected[report.mode as Mode];
  if ("failure" in expected) {
    assert.match(report.failure ?? "connected", expected.failure);
    return;
  }
  connected(report);
  assert.equal(report.protocolVersion, expected.version);
  assert.equal(report.serverInfo?.name ?? null, expected.server);
  const allowed = endpoint.filter.allowTools as string[];
  assert.deepEqual(report.tools.map((tool) => tool.name).sort(), allowed);
  endpoint.check(report);
  assert.equal(report.closed, true, "the client ended its session cleanly");
}

/** Session ids the backend saw DELETEd, and how many DELETE requests reached it. */
const deletes = (backend: SdkBackend) => ({
  deleted: backend.deleted.length,
  requests: backend.requests.filter((r) => r.httpMethod === "DELETE").length,
});

test(
  "the Python SDK client (mcp 2.x) in modes auto, legacy and 2026-07-28, through Envoy + filter, for every backend kind",
  { timeout: 420_000 },
  async (t) => {
    const backends = await startBackends(t);
    const down = await closedPort();
    const servers = [
      ...ENDPOINTS.map((e) => ({ name: e.name, pathPrefix: `/mcp/${e.name}`, ...e.filter })),
      { name: "down", pathPrefix: "/mcp/down", cluster: "down", transport: "http", mcpServerURL: "/mcp" },
    ];
    const { url, envoy } = await startGateway(t, {
      pluginConfig: { servers },
      clusters: {
        json: backends.json.port,
        sse: backends.sse.port,
        legacy: backends.legacy.port,
        sidecar: backends.sidecar.port,
        down,
      },
      // The legacy server's SSE URL must route to its cluster; pass-through routes take the client's path to the backend's.
      routes: [
        { path: "/sse", cluster: "legacy" },
        ...ENDPOINTS.map((e) => ({ prefix: `/mcp/${e.name}`, ...e.route })).sort(
          (a, b) => b.prefix.length - a.prefix.length,
        ),
        { prefix: "/mcp/down", cluster: "down" },
      ],
    });
    const specs: ClientSpec[] = ENDPOINTS.flatMap((e) =>
      MODES.map((mode) => ({ url: `${url}/mcp/${e.name}`, mode, calls: e.calls })),
    );
    specs.push(...MODES.map((mode) => ({ url: `${url}/mcp/down`, mode })));
    const reports = await runPythonClient(specs, 240_000);

    for (const endpoint of ENDPOINTS) {
      await t.test(endpoint.name, () => {
        const mine = reports.filter((r) => r.url.endsWith(`/mcp/${endpoint.name}`));
        assert.deepEqual(
          mine.map((r) => r.mode),
          [...MODES],
        );
        for (const report of mine) {
          try {
            checkConnection(endpoint, report);
          } catch (error) {
            throw new Error(
              `mode ${report.mode}: ${(error as Error).message}\n${JSON.stringify(report).slice(0, 2000)}`,
            );
          }
        }
      });
    }

    await t.test(
      "session end: a pass-through session is DELETEd on its backend; the Higress-compatible mode gives the client no session to end",
      async () => {
        // Only "auto" and "legacy" hold a session on the 2025-only fixture (the pinned client never had one); each ends
        // with one DELETE, passed through. The filter's own backend sessions stay warm for the next client.
        assert.deepEqual(deletes(backends.json), { deleted: 2, requests: 2 });
        assert.deepEqual(deletes(backends.sse), { deleted: 2, requests: 2 });
        // The sidecar ended the child of the one session-holding pass-through connection to mcp-server-time (legacy
        // mode; "auto" and the pin speak 2026-07-28 there, which has no sessions) on its DELETE.
        const stats = (await (await fetch(`${backends.sidecar.url}/stats`)).json()) as Record<
          string,
          { exits: Record<string, number> }
        >;
        assert.equal(stats.time.exits.deleted, 1, JSON.stringify(stats.time));
        // The filter's view of the same: DELETEs forwarded on the pass-through servers only. In the Higress-compatible
        // mode the filter answers the handshake without a session id, so the SDK has nothing to DELETE.
        const counted = [...(await envoy.stats())].filter(([name, value]) => /\.delete\./.test(name) && value > 0);
        assert.deepEqual(Object.fromEntries(counted), {
          "wasmcustom.mcp-proxy.requests.json-passthrough.delete.forwarded": 2,
          "wasmcustom.mcp-proxy.requests.sse-passthrough.delete.forwarded": 2,
          "wasmcustom.mcp-proxy.requests.time-passthrough.delete.forwarded": 1,
        });
        // A legacy SSE session lives as long as the filter's GET for one request: none is left open.
        await waitFor("the legacy backend's streams to close", () => backends.legacy.openStreams() === 0, 10_000);
      },
    );

    await t.test("errors: an unreachable backend is a JSON-RPC error the client raises, in every mode", () => {
      const failures = reports.filter((r) => r.url.endsWith("/mcp/down"));
      assert.equal(failures.length, MODES.length);
      for (const report of failures)
        assert.match(
          report.failure ?? "connected",
          /^MCPError: MCP server "down" (failed initialize: )?is unreachable/,
          report.mode,
        );
    });
  },
);
