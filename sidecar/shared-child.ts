// mode "shared": one child serves every session of a server. The sidecar initializes it once,
// rewrites request ids (and progress tokens) so that replies can never cross between sessions,
// keeps what 2025 makes per session (the logging level, resource subscriptions) per session,
// and restarts the child with exponential backoff when it dies.
import type { ServerConfig } from "./catalog.ts";
import { ChildLink } from "./child-link.ts";
import { isLogLevel, logLevelAllows, moreVerbose } from "./eras.ts";
import {
  answerForClient,
  errorReply,
  idKey,
  isRequest,
  isResponse,
  paramsOf,
  progressToken,
  resultReply,
  type JsonRpcId,
  type JsonRpcMessage,
  type JsonRpcRequest,
} from "./jsonrpc.ts";
import type { Logger } from "./log.ts";
import { CLIENT_INFO, ErrorCode, LATEST_LEGACY_VERSION, LEGACY_VERSIONS } from "./protocol.ts";
import type { Services } from "./services.ts";
import type { ChildConnection, Session } from "./session.ts";
import { describeExit, launchChild, type ExitInfo, type StdioChild } from "./stdio-child.ts";

export type SharedChildState = "starting" | "ready" | "restarting" | "stopped";

/** Why a shared child's own requests (sampling, elicitation, roots) are refused: the answer its child gets. */
const UNROUTABLE =
  'this server runs in mode "shared" (one process for every session), so a request it sends on its ' +
  'own cannot be tied to one client; run it in mode "session" to use sampling, elicitation or roots';

interface Route {
  session: Session;
  id: JsonRpcId;
  token?: JsonRpcId;
  /** A resources/subscribe the child answers for the session that asked first: an error undoes it. */
  subscribing?: string;
}

/** What the sidecar keeps per session, because the child has only one of each. */
interface SessionState {
  /** Client id key -> child-side id (for notifications/cancelled). */
  childIds: Map<string, number>;
  /** The level the session chose with logging/setLevel; none: every message. */
  logLevel?: string;
  subscriptions: Set<string>;
}

export class SharedChild implements ChildConnection {
  state: SharedChildState = "starting";
  private child: StdioChild | undefined;
  private link: ChildLink | undefined;
  private initializeResult: Record<string, unknown> | undefined;
  private readonly sessions = new Map<Session, SessionState>();
  /** Child-side id -> the session and id the client used. */
  private readonly routes = new Map<number, Route>();
  /** Requests the child sent for one session's call (known only for 2026-only children): id key -> that session. */
  private readonly asks = new Map<string, Session>();
  /** The level set on the child: the most verbose any session asked for. */
  private childLogLevel: string | undefined;
  private nextId = 1;
  private initializeId: number | undefined;
  private delayMs: number;
  private timer: NodeJS.Timeout | undefined;
  private readyWaiters = new Set<() => void>();
  private readonly log: Logger;

  constructor(
    private readonly services: Services,
    private readonly server: ServerConfig,
  ) {
    this.delayMs = server.restart.initialDelayMs;
    this.log = services.log.with({ server: server.name, mode: "shared" });
  }

  start(): void {
    const child = launchChild(this.services, this.server, this.log, {}, (message) => link.fromChild(message));
    const link = new ChildLink(
      child,
      this.server.protocol,
      true,
      (message, related) => this.fromChild(message, related),
      this.log,
    );
    this.child = child;
    this.link = link;
    this.childLogLevel = undefined;
    void child.exited.then((info) => this.onChildExited(child, info));
    const id = this.nextId++;
    this.initializeId = id;
    this.timer = setTimeout(() => {
      this.log.warn("shared child did not answer initialize in time; stopping it");
      void child.stop("initialize-timeout");
    }, this.services.global.initializeTimeoutMs);
    // No client capabilities: nothing the child could ask a client for can be routed to one (see UNROUTABLE).
    link.send({
      jsonrpc: "2.0",
      id,
      method: "initialize",
      params: { protocolVersion: LATEST_LEGACY_VERSION, capabilities: {}, clientInfo: CLIENT_INFO },
    });
  }

