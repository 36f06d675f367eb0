// Plugin configuration: Higress's mcp-proxy schema (single server: `server`, `allowTools`, `tools`), our
// multi-server form (`servers`, chosen by path prefix), Higress's `_rules_` (a WasmPlugin's matchRules, each with
// its own servers) and our additions. Parsed with the same non-trapping scanner as requests; the first problem
// found is reported as "<field>: <problem>".
import { Elements, Kind, Scanner, Span } from "./json";
import { SchemeType, SecurityRequirement, SecurityScheme } from "./credentials";
import { NameFilter } from "./policy";
import { Category, DomainPattern, RequestFacts, Rule, firstMatch, parseServiceEntry } from "./rules";

export const enum HeadersMode {
  Hold = 0,
  Continue = 1,
}
export const enum Transport {
  Http = 0,
  Stdio = 1,
  Sse = 2,
}
/**
 * How a server is proxied. Higress: the filter is the MCP server clients see (initialize answered here, requests
 * dispatched on a backend session it keeps, legacy SSE rewritten). Passthrough: requests go through Envoy's router
 * to the backend, which clients see, with the filter's policy applied in line (streams, server-to-client requests).
 */
export const enum Mode {
  Higress = 0,
  Passthrough = 1,
}

export const DEFAULT_TIMEOUT_MS: i32 = 5000;
export const DEFAULT_DEADLINE_MS: i32 = 30000;
export const DEFAULT_SESSION_IDLE_MS: i32 = 600000;
export const DEFAULT_MAX_SESSIONS: i32 = 1000;
export const DEFAULT_MAX_REQUEST_BYTES: i32 = 1 << 20;
export const DEFAULT_MAX_RESPONSE_BYTES: i32 = 8 << 20;
export const DEFAULT_FORWARD_HEADERS = ["traceparent", "tracestate", "baggage", "x-request-id"];
/**
 * Forwarded headers that carry trace context, different on every request and never an identity. Every other
 * forwarded header may reach a backend's identity (a sidecar's envFromHeaders): backend sessions are keyed by it.
 */
export const TRACE_CONTEXT_HEADERS = DEFAULT_FORWARD_HEADERS;
/** Headers the filter sets itself on dispatched calls, or that must never leave the gateway. */
const NOT_FORWARDABLE = [
  "cookie",
  "authorization",
  "host",
  "content-type",
  "content-length",
  "accept",
  "mcp-session-id",
  "mcp-protocol-version",
  "transfer-encoding",
  "connection",
  "x-envoy-allow-mcp-tools",
];
/** Settings of the whole plugin (one VM, one session pool): top level only, refused inside a rule. */
const PLUGIN_WIDE = [
  "requestHeadersMode",
  "deadlineMs",
  "sessionIdleTimeoutMs",
  "maxBackendSessions",
  "maxRequestBodyBytes",
  "maxResponseBodyBytes",
  "forwardHeaders",
  "statPrefix",
  "allowedOrigins",
];
/** The policy keys a server's holder may carry (beside `server`, or inside a `servers[]` entry). */
const POLICY_KEYS = ["allowTools", "allowResources", "allowPrompts", "tools"];

export class ToolConfig {
  /** Tool-level downstream scheme (`security`) and upstream scheme (`requestTemplate.security`). */
  downstream: SecurityRequirement = new SecurityRequirement();
  upstream: SecurityRequirement = new SecurityRequirement();
}

