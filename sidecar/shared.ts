// mode "shared": one child serves every session of a server. The sidecar initializes it once,
// rewrites request ids (and progress tokens) so that replies can never cross between sessions,
// and restarts it with exponential backoff when it dies.
import type { ServerConfig } from './catalog.ts';
import type { ExitInfo, StdioChild } from './child.ts';
import {
  answerForClient, errorReply, ErrorCode, idKey, isRequest, isResponse, progressToken, type JsonRpcId, type JsonRpcMessage,
} from './jsonrpc.ts';
import type { Logger } from './log.ts';
import type { Session, Upstream } from './session.ts';
import { describeExit, launchChild, type Runtime } from './upstream.ts';

/** Versions we accept from a session's client and echo back; the wire format is ours, not the child's. */
export const SUPPORTED_VERSIONS = ['2024-11-05', '2025-03-26', '2025-06-18', '2025-11-25'];
const CHILD_PROTOCOL_VERSION = '2025-06-18';
const SIDECAR_INFO = { name: 'mcp-sidecar', version: '0.1.0' };

export type SharedState = 'starting' | 'ready' | 'restarting' | 'stopped';

interface Route {
  session: Session;
  id: JsonRpcId;
  token?: JsonRpcId;
}

export class SharedUpstream implements Upstream {
  state: SharedState = 'starting';
  private child: StdioChild | undefined;
  private initializeResult: Record<string, unknown> | undefined;
  private readonly sessions = new Set<Session>();
  /** Child-side id -> the session and id the client used. */
  private readonly routes = new Map<number, Route>();
  /** Per session, client id key -> child-side id (for notifications/cancelled). */
  private readonly childIds = new Map<Session, Map<string, number>>();
  private nextId = 1;
  private initializeId: number | undefined;
  private delayMs: number;
  private timer: NodeJS.Timeout | undefined;
  private readyWaiters = new Set<() => void>();
  private readonly log: Logger;

  constructor(private readonly runtime: Runtime, private readonly server: ServerConfig) {
    this.delayMs = server.restart.initialDelayMs;
    this.log = runtime.log.with({ server: server.name, mode: 'shared' });
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    const child = launchChild(this.runtime, this.server, this.log, {}, (message) => this.fromChild(message));
    this.child = child;
    void child.exited.then((info) => this.onChildExited(child, info));
    const id = this.nextId++;
    this.initializeId = id;
    this.timer = setTimeout(() => {
      this.log.warn('shared child did not answer initialize in time; stopping it');
      void child.stop('initialize-timeout');
    }, this.runtime.global.initializeTimeoutMs);
    child.send({
      jsonrpc: '2.0', id, method: 'initialize',
      params: { protocolVersion: CHILD_PROTOCOL_VERSION, capabilities: {}, clientInfo: SIDECAR_INFO },
    });
  }

