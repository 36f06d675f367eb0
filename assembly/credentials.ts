// Security schemes (Higress schema): reading a client's credential per the downstream scheme, and producing the
// header or query parameter an upstream scheme asks for. Pure functions; the request flow applies them.
import { base64 } from "./base64";
import { ByteWriter, hexValue } from "./bytes";

export const enum SchemeType {
  Bearer = 0,
  Basic = 1,
  ApiKeyHeader = 2,
  ApiKeyQuery = 3,
}

export class SecurityScheme {
  constructor(
    public id: string,
    public type: SchemeType,
    /** Lowercase header name, or the query parameter name for ApiKeyQuery. */
    public name: string,
    public defaultCredential: string,
  ) {}

  get inQuery(): bool {
    return this.type == SchemeType.ApiKeyQuery;
  }
}

/** A reference to a scheme: `{id, passthrough}`; an empty id means none. */
export class SecurityRequirement {
  constructor(
    public id: string = "",
    public passthrough: bool = false,
  ) {}
}

/** What to add to a dispatched call: a header (name/value) or a query parameter. Empty name = nothing. */
export class UpstreamAuth {
  constructor(
    public name: string = "",
    public value: string = "",
    public inQuery: bool = false,
  ) {}

  /** The credential as one string: part of the identity backend sessions are keyed by (hashed, request.ts). */
  get key(): string {
    return this.name.length == 0 ? "" : (this.inQuery ? "?" : "") + this.name + "=" + this.value;
  }
}

/** The credential inside a client's raw header/query value: without the `Bearer `/`Basic ` prefix for http schemes. */
export function extractCredential(scheme: SecurityScheme, raw: string): string {
  if (scheme.type == SchemeType.Bearer) return stripPrefix(raw.trim(), "bearer ");
  if (scheme.type == SchemeType.Basic) return stripPrefix(raw.trim(), "basic ");
  return raw;
}

function stripPrefix(value: string, lowerPrefix: string): string {
  return hasPrefix(value, lowerPrefix) ? value.substring(lowerPrefix.length).trim() : value;
}

/** `value` starts with `lowerPrefix`, in any case. */
function hasPrefix(value: string, lowerPrefix: string): bool {
  const n = lowerPrefix.length;
  return value.length >= n && value.substring(0, n).toLowerCase() == lowerPrefix;
}

function withPrefix(credential: string, prefix: string): string {
  return hasPrefix(credential, prefix.toLowerCase()) ? credential : prefix + credential;
}

/** The upstream credential: the passed-through one when given, else the scheme's default (none if both empty). */
export function upstreamAuth(scheme: SecurityScheme, passthrough: string): UpstreamAuth {
  const credential = passthrough.length > 0 ? passthrough : scheme.defaultCredential;
  if (credential.length == 0) return new UpstreamAuth();
  // A credential written with its scheme's prefix already ("Bearer abc") is used as it is, never prefixed twice.
  if (scheme.type == SchemeType.Bearer) return new UpstreamAuth("authorization", withPrefix(credential, "Bearer "));
  if (scheme.type == SchemeType.Basic) {
    if (hasPrefix(credential, "basic ")) return new UpstreamAuth("authorization", credential);
    // Higress accepts `user:pass` (encoded here) or an already-encoded token.
    const token = credential.includes(":") ? base64(String.UTF8.encode(credential)) : credential;
    return new UpstreamAuth("authorization", "Basic " + token);
  }
  return new UpstreamAuth(scheme.name, credential, scheme.inQuery);
}

/** `path` with `name=value` in its query (both percent-encoded), replacing any `name` already there. */
export function withQueryParam(path: string, name: string, value: string): string {
  const without = withoutQueryParam(path, name);
  const sep = without.includes("?") ? "&" : "?";
  return without + sep + percentEncode(name) + "=" + percentEncode(value);
}

/** The decoded value of query parameter `name` in `path` ("" when absent). */
export function queryParam(path: string, name: string): string {
  const q = path.indexOf("?");
  if (q < 0) return "";
  const pairs = path.substring(q + 1).split("&");
  for (let i = 0; i < pairs.length; i++) {
    const eq = pairs[i].indexOf("=");
    const key = eq < 0 ? pairs[i] : pairs[i].substring(0, eq);
    if (safeDecode(key) == name) return eq < 0 ? "" : safeDecode(pairs[i].substring(eq + 1));
  }
  return "";
}

/** `path` without any `name` parameter in its query. */
export function withoutQueryParam(path: string, name: string): string {
  const q = path.indexOf("?");
  if (q < 0) return path;
  const pairs = path.substring(q + 1).split("&");
  let kept = "";
  for (let i = 0; i < pairs.length; i++) {
    const eq = pairs[i].indexOf("=");
    if (safeDecode(eq < 0 ? pairs[i] : pairs[i].substring(0, eq)) == name) continue;
    kept += (kept.length > 0 ? "&" : "") + pairs[i];
  }
  return kept.length > 0 ? path.substring(0, q + 1) + kept : path.substring(0, q);
}

// AssemblyScript's decodeURIComponent/encodeURIComponent throw (and so trap) on malformed input: these never do.

/** Percent-decoding (and `+` as space) over UTF-8 bytes; a malformed escape is kept as literal text. */
function safeDecode(s: string): string {
  const src = Uint8Array.wrap(String.UTF8.encode(s));
  const out = new ByteWriter(src.length);
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    const hi = i + 2 < src.length ? hexValue(src[i + 1]) : -1;
    const lo = hi >= 0 ? hexValue(src[i + 2]) : -1;
    if (c == 0x25 && lo >= 0) {
      out.byte(<u8>((hi << 4) | lo));
      i += 2;
    } else out.byte(c == 0x2b ? 0x20 : c);
  }
  return out.toString();
}

/** Percent-encodes everything but RFC 3986 unreserved characters. */
function percentEncode(s: string): string {
  const src = Uint8Array.wrap(String.UTF8.encode(s));
  const out = new ByteWriter(src.length * 3);
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (isUnreserved(c)) out.byte(c);
    else
      out
        .byte(0x25)
        .byte(HEX.charCodeAt(c >> 4) as u8)
        .byte(HEX.charCodeAt(c & 15) as u8);
  }
  return out.toString();
}

const HEX = "0123456789ABCDEF";

function isUnreserved(c: u8): bool {
  return (
    (c >= 0x30 && c <= 0x39) ||
    ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a) ||
    c == 0x2d ||
    c == 0x2e ||
    c == 0x5f ||
    c == 0x7e
  );
}
