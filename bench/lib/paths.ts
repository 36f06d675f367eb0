// Where things are: the repository, and the cache of one-off builds kept outside it (aigw, its Go caches, the
// Python mcp-proxy, the Envoy release aigw runs), which `npm run bench` reuses from run to run.
import { cacheDir as projectCache } from "../../scripts/cache.mjs";

export const repoRoot = new URL("../..", import.meta.url).pathname;
export const cacheDir = process.env.MCP_BENCH_CACHE ?? projectCache;
