// The deployment files parse, and carry one filter configuration: envoy/mcp-proxy.config.json. envoy.yaml holds it
// exactly; the Kubernetes manifests hold it with the documented differences only (cluster names and backend URLs
// as Istio/Higress know the demo Service; the Istio WasmPlugin in "continue" mode without the legacy SSE server,
// which that mode cannot serve; Higress with one matchRule per server). The filter itself, in real Envoy, accepts
// each of them, the Higress one as Higress's controller hands it over. docker-compose.yml mounts what envoy.yaml
// names, on the ports it names.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse, parseAllDocuments } from "yaml";
import { bootstrapYaml } from "../../helpers/bootstrap.ts";
import { startEnvoy } from "../../helpers/envoy.ts";
// @ts-expect-error: a plain ES module without types
import { ENVOY_VERSIONS } from "../../../scripts/envoy.mjs";
import { send } from "../../helpers/harness.ts";
import { filterWasm, json, post, repoRoot, startGateway } from "../../helpers/gateway.ts";

type Json = Record<string, any>;
const read = (path: string) => readFileSync(join(repoRoot, path), "utf8");
const yamlDocs = (path: string): Json[] =>
  parseAllDocuments(read(path)).map((doc) => {
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
const K8S_CLUSTERS: Record<string, string> = {
  sidecar: `outbound|8081||${SERVICE}`,
  remote: `outbound|3001||${SERVICE}`,
  legacy: `outbound|3002||${SERVICE}`,
};
const K8S_URLS: Record<string, string> = {
  remote: `http://${SERVICE}:3001/mcp`,
  legacy: "http://mcp.example.com/mcp/legacy/sse",
};

function inKubernetes(config: Json): Json {
  const copy = structuredClone(config);
  for (const server of copy.servers) {
    server.cluster = K8S_CLUSTERS[server.cluster];
    if (server.name in K8S_URLS) server.mcpServerURL = K8S_URLS[server.name];
  }
  return copy;
}

function continueMode(config: Json): Json {
  return {
    ...config,
    requestHeadersMode: "continue",
    servers: config.servers.filter((s: Json) => s.transport !== "sse"),
  };
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
    assert.ok(
      seconds(route.route.timeout) > source.deadlineMs && seconds(route.route.idle_timeout) > source.deadlineMs,
      route.name,
    );
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

/**
 * The plugin configuration Higress's controller builds from a WasmPlugin spec: defaultConfig's fields (none when
 * defaultConfigDisable), plus `_rules_`, one entry per enabled match rule: its config with `_match_route_` (its
 * Ingresses), `_match_service_` and `_match_domain_`. null when Higress would not deploy the plugin at all.
 */
function higressPluginConfig(spec: Json): Json | null {
  const config: Json = spec.defaultConfigDisable === true ? {} : structuredClone(spec.defaultConfig ?? {});
  const keys: [string, string][] = [
    ["ingress", "_match_route_"],
    ["service", "_match_service_"],
    ["domain", "_match_domain_"],
  ];
  const rules = (spec.matchRules ?? [])
    .filter((rule: Json) => rule.configDisable !== true)
    .map((rule: Json) => {
      const entry: Json = structuredClone(rule.config ?? {});
      for (const [from, to] of keys) if (rule[from]?.length > 0) entry[to] = [...rule[from]];
      if (!keys.some(([, to]) => to in entry))
        throw new Error(`match rule without ingress, service or domain: ${JSON.stringify(rule)}`);
      return entry;
    });
  if (rules.length > 0) config._rules_ = rules;
  return rules.length === 0 && spec.defaultConfigDisable === true ? null : config;
}

const higressPlugin = one("envoy/higress/wasmplugin.yaml");
const higressIngresses = yamlDocs("envoy/higress/ingress.yaml");
const higressConfig = higressPluginConfig(higressPlugin.spec)!;

test("the Higress conversion helper follows Higress's controller", () => {
  const rule = { ingress: ["ns/a"], service: ["s.ns.svc.cluster.local:80"], config: { allowTools: [] } };
  assert.deepEqual(
    higressPluginConfig({
      defaultConfig: { deadlineMs: 5 },
      matchRules: [rule, { ...rule, domain: ["x"], configDisable: true }],
    }),
    {
      deadlineMs: 5,
      _rules_: [{ allowTools: [], _match_route_: ["ns/a"], _match_service_: ["s.ns.svc.cluster.local:80"] }],
    },
  );
  assert.deepEqual(
    higressPluginConfig({
      defaultConfigDisable: true,
      defaultConfig: { deadlineMs: 5 },
      matchRules: [{ domain: ["x"] }],
    }),
    { _rules_: [{ _match_domain_: ["x"] }] },
  );
  assert.deepEqual(higressPluginConfig({ defaultConfig: { deadlineMs: 5 } }), { deadlineMs: 5 });
  assert.equal(
    higressPluginConfig({ defaultConfigDisable: true, matchRules: [{ ...rule, configDisable: true }] }),
    null,
  );
  assert.throws(() => higressPluginConfig({ matchRules: [{ config: {} }] }), /without ingress/);
});

test("Higress: plugin-wide settings in defaultConfig, one matchRule per server, on every Ingress to that server", () => {
  const plugin = higressPlugin;
  assert.equal(plugin.apiVersion, "extensions.higress.io/v1alpha1");
  assert.equal(plugin.kind, "WasmPlugin");
  assert.match(plugin.spec.url, /^oci:\/\//);
  assert.equal(plugin.spec.pluginName, "mcp-proxy");
  assert.equal(plugin.spec.defaultConfigDisable, false);
  // The top level: the source's plugin-wide settings and no server, so requests on other routes pass through.
  const { _rules_: rules, ...top } = higressConfig;
  const { servers, ...pluginWide } = source;
  assert.deepEqual(top, pluginWide);
  // Each server of the source, with its Kubernetes cluster and URL, in its own rule: `server` without pathPrefix (the
  // route chooses it) and allowTools beside it. Its rule names every Ingress to its Service port at or under its
  // pathPrefix (the sidecar's port serves several stdio servers, each at its own path), the one whose path is its
  // pathPrefix first; and every Ingress is in a rule, so no route to a backend bypasses the filter.
  const ingressPath = (ing: Json) => ing.spec.rules[0].http.paths[0].path;
  const ingressPort = (ing: Json) => ing.spec.rules[0].http.paths[0].backend.service.port.number;
  const ingressName = (ing: Json) => `${ing.metadata.namespace}/${ing.metadata.name}`;
  const under = (path: string, prefix: string) => path === prefix || path.startsWith(`${prefix}/`);
  const expected = inKubernetes(source).servers.map(({ pathPrefix, allowTools, ...server }: Json) => {
    const port = Number(server.cluster.split("|")[1]);
    const routed = higressIngresses.filter((ing) => ingressPort(ing) === port && under(ingressPath(ing), pathPrefix));
    assert.equal(routed[0] && ingressPath(routed[0]), pathPrefix, server.name);
    return { _match_route_: routed.map(ingressName), server, allowTools };
  });
  assert.equal(servers.length, expected.length);
  assert.deepEqual(rules, expected);
  const inRules = new Set(rules.flatMap((rule: Json) => rule._match_route_));
  assert.deepEqual(
    higressIngresses.map(ingressName).filter((name) => !inRules.has(name)),
    [],
    "Ingresses in no rule",
  );
  // The legacy SSE URL is routed to the SSE backend's /sse, and lies in the legacy server's rule.
  const sse = higressIngresses.find((d) => d.metadata.annotations["higress.io/rewrite-target"] === "/sse")!;
  assert.equal(sse.spec.rules[0].http.paths[0].path, new URL(K8S_URLS.legacy).pathname);
  assert.ok(rules.find((r: Json) => r.server.name === "legacy")._match_route_.includes(`mcp/${sse.metadata.name}`));
});

test("Higress: on routes named as the Ingresses, each path gets its rule's server; other routes pass through", async (t) => {
  // Higress's route for Ingress NAME in namespace NS is named NS/NAME; the clusters are closed ports: ping and the
  // method check are the filter's own answers (counted under the server that answered), anything that reaches a
  // cluster gets 503.
  const routes = higressIngresses.map((ing) => {
    const { path, backend } = ing.spec.rules[0].http.paths[0];
    return {
      name: `${ing.metadata.namespace}/${ing.metadata.name}`,
      prefix: path,
      cluster: `outbound|${backend.service.port.number}||${SERVICE}`,
    };
  });
  const clusters = Object.fromEntries(routes.map((r) => [r.cluster, 1]));
  routes.sort((a, b) => b.prefix.length - a.prefix.length);
  const { url, envoy } = await startGateway(t, {
    pluginConfig: higressConfig,
    clusters,
    routes: [...routes, { name: "unrelated", prefix: "/", cluster: routes[0].cluster }],
  });
  const ping = { jsonrpc: "2.0", id: 1, method: "ping" };
  for (const server of source.servers) {
    const reply = await post(url, ping, [], `${server.pathPrefix}/x`);
    assert.deepEqual(json(reply).result, {}, server.pathPrefix);
    assert.equal(
      await envoy.stat(`mcp-proxy.requests.${server.name}.ping.ok`),
      1,
      `${server.pathPrefix} answered by ${server.name}`,
    );
  }
  assert.equal(
    (await send(url, { path: "/mcp/legacy/sse" })).status,
    405,
    "the raw SSE stream stays closed to clients",
  );
  assert.equal((await post(url, ping, [], "/elsewhere")).status, 503, "no rule: the route's cluster, not the filter");
});

test("the filter accepts every shipped configuration (and would refuse sse in continue mode)", async () => {
  const configs: [string, Json, boolean, number][] = [
    ["envoy.yaml", source, true, source.servers.length],
    ["Istio EnvoyFilter", inKubernetes(source), true, source.servers.length],
    ["Istio WasmPlugin", continueMode(inKubernetes(source)), false, continueMode(source).servers.length],
    ["Higress WasmPlugin", higressConfig, true, higressConfig._rules_.length],
  ];
  const yaml = (config: Json, flag: boolean) =>
    bootstrapYaml({
      wasm: filterWasm(),
      pluginConfig: config,
      routes: [{ prefix: "/", cluster: "c" }],
      clusters: { c: 1 },
      allowOnHeadersStopIteration: flag,
    });
  for (const [where, config, flag, servers] of configs) {
    // One worker is enough: the configuration is the same in every VM.
    const envoy = await startEnvoy({ yaml: yaml(config, flag), concurrency: 1 });
    await envoy.close();
    const line = envoy.pluginLogs("mcp-proxy: configured")[0];
    assert.ok(
      line?.includes(`${servers} server(s), requestHeadersMode ${config.requestHeadersMode}`),
      `${where}: ${line}`,
    );
  }
  // The difference is necessary: with the sse server kept, "continue" mode is refused and Envoy does not start (the
  // filter fails closed on a configuration it refuses).
  await assert.rejects(
    startEnvoy({ yaml: yaml({ ...inKubernetes(source), requestHeadersMode: "continue" }, false), concurrency: 1 }),
    /"sse" needs requestHeadersMode "hold"/,
  );
});

test("docker-compose.yml: the tested Envoy with envoy.yaml and the wasm where envoy.yaml looks, on loopback, the rest in its network namespace", () => {
  const compose = one("docker-compose.yml");
  const { envoy: proxy, sidecar, remote, legacy } = compose.services;
  assert.equal(proxy.image, `envoyproxy/envoy:v${ENVOY_VERSIONS.newest}`);
  const mounts = new Map(proxy.volumes.map((v: string) => v.split(":").slice(0, 2).reverse() as [string, string]));
  const configPath = proxy.command[proxy.command.indexOf("-c") + 1];
  assert.equal(mounts.get(configPath), "./envoy/envoy.yaml");
  assert.equal(mounts.get(join(proxy.working_dir, wasm.vm_config.code.local.filename)), "./build/mcp-proxy.wasm");
  assert.deepEqual(proxy.ports, [
    `127.0.0.1:10000:${envoy.static_resources.listeners[0].address.socket_address.port_value}`,
  ]);

  const clusterPort = (name: string) =>
    envoy.static_resources.clusters.find((c: Json) => c.name === name).load_assignment.endpoints[0].lb_endpoints[0]
      .endpoint.address.socket_address.port_value;
  for (const service of [sidecar, remote, legacy]) assert.equal(service.network_mode, "service:envoy");
  assert.equal(sidecar.build.dockerfile, "sidecar/Dockerfile");
  assert.equal(Number(sidecar.command[sidecar.command.indexOf("--port") + 1]), clusterPort("sidecar"));
  const catalog = sidecar.command[sidecar.command.indexOf("--config") + 1];
  assert.ok(sidecar.volumes.includes(`./envoy/sidecar.json:${catalog}:ro`), sidecar.volumes);
  assert.deepEqual(
    [remote.entrypoint.at(-1), Number(remote.environment.PORT)],
    ["streamableHttp", clusterPort("remote")],
  );
  assert.deepEqual([legacy.entrypoint.at(-1), Number(legacy.environment.PORT)], ["sse", clusterPort("legacy")]);
});
