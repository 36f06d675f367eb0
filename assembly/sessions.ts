// Backend MCP sessions, kept per configuration (plugin.ts) per (server, cluster, authority, upstream credential):
// one handshake (initialize, notifications/initialized) serves every later request until the session idles out,
// so a warm tools/call costs one upstream request. Requests that arrive while a handshake runs wait on it.
import { Headers } from "@solo-io/proxy-runtime/assembly";
import { ServerConfig } from "./config";
import { NO_MESSAGE } from "./jsonrpc";
import { nowMs, pair } from "./host";
import { Failure, Waiter, describe } from "./backend";
import { BackendInfo } from "./capabilities";
import { Plugin } from "./plugin";
import {
  initializeRefusal,
  initializeRequest,
  initializedNotification,
  negotiatedVersion,
  notificationFailed,
} from "./handshake";
import {
  BackendReply,
  Call,
  Handler,
  Target,
  deletePairs,
  isModernError,
  postPairs,
  requestBody,
  responseFor,
  transportProblem,
} from "./upstream";
import { modernHeaders, paramsWithGatewayMeta } from "./bridge";
import { MODERN_VERSION } from "./era";

/** Our server/discover request (2026-07-28), with id `id`. */
function discoverBody(id: i64): ArrayBuffer {
  const params = Uint8Array.wrap(paramsWithGatewayMeta(NO_MESSAGE));
  return requestBody(id, "server/discover", params, 0, params.length);
}

/** Session key parts last seen for one server, with their key: the common case (one cluster, authority, identity) reuses it. */
class KeyParts {
  constructor(
    public cluster: string,
    public authority: string,
    public identity: string,
    public key: string,
  ) {}
}

/** mcp_proxy.sessions.<server>.<event> (indexes SESSION_EVENTS). */
export const enum SessionEvent {
  Hit,
  Miss,
  SharedHandshake,
  Lost,
}
const SESSION_EVENTS = ["hit", "miss", "shared_handshake", "lost"];

/** Everything that identifies a backend session and how to reach it. */
export class SessionSpec {
  constructor(
    public key: string,
    public server: ServerConfig,
    public target: Target,
    /** Upstream credential header(s); sent on every call of the session. */
    public auth: Headers,
    /** Allowlisted client headers of the request that starts the handshake. */
    public forwarded: Headers,
  ) {}
}

const enum Stage {
  Initialize,
  Discover,
  Notify,
  Ready,
}

export class BackendSession extends Handler {
  sessionId: string = "";
  protocolVersion: string = "";
  /** The backend's initialize (or server/discover) result: what clients are told (capabilities.ts). */
  info: BackendInfo | null = null;
  /** The backend speaks only 2026-07-28: no session; every request carries `_meta` and the headers (bridge.ts). */
  modern: bool = false;
  waiters: Waiter[] = [];
  lastUsedMs: i64 = 0;
  private stage: Stage = Stage.Initialize;
  private initId: i64 = 0;
  /** A ready session's POST headers in flat form: the same on every call, so serialized once. */
  private posts: ArrayBuffer | null = null;

  constructor(
    public spec: SessionSpec,
    public plugin: Plugin,
  ) {
    super();
  }

  get ready(): bool {
    return this.stage == Stage.Ready;
  }

  /** Session, version and credential headers for a request in this session. */
  headers(): Headers {
    const h: Headers = [];
    if (this.protocolVersion.length > 0) h.push(pair("mcp-protocol-version", this.protocolVersion));
    if (this.sessionId.length > 0) h.push(pair("mcp-session-id", this.sessionId));
    for (let i = 0; i < this.spec.auth.length; i++) h.push(this.spec.auth[i]);
    return h;
  }

  /** Flat POST headers for a request in this ready session. */
  postPairs(): ArrayBuffer {
    let pairs = this.posts;
    if (pairs === null) this.posts = pairs = postPairs(this.spec.target, this.headers());
    return pairs;
  }

  private handshakeHeaders(): Headers {
    const h = this.headers();
    for (let i = 0; i < this.spec.forwarded.length; i++) h.push(this.spec.forwarded[i]);
    return h;
  }

