// 2026-07-28 clients have no session: their requests run on sessions the sidecar opens and keeps warm, one set per
// server and user (the envFromHeaders values: a child holds one user's credentials). A 2025 child is initialized
// as a client that can answer everything (sampling, elicitation, roots): what it then asks of a client that did not
// declare the capability is answered -32021 to that client (modern-on-legacy-child.ts). A call (tools/call, prompts/get,
// resources/read) takes a session with no other call in flight, opening one more when all are busy: over stdio
// nothing says which request a log message or a request for the client belongs to, so one call per child at a
// time is what ties them to it. At the session limit calls share the least busy session, and then a child's own
// requests and log messages go to the oldest call in flight. A shared server has one child whatever the sessions.
// Each session's child is probed once: a 2025 child is served through ModernOnLegacyChild, a 2026-07-28 one as it is.
import type { IncomingHttpHeaders } from "node:http";
import type { ServerConfig } from "./catalog.ts";
import { refusedAsModernOnly } from "./eras.ts";
import { identityOf } from "./identity.ts";
import { answerForClient, isRequest, type JsonRpcMessage } from "./jsonrpc.ts";
import { ModernOnLegacyChild, RequestStates } from "./modern-on-legacy-child.ts";
import { ModernOnModernChild } from "./modern-on-modern-child.ts";
import type { ModernServing } from "./modern-serving.ts";
import { CLIENT_INFO, LATEST_LEGACY_VERSION, MODERN_VERSION } from "./protocol.ts";
import { noReplies } from "./reply-sinks.ts";
import type { MessageSink, Session } from "./session.ts";
import type { SessionRegistry } from "./sessions.ts";

/** Everything a 2025 client can answer: what a 2025 child serving 2026-07-28 clients is told its client can do. */
const EVERY_CLIENT_CAPABILITY = { sampling: {}, elicitation: { form: {}, url: {} }, roots: {} };

interface Pooled {
  ok: true;
  session: Session;
  /** How it serves a 2026-07-28 request, per the era of its child. */
  server: ModernServing;
  /** Calls in flight (tools/call, prompts/get, resources/read). */
  calls: number;
}

interface Group {
  ready: Pooled[];
  opening: Set<Promise<Pooled | Refusal>>;
}

interface Refusal {
  ok: false;
  status: number;
  message: string;
  code?: number;
  retryAfterSeconds: number;
}

export type Lease = { ok: true; serve: ModernServing["serve"]; release(): void } | Refusal;

/**
 * Change notifications of a pooled session's child (list changes, resource updates) for the listens open on it;
 * a request of the child outside any call has no client to go to and is refused.
 */
export class ChangeFeed implements MessageSink {
  readonly streaming = true;
  readonly listeners = new Set<(message: JsonRpcMessage) => void>();

  constructor(private readonly session: Session) {}

  deliver(message: JsonRpcMessage): void {
    if (isRequest(message)) {
      this.session.log.debug("the child asked a client something outside any call; refused", {
        method: message.method,
      });
      this.session.dispatch(
        [answerForClient(message, "it was sent outside any request of a 2026-07-28 client")],
        noReplies,
      );
      return;
    }
    for (const listener of this.listeners) listener(message);
  }
}

export class ModernPool {
  private readonly groups = new Map<string, Group>();
  private readonly states: RequestStates;

  constructor(private readonly sessions: SessionRegistry) {
    this.states = new RequestStates(sessions.services.global.requestStateKey);
  }

