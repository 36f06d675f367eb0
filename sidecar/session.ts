// One MCP session, whatever the HTTP transport: it tracks the client's requests in flight, routes
// what the child sends back to the right stream, and ends exactly once, for one reason.
import { randomBytes } from 'node:crypto';
import type { ServerConfig } from './catalog.ts';
import type { ExitReason } from './child.ts';
import {
  errorReply, ErrorCode, idKey, isRequest, isResponse, progressToken, type JsonRpcId, type JsonRpcMessage,
} from './jsonrpc.ts';
import type { Logger } from './log.ts';
import { methodLabel, type Metrics } from './metrics.ts';

export type Transport = 'streamable' | 'sse' | 'ws' | 'rest';

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

/** The child side of a session: a child of its own, or a share of one. */
export interface Upstream {
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
  readonly id = randomBytes(32).toString('base64url');
  readonly server: ServerConfig;
  readonly transport: Transport;
  /** Whose credentials its child holds: every request on the session must carry the same. */
  readonly identity: Buffer;
  readonly log: Logger;
  readonly openedAt = Date.now();
  /** The stream for messages unrelated to a request (GET stream, or the legacy SSE stream). */
  standalone: MessageSink | undefined;
  private upstream: Upstream | undefined;
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

  attach(upstream: Upstream): void {
    this.upstream = upstream;
  }

  /** Client -> child. Requests remember the sink their reply goes to. */
  dispatch(messages: JsonRpcMessage[], sink: MessageSink): void {
    this.touch();
    for (const message of messages) {
      if (this.ended) {
        if (isRequest(message)) sink.deliver(errorReply(message.id, ErrorCode.serverUnavailable, 'session has ended'));
        continue;
      }
      if (isRequest(message) && !this.track(message, sink)) continue;
      this.upstream!.send(this, message);
    }
  }

  /** Child -> client, with ids already as the client sent them. */
  receive(message: JsonRpcMessage): void {
    this.touch();
    if (isResponse(message)) return this.settle(message);
    const token = message.method === 'notifications/progress' ? (message.params as { progressToken?: JsonRpcId })?.progressToken : undefined;
    const related = token === undefined ? undefined : this.progress.get(idKey(token));
    const sink = related ?? this.standalone ?? [...this.pending.values()].find((p) => p.sink.streaming)?.sink;
    if (sink?.streaming) sink.deliver(message);
    else this.log.debug('no open stream for a server message, dropped', { method: message.method });
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
    this.upstream?.detach(this, reason);
    this.log.info('session ended', { reason });
    this.options.onEnded(this, reason);
  }

  private track(message: JsonRpcMessage & { id: JsonRpcId; method: string }, sink: MessageSink): boolean {
    const key = idKey(message.id);
    if (this.pending.has(key)) {
      sink.deliver(errorReply(message.id, ErrorCode.invalidRequest, 'a request with this id is still in flight'));
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

  private settle(response: JsonRpcMessage & { id?: JsonRpcId | null }): void {
    const key = response.id === undefined || response.id === null ? undefined : idKey(response.id);
    const request = key === undefined ? undefined : this.pending.get(key);
    if (!request) {
      this.log.debug('reply to no request in flight, dropped', { id: response.id });
      return;
    }
    this.pending.delete(key!);
    if (request.token !== undefined) this.progress.delete(request.token);
    const labels = { server: this.server.name, method: methodLabel(request.method) };
    this.options.metrics.rpcDuration.observe(labels, (performance.now() - request.startedAt) / 1000);
    this.options.metrics.rpcRequests.inc({ ...labels, outcome: response.error ? 'error' : 'ok' });
    request.sink.deliver(response);
  }

  private touch(): void {
    this.idleTimer.refresh();
  }

  private onIdle(): void {
    if (this.pending.size > 0 || this.openStreams > 0) return this.touch();
    this.end('idle');
  }
}
