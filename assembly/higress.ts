// The Higress-compatible mode, in one place: the filter is the MCP server clients see. It answers initialize and
// server/discover (with the backend's own capabilities), ping and notifications itself; every other request goes
// to the backend in a dispatched call:
//  - from a 2025 client, on a backend session kept per identity (sessions.ts): one upstream request once warm. A
//    2026-07-28-only backend has no sessions: the filter asks it server/discover and sends each request with the
//    `_meta` and headers that revision requires (bridge.ts);
//  - from a 2026-07-28 client, statelessly to a backend that speaks that revision (the client's own `_meta` and
//    headers, so its capabilities and input_required round trips pass untouched), or on a bridged session to a
//    2025 backend;
//  - to a legacy SSE backend, through the client's own request rewritten into the SSE GET (legacy.ts).
// Clients stay stateless towards the gateway: no session id is issued, so any replica serves any request. A
// backend session is shared by its identity's clients and its replies arrive whole, so what would apply to all of
// them (logging levels, subscriptions) and what needs a stream of its own (server-to-client requests, the GET
// stream, subscriptions/listen) is refused with the reason: mode "passthrough" serves those.
import { FilterDataStatusValues, FilterHeadersStatusValues, Headers } from "@solo-io/proxy-runtime/assembly";
import { Failure, describe } from "./backend";
import { deliverable, modernHeaders, modernResult, paramsWithGatewayMeta } from "./bridge";
import { ByteWriter, bytesEqual } from "./bytes";
import { BackendInfo, discoverResult, initializeResult } from "./capabilities";
import { Transport } from "./config";
import { UpstreamAuth, withQueryParam } from "./credentials";
import {
  Era,
  LEGACY_VERSIONS,
  META_LOG_LEVEL,
  MODERN_VERSION,
  REMOVED_METHODS,
  VERSION_HEADER,
  metaString,
  unsupportedVersionReply,
} from "./era";
import { Exchange, Outcome, STAT_METHODS } from "./exchange";
import { appendPairs, nowMs, pair, propertyString } from "./host";
import { Kind, Scanner, Span } from "./json";
import {
  INTERNAL_ERROR,
  INVALID_PARAMS,
  METHOD_NOT_FOUND,
  Message,
  PARSE_ERROR,
  errorObjectReply,
  errorReply,
  literalResultReply,
  resultReply,
} from "./jsonrpc";
import { LegacyRequest, LegacySse } from "./legacy";
import { filteredList } from "./policy";
import { BackendSession, SessionEvent, SessionSpec } from "./sessions";
import { sha256Hex } from "./sha256";
import {
  BackendReply,
  Call,
  Target,
  errorResponse,
  isModernError,
  postPairs,
  requestBody as rpcRequestBody,
  responseWithNotifications,
  sessionLost,
  transportProblem,
} from "./upstream";

/** Methods this mode refuses, each with the reason the client is given. */
const REFUSED = ["logging/setLevel", "resources/subscribe", "resources/unsubscribe", "subscriptions/listen"];
const SHARED_SESSION =
  " would need a stream or state of the client's own at the backend, which the Higress-compatible " +
  'mode does not keep (every client of an identity shares one backend session); configure the server with mode "passthrough" for it';

/** What the client's request is answered with. */
const enum Answer {
  Backend,
  Initialize,
  Discover,
}

export class HigressExchange extends Exchange {
  /** The client headers copied to backends, read from the snapshot when first needed. */
  private forwardedHeaders: Headers | null = null;
  private session: BackendSession | null = null;
  /** The request went statelessly to a 2026-07-28 backend (no session). */
  private stateless: Target | null = null;
  private backendId: i64 = 0;
  private retried: bool = false;
  /** Legacy SSE backends: the client's request became the SSE GET. */
  private legacy: LegacySse | null = null;
  private answer: Answer = Answer.Backend;
  /** For initialize: the version negotiated with the client. */
  private initializeVersion: string = "";

  // ---- Request ----

  protected requestHeaders(endOfStream: bool): FilterHeadersStatusValues {
    const stop = FilterHeadersStatusValues.StopIteration;
    if (!this.req.valueIs(":method", "POST")) {
      this.finish(
        405,
        errorReply(
          this.id,
          -32000,
          "Method not allowed: MCP requests are POSTs (this server is in the " +
            "Higress-compatible mode, which has no GET stream)",
        ),
        Outcome.Rejected,
        [pair("allow", "POST")],
      );
      return stop;
    }
    if (endOfStream) {
      this.finish(400, errorReply(this.id, PARSE_ERROR, "Parse error: empty body"), Outcome.Invalid);
      return stop;
    }
    return this.readBody();
  }