  /** Resolves true once the child is ready, false after `timeoutMs` or when stopped. */
  whenReady(timeoutMs: number): Promise<boolean> {
    if (this.state === 'ready') return Promise.resolve(true);
    if (this.state === 'stopped') return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.readyWaiters.delete(done);
        resolve(this.state === 'ready');
      };
      const timer = setTimeout(done, timeoutMs);
      this.readyWaiters.add(done);
    });
  }

  attach(session: Session): void {
    this.sessions.add(session);
    this.childIds.set(session, new Map());
  }

  send(session: Session, message: JsonRpcMessage): void {
    if (isRequest(message)) return this.forwardRequest(session, message);
    if (message.method === 'notifications/initialized') return; // the sidecar sent its own, once
    if (message.method === 'notifications/cancelled') return this.forwardCancel(session, message);
    if (message.method !== undefined) this.child?.send(message);
    // Replies to server-initiated requests: none are relayed in shared mode (see fromChild).
  }

  detach(session: Session): void {
    this.sessions.delete(session);
    for (const childId of this.childIds.get(session)?.values() ?? []) this.routes.delete(childId);
    this.childIds.delete(session);
  }

  /** No more restarts; the gateway stops the child itself along with every other. */
  stop(): void {
    this.state = 'stopped';
    clearTimeout(this.timer);
    this.wakeWaiters();
  }

  private forwardRequest(session: Session, message: JsonRpcMessage & { id: JsonRpcId; method: string }): void {
    if (message.method === 'initialize') return session.receive(this.initializeReply(message));
    if (this.state !== 'ready' || !this.child) {
      return session.receive(errorReply(message.id, ErrorCode.serverUnavailable, `MCP server is ${this.state}`));
    }
    const childId = this.nextId++;
    const token = progressToken(message);
    this.routes.set(childId, { session, id: message.id, token });
    this.childIds.get(session)?.set(idKey(message.id), childId);
    const params = token === undefined ? message.params
      : { ...message.params, _meta: { ...(message.params as { _meta?: object })._meta, progressToken: childId } };
    this.child.send({ ...message, id: childId, params });
  }

  private forwardCancel(session: Session, message: JsonRpcMessage): void {
    const params = message.params as { requestId?: JsonRpcId } | undefined;
    if (params?.requestId === undefined) return;
    const childId = this.childIds.get(session)?.get(idKey(params.requestId));
    if (childId !== undefined) this.child?.send({ ...message, params: { ...params, requestId: childId } });
  }

  /** Each session's initialize is answered from the child's one initialize result. */
  private initializeReply(message: JsonRpcMessage & { id: JsonRpcId }): JsonRpcMessage {
    if (!this.initializeResult) return errorReply(message.id, ErrorCode.serverUnavailable, `MCP server is ${this.state}`);
    const requested = (message.params as { protocolVersion?: unknown } | undefined)?.protocolVersion;
    const protocolVersion = typeof requested === 'string' && SUPPORTED_VERSIONS.includes(requested)
      ? requested : this.initializeResult.protocolVersion;
    return { jsonrpc: '2.0', id: message.id, result: { ...this.initializeResult, protocolVersion } };
  }

  private fromChild(message: JsonRpcMessage): void {
    if (isResponse(message)) return this.routeReply(message);
    if (isRequest(message)) {
      // A shared child cannot know which session a request of its own is for; answer it here.
      this.child?.send(answerForClient(message, 'a shared stdio server'));
      return;
    }
    if (message.method === 'notifications/progress') return this.routeProgress(message);
    if (message.method === 'notifications/cancelled') return;
    for (const session of this.sessions) session.receive(message);
  }

  private routeReply(message: JsonRpcMessage & { id: JsonRpcId }): void {
    if (message.id === this.initializeId) return this.onInitialized(message);
    const route = typeof message.id === 'number' ? this.routes.get(message.id) : undefined;
    if (!route) return this.log.debug('reply for no request in flight, dropped', { id: message.id });
    this.routes.delete(message.id as number);
    this.childIds.get(route.session)?.delete(idKey(route.id));
    route.session.receive({ ...message, id: route.id });
  }

  private routeProgress(message: JsonRpcMessage): void {
    const params = message.params as { progressToken?: JsonRpcId };
    const route = typeof params.progressToken === 'number' ? this.routes.get(params.progressToken) : undefined;
    if (route?.token === undefined) return;
    route.session.receive({ ...message, params: { ...params, progressToken: route.token } });
  }

  private onInitialized(message: JsonRpcMessage): void {
    clearTimeout(this.timer);
    if (message.error || typeof message.result !== 'object' || message.result === null) {
      this.log.error('shared child refused initialize; stopping it', { error: message.error });
      void this.child?.stop('misbehaved');
      return;
    }
    this.initializeResult = message.result as Record<string, unknown>;
    this.child!.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    this.state = 'ready';
    this.log.info('shared child ready', { pid: this.child!.pid });
    this.wakeWaiters();
  }

  private onChildExited(child: StdioChild, info: ExitInfo): void {
    clearTimeout(this.timer);
    if (this.state === 'stopped') return;
    const reason = describeExit(info, this.runtime.global.initializeTimeoutMs);
    for (const session of this.sessions) session.failPending(`${reason}; restarting`);
    this.routes.clear();
    for (const ids of this.childIds.values()) ids.clear();
    this.initializeResult = undefined;
    this.state = 'restarting';
    // A child that ran a good while earns a fresh, short backoff.
    if (Date.now() - child.startedAt > this.server.restart.maxDelayMs) this.delayMs = this.server.restart.initialDelayMs;
    this.log.warn('shared child will be restarted', { delayMs: this.delayMs });
    this.timer = setTimeout(() => {
      this.runtime.metrics.restarts.inc({ server: this.server.name });
      this.start();
    }, this.delayMs);
    this.delayMs = Math.min(this.delayMs * 2, this.server.restart.maxDelayMs);
  }

  private wakeWaiters(): void {
    for (const wake of [...this.readyWaiters]) wake();
  }
}
