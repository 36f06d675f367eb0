// JSON-RPC 2.0 shapes and the error replies the sidecar makes on a child's behalf.

export type JsonRpcId = string | number;

export interface JsonRpcMessage {
  jsonrpc: '2.0';
  id?: JsonRpcId | null;
  method?: string;
  params?: Record<string, unknown> | unknown[];
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

export const ErrorCode = {
  parseError: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  internalError: -32603,
  /** Implementation-defined range: the child is gone, or could not be reached. */
  serverUnavailable: -32000,
  requestTimeout: -32001,
  /** 2025 resource-not-found; 2026-07-28 uses invalidParams instead. */
  resourceNotFound: -32002,
  /** 2026-07-28: HTTP headers that disagree with the body, or required ones missing (HTTP 400). */
  headerMismatch: -32020,
  /** 2026-07-28: the request needs a client capability its envelope does not declare (HTTP 400). */
  missingClientCapability: -32021,
  /** 2026-07-28: a protocol version the server does not speak; data has `supported` and `requested` (HTTP 400). */
  unsupportedProtocolVersion: -32022,
  /** Ours, like HTTP 429: the client's rate limit is spent (data.retryAfterSeconds says for how long). */
  rateLimited: -32029,
} as const;

export function isMessage(value: unknown): value is JsonRpcMessage {
  return typeof value === 'object' && value !== null && !Array.isArray(value) &&
    (value as { jsonrpc?: unknown }).jsonrpc === '2.0';
}

export function isRequest(message: JsonRpcMessage): message is JsonRpcMessage & { id: JsonRpcId; method: string } {
  return typeof message.method === 'string' && isId(message.id);
}

export function isNotification(message: JsonRpcMessage): boolean {
  return typeof message.method === 'string' && message.id === undefined;
}

export function isResponse(message: JsonRpcMessage): message is JsonRpcMessage & { id: JsonRpcId } {
  return message.method === undefined && isId(message.id) && ('result' in message || 'error' in message);
}

function isId(id: unknown): id is JsonRpcId {
  return typeof id === 'string' || (typeof id === 'number' && Number.isInteger(id));
}

/** Map key that keeps 1 and "1" apart, since a reply must carry the id exactly as sent. */
export function idKey(id: JsonRpcId): string {
  return typeof id === 'number' ? `n:${id}` : `s:${id}`;
}

export function errorReply(id: JsonRpcId | null, code: number, message: string, data?: unknown): JsonRpcMessage {
  return { jsonrpc: '2.0', id, error: data === undefined ? { code, message } : { code, message, data } };
}

export function progressToken(message: JsonRpcMessage): JsonRpcId | undefined {
  const params = message.params as { _meta?: { progressToken?: unknown } } | undefined;
  const token = params?._meta?.progressToken;
  return typeof token === 'string' || typeof token === 'number' ? token : undefined;
}

export function resultReply(id: JsonRpcId, result: unknown): JsonRpcMessage {
  return { jsonrpc: '2.0', id, result };
}

/**
 * Our answer to a request from a child that no client can take (sampling, roots, elicitation): `ping` is
 * answered, anything else is refused with the reason, so that the child never waits forever.
 */
export function answerForClient(request: JsonRpcMessage & { id: JsonRpcId; method: string }, why: string): JsonRpcMessage {
  return request.method === 'ping' ? resultReply(request.id, {})
    : errorReply(request.id, ErrorCode.methodNotFound, `${request.method} cannot reach a client: ${why}`);
}

/** `params` as an object (absent or an array count as empty), for reading and rebuilding requests. */
export function paramsOf(message: JsonRpcMessage): Record<string, unknown> {
  const { params } = message;
  return typeof params === 'object' && params !== null && !Array.isArray(params) ? params : {};
}