export class ServerConfig {
  index: i32 = 0;
  name: string = "";
  /** The name as UTF-8, for the mcp_server_name property set on every request. */
  nameBytes: ArrayBuffer = new ArrayBuffer(0);
  /** Envoy-stat-safe form of the name. */
  statName: string = "";
  /** "" matches every path (the single-server form). */
  pathPrefix: string = "";
  /** "" means the route's cluster (`xds.cluster_name`). */
  cluster: string = "";
  transport: Transport = Transport.Http;
  /** "http"/"https" from mcpServerURL; "" for a bare path (legacy SSE endpoints are then checked by authority only). */
  urlScheme: string = "";
  /** "" means the request's own :authority. */
  authority: string = "";
  path: string = "/";
  timeoutMs: i32 = DEFAULT_TIMEOUT_MS;
  passthroughAuthHeader: bool = false;
  schemes: Map<string, SecurityScheme> = new Map();
  defaultDownstream: SecurityRequirement = new SecurityRequirement();
  defaultUpstream: SecurityRequirement = new SecurityRequirement();
  mode: Mode = Mode.Higress;
  /** Open when the key is absent; an empty list denies all. Tools are exact names (Higress). */
  allowTools: NameFilter = NameFilter.open();
  /** Resource URIs (and URI templates); an entry ending in `*` allows every URI it prefixes. */
  allowResources: NameFilter = NameFilter.open();
  /** Prompt names; an entry ending in `*` allows every name it prefixes. */
  allowPrompts: NameFilter = NameFilter.open();
  tools: Map<string, ToolConfig> = new Map();
  /** Every scheme used downstream (server default or per tool): their credentials are read and stripped. */
  downstreamSchemes: SecurityScheme[] = [];

  downstreamFor(tool: string): SecurityRequirement {
    if (this.tools.has(tool)) {
      const req = this.tools.get(tool).downstream;
      if (req.id.length > 0) return req;
    }
    return this.defaultDownstream;
  }

  upstreamFor(tool: string): SecurityRequirement {
    if (this.tools.has(tool)) {
      const req = this.tools.get(tool).upstream;
      if (req.id.length > 0) return req;
    }
    return this.defaultUpstream;
  }

  scheme(req: SecurityRequirement): SecurityScheme | null {
    return req.id.length > 0 && this.schemes.has(req.id) ? this.schemes.get(req.id) : null;
  }
}

/** Servers chosen by path prefix: the top level's, or one rule's. */
export class ServerSet {
  servers: ServerConfig[] = [];

  /** The server whose pathPrefix is the longest prefix of `path` (query ignored), or null. */
  match(path: string): ServerConfig | null {
    const q = path.indexOf("?");
    const p = q < 0 ? path : path.substring(0, q);
    let best: ServerConfig | null = null;
    for (let i = 0; i < this.servers.length; i++) {
      const s = this.servers[i];
      if (!prefixMatches(p, s.pathPrefix)) continue;
      if (best === null || s.pathPrefix.length > best.pathPrefix.length) best = s;
    }
    return best;
  }
}

export class Config {
  headersMode: HeadersMode = HeadersMode.Hold;
  /** Every server, the top level's first, then each rule's; `index` is the position, unique across rules. */
  servers: ServerConfig[] = [];
  /** The top level's servers; empty when only rules have servers (requests matching no rule then pass through). */
  global: ServerSet = new ServerSet();
  rules: Rule[] = [];
  /** ruleServers[i] are the servers of rules[i]. */
  ruleServers: ServerSet[] = [];
  deadlineMs: i32 = DEFAULT_DEADLINE_MS;
  sessionIdleMs: i32 = DEFAULT_SESSION_IDLE_MS;
  maxSessions: i32 = DEFAULT_MAX_SESSIONS;
  maxRequestBytes: i32 = DEFAULT_MAX_REQUEST_BYTES;
  maxResponseBytes: i32 = DEFAULT_MAX_RESPONSE_BYTES;
  forwardHeaders: string[] = DEFAULT_FORWARD_HEADERS;
  /** The forwarded headers that are not trace context: their values key backend sessions. */
  identityHeaders: string[] = [];
  /** "" means Envoy's name for the plugin (root.ts). */
  statPrefix: string = "";
  /** Origins browsers may call from (lowercase, no trailing slash); null: localhost and same-host origins only. */
  allowedOrigins: string[] | null = null;

