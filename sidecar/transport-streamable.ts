// The Streamable HTTP transport at /servers/NAME/mcp, for both eras: a POST whose body carries the 2026-07-28
// envelope is served statelessly (modern-request.ts); everything else is the 2025 transport with sessions.
import type { OutgoingHttpHeaders, ServerResponse } from "node:http";
import { classifyInboundRequest } from "@modelcontextprotocol/server";
import { isModernVersion } from "./eras.ts";
import { sseOptions, type Exchange } from "./exchange.ts";
import { accepts, header, readMessages, sendJson, sendRefusal, sendRpcError, sendStatus } from "./http.ts";
import { isRequest, type JsonRpcId, type JsonRpcMessage } from "./jsonrpc.ts";
import type { ModernPool } from "./modern-pool.ts";
import { serveModernRequest } from "./modern-request.ts";
import { ErrorCode, HEADER, LEGACY_VERSIONS, MODERN_VERSION } from "./protocol.ts";
import { noReplies, PostReply, ReplyCollector } from "./reply-sinks.ts";
import type { Session } from "./session.ts";
import { SseStream } from "./sse-stream.ts";

export async function handleStreamable(exchange: Exchange, pool: ModernPool): Promise<void> {
  const { req, res } = exchange;
  if (req.method === "POST") return post(exchange, pool);
  if (req.method !== "GET" && req.method !== "DELETE") return sendStatus(res, 405, { allow: "GET, POST, DELETE" });
  const version = header(req.headers, HEADER.protocolVersion);
  if (unsupportedVersion(res, version, null)) return;
  // 2026-07-28 has no sessions, hence no GET stream and nothing to delete.
  if (version === MODERN_VERSION)
    return sendRpcError(res, 405, `${req.method} is not part of MCP ${MODERN_VERSION}`, { headers: { allow: "POST" } });
  return req.method === "GET" ? openStandaloneStream(exchange) : deleteSession(exchange);
}

/** Answers 400 when the MCP-Protocol-Version header names a version we do not speak (each era lists its own). */
function unsupportedVersion(res: ServerResponse, version: string | undefined, id: JsonRpcId | null): boolean {
  if (version === undefined || version === MODERN_VERSION || LEGACY_VERSIONS.includes(version)) return false;
  const supported = isModernVersion(version) ? [MODERN_VERSION] : LEGACY_VERSIONS;
  sendRpcError(res, 400, `unsupported MCP-Protocol-Version "${version}"`, {
    id,
    code: ErrorCode.unsupportedProtocolVersion,
    data: { supported, requested: version },
  });
  return true;
}

async function post(exchange: Exchange, pool: ModernPool): Promise<void> {
  const { req, res, sessions } = exchange;
  if (!accepts(req, "application/json") && !accepts(req, "text/event-stream")) {
    return sendRpcError(res, 406, "Accept must include application/json or text/event-stream", {
      code: ErrorCode.invalidRequest,
    });
  }
  const parsed = await readMessages(req, res, sessions.services.global.maxBodyBytes);
  if (!parsed) return;
  // The SDK's classifier decides the era from the body, with the protocol headers as a cross-check.
  const route = classifyInboundRequest({
    httpMethod: "POST",
    protocolVersionHeader: header(req.headers, HEADER.protocolVersion),
    mcpMethodHeader: header(req.headers, HEADER.method),
    mcpNameHeader: header(req.headers, HEADER.name),
    body: parsed.batch ? parsed.messages : parsed.messages[0],
  });
  const [first] = parsed.messages;
  const id = !parsed.batch && isRequest(first) ? first.id : null;
  if (route.kind === "reject")
    return sendRpcError(res, route.httpStatus, route.message, { code: route.code, data: route.data, id });
  if (route.kind === "modern") return serveModernRequest(exchange, route.message as JsonRpcMessage, pool);
  if (unsupportedVersion(res, header(req.headers, HEADER.protocolVersion), id)) return;
  const initializing = parsed.messages.some((m) => m.method === "initialize");
  if (req.headers[HEADER.sessionId] === undefined) {
    if (!initializing)
      return sendRpcError(res, 400, "Mcp-Session-Id header is required", { code: ErrorCode.invalidRequest });
    return initialize(exchange, parsed.messages);
  }
  const session = findSession(exchange);
  if (!session) return;
  if (initializing)
    return sendRpcError(res, 400, "this session is already initialized", { code: ErrorCode.invalidRequest });
  return relay(exchange, session, parsed.messages, parsed.batch);
}