  start(): void {
    this.initId = this.plugin.nextId();
    this.send(initializeRequest(this.initId), "initialize");
  }

  private send(body: ArrayBuffer, what: string, extra: Headers = []): void {
    const spec = this.spec;
    const stat = this.plugin.stats.call(spec.server.statName, what);
    const headers = this.handshakeHeaders();
    for (let i = 0; i < extra.length; i++) headers.push(extra[i]);
    if (!this.plugin.post(spec.target, postPairs(spec.target, headers), body, this, stat)) {
      this.fail(new Failure(200, describe(spec.server, 'could not be called (cluster "' + spec.target.cluster + '")')));
    }
  }

  onReply(_call: Call, reply: BackendReply): void {
    if (this.stage == Stage.Initialize) this.initialized(reply);
    else if (this.stage == Stage.Discover) this.discovered(reply);
    else if (this.stage == Stage.Notify) this.notified(reply);
  }

  private initialized(reply: BackendReply): void {
    const server = this.spec.server;
    if (isModernError(reply)) {
      // A 2026-07-28-only backend refuses the handshake with a modern error: it has no sessions to keep, only
      // server/discover to say what it offers.
      this.stage = Stage.Discover;
      this.initId = this.plugin.nextId();
      this.send(discoverBody(this.initId), "discover", modernHeaders("server/discover", ""));
      return;
    }
    const problem = transportProblem(reply, this.spec.target.timeoutMs);
    if (problem.length > 0) {
      this.fail(Failure.fromReply(server, reply, "failed initialize: " + problem));
      return;
    }
    const m = responseFor(reply, this.initId);
    if (m === null) {
      this.fail(new Failure(200, describe(server, "sent an unparseable reply to initialize")));
      return;
    }
    const refusal = initializeRefusal(server, m);
    if (refusal !== null) {
      this.fail(refusal);
      return;
    }
    this.sessionId = reply.header("mcp-session-id");
    this.protocolVersion = negotiatedVersion(m);
    this.info = BackendInfo.of(m, this.protocolVersion);
    this.stage = Stage.Notify;
    this.send(initializedNotification(), "initialized");
  }

  private discovered(reply: BackendReply): void {
    const server = this.spec.server;
    const problem = transportProblem(reply, this.spec.target.timeoutMs);
    if (problem.length > 0) {
      this.fail(Failure.fromReply(server, reply, "failed server/discover: " + problem));
      return;
    }
    const m = responseFor(reply, this.initId);
    if (m === null) {
      this.fail(new Failure(200, describe(server, "sent an unparseable reply to server/discover")));
      return;
    }
    if (m.error.present) {
      this.fail(new Failure(200, describe(server, "refused server/discover"), "", m));
      return;
    }
    this.info = BackendInfo.of(m, MODERN_VERSION);
    this.modern = true;
    this.plugin.modernBackends.set(server.index, true);
    this.becomeReady();
  }

  private notified(reply: BackendReply): void {
    if (reply.status < 200 || reply.status >= 300)
      notificationFailed(this.spec.server, "HTTP " + reply.status.toString());
    this.becomeReady();
  }

  private becomeReady(): void {
    this.stage = Stage.Ready;
    this.lastUsedMs = nowMs();
    const waiters = this.waiters;
    this.waiters = [];
    for (let i = 0; i < waiters.length; i++) if (waiters[i].waiting()) waiters[i].onSession(this);
  }

  private fail(failure: Failure): void {
    this.plugin.sessions.forget(this);
    const waiters = this.waiters;
    this.waiters = [];
    for (let i = 0; i < waiters.length; i++) if (waiters[i].waiting()) waiters[i].onSessionFailed(failure);
  }
}

/** Replies to fire-and-forget calls (session DELETEs) are ignored. */
class Ignore extends Handler {}
const ignore = new Ignore();

/** One configuration's kept backend sessions, by key. */
export class SessionPool {
  sessions: Map<string, BackendSession> = new Map();
  /** KeyParts by server index. */
  private lastKeys: Map<i32, KeyParts> = new Map();

  constructor(public plugin: Plugin) {}

  get reuse(): bool {
    return this.plugin.config.sessionIdleMs > 0;
  }