  /** The top level's server for `path`, or null: the whole choice when there are no rules. */
  match(path: string): ServerConfig | null {
    return this.global.match(path);
  }

  /** The first rule that matches the request chooses the servers, else the top level does; then `path` does. */
  select(path: string, facts: RequestFacts): ServerConfig | null {
    const i = firstMatch(this.rules, facts);
    const set = i >= 0 && i < this.ruleServers.length ? this.ruleServers[i] : this.global;
    return set.match(path);
  }
}

/** A prefix matches at a segment boundary: /mcp/a matches /mcp/a and /mcp/a/x, not /mcp/ab. */
function prefixMatches(path: string, prefix: string): bool {
  if (!path.startsWith(prefix)) return false;
  return path.length == prefix.length || prefix.endsWith("/") || path.charCodeAt(prefix.length) == 0x2f;
}

export class ConfigResult {
  constructor(
    public config: Config | null,
    public error: string,
  ) {}
}

/** Parses the plugin configuration; never traps. */
export function parseConfig(text: string): ConfigResult {
  const r = new Reader(Scanner.of(String.UTF8.encode(text)));
  const config = r.root();
  return r.error.length > 0 ? new ConfigResult(null, r.error) : new ConfigResult(config, "");
}

/** Walks the configuration, remembering the first error. Every accessor is a no-op once an error is set. */
class Reader {
  s: Scanner;
  error: string = "";

  constructor(s: Scanner) {
    this.s = s;
  }

  fail(path: string, problem: string): bool {
    if (this.error.length == 0) this.error = (path.length > 0 ? path : "(root)") + ": " + problem;
    return false;
  }

  get ok(): bool {
    return this.error.length == 0;
  }

  /** Fills `out` with member `key` of `obj`; false when absent. A present value of the wrong kind is an error. */
  member(obj: Span, key: string, path: string, kind: Kind, out: Span): bool {
    if (!this.ok || !this.s.member(obj, key, out)) return false;
    const kindOk = out.kind == kind || (kind == Kind.True && out.kind == Kind.False);
    return kindOk || this.fail(path, "must be " + kindName(kind));
  }

  str(obj: Span, key: string, path: string, fallback: string): string {
    const v = new Span();
    return this.member(obj, key, path, Kind.String, v) ? this.s.decodeSpan(v) : fallback;
  }

  requiredStr(obj: Span, key: string, path: string): string {
    const value = this.str(obj, key, path, "");
    if (value.length == 0) this.fail(path, "required (a non-empty string)");
    return value;
  }

  bool(obj: Span, key: string, path: string, fallback: bool): bool {
    const v = new Span();
    return this.member(obj, key, path, Kind.True, v) ? v.kind == Kind.True : fallback;
  }

  /** A non-negative integer below 2^31. */
  int(obj: Span, key: string, path: string, fallback: i32): i32 {
    const v = new Span();
    if (!this.member(obj, key, path, Kind.Number, v)) return fallback;
    let n: i64 = 0;
    for (let i = v.start; i < v.end; i++) {
      const d = <i32>this.s.at(i) - 0x30;
      if (d < 0 || d > 9 || n > 0x7fffffff) {
        this.fail(path, "must be a non-negative integer");
        return fallback;
      }
      n = n * 10 + d;
    }
    if (n > 0x7fffffff) this.fail(path, "is too large");
    return <i32>n;
  }

  /** A list of strings, or null when absent. */
  strings(obj: Span, key: string, path: string): string[] | null {
    const v = new Span();
    if (!this.member(obj, key, path, Kind.Array, v)) return null;
    const out: string[] = [];
    const it = new Elements(this.s, v.start);
    while (it.next()) {
      if (it.value.kind != Kind.String) {
        this.fail(path + "[" + out.length.toString() + "]", "must be a string");
        return null;
      }
      out.push(this.s.decodeSpan(it.value));
    }
    return out;
  }

