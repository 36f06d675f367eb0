// The HTTP service: routing, API keys, Origin checks, and the health/metrics endpoints.
// `startSidecar` is the programmatic entry point (tests start it in-process with it).
import { createHash, timingSafeEqual } from "node:crypto";
import { createServer, ServerResponse, type IncomingMessage } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { WebSocketServer } from "ws";
import type { Catalog } from "./catalog.ts";
import type { Exchange } from "./exchange.ts";
import { sendJson, sendJsonError, sendRpcError } from "./http.ts";
import { createLogger, keepingProblems, type Logger, type LogRecord } from "./log.ts";
import { Metrics } from "./metrics.ts";
import { ModernPool } from "./modern-pool.ts";
import { ErrorCode } from "./protocol.ts";
import { RateLimiter, throttle } from "./ratelimit.ts";
import type { Services } from "./services.ts";
import { shortSessionId } from "./session.ts";
import { SessionRegistry } from "./sessions.ts";
import { sendStatusPage } from "./status-page.ts";
import type { StdioChild } from "./stdio-child.ts";
import { handleTools, RestPool } from "./transport-rest.ts";
import { openSseStream, postSseMessage } from "./transport-sse.ts";
import { handleStreamable } from "./transport-streamable.ts";
import { createSocketServer, openWebSocket, type Upgrade } from "./transport-websocket.ts";

export interface StartOptions {
  host?: string;
  port?: number;
  log?: Logger;
  /** The rate limits' clock, in milliseconds (tests pass one they move by hand); `performance.now` by default. */
  rateLimitClock?: () => number;
}

export interface RunningSidecar {
  url: string;
  port: number;
  sessions: SessionRegistry;
  /** Stops accepting, ends every session and child (SIGKILL by 80% of the grace period), then resolves. */
  close(): Promise<void>;
}

const SERVER_ROUTE = /^\/servers\/([^/]+)\/(mcp|sse|messages|ws|tools)$/;
const TOOL_ROUTE = /^\/servers\/([^/]+)\/tools\/([^/]+)$/;
/** The status page holds no data (its script fetches /status with the key typed into it), so it is open. */
const OPEN_PATHS = new Set(["/", "/healthz", "/readyz"]);
/** Warnings and errors kept for the status page. */
const RECENT_PROBLEMS = 50;
const LOCAL_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

/** What a request may need besides itself. */
interface Endpoints {
  sessions: SessionRegistry;
  restPool: RestPool;
  /** Sessions that serve 2026-07-28 requests. */
  modernPool: ModernPool;
  sockets: WebSocketServer;
}

export async function startSidecar(catalog: Catalog, options: StartOptions = {}): Promise<RunningSidecar> {
  const problems: LogRecord[] = [];
  const log = keepingProblems(options.log ?? createLogger(), problems, RECENT_PROBLEMS);
  const services: Services = {
    global: catalog.global,
    log,
    metrics: new Metrics(),
    rateLimiter: new RateLimiter(options.rateLimitClock),
    children: new Set<StdioChild>(),
    problems,
  };
  for (const warning of catalog.warnings) log.warn("catalog", { warning });
  for (const server of catalog.servers.values()) {
    services.metrics.rateLimitRate.set({ server: server.name }, server.rateLimit.requestsPerSecond);
    services.metrics.rateLimitBurst.set({ server: server.name }, server.rateLimit.burst);
  }
  const sessions = new SessionRegistry(catalog, services);
  const endpoints: Endpoints = {
    sessions,
    restPool: new RestPool(sessions),
    modernPool: new ModernPool(sessions),
    sockets: createSocketServer(catalog.global),
  };
  const handle = (req: IncomingMessage, res: ServerResponse, upgrade?: Upgrade) => {
    route(endpoints, req, res, upgrade).catch((error: Error) => {
      log.error("request failed", { error: error.message, stack: error.stack });
      if (!res.headersSent) sendRpcError(res, 500, "internal error", { code: ErrorCode.internalError });
      else res.destroy();
    });
  };
  const http = createServer((req, res) => handle(req, res));
  // An upgrade gets a response object on its raw socket, so that refusals go through the same routes.
  http.on("upgrade", (req: IncomingMessage, socket: Upgrade["socket"], head: Buffer) => {
    const res = new ServerResponse(req);
    res.shouldKeepAlive = false;
    res.assignSocket(socket as Socket);
    res.on("finish", () => socket.end());
    // The HTTP server let go of this socket; a reset while the session opens must not go unhandled.
    socket.on("error", (error) => log.debug("upgrade socket error", { error: error.message }));
    handle(req, res, { socket, head });
  });
  await new Promise<void>((resolve, reject) => {
    http.once("error", reject);
    http.listen(options.port ?? 8081, options.host ?? "127.0.0.1", resolve);
  });
  sessions.start();
  const { address, port } = http.address() as AddressInfo;
  const url = `http://${address.includes(":") ? `[${address}]` : address}:${port}`;
  log.info("listening", { url, port, servers: [...catalog.servers.keys()] });
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      http.close();
      await sessions.close(Math.floor(catalog.global.gracePeriodMs * 0.8));
      http.closeAllConnections();
      // Upgraded sockets are no longer the HTTP server's; their sessions are over, so no closing handshake is awaited.
      for (const ws of endpoints.sockets.clients) ws.terminate();
      log.info("stopped");
    })());
  return { url, port, sessions, close };
}

