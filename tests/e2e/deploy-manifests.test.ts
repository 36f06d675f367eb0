// The deployment files parse, and carry one filter configuration: envoy/mcp-proxy.config.json. envoy.yaml holds it
// exactly; the Kubernetes manifests hold it with the documented differences only (cluster names and backend URLs
// as Istio/Higress know the demo Service; the Istio WasmPlugin in "continue" mode without the legacy SSE server,
// which that mode cannot serve). The filter itself accepts each of them. docker-compose.yml mounts what envoy.yaml
// names, on the ports it names.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse, parseAllDocuments } from "yaml";
import { startEmulator } from "../../emulator/index.ts";
import { bootstrapYaml } from "../helpers/bootstrap.ts";
import { filterWasm, repoRoot } from "./filter-harness.ts";

type Json = Record<string, any>;
const read = (path: string) => readFileSync(join(repoRoot, path), "utf8");
const yamlDocs = (path: string): Json[] => parseAllDocuments(read(path)).map((doc) => {
  assert.deepEqual(doc.errors, [], path);
  return doc.toJS();
});
const one = (path: string): Json => {
  const docs = yamlDocs(path);
  assert.equal(docs.length, 1, path);
  return docs[0];
};

const source: Json = JSON.parse(read("envoy/mcp-proxy.config.json"));
const envoy: Json = parse(read("envoy/envoy.yaml"));
const hcm = envoy.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
const wasm = hcm.http_filters[0].typed_config.config;

// The documented differences in Kubernetes: the demo Service mcp-demo (namespace mcp) under Istio's cluster names,
// and the legacy SSE URL on the gateway's host (where its route lives).
const SERVICE = "mcp-demo.mcp.svc.cluster.local";
const K8S_CLUSTERS: Record<string, string> = { sidecar: `outbound|8081||${SERVICE}`, remote: `outbound|3001||${SERVICE}`, legacy: `outbound|3002||${SERVICE}` };
const K8S_URLS: Record<string, string> = { remote: `http://${SERVICE}:3001/mcp`, legacy: "http://mcp.example.com/mcp/legacy/sse" };

function inKubernetes(config: Json): Json {
  const copy = structuredClone(config);
  for (const server of copy.servers) {
    server.cluster = K8S_CLUSTERS[server.cluster];
    if (server.name in K8S_URLS) server.mcpServerURL = K8S_URLS[server.name];
  }
  return copy;
}

function continueMode(config: Json): Json {
  return { ...config, requestHeadersMode: "continue", servers: config.servers.filter((s: Json) => s.transport !== "sse") };
}

test("envoy.yaml carries envoy/mcp-proxy.config.json exactly, with the flag, root id and V8", () => {
  assert.deepEqual(JSON.parse(wasm.configuration.value), source);
  assert.equal(wasm.root_id, "mcp-proxy");
  assert.equal(wasm.allow_on_headers_stop_iteration, true);
  assert.equal(wasm.vm_config.runtime, "envoy.wasm.runtime.v8");
  assert.equal(wasm.vm_config.code.local.filename, "build/mcp-proxy.wasm");
  // Every server's cluster exists, and the filter's deadline fits under Envoy's timeouts on every route.
  const clusters = envoy.static_resources.clusters.map((c: Json) => c.name);
  for (const server of source.servers) assert.ok(clusters.includes(server.cluster), server.name);
  const seconds = (d: string) => Number(d.replace(/s$/, "")) * 1000;
  assert.ok(seconds(hcm.stream_idle_timeout) > source.deadlineMs);
  for (const route of hcm.route_config.virtual_hosts[0].routes) {
    assert.ok(seconds(route.route.timeout) > source.deadlineMs && seconds(route.route.idle_timeout) > source.deadlineMs, route.name);
  }
  for (const server of source.servers) assert.ok((server.timeout ?? 5000) <= source.deadlineMs, server.name);
});

