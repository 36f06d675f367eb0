// Shared by the sidecar tests: start a sidecar on an ephemeral port, connect SDK clients, and
// look at real processes through /proc rather than trusting the sidecar's own counters.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from "@modelcontextprotocol/client";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { WebSocketClientTransport } from "@modelcontextprotocol/sdk/client/websocket.js";
import { WebSocket, type ClientOptions } from "ws";
import { startSidecar, type RunningSidecar } from "../../sidecar/app.ts";
import { parseCatalog } from "../../sidecar/catalog.ts";
import type { JsonRpcMessage } from "../../sidecar/jsonrpc.ts";
import { createLogger, type LogRecord } from "../../sidecar/log.ts";
import { processes, processInfo, type ProcessInfo } from "../helpers/procfs.ts";

export { processes };

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const FIXTURES = join(ROOT, "tests", "fixtures", "stdio");
export const EVERYTHING = join(ROOT, "node_modules", ".bin", "mcp-server-everything");
export const echoServer = (extra: Record<string, unknown> = {}) => ({
  command: process.execPath,
  args: [join(FIXTURES, "echo-server.mjs")],
  ...extra,
});
/** The 2.x SDK fixture (tests/sidecar/dual-era-server.mjs): "dual" serves the era it is opened with, "2026" only 2026-07-28. */
export const dualEraServer = (era: "dual" | "2026", extra: Record<string, unknown> = {}) => ({
  command: process.execPath,
  args: [join(ROOT, "tests", "sidecar", "dual-era-server.mjs"), "--era", era],
  ...extra,
});

export interface TestSidecar extends RunningSidecar {
  logs: LogRecord[];
}

/**
 * The SDK clients `connect` made, by the host:port they talk to. A test sidecar closes its own before
 * it stops: a client left open by a failed test would otherwise go on reconnecting (the SDK's SSE
 * client does so forever) and the test process would never exit.
 */
const clientsByHost = new Map<string, Set<{ close(): Promise<void> }>>();

function remember(url: string, client: { close(): Promise<void> }): void {
  const host = new URL(url).host;
  if (!clientsByHost.has(host)) clientsByHost.set(host, new Set());
  clientsByHost.get(host)!.add(client);
}

/** A sidecar on 127.0.0.1:0 whose logs are kept for assertions instead of printed. */
export async function startTestSidecar(
  document: { mcpServers: Record<string, unknown>; sidecar?: Record<string, unknown> },
  options: { rateLimitClock?: () => number } = {},
): Promise<TestSidecar> {
  const logs: LogRecord[] = [];
  const sidecar = await startSidecar(parseCatalog(document), {
    host: "127.0.0.1",
    port: 0,
    log: createLogger((record) => logs.push(record), "debug"),
    ...options,
  });
  const close = async () => {
    const host = new URL(sidecar.url).host;
    await Promise.allSettled([...(clientsByHost.get(host) ?? [])].map((client) => client.close()));
    clientsByHost.delete(host);
    await sidecar.close();
  };
  return { ...sidecar, logs, close };
}

export interface ConnectOptions {
  transport?: "streamable" | "sse" | "ws";
  headers?: Record<string, string>;
  /** What the client declares (sampling, elicitation, roots...): set its handlers in `prepare`. */
  capabilities?: Record<string, object>;
  /** Runs before connecting (request and notification handlers). */
  prepare?: (client: Client) => void;
}

export async function connect(url: string, options: ConnectOptions = {}): Promise<Client> {
  const client = new Client({ name: "sidecar-test", version: "1.0.0" }, { capabilities: options.capabilities ?? {} });
  remember(url, client);
  options.prepare?.(client);
  const requestInit = { headers: options.headers ?? {} };
  const transports = {
    sse: () => new SSEClientTransport(new URL(url), { requestInit }),
    streamable: () => new StreamableHTTPClientTransport(new URL(url), { requestInit }),
    // The SDK's transport uses the global WebSocket, which Node 20 does not have; `ws` stands in.
    ws: () => {
      (globalThis as { WebSocket?: unknown }).WebSocket ??= WebSocket;
      return new WebSocketClientTransport(new URL(url));
    },
  };
  try {
    await client.connect(transports[options.transport ?? "streamable"]());
  } catch (error) {
    await client.close();
    throw error;
  }
  return client;
}

export type Negotiation = "legacy" | "auto" | { pin: string };

/**
 * A 2.x SDK client (the dual-era SDK) over Streamable HTTP: `legacy` is the 2025 handshake, `auto` probes
 * server/discover first, `{ pin: '2026-07-28' }` speaks only 2026-07-28.
 */
