// Reads an Envoy v3 bootstrap and keeps the subset the emulator reproduces. Every field that would change Envoy's
// behaviour and is not reproduced is refused with its path, so a config never silently means something else here.
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { parseDurationMs } from "./duration.ts";

export interface SocketAddress { host: string; port: number }

export interface RouteConfig {
  name: string;
  prefix?: string;
  path?: string;
  cluster: string;
  timeoutMs: number;
  idleTimeoutMs?: number;
  prefixRewrite?: string;
}

export interface VirtualHostConfig { name: string; domains: string[]; routes: RouteConfig[] }

export interface WasmFilterConfig {
  kind: "wasm";
  name: string;
  rootId: string;
  vmId: string;
  wasmFile: string;
  configuration: string;
  vmConfiguration: string;
  allowOnHeadersStopIteration: boolean;
  failOpen: boolean;
}

export type HttpFilterConfig = WasmFilterConfig | { kind: "router" };

export interface ListenerConfig {
  name: string;
  address: SocketAddress;
  statPrefix: string;
  streamIdleTimeoutMs: number;
  routeConfigName: string;
  virtualHosts: VirtualHostConfig[];
  httpFilters: HttpFilterConfig[];
}

export interface ClusterConfig {
  name: string;
  type: "STATIC" | "STRICT_DNS" | "LOGICAL_DNS";
  connectTimeoutMs: number;
  endpoints: SocketAddress[];
}

export interface BootstrapConfig {
  admin?: SocketAddress;
  listeners: ListenerConfig[];
  clusters: Map<string, ClusterConfig>;
}

// Envoy's defaults.
export const DEFAULT_ROUTE_TIMEOUT_MS = 15_000;
export const DEFAULT_STREAM_IDLE_TIMEOUT_MS = 300_000;
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;

const TYPE_PREFIX = "type.googleapis.com/";
const HCM_TYPE = "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";
const WASM_TYPE = "envoy.extensions.filters.http.wasm.v3.Wasm";
const ROUTER_TYPE = "envoy.extensions.filters.http.router.v3.Router";
const STRING_VALUE_TYPE = "google.protobuf.StringValue";

/** A YAML node that remembers its path and which fields were read, so unread fields can be refused. */
class Node {
  private readonly seen = new Set<string>();
  constructor(readonly value: Record<string, unknown>, readonly path: string) {}

  static of(value: unknown, path: string): Node {
    if (value === null || typeof value !== "object" || Array.isArray(value)) throw new Error(`${path}: must be an object`);
    return new Node(value as Record<string, unknown>, path);
  }

  private at(key: string): string {
    return this.path ? `${this.path}.${key}` : key;
  }

  raw(key: string): unknown {
    this.seen.add(key);
    return this.value[key];
  }

  /** A field the emulator accepts because it changes nothing the filter or a client could observe. */
  ignore(...keys: string[]): this {
    keys.forEach((key) => this.seen.add(key));
    return this;
  }

  has(key: string): boolean {
    return this.value[key] !== undefined;
  }

  child(key: string): Node {
    return Node.of(this.raw(key), this.at(key));
  }

  optionalChild(key: string): Node | undefined {
    return this.has(key) ? this.child(key) : undefined;
  }

  list(key: string, required = true): Node[] {
    const value = this.raw(key);
    if (value === undefined && !required) return [];
    if (!Array.isArray(value)) throw new Error(`${this.at(key)}: must be a list`);
    return value.map((item, index) => Node.of(item, `${this.at(key)}[${index}]`));
  }

  string(key: string, fallback?: string): string {
    const value = this.raw(key);
    if (value === undefined && fallback !== undefined) return fallback;
    if (typeof value !== "string") throw new Error(`${this.at(key)}: must be a string`);
    return value;
  }

  stringList(key: string): string[] {
    const value = this.raw(key);
    if (!Array.isArray(value) || value.some((item) => typeof item !== "string")) throw new Error(`${this.at(key)}: must be a list of strings`);
    return value as string[];
  }

  bool(key: string, fallback: boolean): boolean {
    let value = this.raw(key);
    // google.protobuf.BoolValue may be written as {value: true}.
    if (value !== null && typeof value === "object") value = Node.of(value, this.at(key)).raw("value");
    if (value === undefined) return fallback;
    if (typeof value !== "boolean") throw new Error(`${this.at(key)}: must be true or false`);
    return value;
  }

