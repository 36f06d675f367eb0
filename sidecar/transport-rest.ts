// A plain REST API over a server's tools, for callers that do not speak MCP:
//   GET  /servers/NAME/tools        -> {"tools": [...]} (every page of tools/list)
//   POST /servers/NAME/tools/TOOL   JSON arguments in -> the tools/call result out
// Calls go through a warm pooled session of the session registry (one per server and set of envFromHeaders
// credentials), so only the first call spawns; limits, idle timeout and lifecycle are the registry's.
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";
import type { ServerConfig } from "./catalog.ts";
import type { Exchange } from "./exchange.ts";
import { isJsonContent, parseJson, readBody, sendJson, sendJsonError, sendStatus } from "./http.ts";
import { identityOf } from "./identity.ts";
import { answerForClient, isRequest, type JsonRpcMessage } from "./jsonrpc.ts";
import { ErrorCode, REST_CLIENT_INFO, REST_PROTOCOL_VERSION } from "./protocol.ts";
import { noReplies } from "./reply-sinks.ts";
import type { Session } from "./session.ts";
import type { SessionRegistry } from "./sessions.ts";

/** A server that keeps handing out cursors is not followed forever. */
const MAX_PAGES = 100;

type RpcError = NonNullable<JsonRpcMessage["error"]>;
interface ToolResult {
  isError?: boolean;
  content?: Array<{ text?: unknown }>;
}
type Pooled =
  | { ok: true; session: Session }
  | { ok: false; status: number; message: string; code?: number; retryAfterSeconds?: number };

interface PoolEntry {
  opening: Promise<Pooled>;
  session?: Session;
}

/** HTTP status for a JSON-RPC error from (or on behalf of) the MCP server. */
export function statusForError(error: RpcError): number {
  switch (error.code) {
    case ErrorCode.parseError:
    case ErrorCode.invalidRequest:
    case ErrorCode.invalidParams:
      return 400;
    case ErrorCode.methodNotFound:
      return 501;
    case ErrorCode.serverUnavailable:
      return 503;
    case ErrorCode.requestTimeout:
      return 504;
    case ErrorCode.rateLimited:
      return 429;
    default:
      return 502;
  }
}

export class RestPool {
  private readonly entries = new Map<string, PoolEntry>();

  constructor(private readonly sessions: SessionRegistry) {}

  /** The warm session for this server and these credentials; opened (and initialized) on first use. */
  async acquire(server: ServerConfig, headers: IncomingHttpHeaders): Promise<Pooled> {
    this.dropEnded();
    // Callers with different credentials never share a child. The key is a keyed digest of them, not
    // them: finding it in the map tells nothing about the values, and no secret is kept here.
    const key = `${server.name}\0${identityOf(server, headers).digest.toString("hex")}`;
    let entry = this.entries.get(key);
    if (!entry) {
      const fresh: PoolEntry = { opening: this.open(server, headers) };
      this.entries.set(key, fresh);
      void fresh.opening.then((pooled) => {
        if (pooled.ok) fresh.session = pooled.session;
        else if (this.entries.get(key) === fresh) this.entries.delete(key);
      });
      entry = fresh;
    }
    // A session that ends from here on answers with an error (503); the next call opens a new one.
    return entry.opening;
  }

  private async open(server: ServerConfig, headers: IncomingHttpHeaders): Promise<Pooled> {
    const opened = await this.sessions.open(server, "rest", headers);
    if (!opened.ok) return opened;
    const { session } = opened;
    // Nobody is there to answer the child's own requests (sampling, roots...): refuse them at once.
    session.standalone = {
      streaming: true,
      deliver: (message) => {
        if (isRequest(message))
          session.dispatch([answerForClient(message, "the REST API has no client to ask")], noReplies);
      },
    };
    const reply = await session.request("initialize", {
      protocolVersion: REST_PROTOCOL_VERSION,
      capabilities: {},
      clientInfo: REST_CLIENT_INFO,
    });
    if (reply.error) {
      session.end("initialize-failed");
      return {
        ok: false,
        status: statusForError(reply.error),
        code: reply.error.code,
        message: `initialize failed: ${reply.error.message}`,
      };
    }
    session.notify("notifications/initialized");
    return opened;
  }

