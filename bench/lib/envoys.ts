// The Envoys the benchmark compares, each a process of its own (its CPU counters are its row's alone), all on the
// same pinned release, `--concurrency 2`, in front of the same backend:
//   router       Envoy's plain router (what any Envoy hop costs);
//   filter       this filter, one server per backend path, in mode "higress" or "passthrough";
//   native       Envoy's own envoy.filters.http.mcp (PASS_THROUGH) + envoy.filters.http.mcp_router, one listener per
//                backend path (the router names one backend per filter chain).
// Clients use the backend's own paths (/json/10/mcp, ...) on every row, so passthrough needs no prefix_rewrite.
import { spawnSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { bootstrapYaml } from "../../tests/helpers/bootstrap.ts";
import { startEnvoy, type Envoy } from "../../tests/helpers/envoy.ts";
import { repoRoot } from "./paths.ts";

export type EnvoyKind = "router" | "higress" | "passthrough" | "native";

/** A backend path the rows use, e.g. "/json/10/mcp": reply framing and the length of its tools/list. */
export interface BackendPath {
  path: string;
  allowTools?: string[];
}

export const CONCURRENCY = 2;
export const buildNotes: string[] = [];
let built = false;

/**
 * build/mcp-proxy.wasm, rebuilt first if out of date. The filter is developed alongside: when the working tree
 * does not compile, the last good build is measured and the report says so.
 */
export function filterWasm(): string {
  const wasm = join(repoRoot, "build/mcp-proxy.wasm");
  if (built) return wasm;
  built = true;
  const { status, stdout, stderr } = spawnSync(
    process.execPath,
    ["scripts/build.mjs", "--if-needed", "--filter-only"],
    { cwd: repoRoot, encoding: "utf8" },
  );
  if (status === 0) return wasm;
  if (!existsSync(wasm)) throw new Error(`the filter's build failed: ${stdout}${stderr}`);
  buildNotes.push(
    `the filter's working tree did not compile; measured the previous build/mcp-proxy.wasm (${statSync(wasm).mtime.toISOString()})`,
  );
  return wasm;
}

/** The filter's server name for a backend path ("/json/10/mcp" -> "json-10"): its stats carry it. */
export function serverName(path: string): string {
  return path
    .replace(/\/mcp$/, "")
    .replace(/\W+/g, "-")
    .replace(/^-|-$/g, "");
}

function filterConfig(paths: BackendPath[], mode: "higress" | "passthrough"): unknown {
  return {
    servers: paths.map((p) => ({
      name: serverName(p.path),
      pathPrefix: p.path,
      cluster: "backend",
      transport: "http",
      mode,
      mcpServerURL: `http://backend${p.path}`,
      ...(p.allowTools ? { allowTools: p.allowTools } : {}),
    })),
  };
}

const ROUTE_TIMEOUT = "30s";

function yamlFor(kind: EnvoyKind, paths: BackendPath[], backendPort: number, wasm: string): string {
  const clusters = { backend: backendPort };
  const routes = [{ prefix: "/", cluster: "backend", timeout: ROUTE_TIMEOUT }];
  switch (kind) {
    case "router":
      return bootstrapYaml({ routes, clusters });
    case "higress":
    case "passthrough":
      return bootstrapYaml({
        wasm,
        rootId: "mcp-proxy",
        pluginName: "mcp-proxy",
        allowOnHeadersStopIteration: true,
        pluginConfig: filterConfig(paths, kind),
        routes,
        clusters,
      });
    case "native":
      return nativeYaml(paths, clusters);
  }
}

/** One listener per backend path, each ending in mcp_router with that path as its only server. */
function nativeYaml(paths: BackendPath[], clusters: Record<string, number>): string {
  const bootstrap = parse(
    bootstrapYaml({ routes: [{ prefix: "/", cluster: "backend", timeout: ROUTE_TIMEOUT }], clusters }),
  );
  const [template] = bootstrap.static_resources.listeners;
  bootstrap.static_resources.listeners = paths.map((p) => {
    const listener = structuredClone(template);
    listener.name = serverName(p.path);
    listener.filter_chains[0].filters[0].typed_config.http_filters = [
      {
        name: "envoy.filters.http.mcp",
        typed_config: {
          "@type": "type.googleapis.com/envoy.extensions.filters.http.mcp.v3.Mcp",
          traffic_mode: "PASS_THROUGH",
          max_request_body_size: 1048576,
        },
      },
      {
        name: "envoy.filters.http.mcp_router",
        typed_config: {
          "@type": "type.googleapis.com/envoy.extensions.filters.http.mcp_router.v3.McpRouter",
          servers: [{ name: "b", mcp_cluster: { cluster: "backend", path: p.path, timeout: ROUTE_TIMEOUT } }],
        },
      },
    ];
    return listener;
  });
  return stringify(bootstrap);
}

export interface BenchEnvoy {
  kind: EnvoyKind;
  envoy: Envoy;
  /** The URL a client uses for a backend path. */
  url(path: string): string;
}

/** `wasm`: another build of the filter, for an A/B comparison (default: this tree's). */
export async function startBenchEnvoy(
  kind: EnvoyKind,
  paths: BackendPath[],
  backendPort: number,
  wasm?: string,
): Promise<BenchEnvoy> {
  // Envoy's default log level, as users run it (neither Envoy nor the filters log per request at info).
  const envoy = await startEnvoy({
    yaml: yamlFor(kind, paths, backendPort, wasm ?? filterWasm()),
    concurrency: CONCURRENCY,
    logLevel: "info",
  });
  const url =
    kind === "native"
      ? (path: string) => {
          const listener = envoy.listeners.find((l) => l.name === serverName(path));
          if (!listener) throw new Error(`the native Envoy has no listener for ${path}`);
          return `${listener.url}/mcp`;
        }
      : (path: string) => `${envoy.url}${path}`;
  return { kind, envoy, url };
}