  /** A pooled session to serve one request on; a call holds it until its reply is over. */
  async lease(server: ServerConfig, headers: IncomingHttpHeaders, call: boolean): Promise<Lease> {
    const key = `${server.name}\0${identityOf(server, headers).digest.toString("hex")}`;
    this.forgetEmptyGroups();
    let group = this.groups.get(key);
    if (!group) this.groups.set(key, (group = { ready: [], opening: new Set() }));
    const found = await this.find(group, server, headers, call);
    if (!found.ok) return found;
    const pooled = found.pooled;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      if (call) pooled.calls--;
    };
    return {
      ok: true,
      release,
      serve: (message, reply, requestHeaders) => {
        reply.onEnd(release);
        pooled.server.serve(message, reply, requestHeaders);
      },
    };
  }

  /** The session for a request; a call's is counted busy from the moment it is chosen (no await in between). */
  private async find(
    group: Group,
    server: ServerConfig,
    headers: IncomingHttpHeaders,
    call: boolean,
  ): Promise<{ ok: true; pooled: Pooled } | Refusal> {
    const chosen = (pooled: Pooled) => {
      if (call) pooled.calls++;
      return { ok: true as const, pooled };
    };
    // A request that is not a call may go anywhere; so may a call when more children would not be separate ones.
    const anyWillDo = !call || server.mode === "shared";
    for (;;) {
      group.ready = group.ready.filter((pooled) => !pooled.session.ended);
      const idle = group.ready.find((pooled) => pooled.calls === 0);
      if (idle) return chosen(idle);
      if (anyWillDo && group.ready.length > 0) return chosen(leastBusy(group.ready));
      if (anyWillDo && group.opening.size > 0) {
        await Promise.race(group.opening);
        continue;
      }
      const opened = await this.open(group, server, headers, call);
      if (opened.ok) return { ok: true, pooled: opened };
      // At a limit: a busy session is better than none.
      group.ready = group.ready.filter((pooled) => !pooled.session.ended);
      if (group.ready.length > 0) return chosen(leastBusy(group.ready));
      return opened;
    }
  }

  /** A new session for the group; `call`: it is born busy with the call that opened it. */
  private async open(
    group: Group,
    server: ServerConfig,
    headers: IncomingHttpHeaders,
    call: boolean,
  ): Promise<Pooled | Refusal> {
    const opening = this.start(server, headers);
    group.opening.add(opening);
    try {
      const pooled = await opening;
      if (pooled.ok) {
        if (call) pooled.calls++;
        group.ready.push(pooled);
      }
      return pooled;
    } finally {
      group.opening.delete(opening);
    }
  }

  /** Users come and go: a group whose sessions all ended is dropped, so memory follows the live ones. */
  private forgetEmptyGroups(): void {
    for (const [key, group] of this.groups) {
      if (group.opening.size === 0 && group.ready.every((pooled) => pooled.session.ended)) this.groups.delete(key);
    }
  }

  /** Opens a session and finds out which era its child speaks. */
  private async start(server: ServerConfig, headers: IncomingHttpHeaders): Promise<Pooled | Refusal> {
    const opened = await this.sessions.open(server, "stateless", headers);
    if (!opened.ok) return opened;
    const { session } = opened;
    const feed = new ChangeFeed(session);
    session.standalone = feed;
    const pooled = (serving: ModernServing): Pooled => ({ ok: true, session, server: serving, calls: 0 });
    // A shared child is always a 2025 one to its sessions (SharedChild bridges a 2026-only child itself).
    const dedicated = server.mode === "session";
    if (dedicated && server.protocol === MODERN_VERSION) return pooled(new ModernOnModernChild(session));
    const reply = await session.request("initialize", {
      protocolVersion: LATEST_LEGACY_VERSION,
      capabilities: server.inputRequired === "replay" ? EVERY_CLIENT_CAPABILITY : {},
      clientInfo: CLIENT_INFO,
    });
    if (reply.error && dedicated && server.protocol === "auto" && refusedAsModernOnly(reply)) {
      session.log.info("the child speaks 2026-07-28: serving 2026-07-28 clients as they are");
      return pooled(new ModernOnModernChild(session));
    }
    if (reply.error) {
      session.end("initialize-failed");
      return {
        ok: false,
        status: 502,
        code: reply.error.code,
        message: `initialize failed: ${reply.error.message}`,
        retryAfterSeconds: this.sessions.services.global.retryAfterSeconds,
      };
    }
    session.notify("notifications/initialized");
    const initialized = reply.result as Record<string, unknown>;
    // The child's log messages are filtered per request (the envelope's logLevel): it is asked to send them all.
    if (dedicated && (initialized.capabilities as { logging?: unknown } | undefined)?.logging !== undefined) {
      await session.request("logging/setLevel", { level: "debug" });
    }
    return pooled(new ModernOnLegacyChild(session, initialized, feed, this.states));
  }
}

function leastBusy(pool: Pooled[]): Pooled {
  return pool.reduce((best, pooled) => (pooled.calls < best.calls ? pooled : best));
}
