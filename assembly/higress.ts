// The Higress-compatible mode, in one place: the filter is the MCP server clients see. It answers initialize (with
// the backend's capabilities, from the session it keeps), ping and notifications itself; every other request is
// sent on a backend session kept per identity (sessions.ts) — one upstream request once warm — or, for a legacy
// SSE backend, through the client's own request rewritten into the SSE GET (legacy.ts). Clients stay stateless
// towards the gateway: no session id is issued, so any replica serves any request. The backend session is shared,
// so what would apply to every client (logging levels, subscriptions) and what needs a stream of its own
// (server-to-client requests, the GET stream) is refused with a clear error; use mode "passthrough" for those.
import { FilterDataStatusValues, FilterHeadersStatusValues, Headers } from "@solo-io/proxy-runtime/assembly";
import { Failure, describe } from "./backend";
import { ByteWriter } from "./bytes";
import { BackendInfo, initializeResult } from "./capabilities";
import { Transport } from "./config";
import { UpstreamAuth, withQueryParam } from "./credentials";
import { Exchange, Outcome, STAT_METHODS } from "./exchange";
import { appendPairs, nowMs, pair } from "./host";
import { Kind, Span } from "./json";
import { INTERNAL_ERROR, INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND, Message, PARSE_ERROR, errorObjectReply,
  errorReply, literalResultReply, resultReply } from "./jsonrpc";
import { LegacyRequest, LegacySse } from "./legacy";
import { ListShape, NameFilter, Subject, filteredListResult, listShape, targetOf } from "./policy";
import { BackendSession, SessionEvent, SessionSpec } from "./sessions";
import { sha256Hex } from "./sha256";
import { BackendReply, Call, Target, requestBody as rpcRequestBody, responseWithNotifications, sessionLost,
  transportProblem } from "./upstream";

/**
 * Protocol versions we speak towards clients (initialize negotiation and the MCP-Protocol-Version header), oldest
 * first: the last is the one offered when a client asks for a version we do not know.
 */
export const SUPPORTED_VERSIONS = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];
/** Methods this mode refuses, each with the reason the client is given. */
const REFUSED = ["logging/setLevel", "resources/subscribe", "resources/unsubscribe"];
const SHARED_SESSION = " would apply to the backend session every client of this gateway shares (Higress-compatible " +
  'mode); the server must be configured with mode "passthrough" for it';
const SUBJECT_NAMES = ["", "Tool", "Resource", "Prompt"];

export class HigressExchange extends Exchange {
  /** The client headers copied to backends, read from the snapshot when first needed. */
  private forwardedHeaders: Headers | null = null;
  private session: BackendSession | null = null;
  private backendId: i64 = 0;
  private retried: bool = false;
  /** Legacy SSE backends: the client's request became the SSE GET. */
  private legacy: LegacySse | null = null;
  /** For a list method under a restricted allow-list: what to filter the result by. */
  private list: ListShape | null = null;
  private listFilter: NameFilter = NameFilter.open();
  /** For initialize: the version negotiated with the client (answered from the backend's own initialize result). */
  private initializeVersion: string = "";

  // ---- Request ----

  protected requestHeaders(endOfStream: bool): FilterHeadersStatusValues {
    const stop = FilterHeadersStatusValues.StopIteration;
    if (!this.req.valueIs(":method", "POST")) {
      this.finish(405, errorReply(this.id, -32000, "Method not allowed: MCP requests are POSTs (this server is in the " +
        'Higress-compatible mode, which has no GET stream)'), Outcome.Rejected, [pair("allow", "POST")]);
      return stop;
    }
    if (!this.versionSupported()) {
      const version = this.req.get("mcp-protocol-version");
      this.finish(400, errorReply(this.id, INVALID_REQUEST, "Unsupported MCP-Protocol-Version: " + version), Outcome.Rejected);
      return stop;
    }
    if (endOfStream) {
      this.finish(400, errorReply(this.id, PARSE_ERROR, "Parse error: empty body"), Outcome.Invalid);
      return stop;
    }
    this.capture();
    return this.readBody();
  }

  /** No MCP-Protocol-Version header (or an empty one), or one we speak. */
  private versionSupported(): bool {
    const name = "mcp-protocol-version";
    if (!this.req.has(name) || this.req.valueIs(name, "")) return true;
    for (let i = 0; i < SUPPORTED_VERSIONS.length; i++) if (this.req.valueIs(name, SUPPORTED_VERSIONS[i])) return true;
    return false;
  }

  /** A legacy SSE request was rewritten into the backend's SSE GET: let it go upstream. */
  protected afterBody(): FilterDataStatusValues {
    return this.legacy !== null && !this.done ? FilterDataStatusValues.Continue : FilterDataStatusValues.StopIterationAndBuffer;
  }

  protected notification(): void {
    // Notifications and responses from the client: accepted, nothing to answer (there is no request of ours they
    // could belong to, and the backend session is not the client's).
    this.finish(202, new ArrayBuffer(0), Outcome.Accepted);
  }

