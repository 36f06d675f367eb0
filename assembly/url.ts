// Where a legacy SSE backend wants its messages: the `endpoint` event's data resolved against the SSE URL (RFC 3986
// reference resolution, restricted to the SSE URL's origin). Pure functions; legacy.ts applies them.

/** The path (with query) to POST to; `error` says why the endpoint was refused ("" when accepted). */
export class Endpoint {
  constructor(
    public path: string,
    public error: string = "",
  ) {}
}

/**
 * Resolves `data` against the SSE URL. `scheme` is "http"/"https", or "" when mcpServerURL was a bare path (then the
 * scheme is the cluster's business and only the authority is compared); `authority` is what the GET was sent to;
 * `ssePath` is the GET's path (its query is ignored). Another origin, another scheme, or anything that could not be
 * a request target (whitespace, control characters) is refused.
 */
export function resolveEndpoint(data: string, scheme: string, authority: string, ssePath: string): Endpoint {
  const ref = withoutFragment(data.trim());
  if (ref.length == 0) return new Endpoint("", "sent an empty endpoint");
  if (!printable(ref)) return new Endpoint("", "sent an endpoint with whitespace or control characters");
  const lower = ref.toLowerCase();
  const schemeEnd = lower.startsWith("http://") ? 7 : lower.startsWith("https://") ? 8 : ref.startsWith("//") ? 2 : -1;
  if (schemeEnd > 0) {
    const refScheme = schemeEnd == 2 ? scheme : lower.substring(0, schemeEnd - 3);
    const end = authorityEnd(ref, schemeEnd);
    const refAuthority = ref.substring(schemeEnd, end);
    const sameScheme = scheme.length == 0 || refScheme == scheme;
    if (!sameScheme || !sameAuthority(refAuthority, authority, refScheme)) {
      return new Endpoint("", "sent an endpoint on another origin (" + ref + "), refused");
    }
    return new Endpoint(
      normalize(end == ref.length ? "/" : ref.charCodeAt(end) == 0x3f ? "/" + ref.substring(end) : ref.substring(end)),
    );
  }
  if (hasScheme(ref)) return new Endpoint("", "sent an endpoint with an unsupported scheme (" + ref + "), refused");
  const base = pathOnly(ssePath);
  if (ref.startsWith("/")) return new Endpoint(normalize(ref));
  if (ref.startsWith("?")) return new Endpoint(normalize(base + ref));
  // Relative to the SSE URL's directory: /legacy/sse + messages?x -> /legacy/messages?x (the prefix is kept).
  return new Endpoint(normalize(base.substring(0, base.lastIndexOf("/") + 1) + ref));
}

/** RFC 3986 remove_dot_segments on the path part; the query is kept as it is. */
export function normalize(target: string): string {
  const q = target.indexOf("?");
  const path = q < 0 ? target : target.substring(0, q);
  const query = q < 0 ? "" : target.substring(q);
  const segments = path.split("/");
  const out: string[] = [];
  for (let i = 1; i < segments.length; i++) {
    const s = segments[i];
    if (s != "." && s != "..") {
      out.push(s);
      continue;
    }
    if (s == ".." && out.length > 0) out.pop();
    // A trailing dot segment leaves a directory: /a/b/.. is /a/.
    if (i == segments.length - 1) out.push("");
  }
  return "/" + out.join("/") + query;
}

/** Host and port compared case-insensitively, with the scheme's default port made explicit on both sides. */
export function sameAuthority(a: string, b: string, scheme: string): bool {
  return withPort(a.toLowerCase(), scheme) == withPort(b.toLowerCase(), scheme);
}

function withPort(authority: string, scheme: string): string {
  // An IPv6 literal ends with "]" unless a port follows.
  const colon = authority.lastIndexOf(":");
  if (colon > authority.lastIndexOf("]")) return authority;
  return authority + (scheme == "https" ? ":443" : ":80");
}

function authorityEnd(ref: string, from: i32): i32 {
  for (let i = from; i < ref.length; i++) {
    const c = ref.charCodeAt(i);
    if (c == 0x2f || c == 0x3f) return i;
  }
  return ref.length;
}

/** A scheme-like prefix ("mailto:", "javascript:") before any "/" or "?". */
function hasScheme(ref: string): bool {
  const colon = ref.indexOf(":");
  if (colon <= 0) return false;
  const slash = ref.indexOf("/");
  const query = ref.indexOf("?");
  return (slash < 0 || colon < slash) && (query < 0 || colon < query);
}

function pathOnly(target: string): string {
  const q = target.indexOf("?");
  const path = q < 0 ? target : target.substring(0, q);
  return path.startsWith("/") ? path : "/" + path;
}

function withoutFragment(s: string): string {
  const hash = s.indexOf("#");
  return hash < 0 ? s : s.substring(0, hash);
}

function printable(s: string): bool {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0x20 || c == 0x7f) return false;
  }
  return true;
}
