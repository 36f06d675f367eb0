// What every part of a running sidecar shares: its configuration, log, metrics, rate limits, the children it runs
// and the problems it logged.
import type { GlobalConfig } from "./catalog.ts";
import type { Logger, LogRecord } from "./log.ts";
import type { Metrics } from "./metrics.ts";
import type { RateLimiter } from "./ratelimit.ts";
import type { StdioChild } from "./stdio-child.ts";

/** What every part of a running sidecar shares. */
export interface Services {
  global: GlobalConfig;
  log: Logger;
  metrics: Metrics;
  /** The token buckets of every client and server. */
  rateLimiter: RateLimiter;
  /** Every child not yet fully ended, whoever owns it, so that shutdown can wait for all. */
  children: Set<StdioChild>;
  /** The latest warnings and errors logged, oldest first (the status page shows them). */
  problems: LogRecord[];
}
