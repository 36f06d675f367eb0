// Between the eras, in the Higress-compatible mode, where the filter speaks to the backend itself. A 2025 client
// reaches a 2026-07-28-only backend: the filter answers initialize (from the backend's server/discover) and sends
// each request with the `_meta` and headers that revision requires. A 2026-07-28 client reaches a 2025 backend: the
// filter keeps the backend session as it does for any client, and gives the client what a modern result carries.
// Nothing here keeps state across client requests: an input_required result (MRTR) passes through untouched to a
// modern client, whose retry carries its own requestState.
import { base64 } from "./base64";
import { ByteWriter } from "./bytes";
import { MODERN_VERSION } from "./era";
import { pair } from "./host";
import { Headers } from "@solo-io/proxy-runtime/assembly";
import { Kind, Scanner, Span } from "./json";
import { Message } from "./jsonrpc";

const CLIENT_INFO = '{"name":"mcp-proxy-wasm","version":"0.1.0"}';
/** What the filter declares for itself as a 2026-07-28 client: no capabilities (nothing can be asked of it). */
const GATEWAY_META =
  '"io.modelcontextprotocol/protocolVersion":"' +
  MODERN_VERSION +
  '","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":' +
  CLIENT_INFO;
/** Results a 2026-07-28 client may cache: they must say for how long and for whom (CacheableResult). */
const CACHEABLE = [
  "tools/list",
  "prompts/list",
  "resources/list",
  "resources/templates/list",
  "resources/read",
  "server/discover",
];
const LOG_LEVELS = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"];

/** The request's params with the gateway's 2026-07-28 `_meta` in front of its own members (`_meta` merged). */
export function paramsWithGatewayMeta(m: Message): ArrayBuffer {
  const s = m.s;
  const w = new ByteWriter(GATEWAY_META.length + 32 + (m.params.end - m.params.start));
  const meta = new Span();
  if (m.params.kind != Kind.Object) return w.str('{"_meta":{').str(GATEWAY_META).str("}}").take();
  if (s.member(m.params, "_meta", meta) && meta.kind == Kind.Object) {
    const empty = s.ws(meta.start + 1) == meta.end - 1;
    w.span(s.bytes, m.params.start, meta.start + 1).str(GATEWAY_META);
    if (!empty) w.byte(0x2c);
    return w.span(s.bytes, meta.start + 1, m.params.end).take();
  }
  const emptyParams = s.ws(m.params.start + 1) == m.params.end - 1;
  w.str('{"_meta":{').str(GATEWAY_META).byte(0x7d);
  if (!emptyParams) w.byte(0x2c);
  return w.span(s.bytes, m.params.start + 1, m.params.end).take();
}

/** The headers a 2026-07-28 request carries for `method` (and the name or URI it acts on, "" for none). */
export function modernHeaders(method: string, name: string): Headers {
  const headers: Headers = [pair("mcp-protocol-version", MODERN_VERSION), pair("mcp-method", method)];
  if (name.length > 0) headers.push(pair("mcp-name", headerSafe(name)));
  return headers;
}

/** A value as a header carries it: as it is when plain visible ASCII, else `=?base64?...?=` of its UTF-8. */
export function headerSafe(value: string): string {
  let plain = value.length > 0 && value.charCodeAt(0) != 0x20 && value.charCodeAt(value.length - 1) != 0x20;
  for (let i = 0; i < value.length && plain; i++) {
    const c = value.charCodeAt(i);
    plain = c >= 0x20 && c <= 0x7e;
  }
  if (plain && !(value.startsWith("=?base64?") && value.endsWith("?="))) return value;
  return "=?base64?" + base64(String.UTF8.encode(value)) + "?=";
}

/**
 * A 2025 backend's result as a 2026-07-28 client expects it: `resultType` (absent means complete, but this revision
 * requires it), and on cacheable results `ttlMs` and `cacheScope` — 0 and "private": the backend said nothing of
 * freshness, and its session may be one identity's.
 */
export function modernResult(method: string, s: Scanner, result: Span): ArrayBuffer {
  const w = new ByteWriter(result.end - result.start + 64);
  const has = new Span();
  w.byte(0x7b);
  let added = 0;
  if (!s.member(result, "resultType", has)) {
    w.str('"resultType":"complete"');
    added++;
  }
  if (CACHEABLE.includes(method)) {
    if (!s.member(result, "ttlMs", has)) {
      w.str(added++ > 0 ? ',"ttlMs":0' : '"ttlMs":0');
    }
    if (!s.member(result, "cacheScope", has)) {
      w.str(added++ > 0 ? ',"cacheScope":"private"' : '"cacheScope":"private"');
    }
  }
  const empty = s.ws(result.start + 1) == result.end - 1;
  if (added > 0 && !empty) w.byte(0x2c);
  return w.span(s.bytes, result.start + 1, result.end).take();
}

/**
 * Whether a notification of a 2026-07-28 client's request may be delivered: log messages only when the request
 * asked for them with `_meta` logLevel (a modern server sends none otherwise), and at or above that level.
 */
export function deliverable(notification: Uint8Array, logLevel: string): bool {
  const s = new Scanner(notification);
  const doc = new Span();
  if (!s.isDocument(doc) || doc.kind != Kind.Object) return false;
  const method = new Span();
  if (!s.member(doc, "method", method) || !s.spanIs(method, "notifications/message")) return true;
  const wanted = LOG_LEVELS.indexOf(logLevel);
  if (wanted < 0) return false;
  const params = new Span();
  const level = new Span();
  if (!s.member(doc, "params", params) || !s.member(params, "level", level) || level.kind != Kind.String) return false;
  return LOG_LEVELS.indexOf(s.decodeSpan(level)) >= wanted;
}