test("Istio: the WasmPlugin in continue mode (no sse), the EnvoyFilter in hold mode with the flag", () => {
  const plugin = one("envoy/istio/wasmplugin.yaml");
  assert.equal(plugin.apiVersion, "extensions.istio.io/v1alpha1");
  assert.equal(plugin.kind, "WasmPlugin");
  assert.match(plugin.spec.url, /^oci:\/\//);
  assert.ok(plugin.spec.selector.matchLabels && plugin.spec.phase, "selector and phase");
  assert.equal(plugin.spec.pluginName, "mcp-proxy");
  assert.deepEqual(plugin.spec.pluginConfig, continueMode(inKubernetes(source)));

  const filter = one("envoy/istio/envoyfilter.yaml");
  assert.equal(filter.kind, "EnvoyFilter");
  const patch = filter.spec.configPatches[0];
  assert.equal(patch.patch.operation, "INSERT_BEFORE");
  assert.equal(patch.match.listener.filterChain.filter.subFilter.name, "envoy.filters.http.router");
  const config = patch.patch.value.typed_config.config;
  assert.equal(config.allow_on_headers_stop_iteration, true);
  assert.equal(config.root_id, "mcp-proxy");
  assert.deepEqual(JSON.parse(config.configuration.value), inKubernetes(source));

  // The legacy SSE URL's path has a route to the SSE backend's /sse, ahead of the broader /mcp/legacy route.
  const routes = yamlDocs("envoy/istio/routes.yaml").find((d) => d.kind === "VirtualService")!.spec.http;
  const ssePath = new URL(K8S_URLS.legacy).pathname;
  const index = routes.findIndex((r: Json) => r.match[0].uri.prefix === ssePath);
  assert.ok(index >= 0 && routes[index].rewrite.uri === "/sse", "SSE route");
  assert.ok(index < routes.findIndex((r: Json) => r.match[0].uri.prefix === "/mcp/legacy"), "SSE route first");
});

test("Higress: defaultConfig in hold mode, no matchRules (the filter refuses _rules_)", () => {
  const plugin = one("envoy/higress/wasmplugin.yaml");
  assert.equal(plugin.apiVersion, "extensions.higress.io/v1alpha1");
  assert.equal(plugin.kind, "WasmPlugin");
  assert.match(plugin.spec.url, /^oci:\/\//);
  assert.equal(plugin.spec.defaultConfigDisable, false);
  assert.equal(plugin.spec.matchRules, undefined);
  assert.deepEqual(plugin.spec.defaultConfig, inKubernetes(source));
  const ingress = yamlDocs("envoy/higress/ingress.yaml").find((d) => d.metadata.annotations["higress.io/rewrite-target"] === "/sse")!;
  assert.equal(ingress.spec.rules[0].http.paths[0].path, new URL(K8S_URLS.legacy).pathname);
});

test("the filter accepts every shipped configuration (and would refuse sse in continue mode)", async () => {
  const configs: [string, Json, boolean][] = [
    ["envoy.yaml", source, true],
    ["Istio EnvoyFilter / Higress", inKubernetes(source), true],
    ["Istio WasmPlugin", continueMode(inKubernetes(source)), false],
  ];
  for (const [where, config, flag] of configs) {
    const yaml = bootstrapYaml({ wasm: filterWasm(), pluginConfig: config, routes: [{ prefix: "/", cluster: "c" }], clusters: { c: 1 },
      allowOnHeadersStopIteration: flag });
    const emu = await startEmulator({ yaml, quiet: true });
    await emu.close();
    const line = emu.logs.map((l) => l.message).find((m) => m.startsWith("mcp-proxy: configured"));
    assert.ok(line?.includes(`${config.servers.length} server(s), requestHeadersMode ${config.requestHeadersMode}`), `${where}: ${line}`);
  }
  // The difference is necessary: with the sse server kept, "continue" mode is refused.
  const yaml = bootstrapYaml({ wasm: filterWasm(), pluginConfig: { ...inKubernetes(source), requestHeadersMode: "continue" },
    routes: [{ prefix: "/", cluster: "c" }], clusters: { c: 1 } });
  await assert.rejects(startEmulator({ yaml, quiet: true }), /on_configure returned false/);
});

test("docker-compose.yml: Envoy >= 1.35 with envoy.yaml and the wasm where envoy.yaml looks, the rest in its network namespace", () => {
  const compose = one("docker-compose.yml");
  const { envoy: proxy, sidecar, remote, legacy } = compose.services;
  const [, major, minor] = /^envoyproxy\/envoy:v(\d+)\.(\d+)/.exec(proxy.image) ?? [];
  assert.ok(Number(major) > 1 || Number(minor) >= 35, proxy.image);
  const mounts = new Map(proxy.volumes.map((v: string) => v.split(":").slice(0, 2).reverse() as [string, string]));
  const configPath = proxy.command[proxy.command.indexOf("-c") + 1];
  assert.equal(mounts.get(configPath), "./envoy/envoy.yaml");
  assert.equal(mounts.get(join(proxy.working_dir, wasm.vm_config.code.local.filename)), "./build/mcp-proxy.wasm");
  assert.deepEqual(proxy.ports, [`10000:${envoy.static_resources.listeners[0].address.socket_address.port_value}`]);

  const clusterPort = (name: string) => envoy.static_resources.clusters.find((c: Json) => c.name === name)
    .load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value;
  for (const service of [sidecar, remote, legacy]) assert.equal(service.network_mode, "service:envoy");
  assert.equal(sidecar.build.dockerfile, "sidecar/Dockerfile");
  assert.equal(Number(sidecar.command[sidecar.command.indexOf("--port") + 1]), clusterPort("sidecar"));
  const catalog = sidecar.command[sidecar.command.indexOf("--config") + 1];
  assert.ok(sidecar.volumes.includes(`./envoy/sidecar.json:${catalog}:ro`), sidecar.volumes);
  assert.deepEqual([remote.entrypoint.at(-1), Number(remote.environment.PORT)], ["streamableHttp", clusterPort("remote")]);
  assert.deepEqual([legacy.entrypoint.at(-1), Number(legacy.environment.PORT)], ["sse", clusterPort("legacy")]);
});
