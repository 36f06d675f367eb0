// The request path, in one place: what the filter does with one client request from its headers to the local
// reply. The filter is the MCP server clients see: it answers initialize/ping itself, applies the tool policy and
// credentials, and proxies tools/list and tools/call through a (reused) Streamable HTTP backend session, or, for
// legacy SSE backends, through the client's own request rewritten into the SSE GET (legacy.ts).
import { Context, FilterDataStatusValues, FilterHeadersStatusValues, HeaderMapTypeValues, Headers, RootContext } from "@solo-io/proxy-runtime/assembly";
import { ByteWriter } from "./bytes";
import { sha256Hex } from "./sha256";
import { HeadersMode, ServerConfig, Transport } from "./config";
import { SecurityScheme, UpstreamAuth, extractCredential, queryParam, upstreamAuth, withQueryParam,
  withoutQueryParam } from "./credentials";
import { Kind, Scanner, Span } from "./json";
import { HeaderSnapshot } from "./headers";
import { LegacyRequest, LegacySse } from "./legacy";
import { Fact, RequestFacts } from "./rules";
import { INTERNAL_ERROR, INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND, Message, PARSE_ERROR, REQUEST_TIMEOUT,
  NO_MESSAGE, ReplyId, Shape, errorObjectReply, errorReply, literalResultReply, parseMessage, resultReply } from "./jsonrpc";
import { ALLOW_TOOLS_HEADER, ToolFilter, effectiveFilter, filteredToolsResult } from "./policy";
import { appendPairs, localReply, localReplyPairs, serializePairs, nowMs, pair, propertyString, replaceRequestHeader, requestBody,
  Property } from "./host";
import { Plugin } from "./plugin";
import { BackendSession, Failure, SessionEvent, SessionSpec, Waiter, describe } from "./sessions";
import { BackendReply, Call, Target, requestBody as rpcRequestBody, responseFor, sessionLost,
  transportProblem } from "./upstream";

/**
 * Protocol versions we speak towards clients (initialize negotiation and the MCP-Protocol-Version header), oldest
 * first: the last is the one offered when a client asks for a version we do not know.
 */
export const SUPPORTED_VERSIONS = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];
const SERVER_VERSION = "0.1.0";
/** The cluster Envoy's route chose for the request. */
const ROUTE_CLUSTER = "xds\0cluster_name";
const JSON_CONTENT_TYPE = pair("content-type", "application/json");
const JSON_ONLY: Headers = [JSON_CONTENT_TYPE];
const JSON_ONLY_PAIRS = serializePairs(JSON_ONLY);
// Access-log properties (filter state): which server, method and tool a request was.
const SERVER_NAME_PROPERTY = new Property("mcp_server_name");
const METHOD_PROPERTY = new Property("mcp_method");
const TOOL_PROPERTY = new Property("mcp_tool_name");
const NO_HEADERS: Headers = [];
const NO_PAIRS = serializePairs(NO_HEADERS);

/** The method part of request and upstream stat names (indexes STAT_METHODS). */
const enum StatMethod { Initialize, Ping, ToolsList, ToolsCall, Other, Invalid, Notification, Response, Http }
const STAT_METHODS = ["initialize", "ping", "tools_list", "tools_call", "other", "invalid", "notification", "response", "http"];
/** The outcome part of request stat names (indexes OUTCOMES). */
const enum Outcome { Ok, Rejected, Invalid, Accepted, NotFound, Denied, BackendError, UpstreamFailure, Timeout }
const OUTCOMES = ["ok", "rejected", "invalid", "accepted", "not_found", "denied", "backend_error", "upstream_failure", "timeout"];

function initializeResult(plugin: Plugin, server: ServerConfig, version: i32): Uint8Array {
  const initializeResults = plugin.initializeResults;
  const key = (server.index << 4) | version;
  if (initializeResults.has(key)) return initializeResults.get(key);
  const w = new ByteWriter(120 + server.name.length);
  w.str('{"protocolVersion":"').str(SUPPORTED_VERSIONS[version]).str('","capabilities":{"tools":{}},"serverInfo":{"name":');
  w.jsonString(server.name).str(',"version":"').str(SERVER_VERSION).str('"}}');
  const result = Uint8Array.wrap(w.take());
  initializeResults.set(key, result);
  return result;
}