export async function connectModern(
  url: string,
  options: {
    negotiation: Negotiation;
    headers?: Record<string, string>;
    capabilities?: Record<string, object>;
    prepare?: (client: ModernClient) => void;
  },
): Promise<ModernClient> {
  const client = new ModernClient(
    { name: "sidecar-test-2x", version: "2.0.0" },
    { capabilities: options.capabilities ?? {}, versionNegotiation: { mode: options.negotiation } },
  );
  remember(url, client);
  options.prepare?.(client);
  try {
    await client.connect(new ModernTransport(new URL(url), { requestInit: { headers: options.headers ?? {} } }));
  } catch (error) {
    await client.close();
    throw error;
  }
  return client;
}

/** ws://... for a path of the sidecar. */
export const wsUrl = (sidecar: RunningSidecar, path: string) => `${sidecar.url.replace(/^http/, "ws")}${path}`;

/** A raw WebSocket (subprotocol "mcp"), open; rejects with the HTTP status when the upgrade is refused. */
export function openSocket(url: string, options: ClientOptions = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, "mcp", options);
    ws.once("open", () => resolve(ws));
    ws.once("error", reject);
    ws.once("unexpected-response", (request, response) => {
      reject(
        Object.assign(new Error(`upgrade refused: ${response.statusCode}`), {
          status: response.statusCode,
          headers: response.headers,
        }),
      );
      request.destroy();
    });
  });
}

/** Sends a request and resolves with the reply carrying its id (other messages are skipped). */
export function rpc(
  ws: WebSocket,
  request: { id: number | string } & Record<string, unknown>,
): Promise<JsonRpcMessage> {
  return new Promise((resolve, reject) => {
    const onMessage = (data: Buffer) => {
      const message = JSON.parse(data.toString()) as JsonRpcMessage;
      if (message.id !== request.id) return;
      ws.off("message", onMessage).off("close", onClose);
      resolve(message);
    };
    const onClose = (code: number) => reject(new Error(`socket closed (${code}) before the reply to ${request.id}`));
    ws.on("message", onMessage).once("close", onClose);
    ws.send(JSON.stringify({ jsonrpc: "2.0", ...request }));
  });
}

/** Ends the session with DELETE (Streamable HTTP; the legacy transport ends with its stream), then closes. */
export async function closeWithDelete(client: Client): Promise<void> {
  if (client.transport instanceof StreamableHTTPClientTransport) await client.transport.terminateSession();
  await client.close();
}

export function toolText(result: unknown): string {
  return (result as { content: Array<{ text: string }> }).content[0].text;
}

/**
 * Live (not zombie) processes that `parent` started in process groups of their own (as the sidecar
 * does, unlike tsx's esbuild helper), plus any member of one of `groups`.
 */
export function leftovers(parent: number, groups: Iterable<number> = []): ProcessInfo[] {
  const wanted = new Set(groups);
  return processes().filter((p) => p.state !== "Z" && ((p.ppid === parent && p.pgid === p.pid) || wanted.has(p.pgid)));
}

/** Live members of the given process groups, wherever they were re-parented to. */
export function groupMembers(groups: Iterable<number>): ProcessInfo[] {
  const wanted = new Set(groups);
  return processes().filter((p) => p.state !== "Z" && wanted.has(p.pgid));
}

/** Running or sleeping; a zombie has died and only waits to be reaped. */
export function isAlive(pid: number): boolean {
  const info = processInfo(pid);
  return info !== undefined && info.state !== "Z";
}

export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** A raw JSON-RPC POST, for what the SDK client will not send. */
export async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

export const initializeRequest = (id: number | string = 1) => ({
  jsonrpc: "2.0",
  id,
  method: "initialize",
  params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
});

/** The data of each event of an SSE body, in order. */
export async function* sseData(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) !== -1) {
      const data = buffer
        .slice(0, end)
        .split("\n")
        .filter((l) => l.startsWith("data: "))
        .map((l) => l.slice(6))
        .join("\n");
      buffer = buffer.slice(end + 2);
      if (data) yield data;
    }
  }
}

/** A directory for one test file's scratch files: `file(name)` names a new one in it, `remove()` removes them all. */
export function scratchFiles(prefix: string) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  let count = 0;
  return {
    file: (name: string) => join(dir, `${name}-${++count}`),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Ends a test file: its clients and sockets, then the sidecar; no child may outlive them. */
export async function closeAll(sidecar: TestSidecar, clients: Client[], sockets: WebSocket[]): Promise<void> {
  await Promise.allSettled(clients.map((client) => client.close()));
  for (const ws of sockets) ws.terminate();
  await sidecar.close();
  if (leftovers(process.pid).length > 0)
    throw new Error(`children left after close: ${JSON.stringify(leftovers(process.pid))}`);
}
