// The WebSocket transport at /servers/NAME/ws: one MCP session per connection, one JSON-RPC message
// (or batch) per text frame. Sessions, limits and children are the session registry's, as for HTTP; the
// session ends whenever the socket closes, cleanly or not.
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { WebSocketServer, type RawData, type WebSocket } from "ws";
import type { GlobalConfig } from "./catalog.ts";
import type { Exchange } from "./exchange.ts";
import { parseMessages, sendRefusal, sendRpcError } from "./http.ts";
import { errorReply, isRequest, type JsonRpcMessage } from "./jsonrpc.ts";
import { ErrorCode, WEBSOCKET_SUBPROTOCOL } from "./protocol.ts";
import { throttle } from "./ratelimit.ts";
import type { MessageSink, Session } from "./session.ts";

/** The raw connection of an HTTP request that asked for an upgrade. */
export interface Upgrade {
  socket: Duplex;
  head: Buffer;
}

export function createSocketServer(global: GlobalConfig): WebSocketServer {
  return new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    // Larger frames close the socket with 1009, as larger POST bodies get 413.
    maxPayload: global.maxBodyBytes,
    handleProtocols: (offered) => (offered.has(WEBSOCKET_SUBPROTOCOL) ? WEBSOCKET_SUBPROTOCOL : false),
  });
}

/** Opens the session before the upgrade, so that a refusal is still an HTTP status (429, 503). */
export async function openWebSocket(
  exchange: Exchange,
  upgrade: Upgrade | undefined,
  sockets: WebSocketServer,
  client: string,
): Promise<void> {
  const { req, res, server, sessions } = exchange;
  if (!upgrade) {
    return sendRpcError(res, 426, "this endpoint takes WebSocket connections", { headers: { upgrade: "websocket" } });
  }
  const opened = await sessions.open(server, "ws", req.headers);
  if (!opened.ok) return sendRefusal(res, opened);
  const { session } = opened;
  // Covers every way out: a failed handshake, a client gone during the open, and any later close.
  upgrade.socket.once("close", () => session.end("disconnected"));
  if (upgrade.socket.destroyed) return session.end("disconnected");
  res.detachSocket(upgrade.socket as Socket);
  sockets.handleUpgrade(req, upgrade.socket, upgrade.head, (ws) => {
    sessions.services.metrics.httpRequests.inc({ server: server.name, endpoint: "ws", method: "GET", status: "101" });
    serve(exchange, ws, session, client);
  });
}

function serve(exchange: Exchange, ws: WebSocket, session: Session, client: string): void {
  const { server, sessions } = exchange;
  const { keepAliveIntervalMs, maxLineBytes } = sessions.services.global;
  const sink: MessageSink = {
    streaming: true,
    deliver: (message) => {
      ws.send(JSON.stringify(message));
      // A client that reads slower than we write is cut off rather than buffered for.
      if (ws.bufferedAmount > maxLineBytes * 2) ws.terminate();
    },
  };
  session.standalone = sink;
  session.holdStream(() => ws.close(1001, "MCP session ended"));
  const keepAlive = startKeepAlive(ws, keepAliveIntervalMs);
  ws.on("close", () => {
    clearInterval(keepAlive);
    session.end("disconnected");
  });
  ws.on("error", (error) => session.log.debug("WebSocket error", { error: error.message }));
  ws.on("message", (data, isBinary) => {
    if (isBinary) return ws.close(1003, "JSON-RPC messages go in text frames");
    const parsed = parseMessages(toBuffer(data));
    if (!parsed.ok) return sink.deliver(errorReply(null, parsed.code, parsed.message));
    const retryAfterSeconds = throttle(sessions.services, server, client, "ws");
    if (retryAfterSeconds === undefined) return session.dispatch(parsed.messages, sink);
    refuseFrame(parsed.messages, sink, retryAfterSeconds);
  });
}

/** Over the rate limit: each request of the frame gets an error; notifications and responses are dropped. */
function refuseFrame(messages: JsonRpcMessage[], sink: MessageSink, retryAfterSeconds: number): void {
  for (const message of messages.filter(isRequest)) {
    sink.deliver(errorReply(message.id, ErrorCode.rateLimited, "rate limit exceeded", { retryAfterSeconds }));
  }
}

/** A ping every interval; a peer that has not answered the previous one is gone, and its socket is dropped. */
function startKeepAlive(ws: WebSocket, intervalMs: number): NodeJS.Timeout {
  let answered = true;
  ws.on("pong", () => {
    answered = true;
  });
  return setInterval(() => {
    if (!answered) return ws.terminate();
    answered = false;
    ws.ping();
  }, intervalMs);
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}
