// Envoy runs every configuration of the filter that shares the code and vm_id in one Wasm VM per worker, each with
// a root context of its own. Each configuration must keep its own servers, allow-lists, backend sessions and
// metrics: two listeners, two HCMs on one listener, an empty and a distinct vm_id; and a configuration pushed again
// (a listener update) replaces its root context, whose backend sessions are then ended.
import { test } from "node:test";
import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { renameSync, writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { bootstrapYaml } from "../../helpers/bootstrap.ts";
import { ownEnvoy, type Envoy } from "../../helpers/envoy.ts";
import { own, waitFor } from "../../helpers/harness.ts";
import { startSdkBackend } from "../../fixtures/backends/sdk-backend.ts";
import { filterWasm, json, post } from "../../helpers/gateway.ts";

type Json = Record<string, any>;

/** The filter's configuration for one server on the route's cluster, allowing only `tools`. */
function serverConfig(name: string, tools: string[]): Json {
  return { server: { name, transport: "http", mcpServerURL: "http://backend/mcp" }, allowTools: tools };
}

/** A bootstrap whose single listener carries the filter with `config`, named `pluginName`. */
function baseBootstrap(backendPort: number, config: Json, pluginName: string, vmId?: string): Json {
  const bootstrap = parse(
    bootstrapYaml({
      wasm: filterWasm(),
      pluginName,
      pluginConfig: config,
      allowOnHeadersStopIteration: true,
      routes: [{ prefix: "/", cluster: "backend" }],
      clusters: { backend: backendPort },
    }),
  );
  if (vmId !== undefined) wasmConfig(hcmOf(bootstrap.static_resources.listeners[0])).vm_config.vm_id = vmId;
  return bootstrap;
}

function hcmOf(listener: Json, chain = 0): Json {
  return listener.filter_chains[chain].filters[0].typed_config;
}

function wasmConfig(hcm: Json): Json {
  return hcm.http_filters[0].typed_config.config;
}

/** A copy of the listener's HCM with the filter configured as `pluginName` with `config`. */
function hcmWith(template: Json, pluginName: string, config: Json, vmId?: string): Json {
  const hcm = structuredClone(template);
  const wasm = wasmConfig(hcm);
  wasm.name = pluginName;
  wasm.configuration.value = JSON.stringify(config);
  if (vmId !== undefined) wasm.vm_config.vm_id = vmId;
  return hcm;
}

const initialize = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } },
};
const list = { jsonrpc: "2.0", id: 2, method: "tools/list" };

/** Each configuration answers as itself, filters by its own allow-list, and counts under its own prefix. */
async function assertApart(envoy: Envoy, urls: { alpha: string; beta: string }, request = post) {
  for (let round = 0; round < 3; round++) {
    // Alternate many times: with two workers each configuration is served by both VMs.
    for (const name of ["alpha", "beta"] as const) {
      const init = json(await request(urls[name], initialize));
      assert.equal(init.result.serverInfo.name, name, `initialize on ${name}'s listener, round ${round}`);
      const tools = json(await request(urls[name], list)).result.tools.map((t: { name: string }) => t.name);
      assert.deepEqual(tools, [name === "alpha" ? "echo" : "add"], `tools/list on ${name}'s listener`);
    }
  }
  assert.equal(await envoy.stat("alpha-proxy.requests.alpha.initialize.ok"), 3);
  assert.equal(await envoy.stat("beta-proxy.requests.beta.initialize.ok"), 3);
  assert.equal(await envoy.stat("alpha-proxy.requests.beta.initialize.ok"), 0);
}

for (const vmId of [undefined, "distinct"]) {
  test(
    `two listeners, each with its own configuration of the filter (${vmId === undefined ? "empty vm_id: one VM per worker shared by both" : "a vm_id each: a VM each"})`,
    { timeout: 60_000 },
    async (t) => {
      const backend = await own(t, startSdkBackend("json"));
      const bootstrap = baseBootstrap(backend.port, serverConfig("alpha", ["echo"]), "alpha-proxy", vmId && "alpha");
      const listeners = bootstrap.static_resources.listeners;
      const second = structuredClone(listeners[0]);
      second.name = "second";
      second.filter_chains[0].filters[0].typed_config = hcmWith(
        hcmOf(listeners[0]),
        "beta-proxy",
        serverConfig("beta", ["add"]),
        vmId && "beta",
      );
      listeners.push(second);
      const envoy = await ownEnvoy(t, { yaml: stringify(bootstrap) });
      await assertApart(envoy, { alpha: envoy.listeners[0].url, beta: envoy.listeners[1].url });
    },
  );
}