function statMethodOf(method: string): StatMethod {
  if (method == "initialize") return StatMethod.Initialize;
  if (method == "ping") return StatMethod.Ping;
  if (method == "tools/list") return StatMethod.ToolsList;
  if (method == "tools/call") return StatMethod.ToolsCall;
  return StatMethod.Other;
}

export class McpStream extends Context {
  private exchange: Exchange | null = null;

  constructor(id: u32, root: RootContext, public plugin: Plugin) {
    super(id, root);
  }

  onRequestHeaders(_headers: u32, endOfStream: bool): FilterHeadersStatusValues {
    const headers = HeaderSnapshot.read(HeaderMapTypeValues.RequestHeaders);
    const config = this.plugin.config;
    // Without Higress rules only :path chooses the server; with them, only what the rules ask for is read.
    const facts: HostFacts | null = config.rules.length == 0 ? null : new HostFacts(headers);
    const path = headers.get(":path");
    const server = facts === null ? config.match(path) : config.select(path, facts);
    // Paths of no configured server pass through untouched: the filter can share a listener with other routes.
    if (server === null) return FilterHeadersStatusValues.Continue;
    const exchange = new Exchange(this, server, headers, path, facts);
    this.exchange = exchange;
    return exchange.headers(endOfStream);
  }

  onRequestBody(size: usize, endOfStream: bool): FilterDataStatusValues {
    const exchange = this.exchange;
    return exchange === null ? FilterDataStatusValues.Continue : exchange.body(<i32>size, endOfStream);
  }

  onResponseHeaders(_headers: u32, endOfStream: bool): FilterHeadersStatusValues {
    const exchange = this.exchange;
    return exchange === null ? FilterHeadersStatusValues.Continue : exchange.responseHeaders(endOfStream);
  }

  onResponseBody(size: usize, endOfStream: bool): FilterDataStatusValues {
    const exchange = this.exchange;
    return exchange === null ? FilterDataStatusValues.Continue : exchange.responseBody(<i32>size, endOfStream);
  }

  onDelete(): void {
    const exchange = this.exchange;
    if (exchange !== null) exchange.abandon();
  }
}

/** Rule facts from the request headers and Envoy's xds properties (absent ones read as ""). */
class HostFacts extends RequestFacts {
  constructor(private headers: HeaderSnapshot) {
    super();
  }

  protected read(fact: Fact): string {
    if (fact == Fact.Authority) return this.headers.get(":authority");
    return propertyString(fact == Fact.RouteName ? "xds\0route_name" : ROUTE_CLUSTER);
  }
}

/** One client request and its reply. */
class Exchange extends Waiter {
  private done: bool = false;
  // Captured before the headers are stripped (the snapshot `req` keeps the rest readable in every phase, also in
  // "continue" mode where the host's map is gone once onRequestHeaders returns).
  private cluster: string = "";
  private allowHeader: string = "";
  private authorization: string = "";
  /** By security scheme id; allocated only when a credential was found. */
  private credentials: Map<string, string> | null = null;
  /** The client headers copied to backends, read from the snapshot when first needed. */
  private forwardedHeaders: Headers | null = null;
  // From the body.
  private msg: Message = NO_MESSAGE;
  private id: ReplyId = ReplyId.none();
  private method: string = "";
  private statMethod: StatMethod = StatMethod.Http;
  private tool: string = "";
  private filter: ToolFilter = ToolFilter.open();
  // Towards the backend.
  private session: BackendSession | null = null;
  private backendId: i64 = 0;
  private retried: bool = false;
  private deadline: i64 = 0;
  /** Legacy SSE backends: the client's request became the SSE GET. */
  private legacy: LegacySse | null = null;
  private bodySize: i32 = 0;
  /** A body callback came: in "hold" mode none ever comes when Envoy lacks allow_on_headers_stop_iteration. */
  private bodySeen: bool = false;

  /** `facts` are the rules' reads (null without rules): the route's cluster is not read from the host twice. */
  constructor(public stream: McpStream, public server: ServerConfig, private req: HeaderSnapshot, private path: string,
    private facts: HostFacts | null) {
    super();
  }

  get plugin(): Plugin {
    return this.stream.plugin;
  }