  /** A legacy SSE request was rewritten into the backend's SSE GET: let it go upstream. */
  protected afterBody(): FilterDataStatusValues {
    return this.legacy !== null && !this.done
      ? FilterDataStatusValues.Continue
      : FilterDataStatusValues.StopIterationAndBuffer;
  }

  protected notification(): void {
    // Notifications and responses from the client: accepted, nothing to answer (there is no request of ours they
    // could belong to, and the backend session is not the client's).
    this.finish(202, new ArrayBuffer(0), Outcome.Accepted);
  }

  protected request(): void {
    const method = this.method;
    if (this.era == Era.Unsupported) {
      // Refused once the body is read, so that the error carries the request's id.
      this.finish(400, unsupportedVersionReply(this.id, this.req.get(VERSION_HEADER)), Outcome.Rejected);
    } else if (this.era == Era.Modern && REMOVED_METHODS.includes(method)) {
      this.finish(
        404,
        errorReply(
          this.id,
          METHOD_NOT_FOUND,
          "Method not found: " + method + " is not part of protocol version " + MODERN_VERSION,
        ),
        Outcome.NotFound,
      );
    } else if (method == "initialize") this.initialize();
    else if (method == "server/discover") this.answerLocally(Answer.Discover);
    else if (method == "ping") this.finish(200, literalResultReply(this.id, "{}"), Outcome.Ok);
    else if (REFUSED.includes(method))
      this.finish(200, errorReply(this.id, METHOD_NOT_FOUND, method + SHARED_SESSION), Outcome.NotFound);
    else this.proxied();
  }

  /** Negotiated here; answered from the backend's own description. No client session is issued. */
  private initialize(): void {
    const m = this.msg;
    const requested = new Span();
    if (!m.s.member(m.params, "protocolVersion", requested) || requested.kind != Kind.String) {
      this.finish(
        200,
        errorReply(this.id, INVALID_PARAMS, "Invalid params: protocolVersion is required"),
        Outcome.Invalid,
      );
      return;
    }
    let version = LEGACY_VERSIONS[LEGACY_VERSIONS.length - 1];
    for (let i = 0; i < LEGACY_VERSIONS.length; i++)
      if (m.s.spanIs(requested, LEGACY_VERSIONS[i])) version = LEGACY_VERSIONS[i];
    this.initializeVersion = version;
    this.answerLocally(Answer.Initialize);
  }

  /** initialize and server/discover: from the backend's description, which a (kept) backend session holds. */
  private answerLocally(answer: Answer): void {
    this.answer = answer;
    this.forward();
  }

  /** Checked against the allow-lists, then sent to the backend. */
  private proxied(): void {
    const target = this.target;
    if (target === null) {
      this.finish(
        200,
        errorReply(this.id, INVALID_PARAMS, "Invalid params: " + this.method + " names no tool, resource or prompt"),
        Outcome.Invalid,
      );
      return;
    }
    if (this.refusedByPolicy(target)) return;
    this.forward();
  }

  // ---- Towards the backend ----

  private forward(): void {
    if (this.cluster.length == 0) {
      this.fail(new Failure(200, describe(this.server, 'has no cluster: the route has none; set "cluster"')));
      return;
    }
    const modern = this.plugin.modernBackends;
    if (this.server.transport == Transport.Sse) this.openLegacy();
    else if (
      this.era == Era.Modern &&
      this.answer == Answer.Backend &&
      !(modern.has(this.server.index) && !modern.get(this.server.index))
    )
      this.sendStateless();
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
    const authority = this.backendAuthority();
    this.backendId = this.plugin.nextId();
    // initialize and server/discover need only the backend's handshake: no request of the client's goes on the stream.
    const body: ArrayBuffer | null = this.answer != Answer.Backend ? null : this.backendRequest();
    const req = new LegacyRequest(
      this.backendId,
      body,
      STAT_METHODS[this.statMethod],
      this.upstream(),
      this.forwarded,
      authority,
      this.cluster,
    );
    const legacy = new LegacySse(this, this.server, this.plugin, req);
    this.legacy = legacy;
    legacy.open(this.bodySize);
  }

