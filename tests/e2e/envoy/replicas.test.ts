// A backend cluster with two replicas. The filter's dispatched calls go through the cluster's load balancer, and
// Envoy's proxy_http_call hashes on :authority: with RING_HASH (or MAGLEV) every call of a server lands on one
// replica, so a backend session stays where it was opened and warm calls stay warm. With ROUND_ROBIN a stateful
// backend's session is unknown to the other replica; only a stateless backend can be spread that way.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { parse, stringify } from "yaml";
import { bootstrapYaml } from "../../helpers/bootstrap.ts";
import { ownEnvoy } from "../../helpers/envoy.ts";
import { own } from "../../helpers/harness.ts";
import { startSdkBackend, type BackendMode, type SdkBackend } from "../../fixtures/backends/sdk-backend.ts";
import { filterWasm, httpServer, json, post } from "../../helpers/gateway.ts";

async function twoReplicas(t: TestContext, mode: BackendMode, lbPolicy: string) {
  const replicas = [await own(t, startSdkBackend(mode)), await own(t, startSdkBackend(mode))];
  const bootstrap = parse(
    bootstrapYaml({
      wasm: filterWasm(),
      pluginConfig: httpServer(),
      allowOnHeadersStopIteration: true,
      routes: [{ prefix: "/", cluster: "backend" }],
      clusters: { backend: replicas[0].port },
    }),
  );
  const [cluster] = bootstrap.static_resources.clusters;
  cluster.lb_policy = lbPolicy;
  cluster.load_assignment.endpoints[0].lb_endpoints.push({
    endpoint: { address: { socket_address: { address: "127.0.0.1", port_value: replicas[1].port } } },
  });
  const envoy = await ownEnvoy(t, { yaml: stringify(bootstrap) });
  return { envoy, replicas };
}

const call = (id: number) => ({
  jsonrpc: "2.0",
  id,
  method: "tools/call",
  params: { name: "echo", arguments: { message: `m${id}` } },
});

/** 20 calls on fresh connections (spread over both workers, each with its own VM and sessions); all must succeed. */
async function twentyCalls(url: string): Promise<void> {
  for (let id = 1; id <= 20; id++) {
    const reply = json(await post(url, call(id)));
    assert.equal(reply.result?.content[0].text, `echo: m${id}`, JSON.stringify(reply));
  }
}

const count = (replica: SdkBackend, method: string) => replica.requests.filter((r) => r.rpcMethod === method).length;

for (const lbPolicy of ["RING_HASH", "MAGLEV"]) {
  test(
    `${lbPolicy}, two replicas of a stateful backend: every call of the server lands on one replica; warm calls cost one request each`,
    { timeout: 60_000 },
    async (t) => {
      const { envoy, replicas } = await twoReplicas(t, "json", lbPolicy);
      await twentyCalls(envoy.url);
      const used = replicas.filter((r) => r.requests.length > 0);
      assert.equal(used.length, 1, "one replica takes every call of this :authority");
      const handshakes = count(used[0], "initialize");
      assert.ok(handshakes >= 1 && handshakes <= 2, `one handshake per worker at most, got ${handshakes}`);
      assert.equal(count(used[0], "tools/call"), 20);
      assert.equal(used[0].requests.length, 20 + 2 * handshakes, "nothing but the handshakes and one request per call");
    },
  );
}

test(
  "ROUND_ROBIN, two replicas of a stateless backend: calls are spread over both, one request each once warm",
  { timeout: 60_000 },
  async (t) => {
    const { envoy, replicas } = await twoReplicas(t, "stateless", "ROUND_ROBIN");
    await twentyCalls(envoy.url);
    assert.ok(
      replicas.every((r) => count(r, "tools/call") > 0),
      replicas.map((r) => count(r, "tools/call")).join(" / "),
    );
    const handshakes = count(replicas[0], "initialize") + count(replicas[1], "initialize");
    assert.ok(handshakes <= 2, `one handshake per worker at most, got ${handshakes}`);
    assert.equal(count(replicas[0], "tools/call") + count(replicas[1], "tools/call"), 20);
  },
);

test(
  "ROUND_ROBIN, two replicas of a stateful backend: calls still succeed (a lost session is re-initialized), but warm calls turn cold",
  { timeout: 60_000 },
  async (t) => {
    const { envoy, replicas } = await twoReplicas(t, "json", "ROUND_ROBIN");
    await twentyCalls(envoy.url);
    const total = replicas[0].requests.length + replicas[1].requests.length;
    const lost = await envoy.stat("mcp-proxy.sessions.fixture.lost");
    t.diagnostic(
      `upstream requests for 20 calls: ${total} (${(total / 20).toFixed(1)} per call), sessions lost: ${lost}`,
    );
    assert.ok(lost > 0, "the other replica did not know the session");
    assert.ok(total > 20 + 2 * 2, `more than one request per warm call: ${total}`);
  },
);