/** POST from a given loopback source address (the second filter chain matches 127.0.0.2). */
function postFrom(source: string) {
  return (url: string, body: unknown) =>
    new Promise<import("../../helpers/harness.ts").Reply>((resolve, reject) => {
      const text = JSON.stringify(body);
      const req = httpRequest(
        `${url}/mcp`,
        {
          method: "POST",
          localAddress: source,
          agent: false,
          headers: {
            "content-type": "application/json",
            accept: "application/json, text/event-stream",
            "content-length": Buffer.byteLength(text),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () =>
            resolve({ status: res.statusCode ?? 0, headers: [], body: Buffer.concat(chunks).toString() }),
          );
        },
      );
      req.on("error", reject);
      req.setTimeout(10_000, () => req.destroy(new Error("no reply in time")));
      req.end(text);
    });
}

test(
  "two HCMs on one listener (filter chains by source address), each with its own configuration",
  { timeout: 60_000 },
  async (t) => {
    const backend = await own(t, startSdkBackend("json"));
    const bootstrap = baseBootstrap(backend.port, serverConfig("alpha", ["echo"]), "alpha-proxy");
    const listener = bootstrap.static_resources.listeners[0];
    const betaChain = structuredClone(listener.filter_chains[0]);
    betaChain.filter_chain_match = { direct_source_prefix_ranges: [{ address_prefix: "127.0.0.2", prefix_len: 32 }] };
    betaChain.filters[0].typed_config = hcmWith(hcmOf(listener), "beta-proxy", serverConfig("beta", ["add"]));
    listener.filter_chains.push(betaChain);
    const envoy = await ownEnvoy(t, { yaml: stringify(bootstrap) });
    const byName = { alpha: postFrom("127.0.0.1"), beta: postFrom("127.0.0.2") };
    const request = (url: string, body: unknown) => byName[url === "alpha" ? "alpha" : "beta"](envoy.url, body);
    await assertApart(envoy, { alpha: "alpha", beta: "beta" }, request);
  },
);

test(
  "a configuration pushed again (listener update) replaces its root context: the old one ends its backend sessions",
  { timeout: 60_000 },
  async (t) => {
    const backend = await own(t, startSdkBackend("json"));
    const bootstrap = baseBootstrap(backend.port, serverConfig("alpha", ["echo"]), "alpha-proxy");
    const [listener] = bootstrap.static_resources.listeners;
    const dir = mkdtempSync(join(tmpdir(), "mcp-lds-"));
    const lds = join(dir, "lds.yaml");
    const writeListener = (config: Json) => {
      const resource = structuredClone(listener);
      wasmConfig(hcmOf(resource)).configuration.value = JSON.stringify(config);
      resource["@type"] = "type.googleapis.com/envoy.config.listener.v3.Listener";
      // Envoy watches the file for a move onto it: write aside, then rename.
      writeFileSync(`${lds}.next`, stringify({ resources: [resource] }));
      renameSync(`${lds}.next`, lds);
    };
    writeListener(serverConfig("alpha", ["echo"]));
    delete bootstrap.static_resources.listeners;
    bootstrap.dynamic_resources = { lds_config: { path_config_source: { path: lds }, resource_api_version: "V3" } };
    bootstrap.node = { id: "test", cluster: "test" };
    const envoy = await ownEnvoy(t, {
      yaml: stringify(bootstrap),
      concurrency: 1,
      args: ["--drain-time-s", "1", "--drain-strategy", "immediate"],
    });
    const before = json(await post(envoy.url, list)).result.tools.map((x: { name: string }) => x.name);
    assert.deepEqual(before, ["echo"]);
    const session = backend.requests.find((r) => r.rpcMethod === "tools/list")!.headers["mcp-session-id"] as string;
    assert.ok(session);

    writeListener(serverConfig("alpha", ["add"]));
    await waitFor(
      "Envoy to take the new listener",
      async () => (await envoy.stat("listener_manager.lds.update_success")) >= 2,
      20_000,
    );
    // The replaced listener drains (1 s) and its configuration's root context goes: its session is DELETEd.
    await waitFor("the old configuration's session to be DELETEd", () => backend.deleted.includes(session), 20_000);
    const after = await waitFor(
      "the new configuration to answer",
      async () => {
        const tools = json(await post(envoy.url, list)).result.tools.map((x: { name: string }) => x.name);
        return tools[0] === "add" && tools;
      },
      20_000,
    );
    assert.deepEqual(after, ["add"]);
  },
);