async function route(
  endpoints: Endpoints,
  req: IncomingMessage,
  res: ServerResponse,
  upgrade?: Upgrade,
): Promise<void> {
  const { sessions } = endpoints;
  const url = new URL(req.url ?? "/", "http://sidecar");
  if (!originAllowed(req, sessions.services.global.allowedOrigins)) return sendRpcError(res, 403, "Origin not allowed");
  if (!OPEN_PATHS.has(url.pathname) && !authorized(req, sessions.services.global.apiKeys)) {
    return sendRpcError(res, 401, "a valid API key is required", { headers: { "www-authenticate": "Bearer" } });
  }
  const tool = TOOL_ROUTE.exec(url.pathname);
  const match = tool ?? SERVER_ROUTE.exec(url.pathname);
  if (match) {
    const endpoint = tool ? "tools" : match[2];
    return routeServer(
      endpoints,
      { req, res, url, upgrade },
      decodeURIComponent(match[1]),
      endpoint,
      tool && decodeURIComponent(tool[2]),
    );
  }
  if (upgrade)
    return sendRpcError(res, 404, "WebSocket connections are taken at /servers/NAME/ws", {
      code: ErrorCode.invalidRequest,
    });
  switch (url.pathname) {
    case "/":
      return sendStatusPage(req, res);
    case "/healthz":
      return sendJson(res, 200, { status: "ok" });
    case "/readyz": {
      const readiness = sessions.readiness();
      return sendJson(res, readiness.ready ? 200 : 503, readiness);
    }
    case "/metrics": {
      const { registry } = sessions.services.metrics;
      res.writeHead(200, { "content-type": registry.contentType });
      return void res.end(await registry.metrics());
    }
    case "/stats":
      return sendJson(res, 200, await sessions.stats());
    case "/status":
      return sendJson(res, 200, {
        servers: await sessions.stats(),
        sessions: sessions.liveSessions(),
        problems: shownProblems(sessions.services.problems),
      });
    default:
      return sendRpcError(res, 404, "not found", { code: ErrorCode.invalidRequest });
  }
}

interface Call {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  upgrade?: Upgrade;
}

async function routeServer(
  endpoints: Endpoints,
  call: Call,
  name: string,
  endpoint: string,
  tool: string | null,
): Promise<void> {
  const { sessions } = endpoints;
  const { req, res, url, upgrade } = call;
  // REST callers get plain JSON errors; everything else speaks JSON-RPC.
  const sendError = endpoint === "tools" ? sendJsonError : sendRpcError;
  const server = sessions.server(name);
  if (!server) return sendError(res, 404, `unknown MCP server "${name}"`, { code: ErrorCode.invalidRequest });
  res.on("close", () =>
    sessions.services.metrics.httpRequests.inc({
      server: name,
      endpoint,
      method: req.method ?? "",
      status: String(res.statusCode),
    }),
  );
  if (upgrade && endpoint !== "ws")
    return sendError(res, 400, "only /servers/NAME/ws takes a WebSocket upgrade", { code: ErrorCode.invalidRequest });
  const client = clientOf(req, sessions.services.global.apiKeys);
  const retryAfterSeconds = throttle(sessions.services, server, client, endpoint);
  if (retryAfterSeconds !== undefined) {
    return sendError(res, 429, `rate limit exceeded for "${name}"`, {
      code: ErrorCode.rateLimited,
      data: { retryAfterSeconds },
      headers: { "retry-after": String(retryAfterSeconds) },
    });
  }
  const exchange: Exchange = { req, res, server, sessions };
  switch (endpoint) {
    case "mcp":
      return handleStreamable(exchange, endpoints.modernPool);
    case "sse":
      return openSseStream(exchange);
    case "messages":
      return postSseMessage(exchange, url);
    case "ws":
      return openWebSocket(exchange, upgrade, endpoints.sockets, client);
    default:
      return handleTools(exchange, endpoints.restPool, tool ?? undefined);
  }
}

/** The recent problems, newest first, with session ids cut short as in the list of live sessions. */
function shownProblems(problems: LogRecord[]): LogRecord[] {
  return problems
    .slice()
    .reverse()
    .map((record) =>
      typeof record.session === "string" ? { ...record, session: shortSessionId(record.session) } : record,
    );
}

/** Browsers send Origin; only local pages and configured origins may reach us (DNS rebinding). */
function originAllowed(req: IncomingMessage, allowed: string[]): boolean {
  const origin = req.headers.origin;
  if (origin === undefined || allowed.includes(origin)) return true;
  try {
    return LOCAL_HOSTS.has(new URL(origin).hostname);
  } catch {
    return false;
  }
}

function authorized(req: IncomingMessage, apiKeys: string[]): boolean {
  if (apiKeys.length === 0) return true;
  const key = bearer(req);
  if (key === undefined) return false;
  const given = digest(key);
  return apiKeys.some((known) => timingSafeEqual(digest(known), given));
}

/**
 * Who a rate limit applies to: the API key (already checked) when keys are configured, else the peer
 * address; an unchecked key would let a client pick a fresh bucket per request.
 */
function clientOf(req: IncomingMessage, apiKeys: string[]): string {
  const key = apiKeys.length > 0 ? bearer(req) : undefined;
  return key === undefined ? `address:${req.socket.remoteAddress}` : `key:${digest(key).toString("hex", 0, 8)}`;
}

function bearer(req: IncomingMessage): string | undefined {
  return /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? "")?.[1].trim();
}

/** Equal-length digests, so that comparing keys takes the same time whatever they are. */
function digest(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}
