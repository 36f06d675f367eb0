// Starting children with their metrics and logs, and the per-session upstream: one child that
// lives and dies with its session.
import type { GlobalConfig, ServerConfig } from './catalog.ts';
import { StdioChild, type ExitInfo, type ExitReason } from './child.ts';
import { isRequest, isResponse, type JsonRpcId, type JsonRpcMessage } from './jsonrpc.ts';
import { ChildLink } from './link.ts';
import type { Logger, LogRecord } from './log.ts';
import type { Metrics } from './metrics.ts';
import type { Session, Upstream } from './session.ts';

/** What every part of a running sidecar shares. */
export interface Runtime {
  global: GlobalConfig;
  log: Logger;
  metrics: Metrics;
  /** Every child not yet fully ended, whoever owns it, so that shutdown can wait for all. */
  children: Set<StdioChild>;
  /** The latest warnings and errors logged, oldest first (the status page shows them). */
  problems: LogRecord[];
}

export function launchChild(runtime: Runtime, server: ServerConfig, log: Logger, sessionEnv: Record<string, string>,
  onMessage: (message: JsonRpcMessage) => void): StdioChild {
  const child = new StdioChild({
    server, sessionEnv, log, onMessage, maxLineBytes: runtime.global.maxLineBytes, gracePeriodMs: runtime.global.gracePeriodMs,
  });
  runtime.children.add(child);
  void child.ended.then(() => runtime.children.delete(child));
  const labels = { server: server.name };
  runtime.metrics.spawns.inc(labels);
  if (child.pid !== undefined) runtime.metrics.children.inc(labels);
  log.info('child started', { pid: child.pid, command: server.command });
  void child.exited.then((info) => {
    if (child.pid !== undefined) runtime.metrics.children.dec(labels);
    runtime.metrics.exits.inc({ ...labels, reason: info.reason });
  });
  return child;
}

/** The error text in-flight requests get when their child is gone. */
export function describeExit(info: ExitInfo, initializeTimeoutMs: number): string {
  switch (info.reason) {
    case 'crashed': return `MCP server process exited (code ${info.code}, signal ${info.signal})`;
    case 'spawn-error': return 'MCP server process could not be started';
    case 'initialize-timeout': return `MCP server did not answer initialize within ${initializeTimeoutMs} ms`;
    default: return `MCP server process stopped (${info.reason})`;
  }
}

/**
 * mode "session": the session owns its child; the child ending ends the session. A 2025 client's session
 * talks to a 2026-only child through the link's bridge; a stateless (2026-07-28) session talks to it as it is.
 */
export class DedicatedUpstream implements Upstream {
  private readonly child: StdioChild;
  private readonly link: ChildLink;
  private initializeTimer: NodeJS.Timeout | undefined;
  private initializeId: JsonRpcId | undefined;

  constructor(private readonly runtime: Runtime, private readonly session: Session, sessionEnv: Record<string, string>) {
    this.child = launchChild(runtime, session.server, session.log, sessionEnv, (message) => this.link.fromChild(message));
    this.link = new ChildLink(this.child, session.server.protocol, session.transport !== 'stateless',
      (message, related) => this.fromChild(message, related), session.log);
    void this.child.exited.then((info) => this.onChildExited(info));
  }

  send(_session: Session, message: JsonRpcMessage): void {
    if (isRequest(message) && message.method === 'initialize') this.armInitializeTimeout(message.id);
    this.link.send(message);
  }

  detach(_session: Session, reason: ExitReason): void {
    clearTimeout(this.initializeTimer);
    this.link.close();
    void this.child.stop(reason);
  }

  private armInitializeTimeout(id: JsonRpcId): void {
    clearTimeout(this.initializeTimer);
    this.initializeId = id;
    this.initializeTimer = setTimeout(() => {
      this.session.log.warn('child did not answer initialize in time; stopping it', { timeoutMs: this.runtime.global.initializeTimeoutMs });
      void this.child.stop('initialize-timeout');
    }, this.runtime.global.initializeTimeoutMs);
  }

  private fromChild(message: JsonRpcMessage, related?: JsonRpcId): void {
    if (isResponse(message) && message.id === this.initializeId) clearTimeout(this.initializeTimer);
    this.session.receive(message, related);
  }

  private onChildExited(info: ExitInfo): void {
    clearTimeout(this.initializeTimer);
    if (this.session.ended) return;
    this.session.failPending(describeExit(info, this.runtime.global.initializeTimeoutMs));
    this.session.end(info.reason);
  }
}
