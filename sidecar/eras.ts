// The two eras of MCP and what moves between them. 2025 (2024-11-05 .. 2025-11-25): a session opened by
// `initialize`, server-to-client requests, logging/setLevel, resources/subscribe. 2026-07-28: no session; every
// request carries its protocol version, client capabilities and info in `params._meta` (the envelope),
// servers ask the client through `input_required` results, change notifications come on `subscriptions/listen`.
import type { JsonRpcMessage } from "./jsonrpc.ts";
import { ErrorCode, META, MODERN_VERSION, RESERVED_META_PREFIX } from "./protocol.ts";

/** The requests that may answer `input_required` (and so may make a 2025 server ask the client something). */
export const CALL_METHODS = new Set(["tools/call", "prompts/get", "resources/read"]);
/** Results that carry `ttlMs` and `cacheScope` in 2026-07-28. */
const CACHEABLE_METHODS = new Set([
  "tools/list",
  "prompts/list",
  "resources/list",
  "resources/templates/list",
  "resources/read",
  "server/discover",
]);
/**
 * What a server's request for client input needs the client to have declared (as the data of a -32021 error
 * names it); undefined for a request that is no client input.
 */
export function requiredCapabilities(
  method: string,
  params: Record<string, unknown>,
): Record<string, Record<string, unknown>> | undefined {
  switch (method) {
    case "sampling/createMessage":
      return params.tools !== undefined || params.toolChoice !== undefined
        ? { sampling: { tools: {} } }
        : { sampling: {} };
    case "roots/list":
      return { roots: {} };
    case "elicitation/create":
      return params.mode === "url" ? { elicitation: { url: {} } } : { elicitation: { form: {} } };
    default:
      return undefined;
  }
}

/** Whether declared client capabilities cover what `requiredCapabilities` asks for. */
export function declares(
  declared: Record<string, unknown>,
  required: Record<string, Record<string, unknown>>,
): boolean {
  return Object.entries(required).every(([capability, modes]) => {
    const given = objectAt(declared[capability]);
    if (!given) return false;
    // An elicitation capability without modes means form mode (the 2025-06-18 shape).
    const emptyMeansForm = capability === "elicitation" && Object.keys(given).length === 0;
    return Object.keys(modes).every((mode) => given[mode] !== undefined || (emptyMeansForm && mode === "form"));
  });
}

/** Whether a version (known or not) belongs to the 2026-07-28 era or later: versions are dates. */
export function isModernVersion(version: string): boolean {
  return version >= MODERN_VERSION;
}
/** The catalog's `protocol`: what the sidecar speaks to a server's child. */
export type ChildProtocol = "auto" | "2025" | typeof MODERN_VERSION;

export interface Envelope {
  protocolVersion: string;
  clientCapabilities: Record<string, unknown>;
  clientInfo?: Record<string, unknown>;
  logLevel?: string;
}

/** Log levels from the most to the least verbose. */
const LOG_LEVELS = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"];

export function isLogLevel(value: unknown): value is string {
  return typeof value === "string" && LOG_LEVELS.includes(value);
}

/** Whether a message at `level` passes a threshold (a level chosen with logging/setLevel or the envelope). */
export function logLevelAllows(threshold: string, level: unknown): boolean {
  return LOG_LEVELS.indexOf(String(level)) >= LOG_LEVELS.indexOf(threshold);
}

/** The more verbose of two thresholds. */
export function moreVerbose(a: string, b: string): string {
  return LOG_LEVELS.indexOf(a) <= LOG_LEVELS.indexOf(b) ? a : b;
}

function objectAt(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

export function metaOf(params: Record<string, unknown>): Record<string, unknown> {
  return objectAt(params._meta) ?? {};
}

/** The envelope of a request the classifier has accepted as 2026-07-28 (it checked the required keys). */
export function envelopeOf(params: Record<string, unknown>): Envelope {
  const meta = metaOf(params);
  return {
    protocolVersion: String(meta[META.protocolVersion]),
    clientCapabilities: objectAt(meta[META.clientCapabilities]) ?? {},
    clientInfo: objectAt(meta[META.clientInfo]),
    logLevel: isLogLevel(meta[META.logLevel]) ? (meta[META.logLevel] as string) : undefined,
  };
}

/** `params` with the envelope in its `_meta` (kept keys such as `progressToken` stay). */
export function withEnvelope(params: Record<string, unknown>, envelope: Envelope): Record<string, unknown> {
  const meta: Record<string, unknown> = {
    ...metaOf(params),
    [META.protocolVersion]: envelope.protocolVersion,
    [META.clientCapabilities]: envelope.clientCapabilities,
  };
  if (envelope.clientInfo) meta[META.clientInfo] = envelope.clientInfo;
  if (envelope.logLevel) meta[META.logLevel] = envelope.logLevel;
  return { ...params, _meta: meta };
}

/** `params` without the reserved 2026-07-28 `_meta` keys, for a 2025 server. */
export function withoutEnvelope(params: Record<string, unknown>): Record<string, unknown> {
  const { _meta, ...rest } = params;
  const kept = Object.entries(metaOf(params)).filter(([key]) => !key.startsWith(RESERVED_META_PREFIX));
  return kept.length > 0 ? { ...rest, _meta: Object.fromEntries(kept) } : rest;
}

/** A 2025 result as a 2026-07-28 client must get it: `resultType`, cache fields on cacheable results, who answered. */
export function modernResult(method: string, result: unknown, serverInfo: unknown): Record<string, unknown> {
  const stamped: Record<string, unknown> = { ...objectAt(result), resultType: "complete" };
  if (CACHEABLE_METHODS.has(method)) {
    // Nothing says how long a 2025 server's answer stays true, nor for whom: the most careful values.
    stamped.ttlMs ??= 0;
    stamped.cacheScope ??= "private";
  }
  if (serverInfo !== undefined) stamped._meta = { ...objectAt(stamped._meta), [META.serverInfo]: serverInfo };
  return stamped;
}

/** A 2026-07-28 result as a 2025 client gets it: without the vocabulary 2025 does not have. */
export function legacyResult(result: unknown): unknown {
  const fields = objectAt(result);
  if (!fields) return result;
  const { resultType: _type, ttlMs: _ttl, cacheScope: _scope, ...rest } = fields;
  return rest;
}

/** A 2026-07-28 error as a 2025 client knows it, and back: only resource-not-found moved. */
export function modernError(error: NonNullable<JsonRpcMessage["error"]>): NonNullable<JsonRpcMessage["error"]> {
  return error.code === ErrorCode.resourceNotFound ? { ...error, code: ErrorCode.invalidParams } : error;
}

/** Whether a child answered our `initialize` as a server that speaks only 2026-07-28 (or later) does. */
export function refusedAsModernOnly(reply: JsonRpcMessage): boolean {
  const supported = (objectAt(reply.error?.data) ?? {}).supported;
  return (
    Array.isArray(supported) && supported.some((version) => typeof version === "string" && isModernVersion(version))
  );
}

/** JSON with object keys sorted, so that equal values always give the same text (for digests). */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const fields = objectAt(value);
  if (!fields) return JSON.stringify(value) ?? "null";
  const keys = Object.keys(fields)
    .filter((key) => fields[key] !== undefined)
    .sort();
  return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(fields[key])}`).join(",")}}`;
}
