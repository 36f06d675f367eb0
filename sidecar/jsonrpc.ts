// JSON-RPC 2.0 shapes and the error replies the sidecar makes on a child's behalf.
import { ErrorCode } from "./protocol.ts";

export type JsonRpcId = string | number;

export interface JsonRpcMessage {
  jsonrpc: "2.0";
  id?: JsonRpcId | null;
  method?: string;
  params?: Record<string, unknown> | unknown[];
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

/** A message that expects a reply. */
export type JsonRpcRequest = JsonRpcMessage & { id: JsonRpcId; method: string };

export function isMessage(value: unknown): value is JsonRpcMessage {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    (value as { jsonrpc?: unknown }).jsonrpc === "2.0"
  );
}

export function isRequest(message: JsonRpcMessage): message is JsonRpcRequest {
  return typeof message.method === "string" && isId(message.id);
}

export function isResponse(message: JsonRpcMessage): message is JsonRpcMessage & { id: JsonRpcId } {
  return message.method === undefined && isId(message.id) && ("result" in message || "error" in message);
}

function isId(id: unknown): id is JsonRpcId {
  return typeof id === "string" || (typeof id === "number" && Number.isInteger(id));
}

/** Map key that keeps 1 and "1" apart, since a reply must carry the id exactly as sent. */
export function idKey(id: JsonRpcId): string {
  return typeof id === "number" ? `n:${id}` : `s:${id}`;
}

export function errorReply(id: JsonRpcId | null, code: number, message: string, data?: unknown): JsonRpcMessage {
  return { jsonrpc: "2.0", id, error: data === undefined ? { code, message } : { code, message, data } };
}

export function progressToken(message: JsonRpcMessage): JsonRpcId | undefined {
  const params = message.params as { _meta?: { progressToken?: unknown } } | undefined;
  const token = params?._meta?.progressToken;
  return typeof token === "string" || typeof token === "number" ? token : undefined;
}

export function resultReply(id: JsonRpcId, result: unknown): JsonRpcMessage {
  return { jsonrpc: "2.0", id, result };
}

/**
 * Our answer to a request from a child that no client can take (sampling, roots, elicitation): `ping` is
 * answered, anything else is refused with the reason, so that the child never waits forever.
 */
export function answerForClient(request: JsonRpcRequest, why: string): JsonRpcMessage {
  return request.method === "ping"
    ? resultReply(request.id, {})
    : errorReply(request.id, ErrorCode.methodNotFound, `${request.method} cannot reach a client: ${why}`);
}

/** `params` as an object (absent or an array count as empty), for reading and rebuilding requests. */
export function paramsOf(message: JsonRpcMessage): Record<string, unknown> {
  const { params } = message;
  return typeof params === "object" && params !== null && !Array.isArray(params) ? params : {};
}
