// One configuration's state. Envoy runs every configuration that shares the code and vm_id in one VM (per worker),
// each with a root context of its own: whatever depends on the configuration hangs off that root's Plugin, never
// off module state, so two listeners (or two HCMs) with different servers never answer as each other. A
// configuration pushed again gets a new root and Plugin; the old one ends its backend sessions (end()).
import { Config } from "./config";
import { Waiter } from "./backend";
import { SessionPool } from "./sessions";
import { CallStat, Stats } from "./stats";
import { Calls, Handler, Target } from "./upstream";

export class Plugin {
  stats: Stats;
  calls: Calls = new Calls();
  // Set right after construction: a SessionPool needs the Plugin it belongs to.
  sessions!: SessionPool;
  /** Requests waiting on a backend, checked against their deadline on every tick. */
  active: Set<Waiter> = new Set();
  /**
   * Whether a server's backend speaks 2026-07-28, by server index (absent: not known yet). 2026-07-28 clients are
   * served statelessly by such a backend; a 2025 one keeps them on a bridged session (higress.ts).
   */
  modernBackends: Map<i32, bool> = new Map();
  private lastId: i64 = 0;

  constructor(
    public config: Config,
    statPrefix: string,
  ) {
    this.stats = new Stats(statPrefix);
    this.sessions = new SessionPool(this);
  }

  /** Ids for our requests to backends: never the client's. */
  nextId(): i64 {
    return ++this.lastId;
  }

  /** POSTs to `target`; `pairs` are the flat headers (postPairs). False when the host refused the call. */
  post(
    target: Target,
    pairs: ArrayBuffer,
    body: ArrayBuffer,
    handler: Handler,
    stat: CallStat,
    timeoutMs: i32 = 0,
  ): bool {
    const timeout = timeoutMs > 0 ? min(timeoutMs, target.timeoutMs) : target.timeoutMs;
    return this.calls.dispatch(target, pairs, body, handler, stat, timeout, this.config.maxResponseBytes);
  }

  /** Ends idle sessions and times out requests past their deadline. */
  tick(now: i64): void {
    this.sessions.tick(now);
    const waiting = this.active.values();
    for (let i = 0; i < waiting.length; i++) waiting[i].tick(now);
  }

  /** The configuration is going away (replaced, or Envoy shuts down): its backend sessions are ended. */
  end(): void {
    this.sessions.dropAll();
  }
}
