// Builds Envoy v3 bootstrap YAML for tests: one listener on an ephemeral port, the wasm filter, the router,
// clusters pointing at local upstreams, and the admin API on an ephemeral loopback port (tests/helpers/envoy.ts finds
// the bound ports through it).
import { stringify } from "yaml";

export interface RouteSpec {
  /** Envoy's route name (the `xds.route_name` property; Higress's `_match_route_` matches it). */
  name?: string;
  prefix?: string;
  path?: string;
  cluster: string;
  timeout?: string;
  idleTimeout?: string;
  prefixRewrite?: string;
}

export interface BootstrapSpec {
  /** Path of the .wasm; omit for a listener without the wasm filter. */
  wasm?: string;
  rootId?: string;
  pluginName?: string;
  /** Plugin configuration: a string is passed as is, anything else as JSON. */
  pluginConfig?: unknown;
  allowOnHeadersStopIteration?: boolean;
  failOpen?: boolean;
  routes: RouteSpec[];
  /** Virtual hosts tried before the catch-all one ("*") that holds `routes`. */
  virtualHosts?: { name: string; domains: string[]; routes: RouteSpec[] }[];
  /** Cluster name -> upstream port on 127.0.0.1. */
  clusters: Record<string, number>;
  streamIdleTimeout?: string;
  connectTimeout?: string;
  /** A file for Envoy's access log: one JSON object per request with the filter's access-log properties. */
  accessLogPath?: string;
}

/** The filter's access-log properties (proxy_set_property stores them as Envoy filter state "wasm.NAME"). */
export const ACCESS_LOG_PROPERTIES = ["mcp_server_name", "mcp_method", "mcp_tool_name"];

function route(spec: RouteSpec) {
  const match = spec.path !== undefined ? { path: spec.path } : { prefix: spec.prefix ?? "/" };
  const action: Record<string, unknown> = { cluster: spec.cluster };
  if (spec.timeout !== undefined) action.timeout = spec.timeout;
  if (spec.idleTimeout !== undefined) action.idle_timeout = spec.idleTimeout;
  if (spec.prefixRewrite !== undefined) action.prefix_rewrite = spec.prefixRewrite;
  return { ...(spec.name !== undefined ? { name: spec.name } : {}), match, route: action };
}

function wasmFilter(spec: BootstrapSpec) {
  const config: Record<string, unknown> = {
    name: spec.pluginName ?? "mcp-proxy",
    root_id: spec.rootId ?? "mcp-proxy",
    vm_config: { runtime: "envoy.wasm.runtime.v8", code: { local: { filename: spec.wasm } } },
  };
  if (spec.pluginConfig !== undefined) {
    const value = typeof spec.pluginConfig === "string" ? spec.pluginConfig : JSON.stringify(spec.pluginConfig);
    config.configuration = { "@type": "type.googleapis.com/google.protobuf.StringValue", value };
  }
  if (spec.allowOnHeadersStopIteration !== undefined)
    config.allow_on_headers_stop_iteration = spec.allowOnHeadersStopIteration;
  if (spec.failOpen !== undefined) config.fail_open = spec.failOpen;
  return {
    name: "envoy.filters.http.wasm",
    typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm", config },
  };
}

export function bootstrapYaml(spec: BootstrapSpec): string {
  const httpFilters = [
    ...(spec.wasm ? [wasmFilter(spec)] : []),
    {
      name: "envoy.filters.http.router",
      typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" },
    },
  ];
  const hcm: Record<string, unknown> = {
    "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
    stat_prefix: "ingress",
    route_config: {
      name: "local",
      virtual_hosts: [
        ...(spec.virtualHosts ?? []).map((host) => ({
          name: host.name,
          domains: host.domains,
          routes: host.routes.map(route),
        })),
        { name: "all", domains: ["*"], routes: spec.routes.map(route) },
      ],
    },
    http_filters: httpFilters,
  };
  if (spec.streamIdleTimeout !== undefined) hcm.stream_idle_timeout = spec.streamIdleTimeout;
  if (spec.accessLogPath !== undefined) hcm.access_log = [accessLog(spec.accessLogPath)];
  const bootstrap: Record<string, unknown> = {
    admin: { address: { socket_address: { address: "127.0.0.1", port_value: 0 } } },
    static_resources: {
      listeners: [
        {
          name: "main",
          address: { socket_address: { address: "127.0.0.1", port_value: 0 } },
          filter_chains: [{ filters: [{ name: "envoy.filters.network.http_connection_manager", typed_config: hcm }] }],
        },
      ],
      clusters: Object.entries(spec.clusters).map(([name, port]) => ({
        name,
        type: "STATIC",
        connect_timeout: spec.connectTimeout ?? "1s",
        load_assignment: {
          cluster_name: name,
          endpoints: [
            {
              lb_endpoints: [{ endpoint: { address: { socket_address: { address: "127.0.0.1", port_value: port } } } }],
            },
          ],
        },
      })),
    },
  };
  return stringify(bootstrap);
}

function accessLog(path: string) {
  const fields: Record<string, string> = { method: "%REQ(:METHOD)%", path: "%REQ(:PATH)%", status: "%RESPONSE_CODE%" };
  for (const name of ACCESS_LOG_PROPERTIES) fields[name] = `%FILTER_STATE(wasm.${name}:PLAIN)%`;
  return {
    name: "envoy.access_loggers.file",
    typed_config: {
      "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
      path,
      log_format: { json_format: fields },
    },
  };
}
