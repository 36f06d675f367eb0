// The 2024-11-05 HTTP+SSE transport: GET /servers/NAME/sse opens the session and its only stream;
// POST /servers/NAME/messages?sessionId= carries the client's messages, with the envFromHeaders
// headers the stream was opened with. The session lives exactly as long as the stream.
import { sseOptions, type Exchange } from "./exchange.ts";
import { readMessages, sendRefusal, sendRpcError, sendStatus } from "./http.ts";
import { ErrorCode } from "./protocol.ts";
import { SseStream } from "./sse-stream.ts";

export async function openSseStream(exchange: Exchange): Promise<void> {
  const { req, res, server, sessions } = exchange;
  if (req.method !== "GET") return sendStatus(res, 405, { allow: "GET" });
  const opened = await sessions.open(server, "sse", req.headers);
  if (!opened.ok) return sendRefusal(res, opened);
  const { session } = opened;
  if (res.destroyed) return session.end("disconnected");
  const sse = new SseStream(res, sseOptions(sessions));
  session.standalone = sse;
  session.holdStream(() => sse.close());
  sse.onClose(() => session.end("disconnected"));
  // Relative, so that the client resolves it against whatever prefix a proxy put before /servers.
  sse.event("endpoint", `messages?sessionId=${encodeURIComponent(session.id)}`);
}

export async function postSseMessage(exchange: Exchange, url: URL): Promise<void> {
  const { req, res, server, sessions } = exchange;
  if (req.method !== "POST") return sendStatus(res, 405, { allow: "POST" });
  const id = url.searchParams.get("sessionId");
  if (!id) return sendRpcError(res, 400, "sessionId query parameter is required", { code: ErrorCode.invalidRequest });
  const found = sessions.find(server, id, "sse", req.headers);
  if (!found.ok) return sendRpcError(res, found.status, found.message, { code: ErrorCode.invalidRequest });
  const { session } = found;
  const parsed = await readMessages(req, res, sessions.services.global.maxBodyBytes);
  if (!parsed) return;
  if (!session.standalone) return sendRpcError(res, 404, "Session not found", { code: ErrorCode.invalidRequest });
  session.dispatch(parsed.messages, session.standalone);
  sendStatus(res, 202);
}