  port(key: string): number {
    const value = this.raw(key);
    if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > 65535) throw new Error(`${this.at(key)}: must be a port number`);
    return value as number;
  }

  durationMs(key: string, fallback: number): number;
  durationMs(key: string): number | undefined;
  durationMs(key: string, fallback?: number): number | undefined {
    const value = this.raw(key);
    return value === undefined ? fallback : parseDurationMs(value, this.at(key));
  }

  oneOf<T extends string>(key: string, allowed: readonly T[], fallback: T): T {
    const value = this.raw(key) ?? fallback;
    if (!allowed.includes(value as T)) throw new Error(`${this.at(key)}: "${String(value)}" is not supported by the emulator (supported: ${allowed.join(", ")})`);
    return value as T;
  }

  typeUrl(expected: string): void {
    const value = this.raw("@type");
    if (value !== `${TYPE_PREFIX}${expected}`) throw new Error(`${this.at("@type")}: expected ${TYPE_PREFIX}${expected}`);
  }

  /** Refuses any field nobody read: the emulator would otherwise ignore something Envoy acts on. */
  done(): void {
    for (const key of Object.keys(this.value)) {
      if (!this.seen.has(key)) throw new Error(`${this.at(key)}: not supported by the emulator (it would change Envoy's behaviour)`);
    }
  }
}

function socketAddress(node: Node): SocketAddress {
  const address = node.child("address");
  const socket = address.child("socket_address");
  const result = { host: socket.string("address"), port: socket.port("port_value") };
  socket.oneOf("protocol", ["TCP"], "TCP");
  socket.done();
  address.done();
  return result;
}

function routeEntry(node: Node, index: number): RouteConfig {
  const match = node.child("match");
  const prefix = match.has("prefix") ? match.string("prefix") : undefined;
  const path = match.has("path") ? match.string("path") : undefined;
  if ((prefix === undefined) === (path === undefined)) throw new Error(`${match.path}: exactly one of prefix or path is supported`);
  match.done();
  const action = node.child("route");
  const route: RouteConfig = {
    name: node.string("name", `route_${index}`),
    prefix,
    path,
    cluster: action.string("cluster"),
    timeoutMs: action.durationMs("timeout", DEFAULT_ROUTE_TIMEOUT_MS),
    idleTimeoutMs: action.durationMs("idle_timeout"),
    prefixRewrite: action.has("prefix_rewrite") ? action.string("prefix_rewrite") : undefined,
  };
  action.done();
  node.done();
  return route;
}

function virtualHost(node: Node): VirtualHostConfig {
  const host = { name: node.string("name", ""), domains: node.stringList("domains"), routes: node.list("routes").map(routeEntry) };
  node.done();
  return host;
}

function wasmFilter(node: Node, baseDir: string): WasmFilterConfig {
  const typed = node.child("typed_config");
  typed.typeUrl(WASM_TYPE);
  const config = typed.child("config");
  const vm = config.child("vm_config");
  vm.oneOf("runtime", ["envoy.wasm.runtime.v8"], "envoy.wasm.runtime.v8");
  const code = vm.child("code");
  const local = code.child("local");
  const wasmFile = local.string("filename");
  local.done();
  code.done();
  const stringValue = (parent: Node, key: string): string => {
    const value = parent.optionalChild(key);
    if (!value) return "";
    value.typeUrl(STRING_VALUE_TYPE);
    const text = value.string("value", "");
    value.done();
    return text;
  };
  const filter: WasmFilterConfig = {
    kind: "wasm",
    name: config.string("name", ""),
    rootId: config.string("root_id", ""),
    vmId: vm.string("vm_id", ""),
    wasmFile: wasmFile.startsWith("/") ? wasmFile : `${baseDir}/${wasmFile}`,
    vmConfiguration: stringValue(vm, "configuration"),
    configuration: stringValue(config, "configuration"),
    allowOnHeadersStopIteration: config.bool("allow_on_headers_stop_iteration", false),
    failOpen: config.bool("fail_open", false),
  };
  vm.done();
  config.done();
  typed.done();
  return filter;
}

function httpFilter(node: Node, baseDir: string): HttpFilterConfig {
  const name = node.string("name");
  if (name === "envoy.filters.http.router") {
    const typed = node.optionalChild("typed_config");
    typed?.typeUrl(ROUTER_TYPE);
    typed?.done();
    node.done();
    return { kind: "router" };
  }
  if (name !== "envoy.filters.http.wasm") throw new Error(`${node.path}.name: filter "${name}" is not supported by the emulator`);
  const filter = wasmFilter(node, baseDir);
  node.done();
  return filter;
}

