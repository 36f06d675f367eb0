// Small HTTP helpers shared by the transports: bounded body reading, JSON and JSON-RPC replies, header values.
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import { errorReply, isMessage, type JsonRpcId, type JsonRpcMessage } from "./jsonrpc.ts";
import { ErrorCode } from "./protocol.ts";

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: OutgoingHttpHeaders = {}): void {
  if (res.headersSent) return void res.end();
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** An HTTP error that also carries a JSON-RPC error, which MCP clients show to their users. */
export function sendRpcError(
  res: ServerResponse,
  status: number,
  message: string,
  options: { code?: number; id?: JsonRpcId | null; data?: unknown; headers?: OutgoingHttpHeaders } = {},
): void {
  sendJson(
    res,
    status,
    errorReply(options.id ?? null, options.code ?? ErrorCode.serverUnavailable, message, options.data),
    options.headers,
  );
}

/** An HTTP error for callers that do not speak JSON-RPC (the REST API): `{"error": {"message", "code"?, "data"?}}`. */
export function sendJsonError(
  res: ServerResponse,
  status: number,
  message: string,
  options: { code?: number; data?: unknown; headers?: OutgoingHttpHeaders } = {},
): void {
  const { code, data } = options;
  sendJson(
    res,
    status,
    { error: { message, ...(code === undefined ? {} : { code }), ...(data === undefined ? {} : { data }) } },
    options.headers,
  );
}

export function sendStatus(res: ServerResponse, status: number, headers: OutgoingHttpHeaders = {}): void {
  res.writeHead(status, headers);
  res.end();
}

/** Reads the body, giving up (without keeping it) once it passes `limit` bytes. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer | "too-large"> {
  const declared = Number(req.headers["content-length"]);
  if (declared > limit) return Promise.resolve("too-large");
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        parts.length = 0;
        req.removeAllListeners("data");
        req.resume();
        resolve("too-large");
        return;
      }
      parts.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(parts)));
    req.on("error", reject);
  });
}

export type ParsedBody =
  { ok: true; messages: JsonRpcMessage[]; batch: boolean } | { ok: false; code: number; message: string };

/** The body's JSON value; undefined when it is not JSON. */
export function parseJson(body: Buffer): { value: unknown } | undefined {
  try {
    return { value: JSON.parse(body.toString("utf8")) };
  } catch {
    return undefined;
  }
}

/** A JSON-RPC message or a (2025-03-26) batch of them. */
export function parseMessages(body: Buffer): ParsedBody {
  const json = parseJson(body);
  if (!json) return { ok: false, code: ErrorCode.parseError, message: "body is not valid JSON" };
  const { value } = json;
  const messages = Array.isArray(value) ? value : [value];
  if (messages.length === 0 || !messages.every(isMessage)) {
    return {
      ok: false,
      code: ErrorCode.invalidRequest,
      message: "body must be a JSON-RPC 2.0 message or a non-empty batch",
    };
  }
  return { ok: true, messages, batch: Array.isArray(value) };
}

export function accepts(req: IncomingMessage, type: string): boolean {
  const accept = req.headers.accept ?? "*/*";
  return accept.includes(type) || accept.includes("*/*");
}

export function isJsonContent(req: IncomingMessage): boolean {
  return (req.headers["content-type"] ?? "").toLowerCase().includes("application/json");
}

/** Reads and parses a POST body, answering the client itself (415, 413, 400) when it cannot be used. */
export async function readMessages(
  req: IncomingMessage,
  res: ServerResponse,
  maxBodyBytes: number,
): Promise<{ messages: JsonRpcMessage[]; batch: boolean } | undefined> {
  if (!isJsonContent(req)) {
    sendRpcError(res, 415, "Content-Type must be application/json", { code: ErrorCode.invalidRequest });
    return undefined;
  }
  const body = await readBody(req, maxBodyBytes);
  if (body === "too-large") {
    sendRpcError(res, 413, `request body over ${maxBodyBytes} bytes`, {
      code: ErrorCode.invalidRequest,
      headers: { connection: "close" },
    });
    return undefined;
  }
  const parsed = parseMessages(body);
  if (parsed.ok) return parsed;
  sendRpcError(res, 400, parsed.message, { code: parsed.code });
  return undefined;
}

/** 429 or 503 for a session that could not be opened; nothing was spawned. */
export function sendRefusal(
  res: ServerResponse,
  refusal: { status: number; message: string; retryAfterSeconds: number },
  id: JsonRpcId | null = null,
): void {
  sendRpcError(res, refusal.status, refusal.message, {
    id,
    headers: { "retry-after": String(refusal.retryAfterSeconds) },
  });
}

/** The value of a request header (a repeated header counts as its first value, an empty one as none). */
export function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return (Array.isArray(value) ? value[0] : value) || undefined;
}
