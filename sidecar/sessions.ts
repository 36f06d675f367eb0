// The session registry: sessions, their limits and their children for every server of the catalog, independent
// of any HTTP transport: a transport asks to open a session, finds it by id, and ends it.
import type { IncomingHttpHeaders } from "node:http";
import type { Catalog, ServerConfig } from "./catalog.ts";
import { identityOf, identityTag, sameIdentity } from "./identity.ts";
import type { Services } from "./services.ts";
import { SessionChild } from "./session-child.ts";
import { Session, shortSessionId, type Transport } from "./session.ts";
import { SharedChild } from "./shared-child.ts";

interface Refusal {
  status: 429 | 503;
  reason: string;
  message: string;
}

export type OpenResult =
  { ok: true; session: Session } | { ok: false; status: 429 | 503; message: string; retryAfterSeconds: number };

/** A request naming a session: the session, or why it may not use it (unknown/ended 404, other credentials 403). */
export type Lookup = { ok: true; session: Session } | { ok: false; status: 403 | 404; message: string };

export class SessionRegistry {
  private readonly byId = new Map<string, Session>();
  private readonly perServer = new Map<string, number>();
  private readonly sharedChildren = new Map<string, SharedChild>();
  private closing = false;
  /** Sessions open or being opened, for the global limit. */
  private live = 0;

  constructor(
    readonly catalog: Catalog,
    readonly services: Services,
  ) {
    for (const server of catalog.servers.values()) {
      if (server.mode === "shared") this.sharedChildren.set(server.name, new SharedChild(services, server));
    }
  }

  /** Starts the shared children; per-session children start with their sessions. */
  start(): void {
    for (const shared of this.sharedChildren.values()) shared.start();
  }

  server(name: string): ServerConfig | undefined {
    return this.catalog.servers.get(name);
  }

  /**
   * The live session with this id on this server, for a request that carries the envFromHeaders
   * values the session was opened with: its child holds those and no others, so a request with
   * different ones (or without them) is refused, whoever sends it.
   */
  find(server: ServerConfig, id: string, transport: Transport, headers: IncomingHttpHeaders): Lookup {
    const session = this.byId.get(id);
    if (session?.server !== server || session.transport !== transport || session.ended) {
      return { ok: false, status: 404, message: "Session not found" };
    }
    const given = identityOf(server, headers).digest;
    if (sameIdentity(session.identity, given)) return { ok: true, session };
    session.log.warn("request refused: its envFromHeaders headers differ from the session's", {
      opened: identityTag(session.identity),
      given: identityTag(given),
    });
    return { ok: false, status: 403, message: identityRefusal(server) };
  }

  /** Reserves a slot and attaches a child; refuses (spawning nothing) when a limit is reached. */
  async open(server: ServerConfig, transport: Transport, headers: IncomingHttpHeaders): Promise<OpenResult> {
    const refusal = this.checkLimits(server);
    if (refusal) return this.refuse(server, refusal);
    this.count(server.name, +1);
    const shared = this.sharedChildren.get(server.name);
    const ready = !shared || (await shared.whenReady(this.services.global.initializeTimeoutMs));
    if (!ready || this.closing) {
      this.count(server.name, -1);
      return this.refuse(server, {
        status: 503,
        reason: "not-ready",
        message: `MCP server "${server.name}" is not ready`,
      });
    }
    const identity = identityOf(server, headers);
    const session = new Session({
      server,
      transport,
      identity: identity.digest,
      log: this.services.log,
      metrics: this.services.metrics,
      onEnded: (s) => this.forget(s),
    });
    this.byId.set(session.id, session);
    this.services.metrics.sessions.inc({ server: server.name, transport });
    if (shared) {
      shared.attach(session);
      session.attach(shared);
    } else {
      session.attach(new SessionChild(this.services, session, identity.env));
    }
    const mapped = Object.keys(server.envFromHeaders).length > 0;
    session.log.info("session opened", { transport, ...(mapped ? { identity: identityTag(identity.digest) } : {}) });
    return { ok: true, session };
  }

