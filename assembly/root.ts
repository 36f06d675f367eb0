// The root context: parses the configuration (refusing a bad one with one log line), owns the backend sessions,
// and runs the timer that ends idle sessions and requests past their deadline.
import { Context, RootContext, set_tick_period_milliseconds } from "@solo-io/proxy-runtime/assembly";
import { HeadersMode, parseConfig } from "./config";
import { logError, logInfo, logWarn, nowMs } from "./host";
import { McpStream } from "./request";
import { SessionPool } from "./sessions";
import { deliverReply } from "./upstream";

/** Deadlines and idle sessions are checked this often. */
const TICK_MS: u32 = 500;

export class McpRoot extends RootContext {
  private pool: SessionPool | null = null;

  onConfigure(size: u32): bool {
    if (!super.onConfigure(size)) return false;
    const parsed = parseConfig(this.getConfiguration());
    const config = parsed.config;
    if (config === null) {
      logError("invalid configuration: " + parsed.error);
      return false;
    }
    this.pool = new SessionPool(config);
    set_tick_period_milliseconds(TICK_MS);
    const mode = config.mode == HeadersMode.Hold ? "hold" : "continue";
    logInfo("configured " + config.servers.length.toString() + " server(s), requestHeadersMode " + mode);
    return true;
  }

  /** Replies to our dispatched calls (upstream.ts keeps the calls in flight, not the SDK). */
  onHttpCallResponse(token: u32, _headers: u32, bodySize: u32, _trailers: u32): void {
    if (!deliverReply(token, <i32>bodySize)) logWarn("reply to an unknown call (token " + token.toString() + ")");
  }

  onTick(): void {
    const pool = this.pool;
    if (pool !== null) pool.tick(nowMs());
  }

  createContext(id: u32): Context {
    const pool = this.pool;
    // Without a valid configuration Envoy never starts streams; pass through should it happen anyway.
    return pool === null ? new Context(id, this) : new McpStream(id, this, pool);
  }
}