  root(): Config {
    const c = new Config();
    const doc = new Span();
    if (!this.s.isDocument(doc)) {
      this.fail("", "not valid JSON");
      return c;
    }
    if (doc.kind != Kind.Object) {
      this.fail("", "must be a JSON object");
      return c;
    }
    const mode = this.str(doc, "requestHeadersMode", "requestHeadersMode", "hold");
    if (mode == "continue") c.headersMode = HeadersMode.Continue;
    else if (mode != "hold") this.fail("requestHeadersMode", 'must be "hold" or "continue"');
    c.deadlineMs = this.positive(doc, "deadlineMs", DEFAULT_DEADLINE_MS);
    c.sessionIdleMs = this.int(doc, "sessionIdleTimeoutMs", "sessionIdleTimeoutMs", DEFAULT_SESSION_IDLE_MS);
    c.maxSessions = this.positive(doc, "maxBackendSessions", DEFAULT_MAX_SESSIONS);
    c.maxRequestBytes = this.positive(doc, "maxRequestBodyBytes", DEFAULT_MAX_REQUEST_BYTES);
    c.maxResponseBytes = this.positive(doc, "maxResponseBodyBytes", DEFAULT_MAX_RESPONSE_BYTES);
    this.forwardHeaders(doc, c);
    c.statPrefix = this.str(doc, "statPrefix", "statPrefix", "");
    this.allowedOrigins(doc, c);
    // With rules the top level may have no server (Higress's defaultConfigDisable, or only plugin-wide settings in
    // defaultConfig): requests that match no rule then pass through.
    const hasRules = this.s.member(doc, "_rules_", new Span());
    this.servers(doc, "", c.global, c, !hasRules);
    if (hasRules) this.rules(doc, c);
    return c;
  }

  private positive(obj: Span, key: string, fallback: i32): i32 {
    const n = this.int(obj, key, key, fallback);
    if (n == 0) this.fail(key, "must be greater than 0");
    return n;
  }

  private forwardHeaders(doc: Span, c: Config): void {
    const names = this.strings(doc, "forwardHeaders", "forwardHeaders");
    if (names === null) return;
    for (let i = 0; i < names.length; i++) {
      const name = names[i].toLowerCase();
      const path = "forwardHeaders[" + i.toString() + "]";
      if (name.length == 0 || name.startsWith(":")) this.fail(path, "must be a header name");
      else if (NOT_FORWARDABLE.includes(name))
        this.fail(
          path,
          '"' +
            name +
            '" is never forwarded (cookies never; credentials only through security schemes or passthroughAuthHeader)',
        );
      names[i] = name;
    }
    c.forwardHeaders = names;
    c.identityHeaders = names.filter((name: string) => !TRACE_CONTEXT_HEADERS.includes(name));
  }

  private allowedOrigins(doc: Span, c: Config): void {
    const origins = this.strings(doc, "allowedOrigins", "allowedOrigins");
    if (origins === null) return;
    for (let i = 0; i < origins.length; i++) {
      const origin = origins[i].toLowerCase();
      const path = "allowedOrigins[" + i.toString() + "]";
      if (origin != "*" && !origin.startsWith("http://") && !origin.startsWith("https://")) {
        this.fail(path, 'must be an origin such as "https://app.example.com" (scheme://host[:port]), or "*"');
      }
      origins[i] = origin.endsWith("/") ? origin.substring(0, origin.length - 1) : origin;
    }
    c.allowedOrigins = origins;
  }

