// Higress `_rules_` end to end: the real filter in Envoy chooses each request's configuration by route name,
// :authority and the route's cluster (Istio-style names), as Higress's matchRules do; the SDK Client sees each
// rule's allow-list. Two SDK backends stand for two Kubernetes services.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { Envoy } from "../../helpers/envoy.ts";
import { own } from "../../helpers/harness.ts";
import { startSdkBackend, type SdkBackend } from "../../fixtures/backends/sdk-backend.ts";
import { connectClient, json, metric, post, startGateway } from "../../helpers/gateway.ts";

const ALPHA = "outbound|8080||alpha.mcp.svc.cluster.local";
const BETA = "outbound|9090||beta.mcp.svc.cluster.local";

/** Higress's single-server form; every rule names its server "fixture", so only the server index tells them apart. */
const server = { name: "fixture", transport: "http", mcpServerURL: "http://backend/mcp" };

const RULES = [
  { _match_route_: ["mcp/route-a"], server, allowTools: ["echo"] },
  // Before the service rule below, which would match the same requests: the first match wins.
  {
    _match_route_: ["mcp/route-b"],
    _match_service_: ["beta.mcp.svc.cluster.local:9090"],
    server,
    allowTools: ["fail"],
  },
  { _match_service_: ["beta.mcp.svc.cluster.local"], server, allowTools: ["echo", "add"] },
  { _match_domain_: ["localhost"], server, allowTools: ["add"] },
];

interface RulesGateway {
  url: string;
  localUrl: string;
  alpha: SdkBackend;
  beta: SdkBackend;
  envoy: Envoy;
}

/**
 * Virtual host "localhost" (route tenant/mcp, and a route named mcp/route-b that leads to alpha, not beta) before the
 * catch-all one (mcp/route-a -> alpha, mcp/route-b -> beta, svc -> beta, other -> alpha).
 */
async function gateway(
  t: TestContext,
  pluginConfig: unknown,
  backends?: { alpha: SdkBackend; beta: SdkBackend },
  concurrency?: number,
): Promise<RulesGateway> {
  const alpha = backends?.alpha ?? (await own(t, startSdkBackend("json")));
  const beta = backends?.beta ?? (await own(t, startSdkBackend("json")));
  const { envoy, url } = await startGateway(t, {
    pluginConfig,
    concurrency,
    clusters: { [ALPHA]: alpha.port, [BETA]: beta.port },
    // Envoy matches the Host header with its port.
    virtualHosts: [
      {
        name: "tenant",
        domains: ["localhost", "localhost:*"],
        routes: [
          { name: "mcp/route-b", prefix: "/b/mcp", cluster: ALPHA },
          { name: "tenant/mcp", prefix: "/mcp", cluster: ALPHA },
        ],
      },
    ],
    routes: [
      { name: "mcp/route-a", prefix: "/a/mcp", cluster: ALPHA },
      { name: "mcp/route-b", prefix: "/b/mcp", cluster: BETA },
      { name: "svc", prefix: "/svc/mcp", cluster: BETA },
      { name: "other", prefix: "/other/mcp", cluster: ALPHA },
    ],
  });
  return { url, localUrl: url.replace("127.0.0.1", "localhost"), alpha, beta, envoy };
}

async function toolNames(client: Client): Promise<string[]> {
  return (await client.listTools()).tools.map((x) => x.name).sort();
}

const initializeBody = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
};

test("each request gets its own rule's allow-list: by route, route + service, service, domain; first match wins", async (t) => {
  const gw = await gateway(t, { _rules_: RULES });
  const routeA = await connectClient(t, gw.url, {}, "/a/mcp");
  assert.deepEqual(await toolNames(routeA), ["echo"], "route rule");
  const echoed = await routeA.callTool({ name: "echo", arguments: { message: "a" } });
  assert.deepEqual(echoed.content, [{ type: "text", text: "echo: a" }]);
  await assert.rejects(routeA.callTool({ name: "add", arguments: { a: 1, b: 2 } }), /Tool not allowed: add/);

  assert.deepEqual(
    await toolNames(await connectClient(t, gw.url, {}, "/b/mcp")),
    ["fail"],
    "route + service, ahead of the service rule",
  );
  assert.deepEqual(
    await toolNames(await connectClient(t, gw.url, {}, "/svc/mcp")),
    ["add", "echo"],
    "service rule, any port",
  );
  const tenant = await connectClient(t, gw.localUrl, {}, "/mcp");
  assert.deepEqual(await toolNames(tenant), ["add"], "domain rule");
  // Route mcp/route-b on the localhost host leads to alpha: the route + service rule needs both, so the domain rule applies.
  assert.deepEqual(await toolNames(await connectClient(t, gw.localUrl, {}, "/b/mcp")), ["add"]);
  assert.equal(
    json(
      await post(
        gw.localUrl,
        { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "echo", arguments: { message: "x" } } },
        [],
        "/mcp",
      ),
    ).error.message,
    "Tool not allowed: echo",
  );
  // A client header can narrow a rule's list, never widen it.
  const narrowed = await connectClient(t, gw.url, { "x-envoy-allow-mcp-tools": "echo,add,fail" }, "/svc/mcp");
  assert.deepEqual(await toolNames(narrowed), ["add", "echo"]);
});

// One worker: the session counts are those of one VM.
test("rules never share a backend session, even for servers of the same name, cluster and authority; stats add up under the name", async (t) => {
  const gw = await gateway(t, { _rules_: RULES }, undefined, 1);
  const before = await metric(gw.envoy, "mcp-proxy.requests.fixture.tools_list.ok");
  // Route rule and domain rule: both "fixture" at http://backend/mcp on cluster alpha.
  await toolNames(await connectClient(t, gw.url, {}, "/a/mcp"));
  await toolNames(await connectClient(t, gw.localUrl, {}, "/mcp"));
  await toolNames(await connectClient(t, gw.url, {}, "/a/mcp"));
  const initializes = gw.alpha.requests.filter((r) => r.rpcMethod === "initialize").length;
  assert.equal(initializes, 2, "one backend session per rule, the second route-a request reuses the first");
  assert.equal((await metric(gw.envoy, "mcp-proxy.requests.fixture.tools_list.ok")) - before, 3);
});

test("a request that matches no rule, without a global configuration, reaches the route's upstream untouched", async (t) => {
  const gw = await gateway(t, { requestHeadersMode: "hold", deadlineMs: 60000, _rules_: RULES });
  const reply = await post(gw.url, initializeBody, [["x-envoy-allow-mcp-tools", "echo"]], "/other/mcp");
  assert.equal(reply.status, 200);
  assert.equal(json(reply).result.serverInfo.version, "1.0.0", "the backend's own initialize answer, not the filter's");
  const seen = gw.alpha.requests.find((r) => r.rpcMethod === "initialize");
  assert.equal(seen?.headers["x-envoy-allow-mcp-tools"], "echo", "a header the filter always strips arrived");
  assert.equal(gw.beta.requests.length, 0);
});

test("the global configuration applies when no rule matches; a matching rule still wins", async (t) => {
  const first = await gateway(t, { _rules_: RULES });
  const gw = await gateway(t, { server: { ...server, name: "global" }, allowTools: ["fail"], _rules_: RULES }, first);
  const other = await connectClient(t, gw.url, {}, "/other/mcp");
  assert.deepEqual(await toolNames(other), ["fail"]);
  assert.equal(await metric(gw.envoy, "mcp-proxy.requests.global.tools_list.ok"), 1);
  assert.deepEqual(await toolNames(await connectClient(t, gw.url, {}, "/a/mcp")), ["echo"]);
});
