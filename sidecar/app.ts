// The HTTP service: routing, API keys, Origin checks, and the health/metrics endpoints.
// `startSidecar` is the programmatic entry point (tests start it in-process with it).
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Catalog } from './catalog.ts';
import type { StdioChild } from './child.ts';
import { Gateway } from './gateway.ts';
import { sendJson, sendRpcError } from './http.ts';
import { ErrorCode } from './jsonrpc.ts';
import { openLegacyStream, postLegacyMessage } from './legacy-sse.ts';
import { createLogger, type Logger } from './log.ts';
import { Metrics } from './metrics.ts';
import { handleStreamable, type Exchange } from './streamable.ts';
import type { Runtime } from './upstream.ts';

export interface StartOptions {
  host?: string;
  port?: number;
  log?: Logger;
}

export interface RunningSidecar {
  url: string;
  port: number;
  gateway: Gateway;
  /** Stops accepting, ends every session and child (SIGKILL by 80% of the grace period), then resolves. */
  close(): Promise<void>;
}

const SERVER_ROUTE = /^\/servers\/([^/]+)\/(mcp|sse|messages)$/;
const OPEN_PATHS = new Set(['/healthz', '/readyz']);
const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

export async function startSidecar(catalog: Catalog, options: StartOptions = {}): Promise<RunningSidecar> {
  const log = options.log ?? createLogger();
  const runtime: Runtime = { global: catalog.global, log, metrics: new Metrics(), children: new Set<StdioChild>() };
  for (const warning of catalog.warnings) log.warn('catalog', { warning });
  const gateway = new Gateway(catalog, runtime);
  const http = createServer((req, res) => {
    route(gateway, req, res).catch((error: Error) => {
      log.error('request failed', { error: error.message, stack: error.stack });
      if (!res.headersSent) sendRpcError(res, 500, 'internal error', { code: ErrorCode.internalError });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port ?? 8081, options.host ?? '127.0.0.1', resolve);
  });
  gateway.start();
  const { address, port } = http.address() as AddressInfo;
  const url = `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
  log.info('listening', { url, port, servers: [...catalog.servers.keys()] });
  let closing: Promise<void> | undefined;
  const close = () => closing ??= (async () => {
    http.close();
    await gateway.close(Math.floor(catalog.global.gracePeriodMs * 0.8));
    http.closeAllConnections();
    log.info('stopped');
  })();
  return { url, port, gateway, close };
}

async function route(gateway: Gateway, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://sidecar');
  if (!originAllowed(req, gateway.runtime.global.allowedOrigins)) return sendRpcError(res, 403, 'Origin not allowed');
  if (!OPEN_PATHS.has(url.pathname) && !authorized(req, gateway.runtime.global.apiKeys)) {
    return sendRpcError(res, 401, 'a valid API key is required', { headers: { 'www-authenticate': 'Bearer' } });
  }
  const match = SERVER_ROUTE.exec(url.pathname);
  if (match) return routeServer(gateway, req, res, decodeURIComponent(match[1]), match[2], url);
  switch (url.pathname) {
    case '/healthz': return sendJson(res, 200, { status: 'ok' });
    case '/readyz': {
      const readiness = gateway.readiness();
      return sendJson(res, readiness.ready ? 200 : 503, readiness);
    }
    case '/metrics': {
      const { registry } = gateway.runtime.metrics;
      res.writeHead(200, { 'content-type': registry.contentType });
      return void res.end(await registry.metrics());
    }
    case '/stats': return sendJson(res, 200, await gateway.stats());
    default: return sendRpcError(res, 404, 'not found', { code: ErrorCode.invalidRequest });
  }
}

async function routeServer(gateway: Gateway, req: IncomingMessage, res: ServerResponse, name: string,
  endpoint: string, url: URL): Promise<void> {
  const server = gateway.server(name);
  if (!server) return sendRpcError(res, 404, `unknown MCP server "${name}"`, { code: ErrorCode.invalidRequest });
  res.on('close', () => gateway.runtime.metrics.httpRequests.inc({
    server: name, endpoint, method: req.method ?? '', status: String(res.statusCode),
  }));
  const exchange: Exchange = { req, res, server, gateway };
  if (endpoint === 'mcp') return handleStreamable(exchange);
  if (endpoint === 'sse') return openLegacyStream(exchange);
  return postLegacyMessage(exchange, url);
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
  const match = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
  if (!match) return false;
  const given = digest(match[1].trim());
  return apiKeys.some((key) => timingSafeEqual(digest(key), given));
}

/** Equal-length digests, so that comparing keys takes the same time whatever they are. */
function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