/** A new session: its id is issued only once the child has accepted initialize. */
async function initialize(exchange: Exchange, messages: JsonRpcMessage[]): Promise<void> {
  const { req, res, server, sessions } = exchange;
  const [message] = messages;
  if (messages.length !== 1 || !isRequest(message)) {
    return sendRpcError(res, 400, "initialize must be sent alone", { code: ErrorCode.invalidRequest });
  }
  const opened = await sessions.open(server, "streamable", req.headers);
  if (!opened.ok) return sendRefusal(res, opened, message.id);
  const { session } = opened;
  if (res.destroyed) return session.end("disconnected");
  let answered = false;
  // Nobody else can ever know this session's id: a client gone before the reply takes it along.
  res.on("close", () => {
    if (!answered) session.end("disconnected");
  });
  const collector = new ReplyCollector([message.id]);
  session.dispatch(messages, collector);
  const [reply] = await collector.done;
  answered = true;
  if (reply.error) session.end("initialize-failed");
  writeReplies(exchange, [reply], reply.error ? {} : { [HEADER.sessionId]: session.id });
}

async function relay(exchange: Exchange, session: Session, messages: JsonRpcMessage[], batch: boolean): Promise<void> {
  const { req, res, sessions } = exchange;
  const requestIds = messages.filter(isRequest).map((m) => m.id);
  if (requestIds.length === 0) {
    session.dispatch(messages, noReplies);
    return sendStatus(res, 202);
  }
  session.dispatch(
    messages,
    new PostReply(res, {
      requestIds,
      batch,
      json: accepts(req, "application/json"),
      sse: accepts(req, "text/event-stream"),
      sseOptions: sseOptions(sessions),
    }),
  );
}

/** JSON when the client takes it, otherwise the same reply as a short SSE stream. */
function writeReplies(exchange: Exchange, replies: JsonRpcMessage[], headers: OutgoingHttpHeaders): void {
  const { req, res, sessions } = exchange;
  if (res.destroyed) return;
  if (accepts(req, "application/json")) return sendJson(res, 200, replies[0], headers);
  const sse = new SseStream(res, sseOptions(sessions, headers));
  for (const reply of replies) sse.deliver(reply);
  sse.close();
}

/** The GET stream: messages from the child that answer no request of the client. */
function openStandaloneStream(exchange: Exchange): void {
  const { req, res, sessions } = exchange;
  if (!accepts(req, "text/event-stream")) return sendRpcError(res, 406, "Accept must include text/event-stream");
  const session = findSession(exchange);
  if (!session) return;
  if (session.standalone)
    return sendRpcError(res, 409, "this session already has a GET stream", { code: ErrorCode.invalidRequest });
  const sse = new SseStream(res, sseOptions(sessions));
  session.standalone = sse;
  const release = session.holdStream(() => sse.close());
  sse.onClose(() => {
    if (session.standalone === sse) session.standalone = undefined;
    release();
  });
}

function deleteSession(exchange: Exchange): void {
  const session = findSession(exchange);
  if (!session) return;
  session.end("deleted");
  sendStatus(exchange.res, 200);
}

/**
 * The session named by the request, or an error reply: 400 without an id, 404 for an unknown one,
 * 403 when the request's envFromHeaders headers are not the ones the session was opened with.
 */
function findSession(exchange: Exchange): Session | undefined {
  const { req, res, server, sessions } = exchange;
  const id = req.headers[HEADER.sessionId];
  if (typeof id !== "string" || id === "") {
    sendRpcError(res, 400, "Mcp-Session-Id header is required", { code: ErrorCode.invalidRequest });
    return undefined;
  }
  const found = sessions.find(server, id, "streamable", req.headers);
  if (found.ok) return found.session;
  sendRpcError(res, found.status, found.message, { code: ErrorCode.invalidRequest });
  return undefined;
}