  /** Resolves true once the child is ready, false after `timeoutMs` or when stopped. */
  whenReady(timeoutMs: number): Promise<boolean> {
    if (this.state === "ready") return Promise.resolve(true);
    if (this.state === "stopped") return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.readyWaiters.delete(done);
        resolve(this.state === "ready");
      };
      const timer = setTimeout(done, timeoutMs);
      this.readyWaiters.add(done);
    });
  }

  attach(session: Session): void {
    this.sessions.set(session, { childIds: new Map(), subscriptions: new Set() });
  }

  send(session: Session, message: JsonRpcMessage): void {
    if (isResponse(message)) return this.answerAsk(session, message);
    if (isRequest(message)) return this.fromSession(session, message);
    switch (message.method) {
      case "notifications/initialized":
        return; // the sidecar sent its own, once
      case "notifications/cancelled":
        return this.forwardCancel(session, message);
      // The child was told the client has no roots capability: a change of roots means nothing to it.
      case "notifications/roots/list_changed":
        return;
      default:
        this.link?.send(message);
    }
  }

  detach(session: Session): void {
    const state = this.sessions.get(session);
    this.sessions.delete(session);
    if (!state) return;
    for (const childId of state.childIds.values()) this.routes.delete(childId);
    for (const [key, owner] of this.asks) if (owner === session) this.asks.delete(key);
    for (const uri of state.subscriptions) this.unsubscribeChild(uri);
  }

  /** No more restarts; the session registry stops the child itself along with every other. */
  stop(): void {
    this.state = "stopped";
    clearTimeout(this.timer);
    this.wakeWaiters();
  }

  private fromSession(session: Session, message: JsonRpcRequest): void {
    const state = this.sessions.get(session)!;
    const params = paramsOf(message);
    switch (message.method) {
      case "initialize":
        return session.receive(this.initializeReply(message));
      case "logging/setLevel":
        if (this.offers("logging") && isLogLevel(params.level))
          return this.setLogLevel(session, state, message.id, params.level);
        break;
      case "resources/subscribe": {
        const uri = String(params.uri);
        // The first subscriber's request goes to the child (its answer is theirs); after that the child already
        // sends the resource's updates, and the sidecar routes them to each session that subscribed.
        if (this.subscribers(uri) === 0) break;
        state.subscriptions.add(uri);
        return session.receive(resultReply(message.id, {}));
      }
      case "resources/unsubscribe": {
        const uri = String(params.uri);
        if (state.subscriptions.delete(uri)) this.unsubscribeChild(uri);
        return session.receive(resultReply(message.id, {}));
      }
    }
    this.forwardRequest(session, state, message);
  }

  private forwardRequest(session: Session, state: SessionState, message: JsonRpcRequest): void {
    if (this.state !== "ready" || !this.link) {
      return session.receive(errorReply(message.id, ErrorCode.serverUnavailable, `MCP server is ${this.state}`));
    }
    const childId = this.nextId++;
    const token = progressToken(message);
    const route: Route = { session, id: message.id, token };
    if (message.method === "resources/subscribe") {
      route.subscribing = String(paramsOf(message).uri);
      state.subscriptions.add(route.subscribing);
    }
    this.routes.set(childId, route);
    state.childIds.set(idKey(message.id), childId);
    const params =
      token === undefined
        ? message.params
        : { ...message.params, _meta: { ...(message.params as { _meta?: object })._meta, progressToken: childId } };
    this.link.send({ ...message, id: childId, params });
  }

  /**
   * Each session has its own level: the child is set to the most verbose one any session chose, and each
   * session gets only the messages its own level lets through.
   */
  private setLogLevel(session: Session, state: SessionState, id: JsonRpcId, level: string): void {
    state.logLevel = level;
    const wanted = this.childLogLevel === undefined ? level : moreVerbose(this.childLogLevel, level);
    if (wanted !== this.childLogLevel) {
      this.childLogLevel = wanted;
      this.link?.send({ jsonrpc: "2.0", id: this.nextId++, method: "logging/setLevel", params: { level: wanted } });
    }
    session.receive(resultReply(id, {}));
  }

  private subscribers(uri: string): number {
    let count = 0;
    for (const state of this.sessions.values()) if (state.subscriptions.has(uri)) count++;
    return count;
  }

  /** The last session watching `uri` is gone: the child stops sending its updates. */
  private unsubscribeChild(uri: string): void {
    if (this.subscribers(uri) > 0 || this.state !== "ready") return;
    this.link?.send({ jsonrpc: "2.0", id: this.nextId++, method: "resources/unsubscribe", params: { uri } });
  }

  private offers(capability: string): boolean {
    const capabilities = this.initializeResult?.capabilities as Record<string, unknown> | undefined;
    return capabilities?.[capability] !== undefined;
  }

  private forwardCancel(session: Session, message: JsonRpcMessage): void {
    const params = message.params as { requestId?: JsonRpcId } | undefined;
    if (params?.requestId === undefined) return;
    const childId = this.sessions.get(session)?.childIds.get(idKey(params.requestId));
    if (childId !== undefined) this.link?.send({ ...message, params: { ...params, requestId: childId } });
  }

  /** A session's answer to a request the child sent for one of its calls; any other session's is dropped. */
  private answerAsk(session: Session, message: JsonRpcMessage & { id: JsonRpcId }): void {
    if (this.asks.get(idKey(message.id)) !== session) return;
    this.asks.delete(idKey(message.id));
    this.link?.send(message);
  }

  /** Each session's initialize is answered from the child's one initialize result. */
  private initializeReply(message: JsonRpcMessage & { id: JsonRpcId }): JsonRpcMessage {
    if (!this.initializeResult)
      return errorReply(message.id, ErrorCode.serverUnavailable, `MCP server is ${this.state}`);
    const requested = paramsOf(message).protocolVersion;
    const protocolVersion =
      typeof requested === "string" && LEGACY_VERSIONS.includes(requested)
        ? requested
        : this.initializeResult.protocolVersion;
    return resultReply(message.id, { ...this.initializeResult, protocolVersion });
  }

  /** `related`: the child-side id of the call a message belongs to, when the link knows it. */
  private fromChild(message: JsonRpcMessage, related?: JsonRpcId): void {
    if (isResponse(message)) return this.routeReply(message);
    const route = typeof related === "number" ? this.routes.get(related) : undefined;
    if (isRequest(message)) {
      if (!route) return this.link?.send(answerForClient(message, UNROUTABLE));
      this.asks.set(idKey(message.id), route.session);
      return route.session.receive(message, route.id);
    }
    switch (message.method) {
      case "notifications/progress":
        return this.routeProgress(message);
      case "notifications/cancelled":
        return;
      case "notifications/message":
        return this.broadcastLog(message);
      case "notifications/resources/updated":
        return this.broadcastUpdate(message);
    }
    for (const session of this.sessions.keys()) session.receive(message);
  }

  private broadcastLog(message: JsonRpcMessage): void {
    const { level } = paramsOf(message);
    for (const [session, state] of this.sessions) {
      if (state.logLevel === undefined || logLevelAllows(state.logLevel, level)) session.receive(message);
    }
  }

  private broadcastUpdate(message: JsonRpcMessage): void {
    const uri = String(paramsOf(message).uri);
    for (const [session, state] of this.sessions) if (state.subscriptions.has(uri)) session.receive(message);
  }

  private routeReply(message: JsonRpcMessage & { id: JsonRpcId }): void {
    if (message.id === this.initializeId) return this.onInitialized(message);
    const route = typeof message.id === "number" ? this.routes.get(message.id) : undefined;
    if (!route) return this.log.debug("reply for no request in flight, dropped", { id: message.id });
    this.routes.delete(message.id as number);
    const state = this.sessions.get(route.session);
    state?.childIds.delete(idKey(route.id));
    if (route.subscribing !== undefined && message.error) state?.subscriptions.delete(route.subscribing);
    route.session.receive({ ...message, id: route.id });
  }

  private routeProgress(message: JsonRpcMessage): void {
    const params = message.params as { progressToken?: JsonRpcId };
    const route = typeof params.progressToken === "number" ? this.routes.get(params.progressToken) : undefined;
    if (route?.token === undefined) return;
    route.session.receive({ ...message, params: { ...params, progressToken: route.token } });
  }

  private onInitialized(message: JsonRpcMessage): void {
    clearTimeout(this.timer);
    if (message.error || typeof message.result !== "object" || message.result === null) {
      this.log.error("shared child refused initialize; stopping it", { error: message.error });
      void this.child?.stop("misbehaved");
      return;
    }
    this.initializeResult = message.result as Record<string, unknown>;
    this.link!.send({ jsonrpc: "2.0", method: "notifications/initialized" });
    this.resubscribe();
    this.state = "ready";
    this.log.info("shared child ready", { pid: this.child!.pid });
    this.wakeWaiters();
  }

  /** A restarted child knows nothing of the sessions' subscriptions and levels: they are set again. */
  private resubscribe(): void {
    const uris = new Set([...this.sessions.values()].flatMap((state) => [...state.subscriptions]));
    for (const uri of uris)
      this.link!.send({ jsonrpc: "2.0", id: this.nextId++, method: "resources/subscribe", params: { uri } });
    const levels = [...this.sessions.values()].map((state) => state.logLevel).filter((level) => level !== undefined);
    if (levels.length === 0) return;
    this.childLogLevel = levels.reduce(moreVerbose);
    this.link!.send({
      jsonrpc: "2.0",
      id: this.nextId++,
      method: "logging/setLevel",
      params: { level: this.childLogLevel },
    });
  }

  private onChildExited(child: StdioChild, info: ExitInfo): void {
    clearTimeout(this.timer);
    this.link?.close();
    if (this.state === "stopped") return;
    const reason = describeExit(info, this.services.global.initializeTimeoutMs);
    for (const session of this.sessions.keys()) session.failPending(`${reason}; restarting`);
    this.routes.clear();
    this.asks.clear();
    for (const state of this.sessions.values()) state.childIds.clear();
    this.initializeResult = undefined;
    this.state = "restarting";
    // A child that ran a good while earns a fresh, short backoff.
    if (Date.now() - child.startedAt > this.server.restart.maxDelayMs)
      this.delayMs = this.server.restart.initialDelayMs;
    this.log.warn("shared child will be restarted", { delayMs: this.delayMs });
    this.timer = setTimeout(() => {
      this.services.metrics.restarts.inc({ server: this.server.name });
      this.start();
    }, this.delayMs);
    this.delayMs = Math.min(this.delayMs * 2, this.server.restart.maxDelayMs);
  }

  private wakeWaiters(): void {
    for (const wake of [...this.readyWaiters]) wake();
  }
}
