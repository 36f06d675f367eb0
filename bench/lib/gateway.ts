// Bootstrap for the emulator with the real filter: one server entry per benchmark backend path, all on cluster
// "backend" (or another cluster, e.g. the sidecar), in the filter's multi-server form.
import { spawnSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { bootstrapYaml } from "../../tests/helpers/bootstrap.ts";
import { repoRoot, startEmulatorWorker, type EmulatorService } from "./services.ts";

export interface ServerEntry {
  /** Path prefix clients use, and the name of the server. */
  prefix: string;
  /** Backend path (Streamable HTTP) or undefined for the sidecar's default /servers/NAME/mcp. */
  backendPath?: string;
  transport?: "http" | "stdio";
  cluster?: string;
  allowTools?: string[];
  name?: string;
}

export const buildNotes: string[] = [];
let checked = false;

/**
 * build/mcp-proxy.wasm, rebuilt first if out of date. The filter is developed alongside: when the working tree
 * does not compile, the last good build is used and the report says so.
 */
export function filterWasm(): string {
  const wasm = join(repoRoot, "build/mcp-proxy.wasm");
  if (checked) return wasm;
  checked = true;
  const { status, stdout, stderr } = spawnSync(process.execPath, ["scripts/build.mjs", "--if-needed", "--filter-only"], { cwd: repoRoot, encoding: "utf8" });
  if (status === 0) return wasm;
  if (!existsSync(wasm)) throw new Error(`npm run build failed: ${stdout}${stderr}`);
  buildNotes.push(`the filter's working tree did not compile; measured the previous build/mcp-proxy.wasm (${statSync(wasm).mtime.toISOString()})`);
  return wasm;
}

/** The server name a path prefix gets when the entry names none. */
export function serverName(prefix: string): string {
  return prefix.replace(/\W+/g, "-").replace(/^-|-$/g, "");
}

function server(entry: ServerEntry): Record<string, unknown> {
  const s: Record<string, unknown> = {
    name: entry.name ?? serverName(entry.prefix),
    pathPrefix: entry.prefix, cluster: entry.cluster ?? "backend", transport: entry.transport ?? "http",
  };
  if (entry.backendPath) s.mcpServerURL = `http://backend${entry.backendPath}`;
  if (entry.allowTools) s.allowTools = entry.allowTools;
  return s;
}

/** The minimal filters of bench/fixtures/: the floors of section 1. */
export type MinimalFilter = "minimal-filter" | "minimal-proxy-filter";

/** bench/fixtures/NAME.ts built with the filter's own options (-O3), into build/bench/. */
export function minimalFilterWasm(name: MinimalFilter): string {
  const source = join(repoRoot, `bench/fixtures/${name}.ts`);
  const wasm = join(repoRoot, `build/bench/${name}.wasm`);
  const inputs = [source, ...["bench/fixtures/asconfig.json", "assembly/exports.ts", "assembly/collector.ts", "assembly/runtime.ts"].map((f) => join(repoRoot, f))];
  if (existsSync(wasm) && inputs.every((f) => statSync(wasm).mtimeMs >= statSync(f).mtimeMs)) return wasm;
  // The filter's compiler options from a config of its own: asconfig.json's entries would compile the filter in too.
  const { status, stdout, stderr } = spawnSync(process.execPath, ["scripts/build.mjs", "--asc", source, "--config",
    "bench/fixtures/asconfig.json", "--outFile", wasm], { cwd: repoRoot, encoding: "utf8" });
  if (status !== 0) throw new Error(`building the minimal filter failed: ${stdout}${stderr}`);
  return wasm;
}

/** The emulator with a minimal filter on every path (the proxying one calls the cluster named "backend"). */
export function startMinimalGateway(name: MinimalFilter, clusters: Record<string, number>): Promise<EmulatorService> {
  return startEmulatorWorker(bootstrapYaml({
    wasm: minimalFilterWasm(name), rootId: "mcp-proxy", pluginName: "minimal", allowOnHeadersStopIteration: true,
    pluginConfig: {}, routes: [{ prefix: "/", cluster: Object.keys(clusters)[0] }], clusters,
  }));
}

export function gatewayYaml(entries: ServerEntry[], clusters: Record<string, number>): string {
  return bootstrapYaml({
    wasm: filterWasm(), rootId: "mcp-proxy", pluginName: "mcp-proxy", allowOnHeadersStopIteration: true,
    pluginConfig: { servers: entries.map(server) },
    routes: [{ prefix: "/", cluster: Object.keys(clusters)[0] }], clusters,
  });
}

export function startGateway(entries: ServerEntry[], clusters: Record<string, number>): Promise<EmulatorService> {
  return startEmulatorWorker(gatewayYaml(entries, clusters));
}

/** Every 4th of the backend's tools (tool_0, tool_4, ...) plus the two we call. */
export function allowList(maxTools = 1000): string[] {
  return [...Array.from({ length: Math.ceil(maxTools / 4) }, (_, i) => `tool_${i * 4}`), "blob", "echo"];
}