  waiting(): bool {
    return !this.done;
  }

  abandon(): void {
    this.done = true;
    this.plugin.active.delete(this);
  }

  // ---- Request headers ----

  headers(endOfStream: bool): FilterHeadersStatusValues {
    SERVER_NAME_PROPERTY.setBytes(this.server.nameBytes);
    const config = this.plugin.config;
    const stop = FilterHeadersStatusValues.StopIteration;
    if (!this.req.valueIs(":method", "POST")) {
      this.finish(405, errorReply(this.id, -32000, "Method not allowed: MCP requests are POSTs"), Outcome.Rejected, [pair("allow", "POST")]);
      return stop;
    }
    if (!this.versionSupported()) {
      const version = this.req.get("mcp-protocol-version");
      this.finish(400, errorReply(this.id, INVALID_REQUEST, "Unsupported MCP-Protocol-Version: " + version), Outcome.Rejected);
      return stop;
    }
    if (this.req.decimal("content-length") > <i64>config.maxRequestBytes) {
      this.tooLarge();
      return stop;
    }
    if (endOfStream) {
      this.finish(400, errorReply(this.id, PARSE_ERROR, "Parse error: empty body"), Outcome.Invalid);
      return stop;
    }
    this.capture();
    // The deadline runs from here: a body that never reaches the filter ends in a clear error, not a hang.
    this.deadline = nowMs() + <i64>config.deadlineMs;
    this.plugin.active.add(this);
    return config.mode == HeadersMode.Hold ? stop : FilterHeadersStatusValues.Continue;
  }

  /** No MCP-Protocol-Version header (or an empty one), or one we speak. */
  private versionSupported(): bool {
    const name = "mcp-protocol-version";
    if (!this.req.has(name) || this.req.valueIs(name, "")) return true;
    for (let i = 0; i < SUPPORTED_VERSIONS.length; i++) if (this.req.valueIs(name, SUPPORTED_VERSIONS[i])) return true;
    return false;
  }

  private routeCluster(): string {
    const facts = this.facts;
    return facts !== null ? facts.get(Fact.Cluster) : propertyString(ROUTE_CLUSTER);
  }

  private tooLarge(): void {
    const limit = this.plugin.config.maxRequestBytes.toString();
    this.finish(413, errorReply(this.id, INVALID_REQUEST, "Request body larger than " + limit + " bytes"), Outcome.Rejected);
  }

  private capture(): void {
    const req = this.req;
    this.cluster = this.server.cluster.length > 0 ? this.server.cluster : this.routeCluster();
    if (req.has(ALLOW_TOOLS_HEADER)) {
      this.allowHeader = req.get(ALLOW_TOOLS_HEADER);
      req.remove(ALLOW_TOOLS_HEADER);
    }
    this.captureCredentials();
  }

  /** The client's :authority (backends without an authority of their own get it). */
  private get authority(): string {
    return this.req.get(":authority");
  }

  private get forwarded(): Headers {
    let headers = this.forwardedHeaders;
    if (headers !== null) return headers;
    this.forwardedHeaders = headers = [];
    const names = this.plugin.config.forwardHeaders;
    for (let i = 0; i < names.length; i++) {
      const value = this.req.get(names[i]);
      if (value.length > 0) headers.push(pair(names[i], value));
    }
    return headers;
  }

  /** Reads and strips every downstream credential; Authorization goes too unless passthroughAuthHeader. */
  private captureCredentials(): void {
    const req = this.req;
    const schemes = this.server.downstreamSchemes;
    const original = this.path;
    let path = original;
    for (let i = 0; i < schemes.length; i++) {
      const scheme = schemes[i];
      const value = scheme.inQuery ? queryParam(path, scheme.name) : req.get(scheme.name);
      if (value.length == 0) continue;
      let found = this.credentials;
      if (found === null) this.credentials = found = new Map();
      found.set(scheme.id, value);
      if (scheme.inQuery) path = withoutQueryParam(path, scheme.name);
      else req.remove(scheme.name);
    }
    if (path != original) {
      replaceRequestHeader(":path", path);
      this.path = path;
    }
    if (!req.has("authorization")) return;
    this.authorization = req.get("authorization");
    if (!this.server.passthroughAuthHeader) req.remove("authorization");
  }

