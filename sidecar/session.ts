// One MCP session, whatever the HTTP transport: it tracks the client's requests in flight, routes
// what the child sends back to the right stream, and ends exactly once, for one reason.
import { randomBytes } from "node:crypto";
import type { ServerConfig } from "./catalog.ts";
import { CALL_METHODS, metaOf } from "./eras.ts";
import {
  errorReply,
  idKey,
  isRequest,
  isResponse,
  paramsOf,
  progressToken,
  type JsonRpcId,
  type JsonRpcMessage,
  type JsonRpcRequest,
} from "./jsonrpc.ts";
import type { Logger } from "./log.ts";
import { methodLabel, type Metrics } from "./metrics.ts";
import { ErrorCode, META } from "./protocol.ts";
import { noReplies, ReplyCollector } from "./reply-sinks.ts";
import type { ExitReason } from "./stdio-child.ts";

/** How the client reaches the session; `stateless` sessions are the sidecar's own, serving 2026-07-28 requests. */
export type Transport = "streamable" | "sse" | "ws" | "rest" | "stateless";

/**
 * What the sidecar shows of a session id to its clients (/status): enough to tell sessions apart,
 * useless to take one over. Every client with an API key may read it, so a whole id must never appear.
 */
export function shortSessionId(id: string): string {
  return id.slice(0, 6);
}

/** Where messages for the client go: a POST's reply, a GET stream, a legacy SSE stream. */
export interface MessageSink {
  /** False for a plain JSON reply, which can carry responses only. */
  readonly streaming: boolean;
  deliver(message: JsonRpcMessage): void;
}

/**
 * Notifications a server sends while it serves a call (besides progress, which names its request): over stdio
 * nothing says which call, so they go, like the server's requests to the client, to the call in flight (the only
 * one, or else the oldest), whose stream is where the client looks for them.
 */
const RAISED_BY_A_CALL = new Set(["notifications/message"]);

/** The child side of a session: a child of its own, or a share of one. */
export interface ChildConnection {
  send(session: Session, message: JsonRpcMessage): void;
  /** The session is over; release what it holds (for its own child: stop it). */
  detach(session: Session, reason: ExitReason): void;
}

interface PendingRequest {
  id: JsonRpcId;
  sink: MessageSink;
  method: string;
  startedAt: number;
  token?: string;
}

export interface SessionOptions {
  server: ServerConfig;
  transport: Transport;
  /** Digest of the envFromHeaders values the session was opened with (see identity.ts). */
  identity: Buffer;
  log: Logger;
  metrics: Metrics;
  onEnded(session: Session, reason: ExitReason): void;
}

export class Session {
  /** 256 random bits, in the visible-ASCII range the spec requires. */
  readonly id = randomBytes(32).toString("base64url");
  readonly server: ServerConfig;
  readonly transport: Transport;
  /** Whose credentials its child holds: every request on the session must carry the same. */
  readonly identity: Buffer;
  readonly log: Logger;
  readonly openedAt = Date.now();
  /** The stream for messages unrelated to a request (GET stream, or the legacy SSE stream). */
  standalone: MessageSink | undefined;
  private child: ChildConnection | undefined;
  /** For the sidecar's own requests on the session (REST, modern pool): ids no client uses. */
  private nextOwnId = 1;
  private readonly pending = new Map<string, PendingRequest>();
  private readonly progress = new Map<string, MessageSink>();
  private readonly closers = new Set<() => void>();
  private openStreams = 0;
  private idleTimer: NodeJS.Timeout;
  private endReason: ExitReason | undefined;

  constructor(private readonly options: SessionOptions) {
    this.server = options.server;
    this.transport = options.transport;
    this.identity = options.identity;
    this.log = options.log.with({ server: this.server.name, session: this.id });
    this.idleTimer = setTimeout(() => this.onIdle(), this.server.idleTimeoutMs);
  }

  get ended(): boolean {
    return this.endReason !== undefined;
  }

  /** Requests of the client still waiting for their reply. */
  get inFlight(): number {
    return this.pending.size;
  }

  attach(child: ChildConnection): void {
    this.child = child;
  }

  /** Client -> child. Requests remember the sink their reply goes to. */
  dispatch(messages: JsonRpcMessage[], sink: MessageSink): void {
    this.touch();
    for (const message of messages) {
      if (this.ended) {
        if (isRequest(message)) sink.deliver(errorReply(message.id, ErrorCode.serverUnavailable, "session has ended"));
        continue;
      }
      if (isRequest(message) && !this.track(message, sink)) continue;
      this.child!.send(this, message);
    }
  }

  /** A request of the sidecar's own on this session; resolves with its reply (an error reply when it ends first). */
  async request(method: string, params: Record<string, unknown>): Promise<JsonRpcMessage> {
    const id = `sidecar-${this.nextOwnId++}`;
    const collector = new ReplyCollector([id]);
    this.dispatch([{ jsonrpc: "2.0", id, method, params }], collector);
    const [reply] = await collector.done;
    return reply;
  }

  /** A notification of the sidecar's own. */
  notify(method: string, params?: Record<string, unknown>): void {
    this.dispatch([{ jsonrpc: "2.0", method, ...(params ? { params } : {}) }], noReplies);
  }

