// The root context: one per configuration. It parses the configuration (refusing a bad one with one log line),
// owns that configuration's Plugin (backend sessions, calls in flight, metrics), and runs the timer that ends idle
// sessions and requests past their deadline.
import { Context, RootContext, set_tick_period_milliseconds } from "@solo-io/proxy-runtime/assembly";
import { HeadersMode, parseConfig, statSafe } from "./config";
import { logError, logInfo, logWarn, nowMs, propertyString } from "./host";
import { Plugin } from "./plugin";
import { McpStream } from "./request";

/** Deadlines and idle sessions are checked this often. */
const TICK_MS: u32 = 500;
/** Stat names start with this when neither `statPrefix` nor Envoy's plugin name says otherwise. */
const DEFAULT_STAT_PREFIX = "mcp_proxy";

export class McpRoot extends RootContext {
  private plugin: Plugin | null = null;

  onConfigure(size: u32): bool {
    if (!super.onConfigure(size)) return false;
    const parsed = parseConfig(this.getConfiguration());
    const config = parsed.config;
    if (config === null) {
      logError("invalid configuration: " + parsed.error);
      return false;
    }
    const previous = this.plugin;
    if (previous !== null) previous.end();
    const plugin = new Plugin(config, statPrefix(config.statPrefix));
    this.plugin = plugin;
    set_tick_period_milliseconds(TICK_MS);
    const mode = config.headersMode == HeadersMode.Hold ? "hold" : "continue";
    logInfo(
      "configured " +
        config.servers.length.toString() +
        " server(s), requestHeadersMode " +
        mode +
        ", stats under " +
        plugin.stats.prefix,
    );
    return true;
  }

  /** Replies to our dispatched calls (the Plugin keeps the calls in flight, not the SDK). */
  onHttpCallResponse(token: u32, _headers: u32, bodySize: u32, _trailers: u32): void {
    const plugin = this.plugin;
    if (plugin === null || !plugin.calls.deliver(token, <i32>bodySize)) {
      logWarn("reply to an unknown call (token " + token.toString() + ")");
    }
  }

  onTick(): void {
    const plugin = this.plugin;
    if (plugin !== null) plugin.tick(nowMs());
  }

  /** The configuration is being replaced or Envoy is stopping: end its backend sessions and its timer. */
  onDone(): bool {
    set_tick_period_milliseconds(0);
    const plugin = this.plugin;
    if (plugin !== null) plugin.end();
    return true;
  }

  createContext(id: u32): Context {
    const plugin = this.plugin;
    // Without a valid configuration Envoy never starts streams; pass through should it happen anyway.
    return plugin === null ? new Context(id, this) : new McpStream(id, this, plugin);
  }
}

/** `statPrefix` from the configuration, else Envoy's name for this plugin, else the default; stat-safe. */
function statPrefix(configured: string): string {
  if (configured.length > 0) return statSafe(configured);
  const name = propertyString("plugin_name");
  return name.length > 0 ? statSafe(name) : DEFAULT_STAT_PREFIX;
}
