// The Streamable HTTP transport (2025-03-26 onward) at /servers/NAME/mcp.
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { ServerConfig } from './catalog.ts';
import type { Gateway } from './gateway.ts';
import { accepts, readMessages, sendJson, sendRefusal, sendRpcError, sendStatus } from './http.ts';
import { ErrorCode, isRequest, progressToken, type JsonRpcMessage } from './jsonrpc.ts';
import { noReplies, ReplyCollector, StreamedReplies } from './replies.ts';
import type { Session } from './session.ts';
import { SUPPORTED_VERSIONS } from './shared.ts';
import { SseStream, type SseOptions } from './sse.ts';

const SESSION_HEADER = 'mcp-session-id';

/** One HTTP request for one catalog server. */
export interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  server: ServerConfig;
  gateway: Gateway;
}

export async function handleStreamable(exchange: Exchange): Promise<void> {
  const { req, res } = exchange;
  const version = req.headers['mcp-protocol-version'];
  if (typeof version === 'string' && !SUPPORTED_VERSIONS.includes(version)) {
    return sendRpcError(res, 400, `unsupported MCP-Protocol-Version "${version}"`, { code: ErrorCode.invalidRequest });
  }
  switch (req.method) {
    case 'POST': return post(exchange);
    case 'GET': return openStandaloneStream(exchange);
    case 'DELETE': return deleteSession(exchange);
    default: return sendStatus(res, 405, { allow: 'GET, POST, DELETE' });
  }
}

export function sseOptions(gateway: Gateway, headers?: OutgoingHttpHeaders): SseOptions {
  const { keepAliveIntervalMs, maxLineBytes } = gateway.runtime.global;
  return { keepAliveIntervalMs, maxBufferedBytes: maxLineBytes * 2, headers };
}

async function post(exchange: Exchange): Promise<void> {
  const { req, res, gateway } = exchange;
  if (!accepts(req, 'application/json') && !accepts(req, 'text/event-stream')) {
    return sendRpcError(res, 406, 'Accept must include application/json or text/event-stream', { code: ErrorCode.invalidRequest });
  }
  const parsed = await readMessages(req, res, gateway.runtime.global.maxBodyBytes);
  if (!parsed) return;
  const initializing = parsed.messages.some((m) => m.method === 'initialize');
  if (req.headers[SESSION_HEADER] === undefined) {
    if (!initializing) return sendRpcError(res, 400, 'Mcp-Session-Id header is required', { code: ErrorCode.invalidRequest });
    return initialize(exchange, parsed.messages);
  }
  const session = findSession(exchange);
  if (!session) return;
  if (initializing) return sendRpcError(res, 400, 'this session is already initialized', { code: ErrorCode.invalidRequest });
  return relay(exchange, session, parsed.messages, parsed.batch);
}

/** A new session: its id is issued only once the child has accepted initialize. */
async function initialize(exchange: Exchange, messages: JsonRpcMessage[]): Promise<void> {
  const { req, res, server, gateway } = exchange;
  const [message] = messages;
  if (messages.length !== 1 || !isRequest(message)) {
    return sendRpcError(res, 400, 'initialize must be sent alone', { code: ErrorCode.invalidRequest });
  }
  const opened = await gateway.open(server, 'streamable', req.headers);
  if (!opened.ok) return sendRefusal(res, opened, message.id);
  const { session } = opened;
  if (res.destroyed) return session.end('disconnected');
  let answered = false;
  // Nobody else can ever know this session's id: a client gone before the reply takes it along.
  res.on('close', () => { if (!answered) session.end('disconnected'); });
  const collector = new ReplyCollector([message.id]);
  session.dispatch(messages, collector);
  const [reply] = await collector.done;
  answered = true;
  if (reply.error) session.end('initialize-failed');
  writeReplies(exchange, [reply], false, reply.error ? {} : { [SESSION_HEADER]: session.id });
}

async function relay(exchange: Exchange, session: Session, messages: JsonRpcMessage[], batch: boolean): Promise<void> {
  const { req, res, gateway } = exchange;
  const requestIds = messages.filter(isRequest).map((m) => m.id);
  if (requestIds.length === 0) {
    session.dispatch(messages, noReplies);
    return sendStatus(res, 202);
  }
  // Stream only when the client may get more than the replies (progress), or cannot take JSON.
  const stream = accepts(req, 'text/event-stream') &&
    (messages.some((m) => progressToken(m) !== undefined) || !accepts(req, 'application/json'));
  if (stream) {
    session.dispatch(messages, new StreamedReplies(new SseStream(res, sseOptions(gateway)), requestIds));
    return;
  }
  const collector = new ReplyCollector(requestIds);
  session.dispatch(messages, collector);
  writeReplies(exchange, await collector.done, batch);
}

/** JSON when the client takes it, otherwise the same replies as a short SSE stream. */
function writeReplies(exchange: Exchange, replies: JsonRpcMessage[], batch: boolean, headers: OutgoingHttpHeaders = {}): void {
  const { req, res, gateway } = exchange;
  if (res.destroyed) return;
  if (accepts(req, 'application/json')) return sendJson(res, 200, batch ? replies : replies[0], headers);
  const sse = new SseStream(res, sseOptions(gateway, headers));
  for (const reply of replies) sse.deliver(reply);
  sse.close();
}

/** The GET stream: messages from the child that answer no request of the client. */
function openStandaloneStream(exchange: Exchange): void {
  const { req, res, gateway } = exchange;
  if (!accepts(req, 'text/event-stream')) return sendRpcError(res, 406, 'Accept must include text/event-stream');
  const session = findSession(exchange);
  if (!session) return;
  if (session.standalone) return sendRpcError(res, 409, 'this session already has a GET stream', { code: ErrorCode.invalidRequest });
  const sse = new SseStream(res, sseOptions(gateway));
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
  session.end('deleted');
  sendStatus(exchange.res, 200);
}

/**
 * The session named by the request, or an error reply: 400 without an id, 404 for an unknown one,
 * 403 when the request's envFromHeaders headers are not the ones the session was opened with.
 */
function findSession(exchange: Exchange): Session | undefined {
  const { req, res, server, gateway } = exchange;
  const id = req.headers[SESSION_HEADER];
  if (typeof id !== 'string' || id === '') {
    sendRpcError(res, 400, 'Mcp-Session-Id header is required', { code: ErrorCode.invalidRequest });
    return undefined;
  }
  const found = gateway.find(server, id, 'streamable', req.headers);
  if (found.ok) return found.session;
  sendRpcError(res, found.status, found.message, { code: ErrorCode.invalidRequest });
  return undefined;
}
