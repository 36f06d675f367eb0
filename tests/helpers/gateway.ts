// Shared plumbing for the filter's end-to-end tests: the real build/mcp-proxy.wasm in real Envoy, raw JSON-RPC
// POSTs, and the SDK's MCP Client pointed at the gateway.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import assert from "node:assert/strict";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { bootstrapYaml, type BootstrapSpec, type RouteSpec } from "./bootstrap.ts";
import { ownEnvoy, type Envoy, type EnvoyOptions } from "./envoy.ts";
import { header, send, waitFor, type Reply } from "./harness.ts";
import { closedPort } from "./upstream.ts";

export const repoRoot = new URL("../..", import.meta.url).pathname;
let built = false;

export function filterWasm(): string {
  if (!built) {
    const { status, stderr } = spawnSync(process.execPath, ["scripts/build.mjs", "--if-needed", "--filter-only"], {
      cwd: repoRoot,
    });
    if (status !== 0) throw new Error(`build failed: ${stderr}`);
    built = true;
  }
  return join(repoRoot, "build/mcp-proxy.wasm");
}

export interface GatewaySpec
  extends Omit<BootstrapSpec, "wasm" | "routes" | "pluginConfig">, Omit<EnvoyOptions, "yaml"> {
  pluginConfig: unknown;
  /** Default: one route "/" to the first cluster. */
  routes?: RouteSpec[];
  /** Default true ("hold" mode needs it); false reproduces Istio / Envoy Gateway. */
  allowOnHeadersStopIteration?: boolean;
}

export interface Gateway {
  envoy: Envoy;
  url: string;
}

/** Real Envoy with the filter (two workers unless `concurrency` says otherwise). */
export async function startGateway(t: TestContext, spec: GatewaySpec): Promise<Gateway> {
  const { concurrency, release, cwd, logLevel, args, ...bootstrap } = spec;
  const routes = spec.routes ?? [{ prefix: "/", cluster: Object.keys(spec.clusters)[0] }];
  const yaml = bootstrapYaml({
    ...bootstrap,
    wasm: filterWasm(),
    routes,
    allowOnHeadersStopIteration: spec.allowOnHeadersStopIteration ?? true,
  });
  const envoy = await ownEnvoy(t, { yaml, concurrency, release, cwd, logLevel, args });
  return { envoy, url: envoy.url };
}

/** Higress's single-server config for a Streamable HTTP backend on the route's cluster. */
export function httpServer(
  extra: Record<string, unknown> = {},
  top: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    server: { name: "fixture", type: "mcp-proxy", transport: "http", mcpServerURL: "http://backend/mcp", ...extra },
    ...top,
  };
}

/** POSTs one JSON-RPC body (a string is sent as is). */
export function post(url: string, body: unknown, headers: [string, string][] = [], path = "/mcp"): Promise<Reply> {
  return send(url, {
    method: "POST",
    path,
    body: typeof body === "string" ? body : JSON.stringify(body),
    headers: [["content-type", "application/json"], ["accept", "application/json, text/event-stream"], ...headers],
  });
}

export function json(reply: Reply): any {
  return JSON.parse(reply.body);
}

/** The JSON-RPC messages of a reply: its JSON body, or the data of each event of an SSE body, in order. */
export function messages(reply: Reply): any[] {
  if (!header(reply, "content-type")?.startsWith("text/event-stream")) return [json(reply)];
  return reply.body
    .split(/\r?\n\r?\n/)
    .map((event) =>
      event
        .split(/\r?\n/)
        .filter((line) => line.startsWith("data:"))
        .map((line) => line.slice(5).trim())
        .join("\n"),
    )
    .filter((data) => data)
    .map((data) => JSON.parse(data));
}

/** The JSON-RPC response of a reply, sent as JSON or as the last event of an SSE stream (after notifications). */
export function response(reply: Reply): any {
  return messages(reply).at(-1);
}

export async function connectClient(
  t: TestContext,
  url: string,
  headers: Record<string, string> = {},
  path = "/mcp",
): Promise<Client> {
  const client = new Client({ name: "e2e", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${url}${path}`), { requestInit: { headers } }));
  t.after(() => client.close());
  return client;
}

/** One of the filter's metrics (or any Envoy stat) from the admin API; 0 when absent. */
export function metric(envoy: Envoy, name: string): Promise<number> {
  return envoy.stat(name);
}

/** Polls a stat until `check` accepts its value; fails with `what` after `timeoutMs`. */
export async function waitForStat(
  envoy: Envoy,
  name: string,
  check: (value: number) => boolean,
  what: string,
  timeoutMs = 10_000,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await envoy.stat(name);
    if (check(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (${name} = ${value})`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export interface AccessLog {
  /** For the bootstrap's accessLogPath. */
  path: string;
  /** For Envoy's command line: flush the file every 50 ms instead of every 10 s. */
  args: string[];
  /** The entries Envoy has flushed so far, one object per request (bootstrap.ts names the fields). */
  entries(): Record<string, unknown>[];
}

/** A fresh file for Envoy's access log, removed when the test ends. Envoy writes it in the background: poll. */
export function accessLog(t: TestContext): AccessLog {
  const dir = mkdtempSync(join(tmpdir(), "mcp-access-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, "access.log");
  return {
    path,
    args: ["--file-flush-interval-msec", "50"],
    entries: () => {
      const text = existsSync(path) ? readFileSync(path, "utf8") : "";
      // Complete lines only: a flush may be under way.
      return text
        .slice(0, text.lastIndexOf("\n") + 1)
        .split("\n")
        .filter((line) => line)
        .map((line) => JSON.parse(line));
    },
  };
}

/** server-everything in `mode` on a free port, its process group killed when the test ends; resolves with the port. */
export async function startEverything(t: TestContext, mode: "streamableHttp" | "sse"): Promise<number> {
  const port = await closedPort();
  const child = spawn(join(repoRoot, "node_modules/.bin/mcp-server-everything"), [mode], {
    env: { ...process.env, PORT: String(port) },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  t.after(() => {
    try {
      process.kill(-child.pid!, "SIGTERM");
    } catch {
      /* already gone */
    }
  });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  // It logs the port it listens on.
  await waitFor("server-everything to listen", () => out.includes(String(port)), 20000);
  return port;
}

/** The SDK fixture backend's tools, listed and called through the gateway, come back exactly as the backend sent them. */
export async function assertFixtureToolsPassThrough(client: Client): Promise<void> {
  const { tools } = await client.listTools();
  assert.deepEqual(tools.map((x) => x.name).sort(), ["add", "echo", "fail"]);
  assert.deepEqual(tools.find((x) => x.name === "add")!.outputSchema?.required, ["sum"]);
  const echoed = await client.callTool({ name: "echo", arguments: { message: "hi" } });
  assert.deepEqual(echoed.content, [{ type: "text", text: "echo: hi" }]);
  assert.deepEqual(echoed._meta, { fixture: true });
  const added = await client.callTool({ name: "add", arguments: { a: 2, b: 3 } });
  assert.deepEqual(added.structuredContent, { sum: 5 });
  assert.equal((await client.callTool({ name: "fail", arguments: {} })).isError, true);
}