  /** True when every shared child is up and initialized. */
  readiness(): { ready: boolean; servers: Record<string, string> } {
    const servers: Record<string, string> = {};
    for (const [name, shared] of this.sharedChildren) servers[name] = shared.state;
    return { ready: !this.closing && Object.values(servers).every((state) => state === "ready"), servers };
  }

  async stats(): Promise<Record<string, unknown>> {
    const { metrics } = this.services;
    const result: Record<string, unknown> = {};
    for (const server of this.catalog.servers.values()) {
      result[server.name] = {
        mode: server.mode,
        state: this.sharedChildren.get(server.name)?.state ?? "on-demand",
        sessions: this.perServer.get(server.name) ?? 0,
        maxSessions: server.maxSessions,
        children: await metrics.total(metrics.children, server.name),
        spawns: await metrics.total(metrics.spawns, server.name),
        exits: await metrics.byLabel(metrics.exits, server.name, "reason"),
        restarts: await metrics.total(metrics.restarts, server.name),
        requests: await metrics.byLabel(metrics.rpcRequests, server.name, "outcome"),
      };
    }
    return result;
  }

  /** Live sessions, newest first, with a short id prefix. */
  liveSessions(): Array<{ server: string; transport: Transport; id: string; openedAt: string; inFlight: number }> {
    return [...this.byId.values()].reverse().map((session) => ({
      server: session.server.name,
      transport: session.transport,
      id: shortSessionId(session.id),
      openedAt: new Date(session.openedAt).toISOString(),
      inFlight: session.inFlight,
    }));
  }

  /** Ends every session and stops every child, sessions' and shared; SIGKILL at `killAfterMs` at the latest. */
  async close(killAfterMs: number): Promise<void> {
    this.closing = true;
    for (const session of [...this.byId.values()]) session.end("shutdown");
    for (const shared of this.sharedChildren.values()) shared.stop();
    await Promise.all([...this.services.children].map((child) => child.stop("shutdown", killAfterMs)));
  }

  private checkLimits(server: ServerConfig): Refusal | undefined {
    if (this.closing) return { status: 503, reason: "shutting-down", message: "the sidecar is shutting down" };
    if (this.live >= this.services.global.maxSessions) {
      return {
        status: 429,
        reason: "global-limit",
        message: `too many sessions (limit ${this.services.global.maxSessions})`,
      };
    }
    if ((this.perServer.get(server.name) ?? 0) >= server.maxSessions) {
      return {
        status: 429,
        reason: "server-limit",
        message: `too many sessions for "${server.name}" (limit ${server.maxSessions})`,
      };
    }
    return undefined;
  }

  private refuse(server: ServerConfig, refusal: Refusal): OpenResult {
    this.services.metrics.rejectedSessions.inc({ server: server.name, reason: refusal.reason });
    return {
      ok: false,
      status: refusal.status,
      message: refusal.message,
      retryAfterSeconds: this.services.global.retryAfterSeconds,
    };
  }

  /** Sessions count against the limits from the moment they are asked for, so that racing opens cannot overshoot. */
  private count(server: string, delta: number): void {
    this.live += delta;
    this.perServer.set(server, (this.perServer.get(server) ?? 0) + delta);
  }

  private forget(session: Session): void {
    if (!this.byId.delete(session.id)) return;
    this.count(session.server.name, -1);
    this.services.metrics.sessions.dec({ server: session.server.name, transport: session.transport });
  }
}

/** What a request with other envFromHeaders values than its session's is told: the headers' names, never a value. */
function identityRefusal(server: ServerConfig): string {
  const names = [...new Set(Object.values(server.envFromHeaders))].map((name) => `"${name}"`);
  return (
    `this request's ${names.join(", ")} ${names.length > 1 ? "headers differ" : "header differs"} from the session's ` +
    "(envFromHeaders): a session serves only the credentials it was opened with; open a new session for others"
  );
}