  private dropEnded(): void {
    for (const [key, entry] of this.entries) {
      if (entry.session?.ended) this.entries.delete(key);
    }
  }
}

export async function handleTools(exchange: Exchange, pool: RestPool, tool: string | undefined): Promise<void> {
  const { req, res } = exchange;
  if (tool === undefined) {
    if (req.method !== "GET") return sendStatus(res, 405, { allow: "GET" });
    return listTools(exchange, pool);
  }
  if (req.method !== "POST") return sendStatus(res, 405, { allow: "POST" });
  return callTool(exchange, pool, tool);
}

async function listTools(exchange: Exchange, pool: RestPool): Promise<void> {
  const session = await pooledSession(exchange, pool);
  if (!session) return;
  const listed = await allTools(session);
  if ("error" in listed) return sendRpcFailure(exchange, listed.error);
  sendJson(exchange.res, 200, { tools: listed.tools });
}

async function callTool(exchange: Exchange, pool: RestPool, tool: string): Promise<void> {
  const args = await readArguments(exchange);
  if (!args) return;
  const session = await pooledSession(exchange, pool);
  if (!session) return;
  const reply = await session.request("tools/call", { name: tool, arguments: args });
  const result = reply.result as ToolResult | undefined;
  if (!reply.error && result?.isError !== true) return sendJson(exchange.res, 200, result);
  // Servers report an unknown tool in different ways (a tool error, invalid params...): the list settles it.
  const listed = await allTools(session);
  if ("tools" in listed && !listed.tools.some((t) => (t as { name?: unknown }).name === tool)) {
    return sendJsonError(exchange.res, 404, `unknown tool "${tool}"`, { code: reply.error?.code });
  }
  if (reply.error) return sendRpcFailure(exchange, reply.error);
  sendJsonError(exchange.res, 422, toolErrorText(result!), { data: result });
}

/** The tool's own words about its failure: the text of its content. */
function toolErrorText(result: ToolResult): string {
  const texts = (result.content ?? []).map((part) => part.text).filter((text) => typeof text === "string");
  return texts.join("\n") || "the tool reported an error";
}

/** The JSON object of arguments; an empty body means none. Answers 415/413/400 itself. */
async function readArguments(exchange: Exchange): Promise<Record<string, unknown> | undefined> {
  const { req, res, sessions } = exchange;
  const body = await readBody(req, sessions.services.global.maxBodyBytes);
  if (body === "too-large") {
    sendJsonError(res, 413, `request body over ${sessions.services.global.maxBodyBytes} bytes`, {
      headers: { connection: "close" },
    });
    return undefined;
  }
  if (body.length === 0) return {};
  if (!isJsonContent(req)) {
    sendJsonError(res, 415, "Content-Type must be application/json");
    return undefined;
  }
  const value = parseJson(body)?.value;
  if (typeof value === "object" && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  sendJsonError(res, 400, "the body must be a JSON object of tool arguments");
  return undefined;
}

async function pooledSession(exchange: Exchange, pool: RestPool): Promise<Session | undefined> {
  const pooled = await pool.acquire(exchange.server, exchange.req.headers);
  if (pooled.ok) return pooled.session;
  const headers: OutgoingHttpHeaders =
    pooled.retryAfterSeconds === undefined ? {} : { "retry-after": String(pooled.retryAfterSeconds) };
  sendJsonError(exchange.res, pooled.status, pooled.message, { code: pooled.code, headers });
  return undefined;
}

async function allTools(session: Session): Promise<{ tools: unknown[] } | { error: RpcError }> {
  const tools: unknown[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const reply = await session.request("tools/list", cursor === undefined ? {} : { cursor });
    if (reply.error) return { error: reply.error };
    const result = reply.result as { tools?: unknown[]; nextCursor?: string };
    tools.push(...(result.tools ?? []));
    if (typeof result.nextCursor !== "string" || result.nextCursor === cursor) break;
    cursor = result.nextCursor;
  }
  return { tools };
}

function sendRpcFailure(exchange: Exchange, error: RpcError): void {
  const status = statusForError(error);
  const headers: OutgoingHttpHeaders =
    status === 503 ? { "retry-after": String(exchange.sessions.services.global.retryAfterSeconds) } : {};
  sendJsonError(exchange.res, status, error.message, { code: error.code, data: error.data, headers });
}