  // ---- Request body ----

  body(size: i32, endOfStream: bool): FilterDataStatusValues {
    const hold = FilterDataStatusValues.StopIterationAndBuffer;
    this.bodySeen = true;
    if (this.done) return hold;
    if (size > this.plugin.config.maxRequestBytes) { this.tooLarge(); return hold; }
    if (!endOfStream) return hold;
    this.bodySize = size;
    this.handle(requestBody(size));
    // A legacy SSE request was rewritten into the backend's SSE GET: let it go upstream.
    return this.legacy !== null && !this.done ? FilterDataStatusValues.Continue : hold;
  }

  // ---- Response (the route's upstream: the SSE GET, or in "continue" mode whatever the route answered) ----

  responseHeaders(endOfStream: bool): FilterHeadersStatusValues {
    const legacy = this.legacy;
    if (legacy !== null && !this.done) return legacy.responseHeaders(endOfStream);
    // In "continue" mode the route's upstream saw the request headers; hold anything it answers until our reply.
    return this.waiting() ? FilterHeadersStatusValues.StopIteration : FilterHeadersStatusValues.Continue;
  }

  responseBody(size: i32, endOfStream: bool): FilterDataStatusValues {
    const legacy = this.legacy;
    return legacy === null ? FilterDataStatusValues.Continue : legacy.responseBody(size, endOfStream);
  }

  private handle(body: ArrayBuffer): void {
    const m = parseMessage(Scanner.of(body));
    this.msg = m;
    this.id = ReplyId.of(m);
    if (m.shape == Shape.Malformed) {
      this.statMethod = StatMethod.Invalid;
      this.finish(400, errorReply(ReplyId.none(), PARSE_ERROR, "Parse error"), Outcome.Invalid);
    } else if (m.shape == Shape.Invalid) {
      this.statMethod = StatMethod.Invalid;
      this.finish(400, errorReply(this.id, INVALID_REQUEST, "Invalid Request: not a JSON-RPC 2.0 message (batches are not supported)"), Outcome.Invalid);
    } else if (m.shape != Shape.Request) {
      // Notifications and responses from the client: accepted, nothing to answer.
      this.statMethod = m.shape == Shape.Notification ? StatMethod.Notification : StatMethod.Response;
      this.finish(202, new ArrayBuffer(0), Outcome.Accepted);
    } else {
      this.request(m.methodName());
    }
  }

  private request(method: string): void {
    this.method = method;
    METHOD_PROPERTY.set(method);
    this.statMethod = statMethodOf(method);
    if (method == "initialize") this.initialize();
    else if (method == "ping") this.finish(200, literalResultReply(this.id, "{}"), Outcome.Ok);
    else if (method == "tools/list") this.toolsList();
    else if (method == "tools/call") this.toolsCall();
    else this.finish(200, errorReply(this.id, METHOD_NOT_FOUND, "Method not found: " + method), Outcome.NotFound);
  }

  /** Answered locally: no client session is issued, so any replica can serve any later request. */
  private initialize(): void {
    const m = this.msg;
    const requested = new Span();
    if (!m.s.member(m.params, "protocolVersion", requested) || requested.kind != Kind.String) {
      this.finish(200, errorReply(this.id, INVALID_PARAMS, "Invalid params: protocolVersion is required"), Outcome.Invalid);
      return;
    }
    let version = SUPPORTED_VERSIONS.length - 1;
    for (let i = 0; i < SUPPORTED_VERSIONS.length; i++) if (m.s.spanIs(requested, SUPPORTED_VERSIONS[i])) version = i;
    const result = initializeResult(this.plugin, this.server, version);
    this.finish(200, resultReply(this.id, result, 0, result.length), Outcome.Ok);
  }

  private toolsList(): void {
    this.filter = effectiveFilter(this.server.allowTools, this.allowHeader);
    this.forward();
  }

  private toolsCall(): void {
    const m = this.msg;
    const name = new Span();
    if (!m.s.member(m.params, "name", name) || name.kind != Kind.String || name.end - name.start <= 2) {
      this.finish(200, errorReply(this.id, INVALID_PARAMS, "Invalid params: missing tool name"), Outcome.Invalid);
      return;
    }
    this.tool = m.s.decodeSpan(name);
    TOOL_PROPERTY.set(this.tool);
    if (!effectiveFilter(this.server.allowTools, this.allowHeader).allows(this.tool)) {
      this.finish(200, errorReply(this.id, INVALID_PARAMS, "Tool not allowed: " + this.tool), Outcome.Denied);
      return;
    }
    this.forward();
  }