  /**
   * Identifies a backend session: sessions are never shared across servers, clusters, authorities or identities
   * (`identity` is the digest of the client's credential and identity headers, "" for none).
   */
  key(server: ServerConfig, cluster: string, authority: string, identity: string): string {
    const lastKeys = this.lastKeys;
    if (lastKeys.has(server.index)) {
      const last = lastKeys.get(server.index);
      if (last.cluster == cluster && last.authority == authority && last.identity == identity) return last.key;
    }
    const key = server.index.toString() + "\n" + cluster + "\n" + authority + "\n" + identity;
    lastKeys.set(server.index, new KeyParts(cluster, authority, identity, key));
    return key;
  }

  count(server: ServerConfig, event: SessionEvent): void {
    this.plugin.stats.count("sessions." + server.statName + "." + SESSION_EVENTS[event]);
  }

  /**
   * Hands `waiter` the kept session under `key`: now when ready, or once its handshake completes. False when there
   * is none (or it idled out): then open one.
   */
  join(key: string, server: ServerConfig, waiter: Waiter): bool {
    if (!this.reuse || !this.sessions.has(key)) return false;
    const existing = this.sessions.get(key);
    if (!existing.ready) {
      this.count(server, SessionEvent.SharedHandshake);
      existing.waiters.push(waiter);
      return true;
    }
    const now = nowMs();
    if (now - existing.lastUsedMs > <i64>this.plugin.config.sessionIdleMs) {
      this.drop(existing);
      return false;
    }
    this.count(server, SessionEvent.Hit);
    existing.lastUsedMs = now;
    waiter.onSession(existing);
    return true;
  }

  /** Starts a new session for `spec` (kept for reuse unless reuse is off) with `waiter` waiting on its handshake. */
  open(spec: SessionSpec, waiter: Waiter): void {
    this.count(spec.server, SessionEvent.Miss);
    const session = new BackendSession(spec, this.plugin);
    if (this.reuse) {
      this.evictIfFull();
      this.sessions.set(spec.key, session);
    }
    session.waiters.push(waiter);
    session.start();
  }

  /** Forgets a session the backend no longer knows (or that failed); nothing to DELETE. */
  forget(session: BackendSession): void {
    if (this.sessions.has(session.spec.key) && this.sessions.get(session.spec.key) === session) {
      this.sessions.delete(session.spec.key);
    }
  }

  /** After a request: a session that is not kept for reuse is ended at once. */
  release(session: BackendSession): void {
    if (!this.reuse) this.end(session);
  }

  /** Ends a session: forgets it and DELETEs it on the backend (fire and forget). */
  drop(session: BackendSession): void {
    this.forget(session);
    this.end(session);
  }

  /** Ends every kept session (the configuration is going away). */
  dropAll(): void {
    const all = this.sessions.values();
    for (let i = 0; i < all.length; i++) if (all[i].ready) this.drop(all[i]);
  }

  private end(session: BackendSession): void {
    if (session.sessionId.length == 0) return;
    const spec = session.spec;
    this.plugin.calls.dispatch(
      spec.target,
      deletePairs(spec.target, session.headers()),
      new ArrayBuffer(0),
      ignore,
      this.plugin.stats.call(spec.server.statName, "delete"),
      spec.target.timeoutMs,
      this.plugin.config.maxResponseBytes,
    );
  }

  private evictIfFull(): void {
    if (this.sessions.size < this.plugin.config.maxSessions) return;
    const all = this.sessions.values();
    let oldest: BackendSession | null = null;
    for (let i = 0; i < all.length; i++) {
      if (all[i].ready && (oldest === null || all[i].lastUsedMs < oldest.lastUsedMs)) oldest = all[i];
    }
    if (oldest !== null) this.drop(oldest);
  }

  /** Ends idle sessions. */
  tick(now: i64): void {
    const all = this.sessions.values();
    const idle = <i64>this.plugin.config.sessionIdleMs;
    for (let i = 0; i < all.length; i++) {
      if (all[i].ready && now - all[i].lastUsedMs > idle) this.drop(all[i]);
    }
  }
}