  private backendAuthority(): string {
    return this.server.authority.length > 0 ? this.server.authority : this.authority;
  }

  /** The client's request with our id instead of theirs, params copied verbatim. */
  private backendRequest(): ArrayBuffer {
    const p = this.msg.params;
    return rpcRequestBody(this.backendId, this.method, p.present ? this.msg.s.bytes : null, p.start, p.end);
  }

  /** The request as a 2026-07-28-only backend needs it from a 2025 client: the gateway's `_meta` added. */
  private bridgedRequest(): ArrayBuffer {
    const params = Uint8Array.wrap(paramsWithGatewayMeta(this.msg));
    return rpcRequestBody(this.backendId, this.method, params, 0, params.length);
  }

  /** The path to POST to, carrying the upstream credential when it goes in the query. */
  private backendTarget(auth: UpstreamAuth): Target {
    const path = auth.inQuery ? withQueryParam(this.server.path, auth.name, auth.value) : this.server.path;
    return new Target(this.cluster, this.backendAuthority(), path, this.server.timeoutMs);
  }

  /**
   * A 2026-07-28 client's request to a backend that speaks (or may speak) that revision: stateless, with the
   * client's own `_meta` and its Mcp-* headers, so nothing is kept and an input_required result goes back as is.
   */
  private sendStateless(): void {
    const auth = this.upstream();
    const target = this.backendTarget(auth);
    this.stateless = target;
    this.backendId = this.plugin.nextId();
    const headers: Headers = [pair(VERSION_HEADER, this.req.get(VERSION_HEADER)), pair("mcp-method", this.method)];
    if (this.req.has("mcp-name")) headers.push(pair("mcp-name", this.req.get("mcp-name")));
    if (!auth.inQuery && auth.name.length > 0) headers.push(pair(auth.name, auth.value));
    const forwarded = this.forwarded;
    for (let i = 0; i < forwarded.length; i++) headers.push(forwarded[i]);
    const params = this.req.namesStartingWith("mcp-param-");
    for (let i = 0; i < params.length; i++) headers.push(pair(params[i], this.req.get(params[i])));
    this.post(target, postPairs(target, headers), this.backendRequest());
  }

  /** The live session for this request's (server, cluster, authority, identity), or a new one. */
  private acquireSession(): void {
    const server = this.server;
    const auth = this.upstream();
    const authority = this.backendAuthority();
    const sessions = this.plugin.sessions;
    const key = sessions.key(server, this.cluster, authority, this.identity(auth));
    if (sessions.join(key, server, this)) return;
    const headers: Headers = [];
    if (!auth.inQuery && auth.name.length > 0) headers.push(pair(auth.name, auth.value));
    sessions.open(new SessionSpec(key, server, this.backendTarget(auth), headers, this.forwarded), this);
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
    if (this.answer != Answer.Backend && info !== null) {
      this.answerFrom(info);
      return;
    }
    this.backendId = this.plugin.nextId();
    const named = this.target;
    const pairs = session.modern
      ? appendPairs(
          session.postPairs(),
          concat(modernHeaders(this.method, named !== null ? named.name : ""), this.forwarded),
        )
      : appendPairs(session.postPairs(), this.forwarded);
    this.post(session.spec.target, pairs, session.modern ? this.bridgedRequest() : this.backendRequest());
  }

  private post(target: Target, pairs: ArrayBuffer, body: ArrayBuffer): void {
    const stat = this.plugin.stats.call(this.server.statName, STAT_METHODS[this.statMethod]);
    if (!this.plugin.post(target, pairs, body, this, stat, <i32>(this.deadline - nowMs()))) {
      this.fail(new Failure(200, describe(this.server, 'could not be called (cluster "' + target.cluster + '")')));
    }
  }

  onSessionFailed(failure: Failure): void {
    this.fail(failure);
  }

  onReply(_call: Call, reply: BackendReply): void {
    if (!this.waiting()) return;
    const stateless = this.stateless;
    if (stateless !== null) {
      this.statelessReply(reply, stateless);
      return;
    }
    const session = this.session;
    if (session === null) return;
    if (sessionLost(reply) && session.sessionId.length > 0 && !this.retried) {
      // The backend ended our session (restart, expiry): re-initialize once, transparently.
      this.retried = true;
      this.plugin.sessions.count(this.server, SessionEvent.Lost);
      this.plugin.sessions.forget(session);
      this.acquireSession();
      return;
    }
    session.lastUsedMs = nowMs();
    this.answerWith(reply, session.spec.target.timeoutMs);
    this.plugin.sessions.release(session);
  }