  // ---- Towards the backend ----

  private forward(): void {
    if (this.cluster.length == 0) {
      this.fail(new Failure(200, describe(this.server, 'has no cluster: the route has none; set "cluster"')));
      return;
    }
    if (this.server.transport == Transport.Sse) this.openLegacy();
    else this.acquireSession();
  }

  private openLegacy(): void {
    const authority = this.server.authority.length > 0 ? this.server.authority : this.authority;
    this.backendId = this.plugin.nextId();
    const req = new LegacyRequest(this.backendId, this.backendRequest(), STAT_METHODS[this.statMethod], this.upstream(), this.forwarded,
      authority, this.cluster);
    const legacy = new LegacySse(this, this.server, this.plugin, req);
    this.legacy = legacy;
    legacy.open(this.bodySize);
  }

  /** The client's request with our id instead of theirs, params copied verbatim. */
  private backendRequest(): ArrayBuffer {
    const p = this.msg.params;
    return rpcRequestBody(this.backendId, this.method, p.present ? this.msg.s.bytes : null, p.start, p.end);
  }

  /** The upstream identity: the tool's (or server's) upstream scheme fed by a passthrough credential, if any. */
  private upstream(): UpstreamAuth {
    const server = this.server;
    const down = server.downstreamFor(this.tool);
    const downScheme = server.scheme(down);
    let passthrough = "";
    const found = this.credentials;
    if (downScheme !== null && down.passthrough && found !== null && found.has(down.id)) {
      passthrough = extractCredential(downScheme as SecurityScheme, found.get(down.id));
    }
    const upScheme = server.scheme(server.upstreamFor(this.tool));
    if (upScheme !== null) return upstreamAuth(upScheme as SecurityScheme, passthrough);
    if (downScheme === null && server.passthroughAuthHeader && this.authorization.length > 0) {
      return new UpstreamAuth("authorization", this.authorization);
    }
    return new UpstreamAuth();
  }

  /** The live session for this request's (server, cluster, authority, identity), or a new one. */
  private acquireSession(): void {
    const server = this.server;
    const auth = this.upstream();
    const authority = server.authority.length > 0 ? server.authority : this.authority;
    const sessions = this.plugin.sessions;
    const key = sessions.key(server, this.cluster, authority, this.identity(auth));
    if (sessions.join(key, server, this)) return;
    const headers: Headers = [];
    let path = server.path;
    if (auth.inQuery) path = withQueryParam(path, auth.name, auth.value);
    else if (auth.name.length > 0) headers.push(pair(auth.name, auth.value));
    const target = new Target(this.cluster, authority, path, server.timeoutMs);
    sessions.open(new SessionSpec(key, server, target, headers, this.forwarded), this);
  }

  /**
   * What identifies the client to the backend: the upstream credential and the forwarded headers that are not trace
   * context (a sidecar may map them into a child's environment). "" when there is none; else a SHA-256 digest, so
   * that no raw credential becomes a key and no crafted value can reach another identity's session.
   */
  private identity(auth: UpstreamAuth): string {
    const names = this.plugin.config.identityHeaders;
    if (auth.name.length == 0 && names.length == 0) return "";
    const w = new ByteWriter(64);
    w.str(auth.key).byte(0);
    for (let i = 0; i < names.length; i++) {
      if (this.req.has(names[i])) w.str(names[i]).byte(0x3a).str(this.req.get(names[i]));
      w.byte(0);
    }
    return sha256Hex(w.take());
  }

  onSession(session: BackendSession): void {
    this.session = session;
    this.backendId = this.plugin.nextId();
    const body = this.backendRequest();
    const target = session.spec.target;
    const stat = this.plugin.stats.call(this.server.statName, STAT_METHODS[this.statMethod]);
    if (!this.plugin.post(target, appendPairs(session.postPairs(), this.forwarded), body, this, stat, <i32>(this.deadline - nowMs()))) {
      this.fail(new Failure(200, describe(this.server, 'could not be called (cluster "' + target.cluster + '")')));
    }
  }

