// 2026-07-28 requests at /servers/NAME/mcp: one POST, one request, no session. The SDK's classifier has already
// checked the envelope and the headers it cross-checks (version and method against the body); what it leaves
// to the serving side is checked here (required headers present, Mcp-Name against the body; Mcp-Param-* once the
// tool's schema is known, on the pooled session), then the request runs on a pooled session of the sidecar
// (stateless-pool.ts) and its reply is JSON, or SSE when the server says something before the result. Closing the
// response stream cancels the request.
import { CALL_METHODS, envelopeOf } from "./eras.ts";
import { sseOptions, type Exchange } from "./exchange.ts";
import { accepts, sendRefusal, sendRpcError, sendStatus } from "./http.ts";
import { isRequest, paramsOf, type JsonRpcMessage } from "./jsonrpc.ts";
import { standardHeaderMismatch } from "./modern-headers.ts";
import type { ModernPool } from "./modern-pool.ts";
import { ErrorCode, MODERN_VERSION } from "./protocol.ts";
import { PostReply } from "./reply-sinks.ts";

export async function serveModernRequest(exchange: Exchange, message: JsonRpcMessage, pool: ModernPool): Promise<void> {
  const { req, res, server, sessions } = exchange;
  const id = isRequest(message) ? message.id : null;
  const params = paramsOf(message);
  const { protocolVersion } = envelopeOf(params);
  if (protocolVersion !== MODERN_VERSION) {
    return sendRpcError(res, 400, `unsupported protocol version ${protocolVersion}`, {
      id,
      code: ErrorCode.unsupportedProtocolVersion,
      data: { supported: [MODERN_VERSION], requested: protocolVersion },
    });
  }
  // Over HTTP a client cancels by closing the stream; 2026-07-28 gives its notifications nothing else to do here.
  if (!isRequest(message)) return sendStatus(res, 202);
  const mismatch = standardHeaderMismatch(req.headers, message.method, params);
  if (mismatch) return sendRpcError(res, 400, `header mismatch: ${mismatch}`, { id, code: ErrorCode.headerMismatch });
  const lease = await pool.lease(server, req.headers, CALL_METHODS.has(message.method));
  if (!lease.ok) return sendRefusal(res, lease, id);
  if (res.destroyed) return lease.release();
  const reply = new PostReply(res, {
    requestIds: [message.id],
    batch: false,
    json: accepts(req, "application/json"),
    sse: accepts(req, "text/event-stream"),
    sseOptions: sseOptions(sessions),
    statusOf: ([answer]) => statusOf(answer),
  });
  lease.serve(message, reply, req.headers);
}

/** 2026-07-28 gives some errors their own HTTP status; everything else is a 200 carrying the JSON-RPC error. */
function statusOf(reply: JsonRpcMessage): number {
  switch (reply.error?.code) {
    case ErrorCode.methodNotFound:
      return 404;
    case ErrorCode.headerMismatch:
    case ErrorCode.missingClientCapability:
    case ErrorCode.unsupportedProtocolVersion:
      return 400;
    default:
      return 200;
  }
}