  /** `server` or `servers` of `holder` (the top level, or a rule at path `at`) into `set`, and into c.servers. */
  private servers(holder: Span, at: string, set: ServerSet, c: Config, required: bool): void {
    const single = new Span();
    const many = new Span();
    const hasSingle = this.member(holder, "server", at + "server", Kind.Object, single);
    const hasMany = this.member(holder, "servers", at + "servers", Kind.Array, many);
    if (!this.ok) return;
    if (hasSingle && hasMany) {
      this.fail(at + "server", 'use either "server" or "servers", not both');
      return;
    }
    // allowTools and tools beside `servers`, or with no server, would restrict nothing: a mistake, not a no-op.
    if (!hasSingle) this.noSharedPolicy(holder, at, hasMany ? 'put it in each "servers" entry' : 'needs "server"');
    if (!hasSingle && !hasMany) {
      if (required) this.fail(at + "server", 'required (or "servers")');
      return;
    }
    if (hasSingle) {
      this.add(this.server(single, holder, at + "server", at, false), at + "server.transport", set, c);
      return;
    }
    const it = new Elements(this.s, many.start);
    while (it.next() && this.ok) {
      const path = at + "servers[" + set.servers.length.toString() + "]";
      if (it.value.kind != Kind.Object) {
        this.fail(path, "must be an object");
        return;
      }
      const entry = it.value;
      this.add(this.server(entry, entry, path, path + ".", true), path + ".transport", set, c);
    }
    if (this.ok && set.servers.length == 0) this.fail(at + "servers", "must list at least one server");
  }

  private noSharedPolicy(holder: Span, at: string, problem: string): void {
    const v = new Span();
    for (let i = 0; i < POLICY_KEYS.length && this.ok; i++) {
      if (this.s.member(holder, POLICY_KEYS[i], v)) this.fail(at + POLICY_KEYS[i], problem);
    }
  }

  /** Indexes are positions in c.servers: unique across rules, so rules never share a backend session. */
  private add(server: ServerConfig, transportPath: string, set: ServerSet, c: Config): void {
    server.index = c.servers.length;
    c.servers.push(server);
    set.servers.push(server);
    this.sseNeedsHold(c, server, transportPath);
    if (this.ok && server.transport == Transport.Sse && server.mode == Mode.Passthrough) {
      this.fail(
        transportPath,
        '"sse" (the legacy HTTP+SSE transport) works in mode "higress" only: the filter turns each request into the SSE GET',
      );
    }
  }

  /** Reads server fields from `obj` and allowTools/tools from `holder`; `prefix` names the holder's fields in errors. */
  private server(obj: Span, holder: Span, objPath: string, prefix: string, multi: bool): ServerConfig {
    const sv = new ServerConfig();
    const at = multi ? prefix : objPath + ".";
    if (multi) {
      sv.pathPrefix = this.requiredStr(obj, "pathPrefix", at + "pathPrefix");
      if (this.ok && !sv.pathPrefix.startsWith("/")) this.fail(at + "pathPrefix", 'must start with "/"');
      sv.cluster = this.requiredStr(obj, "cluster", at + "cluster");
    } else {
      sv.cluster = this.str(obj, "cluster", at + "cluster", "");
    }
    sv.name = this.requiredStr(obj, "name", at + "name");
    sv.nameBytes = String.UTF8.encode(sv.name);
    sv.statName = statSafe(sv.name);
    const type = this.str(obj, "type", at + "type", "mcp-proxy");
    if (type != "mcp-proxy") this.fail(at + "type", 'must be "mcp-proxy"');
    this.transport(obj, at, sv);
    sv.timeoutMs = this.int(obj, "timeout", at + "timeout", DEFAULT_TIMEOUT_MS);
    if (sv.timeoutMs == 0) sv.timeoutMs = DEFAULT_TIMEOUT_MS;
    sv.passthroughAuthHeader = this.bool(obj, "passthroughAuthHeader", at + "passthroughAuthHeader", false);
    this.schemes(obj, at, sv);
    sv.defaultDownstream = this.requirement(obj, "defaultDownstreamSecurity", at + "defaultDownstreamSecurity", sv);
    sv.defaultUpstream = this.requirement(obj, "defaultUpstreamSecurity", at + "defaultUpstreamSecurity", sv);
    sv.mode = this.mode(obj, at + "mode");
    sv.allowTools = NameFilter.of(this.strings(holder, "allowTools", prefix + "allowTools"), false);
    sv.allowResources = NameFilter.of(this.strings(holder, "allowResources", prefix + "allowResources"), true);
    sv.allowPrompts = NameFilter.of(this.strings(holder, "allowPrompts", prefix + "allowPrompts"), true);
    this.tools(holder, prefix + "tools", sv);
    collectDownstreamSchemes(sv);
    return sv;
  }