function listener(node: Node, baseDir: string): ListenerConfig {
  const name = node.string("name", "");
  const address = socketAddress(node);
  const chains = node.list("filter_chains");
  if (chains.length !== 1) throw new Error(`${node.path}.filter_chains: exactly one filter chain is supported`);
  const filters = chains[0].list("filters");
  if (filters.length !== 1) throw new Error(`${chains[0].path}.filters: exactly one network filter (the HTTP connection manager) is supported`);
  const network = filters[0];
  if (network.string("name") !== "envoy.filters.network.http_connection_manager") {
    throw new Error(`${network.path}.name: only envoy.filters.network.http_connection_manager is supported`);
  }
  const hcm = network.child("typed_config");
  hcm.typeUrl(HCM_TYPE);
  // codec_type AUTO/HTTP1: the emulator speaks HTTP/1.1 to clients, which is what AUTO gives a plaintext HTTP/1 client.
  hcm.oneOf("codec_type", ["AUTO", "HTTP1"], "AUTO");
  const routeConfig = hcm.child("route_config");
  const result: ListenerConfig = {
    name,
    address,
    statPrefix: hcm.string("stat_prefix"),
    streamIdleTimeoutMs: hcm.durationMs("stream_idle_timeout", DEFAULT_STREAM_IDLE_TIMEOUT_MS),
    routeConfigName: routeConfig.string("name", ""),
    virtualHosts: routeConfig.list("virtual_hosts").map(virtualHost),
    httpFilters: hcm.list("http_filters").map((filter) => httpFilter(filter, baseDir)),
  };
  routeConfig.done();
  hcm.done();
  network.done();
  chains[0].done();
  node.done();
  const last = result.httpFilters.at(-1);
  if (!last || last.kind !== "router") throw new Error(`${hcm.path}.http_filters: the last filter must be envoy.filters.http.router`);
  if (result.httpFilters.slice(0, -1).some((f) => f.kind === "router")) throw new Error(`${hcm.path}.http_filters: the router must be the last filter`);
  return result;
}

function cluster(node: Node): ClusterConfig {
  const name = node.string("name");
  const type = node.oneOf("type", ["STATIC", "STRICT_DNS", "LOGICAL_DNS"] as const, "STATIC");
  node.oneOf("lb_policy", ["ROUND_ROBIN"], "ROUND_ROBIN");
  // Address family only matters for names that resolve to both; loopback tests and compose use IPv4.
  node.ignore("dns_lookup_family");
  const assignment = node.child("load_assignment");
  assignment.ignore("cluster_name");
  const endpoints = assignment.list("endpoints").flatMap((locality) => {
    const lbEndpoints = locality.list("lb_endpoints").map((lb) => {
      const endpoint = lb.child("endpoint");
      const address = socketAddress(endpoint);
      endpoint.done();
      lb.done();
      return address;
    });
    locality.done();
    return lbEndpoints;
  });
  assignment.done();
  const result = { name, type, connectTimeoutMs: node.durationMs("connect_timeout", DEFAULT_CONNECT_TIMEOUT_MS), endpoints };
  node.done();
  return result;
}

function checkRoutesReferToClusters(listeners: ListenerConfig[], clusters: Map<string, ClusterConfig>): void {
  // Envoy validates static route configs against static clusters at start-up (validate_clusters).
  for (const l of listeners) {
    for (const host of l.virtualHosts) {
      for (const route of host.routes) {
        if (!clusters.has(route.cluster)) throw new Error(`route "${route.name}" of listener "${l.name}": unknown cluster "${route.cluster}"`);
      }
    }
  }
}

export function parseBootstrap(yamlText: string, baseDir = process.cwd()): BootstrapConfig {
  const root = Node.of(parse(yamlText), "");
  const adminNode = root.optionalChild("admin");
  const admin = adminNode ? socketAddress(adminNode) : undefined;
  adminNode?.ignore("access_log", "access_log_path").done();
  const resources = root.child("static_resources");
  const listeners = resources.list("listeners").map((l) => listener(l, baseDir));
  const clusters = new Map<string, ClusterConfig>();
  for (const c of resources.list("clusters", false).map(cluster)) clusters.set(c.name, c);
  resources.done();
  root.done();
  checkRoutesReferToClusters(listeners, clusters);
  return { admin, listeners, clusters };
}

export function readBootstrap(path: string): BootstrapConfig {
  return parseBootstrap(readFileSync(path, "utf8"));
}