  onSessionFailed(failure: Failure): void {
    this.fail(failure);
  }

  onReply(_call: Call, reply: BackendReply): void {
    const session = this.session;
    if (!this.waiting() || session === null) return;
    if (sessionLost(reply) && session.sessionId.length > 0 && !this.retried) {
      // The backend ended our session (restart, expiry): re-initialize once, transparently.
      this.retried = true;
      this.plugin.sessions.count(this.server, SessionEvent.Lost);
      this.plugin.sessions.forget(session);
      this.acquireSession();
      return;
    }
    session.lastUsedMs = nowMs();
    this.answer(reply);
    this.plugin.sessions.release(session);
  }

  private answer(reply: BackendReply): void {
    const problem = transportProblem(reply, this.session!.spec.target.timeoutMs);
    if (problem.length > 0) { this.fail(Failure.fromReply(this.server, reply, problem)); return; }
    const m = responseFor(reply, this.backendId);
    if (m === null) { this.fail(new Failure(200, describe(this.server, "sent an unparseable reply to " + this.method))); return; }
    this.answered(m);
  }

  /** The backend's response: its error passes through verbatim; a tools/list result is filtered by the policy. */
  answered(m: Message): void {
    if (m.error.present) { this.finish(200, errorObjectReply(this.id, m.s.bytes, m.error.start, m.error.end), Outcome.BackendError); return; }
    const body = this.filter.restricted
      ? filteredToolsResult(this.id, m.s, m.result, this.filter)
      : resultReply(this.id, m.s.bytes, m.result.start, m.result.end);
    this.finish(200, body, Outcome.Ok);
  }

  private fail(f: Failure): void {
    const e = f.error;
    const body = e !== null
      ? errorObjectReply(this.id, e.s.bytes, e.error.start, e.error.end)
      : errorReply(this.id, INTERNAL_ERROR, f.message);
    const headers: Headers = [];
    if (f.wwwAuthenticate.length > 0) headers.push(pair("www-authenticate", f.wwwAuthenticate));
    this.finish(f.httpStatus, body, e !== null ? Outcome.BackendError : Outcome.UpstreamFailure, headers);
  }

  tick(now: i64): void {
    if (now < this.deadline) return;
    const config = this.plugin.config;
    let message = "Request timed out after " + config.deadlineMs.toString() + " ms (deadlineMs)";
    if (!this.bodySeen && config.mode == HeadersMode.Hold) {
      message += ": its body never reached the filter. In requestHeadersMode \"hold\" Envoy must run the filter with " +
        "allow_on_headers_stop_iteration: true (Envoy >= 1.35); without it use requestHeadersMode \"continue\"";
    }
    this.finish(200, errorReply(this.id, REQUEST_TIMEOUT, message), Outcome.Timeout);
  }

  // ---- The reply ----

  /** <prefix>.requests.<server>.<method>.<outcome>, its id cached per (server, method, outcome). */
  private countOutcome(outcome: Outcome): void {
    const stats = this.plugin.stats;
    const key = (<i64>this.server.index << 16) | (<i64>this.statMethod << 8) | <i64>outcome;
    if (stats.counted(key)) return;
    stats.countAs(key, "requests." + this.server.statName + "." + STAT_METHODS[this.statMethod] + "." + OUTCOMES[outcome]);
  }

  /** `extra` is the caller's own array (content-type is added to it); the shared defaults are never mutated. */
  private finish(status: u32, body: ArrayBuffer, outcome: Outcome, extra: Headers = NO_HEADERS): void {
    if (this.done) return;
    this.done = true;
    this.plugin.active.delete(this);
    this.countOutcome(outcome);
    let headers = extra;
    if (body.byteLength > 0) {
      if (extra.length == 0) headers = JSON_ONLY;
      else extra.push(JSON_CONTENT_TYPE);
    }
    const id = this.stream.context_id;
    if (headers === JSON_ONLY) localReplyPairs(id, status, body, JSON_ONLY_PAIRS);
    else if (headers === NO_HEADERS) localReplyPairs(id, status, body, NO_PAIRS);
    else localReply(id, status, body, headers);
  }
}