  private transport(obj: Span, at: string, sv: ServerConfig): void {
    const transport = this.requiredStr(obj, "transport", at + "transport");
    if (!this.ok) return;
    if (transport == "sse") sv.transport = Transport.Sse;
    else if (transport == "stdio") sv.transport = Transport.Stdio;
    else if (transport != "http") {
      this.fail(at + "transport", 'must be "http", "sse" or "stdio"');
      return;
    }
    const url =
      sv.transport == Transport.Stdio
        ? this.str(obj, "mcpServerURL", at + "mcpServerURL", "/servers/" + sv.name + "/mcp")
        : this.requiredStr(obj, "mcpServerURL", at + "mcpServerURL");
    if (!this.ok) return;
    if (!splitUrl(url, sv)) this.fail(at + "mcpServerURL", "must be an http(s):// URL or a path starting with /");
  }

  private mode(obj: Span, path: string): Mode {
    const mode = this.str(obj, "mode", path, "higress");
    if (mode == "passthrough") return Mode.Passthrough;
    if (mode != "higress") this.fail(path, 'must be "higress" or "passthrough"');
    return Mode.Higress;
  }

  /** A legacy SSE server needs the request headers held until the body is read. */
  private sseNeedsHold(c: Config, server: ServerConfig, path: string): void {
    if (!this.ok || c.headersMode == HeadersMode.Hold || server.transport != Transport.Sse) return;
    this.fail(
      path,
      '"sse" needs requestHeadersMode "hold" (and allow_on_headers_stop_iteration: true, Envoy >= 1.35): ' +
        'in "continue" mode the request headers go upstream before the body is read, so the POST cannot become the SSE GET',
    );
  }

  // ---- Higress `_rules_` ----

  private rules(doc: Span, c: Config): void {
    const list = new Span();
    if (!this.member(doc, "_rules_", "_rules_", Kind.Array, list)) return;
    const it = new Elements(this.s, list.start);
    while (it.next() && this.ok) {
      const at = "_rules_[" + c.rules.length.toString() + "]";
      if (it.value.kind != Kind.Object) {
        this.fail(at, "must be an object");
        return;
      }
      const obj = it.value;
      const rule = this.rule(obj, at);
      for (let i = 0; i < PLUGIN_WIDE.length && this.ok; i++) {
        if (this.s.member(obj, PLUGIN_WIDE[i], new Span()))
          this.fail(at + "." + PLUGIN_WIDE[i], "plugin-wide; set it in defaultConfig");
      }
      const set = new ServerSet();
      this.servers(obj, at + ".", set, c, true);
      c.rules.push(rule);
      c.ruleServers.push(set);
    }
    if (this.ok && c.rules.length == 0) this.fail("_rules_", "must list at least one rule");
  }

  /** The match keys, with Higress's categories; keys Higress would silently ignore beside another are refused. */
  private rule(obj: Span, at: string): Rule {
    const rule = new Rule();
    const routes = this.matchKey(obj, at, "_match_route_");
    const domains = this.matchKey(obj, at, "_match_domain_");
    const services = this.matchKey(obj, at, "_match_service_");
    const prefixes = this.matchKey(obj, at, "_match_route_prefix_");
    if (!this.ok) return rule;
    if (routes !== null && domains !== null) {
      this.ignored(at, "_match_domain_", "_match_route_");
    } else if (domains !== null && services !== null) {
      this.ignored(at, "_match_service_", "_match_domain_");
    } else if (prefixes !== null && (routes !== null || domains !== null || services !== null)) {
      this.ignored(
        at,
        "_match_route_prefix_",
        routes !== null ? "_match_route_" : domains !== null ? "_match_domain_" : "_match_service_",
      );
    } else if (routes !== null) {
      rule.category = Category.Route;
      rule.routes = routes;
      if (services !== null) this.services(services, at + "._match_service_", rule);
    } else if (domains !== null) {
      rule.category = Category.Domain;
      this.domains(domains, at + "._match_domain_", rule);
    } else if (services !== null) {
      rule.category = Category.Service;
      this.services(services, at + "._match_service_", rule);
    } else if (prefixes !== null) {
      rule.category = Category.RoutePrefix;
      rule.routes = prefixes;
    } else {
      this.fail(at, "needs _match_route_, _match_domain_, _match_service_ or _match_route_prefix_");
    }
    return rule;
  }

