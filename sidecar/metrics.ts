// Prometheus metrics, one registry per sidecar instance (tests run several in one process).
import { Counter, Gauge, Histogram, Registry } from "prom-client";

/** JSON-RPC methods that get their own label value; anything else is "other", so clients cannot grow our series. */
const KNOWN_METHODS = new Set([
  "initialize",
  "ping",
  "tools/list",
  "tools/call",
  "resources/list",
  "resources/read",
  "resources/templates/list",
  "resources/subscribe",
  "resources/unsubscribe",
  "prompts/list",
  "prompts/get",
  "completion/complete",
  "logging/setLevel",
  "server/discover",
  "subscriptions/listen",
]);

export function methodLabel(method: string): string {
  return KNOWN_METHODS.has(method) ? method : "other";
}

export class Metrics {
  readonly registry = new Registry();
  readonly sessions = new Gauge({
    name: "mcp_sidecar_sessions",
    help: "Live MCP sessions",
    labelNames: ["server", "transport"],
    registers: [this.registry],
  });
  readonly children = new Gauge({
    name: "mcp_sidecar_children",
    help: "Running child processes",
    labelNames: ["server"],
    registers: [this.registry],
  });
  readonly spawns = new Counter({
    name: "mcp_sidecar_child_spawns_total",
    help: "Child processes started",
    labelNames: ["server"],
    registers: [this.registry],
  });
  readonly exits = new Counter({
    name: "mcp_sidecar_child_exits_total",
    help: "Child processes ended, by reason",
    labelNames: ["server", "reason"],
    registers: [this.registry],
  });
  readonly restarts = new Counter({
    name: "mcp_sidecar_child_restarts_total",
    help: "Shared children restarted after a failure",
    labelNames: ["server"],
    registers: [this.registry],
  });
  readonly rejectedSessions = new Counter({
    name: "mcp_sidecar_sessions_rejected_total",
    help: "Sessions refused, by reason",
    labelNames: ["server", "reason"],
    registers: [this.registry],
  });
  readonly httpRequests = new Counter({
    name: "mcp_sidecar_http_requests_total",
    help: "HTTP requests, by endpoint and status",
    labelNames: ["server", "endpoint", "method", "status"],
    registers: [this.registry],
  });
  readonly rpcRequests = new Counter({
    name: "mcp_sidecar_rpc_requests_total",
    help: "JSON-RPC requests answered, by outcome",
    labelNames: ["server", "method", "outcome"],
    registers: [this.registry],
  });
  readonly rateLimited = new Counter({
    name: "mcp_sidecar_rate_limited_total",
    help: "Requests refused by the per-client rate limit",
    labelNames: ["server", "endpoint"],
    registers: [this.registry],
  });
  readonly rateLimitRate = new Gauge({
    name: "mcp_sidecar_rate_limit_requests_per_second",
    help: "Configured refill rate of each client's token bucket (0: no limit)",
    labelNames: ["server"],
    registers: [this.registry],
  });
  readonly rateLimitBurst = new Gauge({
    name: "mcp_sidecar_rate_limit_burst",
    help: "Configured size of each client's token bucket",
    labelNames: ["server"],
    registers: [this.registry],
  });
  readonly rpcDuration = new Histogram({
    name: "mcp_sidecar_rpc_duration_seconds",
    help: "Time from a JSON-RPC request to its reply",
    labelNames: ["server", "method"],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });

  /** Sum of a metric's values for one server. */
  async total(metric: Counter | Gauge, server: string): Promise<number> {
    const { values } = await metric.get();
    return values.filter((v) => v.labels.server === server).reduce((sum, v) => sum + v.value, 0);
  }

  /** A counter's values for one server, summed per value of another label. */
  async byLabel(metric: Counter, server: string, label: string): Promise<Record<string, number>> {
    const { values } = await metric.get();
    const result: Record<string, number> = {};
    for (const v of values) {
      if (v.labels.server !== server) continue;
      const key = String(v.labels[label]);
      result[key] = (result[key] ?? 0) + v.value;
    }
    return result;
  }
}