  /**
   * A stateless 2026-07-28 request refused as only a legacy server refuses one (no session: 4xx without a modern
   * error) turns that backend into one served on a bridged session; any answer a modern server gives (a result, or a
   * modern error) shows the backend speaks 2026-07-28.
   */
  private statelessReply(reply: BackendReply, target: Target): void {
    const modern = this.plugin.modernBackends;
    const index = this.server.index;
    const known = modern.has(index) && modern.get(index);
    if (!known && isLegacyRefusal(reply)) {
      modern.set(index, false);
      this.stateless = null;
      this.acquireSession();
      return;
    }
    if (reply.status < 300 || isModernError(reply)) modern.set(index, true);
    this.answerWith(reply, target.timeoutMs);
  }

  private answerWith(reply: BackendReply, timeoutMs: i32): void {
    const refusal = errorResponse(reply);
    if (refusal !== null && reply.status != 401 && reply.status != 403) {
      // A 2026-07-28 client reads the status too (400 for -32021, 404 for an unknown method); a 2025 one, the error.
      const status = this.era == Era.Modern ? reply.status : 200;
      this.finish(
        status,
        errorObjectReply(this.id, refusal.s.bytes, refusal.error.start, refusal.error.end),
        Outcome.BackendError,
      );
      return;
    }
    const problem = transportProblem(reply, timeoutMs);
    if (problem.length > 0) {
      this.fail(Failure.fromReply(this.server, reply, problem + stalledHint(reply)));
      return;
    }
    const notifications: Uint8Array[] = [];
    const m = responseWithNotifications(reply, this.backendId, notifications);
    if (m === null) {
      this.fail(new Failure(200, describe(this.server, "sent an unparseable reply to " + this.method)));
      return;
    }
    this.reply(m, notifications);
  }

  /** A legacy stream's handshake is done: initialize or server/discover is answered from it. */
  initialized(m: Message): void {
    this.answerFrom(BackendInfo.of(m, ""));
  }

  /** The backend's response off a legacy stream (with the notifications it sent before it). */
  answered(m: Message): void {
    const legacy = this.legacy;
    this.reply(m, legacy !== null ? legacy.notifications : []);
  }

  private answerFrom(info: BackendInfo): void {
    const result = Uint8Array.wrap(
      this.answer == Answer.Initialize
        ? initializeResult(info, this.initializeVersion, this.server.name)
        : discoverResult(info, this.server.name),
    );
    this.finish(200, resultReply(this.id, result, 0, result.length), Outcome.Ok);
  }

  /**
   * The backend's response: its error passes through verbatim; a list result is filtered by the policy; a
   * 2026-07-28 client gets what a result of its revision carries. Notifications the backend sent before it
   * (progress, log messages of a tool call) are delivered too: the reply becomes an SSE stream of them and the
   * response, for clients that accept one.
   */
  private reply(m: Message, notifications: Uint8Array[]): void {
    const response = this.clientResponse(m);
    if (response === null) return;
    const outcome = m.error.present ? Outcome.BackendError : Outcome.Ok;
    const kept = this.deliverableOf(notifications);
    if (kept.length == 0 || !this.req.valueContainsCI("accept", "text/event-stream")) {
      this.finish(200, response, outcome);
      return;
    }
    const w = new ByteWriter(response.byteLength + 64 * (kept.length + 1));
    for (let i = 0; i < kept.length; i++) sseMessage(w, kept[i].dataStart, kept[i].length);
    sseMessage(w, changetype<usize>(response), response.byteLength);
    this.finish(200, w.take(), outcome, [pair("content-type", "text/event-stream"), pair("cache-control", "no-cache")]);
  }

  /** A 2026-07-28 client gets log messages only when it asked for them (`_meta` logLevel), at that level or above. */
  private deliverableOf(notifications: Uint8Array[]): Uint8Array[] {
    if (this.era != Era.Modern || notifications.length == 0) return notifications;
    const level = metaString(this.msg, META_LOG_LEVEL);
    const kept: Uint8Array[] = [];
    for (let i = 0; i < notifications.length; i++)
      if (deliverable(notifications[i], level)) kept.push(notifications[i]);
    return kept;
  }

