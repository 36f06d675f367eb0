// mode "session": a child of the session's own, that lives and dies with it.
import { ChildLink } from "./child-link.ts";
import { isRequest, isResponse, type JsonRpcId, type JsonRpcMessage } from "./jsonrpc.ts";
import type { Services } from "./services.ts";
import type { ChildConnection, Session } from "./session.ts";
import { describeExit, launchChild, type ExitInfo, type ExitReason, type StdioChild } from "./stdio-child.ts";

/**
 * mode "session": the session owns its child; the child ending ends the session. A 2025 client's session
 * talks to a 2026-only child through the link's bridge; a stateless (2026-07-28) session talks to it as it is.
 */
export class SessionChild implements ChildConnection {
  private readonly child: StdioChild;
  private readonly link: ChildLink;
  private initializeTimer: NodeJS.Timeout | undefined;
  private initializeId: JsonRpcId | undefined;

  constructor(
    private readonly services: Services,
    private readonly session: Session,
    sessionEnv: Record<string, string>,
  ) {
    this.child = launchChild(services, session.server, session.log, sessionEnv, (message) =>
      this.link.fromChild(message),
    );
    this.link = new ChildLink(
      this.child,
      session.server.protocol,
      session.transport !== "stateless",
      (message, related) => this.fromChild(message, related),
      session.log,
    );
    void this.child.exited.then((info) => this.onChildExited(info));
  }

  send(_session: Session, message: JsonRpcMessage): void {
    if (isRequest(message) && message.method === "initialize") this.armInitializeTimeout(message.id);
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
      this.session.log.warn("child did not answer initialize in time; stopping it", {
        timeoutMs: this.services.global.initializeTimeoutMs,
      });
      void this.child.stop("initialize-timeout");
    }, this.services.global.initializeTimeoutMs);
  }

  private fromChild(message: JsonRpcMessage, related?: JsonRpcId): void {
    if (isResponse(message) && message.id === this.initializeId) clearTimeout(this.initializeTimer);
    this.session.receive(message, related);
  }

  private onChildExited(info: ExitInfo): void {
    clearTimeout(this.initializeTimer);
    if (this.session.ended) return;
    this.session.failPending(describeExit(info, this.services.global.initializeTimeoutMs));
    this.session.end(info.reason);
  }
}