  /**
   * Child -> client, with ids already as the client sent them. `related` names the client's request a
   * message belongs to, when the child connection knows it.
   */
  receive(message: JsonRpcMessage, related?: JsonRpcId): void {
    this.touch();
    if (isResponse(message)) return this.settle(message);
    const sink = this.sinkFor(message, related);
    if (sink) return sink.deliver(message);
    if (isRequest(message)) {
      // Nobody could answer it: the child gets an answer now rather than waiting for ever.
      this.child?.send(
        this,
        errorReply(
          message.id,
          ErrorCode.methodNotFound,
          `${message.method} cannot reach the client: it has no stream open that could carry it ` +
            "(a POST answered as SSE, or the GET stream)",
        ),
      );
      return;
    }
    this.log.debug("no open stream for a server message, dropped", { method: message.method });
  }

  /** The request in flight whose stream should carry what the child sends while serving it (see RAISED_BY_A_CALL). */
  private runningCall(): JsonRpcId | undefined {
    for (const request of this.pending.values()) if (CALL_METHODS.has(request.method)) return request.id;
    return undefined;
  }

  /**
   * The client no longer waits for this request (a 2026-07-28 client closed its stream, or the sidecar
   * gave it another answer): the child is told to stop, and a late reply is dropped.
   */
  cancel(id: JsonRpcId, reason: string): void {
    const request = this.pending.get(idKey(id));
    if (!request) return;
    this.forget(idKey(id), request);
    this.record(request, "cancelled");
    this.child?.send(this, { jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: id, reason } });
  }

  private sinkFor(message: JsonRpcMessage, related: JsonRpcId | undefined): MessageSink | undefined {
    const streaming = (sink: MessageSink | undefined) => (sink?.streaming ? sink : undefined);
    const pendingSink = (id: unknown) =>
      typeof id === "string" || typeof id === "number" ? streaming(this.pending.get(idKey(id))?.sink) : undefined;
    const params = paramsOf(message);
    if (message.method === "notifications/progress") {
      const token = params.progressToken;
      return (
        (typeof token === "string" || typeof token === "number"
          ? streaming(this.progress.get(idKey(token)))
          : undefined) ?? this.standalone
      );
    }
    // A 2026-07-28 child stamps what it sends on a subscriptions/listen stream with the listen's id.
    const listen = pendingSink(metaOf(params)[META.subscriptionId]);
    if (listen) return listen;
    const relatedSink = pendingSink(related);
    if (relatedSink) return relatedSink;
    if (isRequest(message) || RAISED_BY_A_CALL.has(String(message.method))) {
      return pendingSink(this.runningCall()) ?? this.standalone;
    }
    return this.standalone;
  }

  /** Every request in flight gets this error now (the child is gone or restarting). */
  failPending(message: string): void {
    for (const request of [...this.pending.values()]) {
      this.settle(errorReply(request.id, ErrorCode.serverUnavailable, message));
    }
  }

  /** A stream bound to this session opened; it keeps the session from idling and closes with it. */
  holdStream(close: () => void): () => void {
    this.openStreams++;
    this.closers.add(close);
    return () => {
      if (!this.closers.delete(close)) return;
      this.openStreams--;
      this.touch();
    };
  }

  end(reason: ExitReason): void {
    if (this.ended) return;
    this.endReason = reason;
    clearTimeout(this.idleTimer);
    this.failPending(`session ended (${reason})`);
    for (const close of [...this.closers]) close();
    this.closers.clear();
    this.child?.detach(this, reason);
    this.log.info("session ended", { reason });
    this.options.onEnded(this, reason);
  }

  private track(message: JsonRpcRequest, sink: MessageSink): boolean {
    const key = idKey(message.id);
    if (this.pending.has(key)) {
      sink.deliver(errorReply(message.id, ErrorCode.invalidRequest, "a request with this id is still in flight"));
      return false;
    }
    const token = progressToken(message);
    const request: PendingRequest = { id: message.id, sink, method: message.method, startedAt: performance.now() };
    if (token !== undefined) {
      request.token = idKey(token);
      this.progress.set(request.token, sink);
    }
    this.pending.set(key, request);
    return true;
  }

  private forget(key: string, request: PendingRequest): void {
    this.pending.delete(key);
    if (request.token !== undefined) this.progress.delete(request.token);
  }

  private settle(response: JsonRpcMessage & { id?: JsonRpcId | null }): void {
    const key = response.id === undefined || response.id === null ? undefined : idKey(response.id);
    const request = key === undefined ? undefined : this.pending.get(key);
    if (!request) {
      this.log.debug("reply to no request in flight, dropped", { id: response.id });
      return;
    }
    this.forget(key!, request);
    this.record(request, response.error ? "error" : "ok");
    request.sink.deliver(response);
  }

  private record(request: PendingRequest, outcome: "ok" | "error" | "cancelled"): void {
    const labels = { server: this.server.name, method: methodLabel(request.method) };
    this.options.metrics.rpcDuration.observe(labels, (performance.now() - request.startedAt) / 1000);
    this.options.metrics.rpcRequests.inc({ ...labels, outcome });
  }

  private touch(): void {
    this.idleTimer.refresh();
  }

  private onIdle(): void {
    if (this.pending.size > 0 || this.openStreams > 0) return this.touch();
    this.end("idle");
  }
}