  private ignored(at: string, key: string, beside: string): void {
    this.fail(
      at + "." + key,
      "Higress would ignore it beside " +
        beside +
        " (only _match_route_ with _match_service_ combine); use another rule",
    );
  }

  /** A match key: null when absent; otherwise a non-empty list of non-empty strings. */
  private matchKey(obj: Span, at: string, key: string): string[] | null {
    const path = at + "." + key;
    const list = this.strings(obj, key, path);
    if (list === null || !this.ok) return null;
    if (list.length == 0) {
      this.fail(path, "must list at least one entry");
      return null;
    }
    for (let i = 0; i < list.length; i++) {
      if (list[i].length == 0) {
        this.fail(path + "[" + i.toString() + "]", "must be a non-empty string");
        return null;
      }
    }
    return list;
  }

  private domains(list: string[], path: string, rule: Rule): void {
    for (let i = 0; i < list.length; i++) {
      const star = list[i].indexOf("*");
      if ((star > 0 && star < list[i].length - 1) || (star >= 0 && list[i].lastIndexOf("*") != star)) {
        this.fail(
          path + "[" + i.toString() + "]",
          'one "*" at most, first (*.example.com) or last (www.example.*): Higress matches any other "*" literally',
        );
        return;
      }
      rule.domains.push(DomainPattern.of(list[i]));
    }
  }

  private services(list: string[], path: string, rule: Rule): void {
    for (let i = 0; i < list.length; i++) {
      const service = parseServiceEntry(list[i]);
      if (service === null) {
        this.fail(path + "[" + i.toString() + "]", 'must be "fqdn" or "fqdn:port"');
        return;
      }
      rule.services.push(service);
    }
  }

  private schemes(obj: Span, at: string, sv: ServerConfig): void {
    const list = new Span();
    if (!this.member(obj, "securitySchemes", at + "securitySchemes", Kind.Array, list)) return;
    const it = new Elements(this.s, list.start);
    let i = 0;
    while (it.next() && this.ok) {
      const path = at + "securitySchemes[" + (i++).toString() + "]";
      if (it.value.kind != Kind.Object) {
        this.fail(path, "must be an object");
        return;
      }
      const scheme = this.scheme(it.value, path);
      if (this.ok) sv.schemes.set(scheme.id, scheme);
    }
  }

  private scheme(obj: Span, path: string): SecurityScheme {
    const id = this.requiredStr(obj, "id", path + ".id");
    const type = this.requiredStr(obj, "type", path + ".type");
    const credential = this.str(obj, "defaultCredential", path + ".defaultCredential", "");
    if (type == "http") {
      const scheme = this.str(obj, "scheme", path + ".scheme", "").toLowerCase();
      if (scheme == "bearer") return new SecurityScheme(id, SchemeType.Bearer, "authorization", credential);
      if (scheme == "basic") return new SecurityScheme(id, SchemeType.Basic, "authorization", credential);
      this.fail(path + ".scheme", 'must be "bearer" or "basic"');
    } else if (type == "apiKey") {
      const where = this.str(obj, "in", path + ".in", "header");
      const name = this.requiredStr(obj, "name", path + ".name");
      if (where == "header") return new SecurityScheme(id, SchemeType.ApiKeyHeader, name.toLowerCase(), credential);
      if (where == "query") return new SecurityScheme(id, SchemeType.ApiKeyQuery, name, credential);
      this.fail(path + ".in", 'must be "header" or "query"');
    } else {
      this.fail(path + ".type", 'must be "http" or "apiKey"');
    }
    return new SecurityScheme(id, SchemeType.Bearer, "", "");
  }

