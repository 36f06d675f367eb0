// Rate limiting: a token bucket per (server, client), so that one noisy client cannot starve a
// server's other clients. Buckets that have refilled completely carry no state and are dropped.
import type { RateLimit, ServerConfig } from "./catalog.ts";
import type { Services } from "./services.ts";

/** How often full buckets are swept out, so that memory follows active clients only. */
const SWEEP_INTERVAL_MS = 60_000;

interface Bucket {
  tokens: number;
  updatedAt: number;
  limit: RateLimit;
}

/**
 * One request (or WebSocket frame) of `client` to `server` at `endpoint`: undefined when within its rate limit,
 * else the seconds to wait (counted in the metrics).
 */
export function throttle(
  services: Services,
  server: ServerConfig,
  client: string,
  endpoint: string,
): number | undefined {
  const retryAfter = services.rateLimiter.take(server.name, client, server.rateLimit);
  if (retryAfter !== undefined) services.metrics.rateLimited.inc({ server: server.name, endpoint });
  return retryAfter;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private sweptAt: number;

  constructor(private readonly now: () => number = () => performance.now()) {
    this.sweptAt = now();
  }

  /** Takes one token: undefined when allowed, else the seconds until one is back (>= 1). */
  take(server: string, client: string, limit: RateLimit): number | undefined {
    if (limit.requestsPerSecond === 0) return undefined;
    const now = this.now();
    this.sweep(now);
    const key = `${server}\0${client}`;
    const bucket = this.buckets.get(key) ?? { tokens: limit.burst, updatedAt: now, limit };
    this.buckets.set(key, bucket);
    refill(bucket, now);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return undefined;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / limit.requestsPerSecond));
  }

  get size(): number {
    return this.buckets.size;
  }

  private sweep(now: number): void {
    if (now - this.sweptAt < SWEEP_INTERVAL_MS) return;
    this.sweptAt = now;
    for (const [key, bucket] of this.buckets) {
      refill(bucket, now);
      if (bucket.tokens >= bucket.limit.burst) this.buckets.delete(key);
    }
  }
}

function refill(bucket: Bucket, now: number): void {
  const { requestsPerSecond, burst } = bucket.limit;
  bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.updatedAt) / 1000) * requestsPerSecond);
  bucket.updatedAt = now;
}
