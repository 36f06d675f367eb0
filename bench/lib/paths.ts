// Where things are: the repository, and the cache of one-off builds kept outside it (aigw, its Go caches, the
// Python mcp-proxy, the Envoy release aigw runs), which `npm run bench` reuses from run to run.
import { homedir } from "node:os";
import { join } from "node:path";

export const repoRoot = new URL("../..", import.meta.url).pathname;
export const cacheDir =
  process.env.MCP_BENCH_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "mcp-proxy-wasm");