  private requirement(obj: Span, key: string, path: string, sv: ServerConfig): SecurityRequirement {
    const v = new Span();
    if (!this.member(obj, key, path, Kind.Object, v)) return new SecurityRequirement();
    const id = this.requiredStr(v, "id", path + ".id");
    if (this.ok && !sv.schemes.has(id)) this.fail(path + ".id", 'no security scheme "' + id + '"');
    return new SecurityRequirement(id, this.bool(v, "passthrough", path + ".passthrough", false));
  }

  private tools(holder: Span, path: string, sv: ServerConfig): void {
    const list = new Span();
    if (!this.member(holder, "tools", path, Kind.Array, list)) return;
    const it = new Elements(this.s, list.start);
    let i = 0;
    while (it.next() && this.ok) {
      const at = path + "[" + (i++).toString() + "]";
      if (it.value.kind != Kind.Object) {
        this.fail(at, "must be an object");
        return;
      }
      const tool = new ToolConfig();
      const name = this.requiredStr(it.value, "name", at + ".name");
      tool.downstream = this.requirement(it.value, "security", at + ".security", sv);
      const template = new Span();
      if (this.member(it.value, "requestTemplate", at + ".requestTemplate", Kind.Object, template)) {
        tool.upstream = this.requirement(template, "security", at + ".requestTemplate.security", sv);
      }
      sv.tools.set(name, tool);
    }
  }
}

function collectDownstreamSchemes(sv: ServerConfig): void {
  const ids = new Set<string>();
  if (sv.defaultDownstream.id.length > 0) ids.add(sv.defaultDownstream.id);
  const tools = sv.tools.values();
  for (let i = 0; i < tools.length; i++) if (tools[i].downstream.id.length > 0) ids.add(tools[i].downstream.id);
  const list = ids.values();
  for (let i = 0; i < list.length; i++) if (sv.schemes.has(list[i])) sv.downstreamSchemes.push(sv.schemes.get(list[i]));
}

/** Splits http(s)://authority/path or /path into the server's authority and path. */
function splitUrl(url: string, sv: ServerConfig): bool {
  if (url.startsWith("/")) {
    sv.urlScheme = "";
    sv.authority = "";
    sv.path = url;
    return true;
  }
  const schemeEnd = url.startsWith("http://") ? 7 : url.startsWith("https://") ? 8 : -1;
  if (schemeEnd < 0) return false;
  sv.urlScheme = url.substring(0, schemeEnd - 3);
  let slash = url.indexOf("/", schemeEnd);
  const query = url.indexOf("?", schemeEnd);
  if (query >= 0 && (slash < 0 || query < slash)) slash = query;
  sv.authority = slash < 0 ? url.substring(schemeEnd) : url.substring(schemeEnd, slash);
  sv.path = slash < 0 ? "/" : url.charCodeAt(slash) == 0x3f ? "/" + url.substring(slash) : url.substring(slash);
  return sv.authority.length > 0;
}

/** Envoy stat names: keep [A-Za-z0-9_-], map anything else to '_'. */
export function statSafe(name: string): string {
  let out = "";
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    const keep = (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a) || c == 0x2d || c == 0x5f;
    out += keep ? String.fromCharCode(c) : "_";
  }
  return out;
}

function kindName(kind: Kind): string {
  if (kind == Kind.Object) return "an object";
  if (kind == Kind.Array) return "an array";
  if (kind == Kind.String) return "a string";
  if (kind == Kind.Number) return "a number";
  return "a boolean";
}
