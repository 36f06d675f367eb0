// The two protocol eras at the gateway's edge. Legacy (2025-11-25 and earlier): an initialize handshake, then the
// version in MCP-Protocol-Version (from 2025-06-18 on). Modern (2026-07-28): no handshake; every request carries
// its version, capabilities and client info in `params._meta`, and the headers MCP-Protocol-Version, Mcp-Method
// and Mcp-Name mirror the body. The filter applies its policy to those headers before the body arrives, so it
// checks them against the body too: a header that disagrees is refused (400, -32020) and cannot carry a call past
// the allow-lists.
import { unbase64 } from "./base64";
import { ByteWriter } from "./bytes";
import { HeaderSnapshot } from "./headers";
import { Kind, Span } from "./json";
import { Message, ReplyId, writeHead } from "./jsonrpc";

export const MODERN_VERSION = "2026-07-28";
/** Legacy versions we speak towards clients, oldest first: the last is offered to an initialize we cannot meet. */
export const LEGACY_VERSIONS = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];
export const HEADER_MISMATCH = -32020;
export const MISSING_CLIENT_CAPABILITY = -32021;
export const UNSUPPORTED_VERSION = -32022;
export const VERSION_HEADER = "mcp-protocol-version";
const META_VERSION = "io.modelcontextprotocol/protocolVersion";
const META_CAPABILITIES = "io.modelcontextprotocol/clientCapabilities";
export const META_LOG_LEVEL = "io.modelcontextprotocol/logLevel";
/** Methods 2026-07-28 removed: a modern request for one is an unknown method (404, -32601). */
export const REMOVED_METHODS = [
  "initialize",
  "ping",
  "logging/setLevel",
  "resources/subscribe",
  "resources/unsubscribe",
];
/** The methods whose Mcp-Name header mirrors `params.name` or `params.uri`. */
const NAMED = ["tools/call", "resources/read", "prompts/get"];

export const enum Era {
  Legacy,
  Modern,
  Unsupported,
}

/** The era a request's MCP-Protocol-Version header announces (none, or an empty one, is legacy). */
export function eraOf(req: HeaderSnapshot): Era {
  if (!req.has(VERSION_HEADER) || req.valueIs(VERSION_HEADER, "")) return Era.Legacy;
  if (req.valueIs(VERSION_HEADER, MODERN_VERSION)) return Era.Modern;
  for (let i = 0; i < LEGACY_VERSIONS.length; i++)
    if (req.valueIs(VERSION_HEADER, LEGACY_VERSIONS[i])) return Era.Legacy;
  return Era.Unsupported;
}

/** UnsupportedProtocolVersionError (HTTP 400): the versions we speak, and the one asked for. */
export function unsupportedVersionReply(id: ReplyId, requested: string): ArrayBuffer {
  const w = writeHead(new ByteWriter(200), id, "error");
  w.str('{"code":').int(UNSUPPORTED_VERSION).str(',"message":"Unsupported protocol version","data":{"supported":["');
  w.str(MODERN_VERSION);
  for (let i = LEGACY_VERSIONS.length - 1; i >= 0; i--) w.str('","').str(LEGACY_VERSIONS[i]);
  w.str('"],"requested":').jsonString(requested).str("}}}");
  return w.take();
}

/** Mcp-Name as the client meant it: `=?base64?...?=` decoded; null when absent or not decodable. */
export function headerName(req: HeaderSnapshot): string | null {
  if (!req.has("mcp-name")) return null;
  const value = req.get("mcp-name");
  if (!value.startsWith("=?base64?") || !value.endsWith("?=") || value.length < 11) return value;
  const bytes = unbase64(value.substring(9, value.length - 2));
  return bytes === null ? null : String.UTF8.decode(bytes);
}

/** Mcp-Name is required for `method` (and names what the policy looks at). */
export function isNamed(method: string): bool {
  return NAMED.includes(method);
}

/**
 * Why a modern request's headers and body disagree ("" when they agree): its `_meta` version against
 * MCP-Protocol-Version, Mcp-Method against `method`, Mcp-Name against the name or URI the body gives (`bodyName`,
 * "" when the method names nothing).
 */
export function headerMismatch(req: HeaderSnapshot, m: Message, method: string, bodyName: string): string {
  const version = metaString(m, META_VERSION);
  if (version != MODERN_VERSION) {
    return (
      "Header mismatch: MCP-Protocol-Version is " +
      MODERN_VERSION +
      ", _meta." +
      META_VERSION +
      " is " +
      quoted(version)
    );
  }
  if (!req.has("mcp-method")) return "Header mismatch: Mcp-Method is required";
  if (!req.valueIs("mcp-method", method))
    return "Header mismatch: Mcp-Method does not match the body's method " + quoted(method);
  if (!isNamed(method)) return "";
  const name = headerName(req);
  if (name === null) return "Header mismatch: Mcp-Name is required for " + method + " (and must be valid)";
  if (name != bodyName)
    return "Header mismatch: Mcp-Name " + quoted(name) + " does not match the body's " + quoted(bodyName);
  return "";
}

/** Why a modern request's `_meta` is incomplete ("" when it has what every request must carry). */
export function missingMeta(m: Message): string {
  const meta = new Span();
  if (!metaObject(m, meta)) return "Invalid params: a 2026-07-28 request carries params._meta";
  const v = new Span();
  if (!m.s.member(meta, META_VERSION, v) || v.kind != Kind.String)
    return "Invalid params: _meta." + META_VERSION + " is required";
  if (!m.s.member(meta, META_CAPABILITIES, v) || v.kind != Kind.Object)
    return "Invalid params: _meta." + META_CAPABILITIES + " is required";
  return "";
}

/** The request's `params._meta` object. */
export function metaObject(m: Message, out: Span): bool {
  return m.params.kind == Kind.Object && m.s.member(m.params, "_meta", out) && out.kind == Kind.Object;
}

/** A string member of `params._meta` ("" when absent or not a string). */
export function metaString(m: Message, key: string): string {
  const meta = new Span();
  const v = new Span();
  if (!metaObject(m, meta) || !m.s.member(meta, key, v) || v.kind != Kind.String) return "";
  return m.s.decodeSpan(v);
}

function quoted(value: string): string {
  return "'" + value + "'";
}