  /** The reply for the client, or null when the request has been answered otherwise. */
  private clientResponse(m: Message): ArrayBuffer | null {
    if (m.error.present) return errorObjectReply(this.id, m.s.bytes, m.error.start, m.error.end);
    if (this.era != Era.Modern && resultIsInputRequired(m)) {
      // A 2026-07-28 backend wants input the client must give (MRTR); a 2025 client cannot be asked for it here.
      this.fail(
        new Failure(
          200,
          describe(
            this.server,
            "needs input from the client (an input_required result) for " +
              this.method +
              ", which a 2025-era client cannot give through the Higress-compatible mode",
          ),
        ),
      );
      return null;
    }
    let s = m.s;
    let result = m.result;
    const list = this.list;
    if (list !== null) {
      s = Scanner.of(filteredList(m.s, m.result, list, this.listFilter));
      result = new Span();
      s.isDocument(result);
    }
    if (this.era == Era.Modern) {
      const modern = Uint8Array.wrap(modernResult(this.method, s, result));
      return resultReply(this.id, modern, 0, modern.length);
    }
    return resultReply(this.id, s.bytes, result.start, result.end);
  }

  private fail(f: Failure): void {
    const e = f.error;
    const body =
      e !== null
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
    if (!this.waiting()) return FilterHeadersStatusValues.Continue;
    // Envoy gave the stream up (its stream idle timeout, which deadlineMs must stay below): its answer goes out.
    if (propertyString("response\0code_details") == "stream_idle_timeout") {
      this.abandon();
      return FilterHeadersStatusValues.Continue;
    }
    // In "continue" mode the route's upstream saw the request headers; hold anything it answers until our reply.
    return FilterHeadersStatusValues.StopIteration;
  }

  responseBody(size: i32, endOfStream: bool): FilterDataStatusValues {
    const legacy = this.legacy;
    if (legacy !== null) return legacy.responseBody(size, endOfStream);
    // Continuing here would release the response headers held above: drop the route's answer until ours is sent.
    return this.waiting() ? FilterDataStatusValues.StopIterationNoBuffer : FilterDataStatusValues.Continue;
  }
}

/**
 * Why a call may never have ended: a backend that asks its client something (sampling, elicitation, roots) waits for
 * an answer, and a dispatched call's reply arrives only whole, so the question never reaches anyone.
 */
function stalledHint(reply: BackendReply): string {
  if (reply.status != 0 && reply.status != 504) return "";
  return (
    " (a tool that asks the client for sampling, elicitation or roots waits for an answer the Higress-compatible " +
    'mode cannot carry; configure the server with mode "passthrough" for it)'
  );
}

/**
 * How a 2025-only server answers a request without a session: a 4xx (not an authentication challenge) whose body is
 * no error a modern server sends (-32020..-32022, -32601 for an unknown method, -32602 for bad params).
 */
function isLegacyRefusal(reply: BackendReply): bool {
  if (reply.status < 400 || reply.status >= 500 || reply.status == 401 || reply.status == 403) return false;
  if (isModernError(reply)) return false;
  const error = errorResponse(reply);
  return error === null || !(errorCodeIs(error, "-32601") || errorCodeIs(error, "-32602"));
}

function errorCodeIs(m: Message, code: string): bool {
  const v = new Span();
  return m.s.member(m.error, "code", v) && v.kind == Kind.Number && bytesEqual(m.s.ptr, v.start, v.end, code);
}

function resultIsInputRequired(m: Message): bool {
  const type = new Span();
  return m.result.kind == Kind.Object && m.s.member(m.result, "resultType", type) && m.s.spanIs(type, "input_required");
}

function concat(a: Headers, b: Headers): Headers {
  const out: Headers = [];
  for (let i = 0; i < a.length; i++) out.push(a[i]);
  for (let i = 0; i < b.length; i++) out.push(b[i]);
  return out;
}

/** One SSE `message` event whose data is the JSON at `ptr` (a JSON-RPC message holds no raw line breaks). */
function sseMessage(w: ByteWriter, ptr: usize, length: i32): void {
  w.str("event: message\ndata: ").raw(ptr, length).str("\n\n");
}