  protected request(): void {
    const method = this.method;
    if (method == "initialize") this.initialize();
    else if (method == "ping") this.finish(200, literalResultReply(this.id, "{}"), Outcome.Ok);
    else if (REFUSED.includes(method)) this.finish(200, errorReply(this.id, METHOD_NOT_FOUND, method + SHARED_SESSION), Outcome.NotFound);
    else this.proxied();
  }

  /** Answered here from the backend's own initialize result; no client session is issued. */
  private initialize(): void {
    const m = this.msg;
    const requested = new Span();
    if (!m.s.member(m.params, "protocolVersion", requested) || requested.kind != Kind.String) {
      this.finish(200, errorReply(this.id, INVALID_PARAMS, "Invalid params: protocolVersion is required"), Outcome.Invalid);
      return;
    }
    let version = SUPPORTED_VERSIONS[SUPPORTED_VERSIONS.length - 1];
    for (let i = 0; i < SUPPORTED_VERSIONS.length; i++) if (m.s.spanIs(requested, SUPPORTED_VERSIONS[i])) version = SUPPORTED_VERSIONS[i];
    this.initializeVersion = version;
    this.forward();
  }

  /** Checked against the allow-lists, then sent to the backend. */
  private proxied(): void {
    const target = targetOf(this.method, this.msg);
    if (target === null) {
      this.finish(200, errorReply(this.id, INVALID_PARAMS, "Invalid params: " + this.method + " names no tool, resource or prompt"), Outcome.Invalid);
      return;
    }
    const policy = this.policy();
    if (target.subject == Subject.Tool) this.setTool(target.name);
    if (!policy.filterFor(target.subject).allows(target.name)) {
      this.finish(200, errorReply(this.id, INVALID_PARAMS, SUBJECT_NAMES[target.subject] + " not allowed: " + target.name), Outcome.Denied);
      return;
    }
    const shape = listShape(this.method);
    if (shape !== null && policy.filterFor(shape.subject).restricted) {
      this.list = shape;
      this.listFilter = policy.filterFor(shape.subject);
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

  private openLegacy(): void {
    const authority = this.server.authority.length > 0 ? this.server.authority : this.authority;
    this.backendId = this.plugin.nextId();
    // initialize needs only the backend's handshake: no request of the client's goes on the stream.
    const body: ArrayBuffer | null = this.initializeVersion.length > 0 ? null : this.backendRequest();
    const req = new LegacyRequest(this.backendId, body, STAT_METHODS[this.statMethod], this.upstream(), this.forwarded,
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
    const info = session.info;
    if (this.initializeVersion.length > 0 && info !== null) {
      this.answerInitialize(info);
      return;
    }
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
    const notifications: Uint8Array[] = [];
    const m = responseWithNotifications(reply, this.backendId, notifications);
    if (m === null) { this.fail(new Failure(200, describe(this.server, "sent an unparseable reply to " + this.method))); return; }
    this.reply(m, notifications);
  }

  /** A legacy stream's handshake is done: a client's initialize is answered from it. */
  initialized(m: Message): void {
    this.answerInitialize(BackendInfo.of(m, ""));
  }

  /** The backend's response off a legacy stream (with the notifications it sent before it). */
  answered(m: Message): void {
    const legacy = this.legacy;
    this.reply(m, legacy !== null ? legacy.notifications : []);
  }

  private answerInitialize(info: BackendInfo): void {
    const result = Uint8Array.wrap(initializeResult(info, this.initializeVersion, this.server.name));
    this.finish(200, resultReply(this.id, result, 0, result.length), Outcome.Ok);
  }

  /**
   * The backend's response: its error passes through verbatim; a list result is filtered by the policy.
   * Notifications the backend sent before it (progress, log messages of a tool call) are delivered too: the reply
   * becomes an SSE stream of them and the response, for clients that accept one.
   */
  private reply(m: Message, notifications: Uint8Array[]): void {
    const outcome = m.error.present ? Outcome.BackendError : Outcome.Ok;
    const response = this.clientResponse(m);
    if (notifications.length == 0 || !this.req.valueContainsCI("accept", "text/event-stream")) {
      this.finish(200, response, outcome);
      return;
    }
    const w = new ByteWriter(response.byteLength + 64 * (notifications.length + 1));
    for (let i = 0; i < notifications.length; i++) sseMessage(w, notifications[i].dataStart, notifications[i].length);
    sseMessage(w, changetype<usize>(response), response.byteLength);
    this.finish(200, w.take(), outcome, [pair("content-type", "text/event-stream"), pair("cache-control", "no-cache")]);
  }

  private clientResponse(m: Message): ArrayBuffer {
    if (m.error.present) return errorObjectReply(this.id, m.s.bytes, m.error.start, m.error.end);
    const list = this.list;
    return list !== null
      ? filteredListResult(this.id, m.s, m.result, list, this.listFilter)
      : resultReply(this.id, m.s.bytes, m.result.start, m.result.end);
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
}

/** One SSE `message` event whose data is the JSON at `ptr` (a JSON-RPC message holds no raw line breaks). */
function sseMessage(w: ByteWriter, ptr: usize, length: i32): void {
  w.str("event: message\ndata: ").raw(ptr, length).str("\n\n");
}
