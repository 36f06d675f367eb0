// Origin validation towards clients (MCP Streamable HTTP: servers MUST validate Origin, against DNS rebinding). A
// request without Origin (not from a browser) is unaffected. `allowedOrigins` lists the origins browsers may call
// from ("*" for any); without it only localhost origins and the gateway's own (an Origin whose host[:port] is the
// request's :authority) pass. Host itself is Envoy's to check: list the gateway's names in the virtual host's
// `domains`, not "*".

const LOCAL_HOSTS = ["localhost", "127.0.0.1", "[::1]"];

export function originAllowed(allowed: string[] | null, origin: string, authority: string): bool {
  const value = origin.toLowerCase();
  if (allowed !== null) return allowed.includes("*") || allowed.includes(value);
  const start = value.startsWith("http://") ? 7 : value.startsWith("https://") ? 8 : -1;
  if (start < 0) return false;
  const host = value.substring(start);
  return LOCAL_HOSTS.includes(withoutPort(host)) || host == authority.toLowerCase();
}

/** "host:port" -> "host"; IPv6 literals keep their brackets. */
function withoutPort(host: string): string {
  const close = host.lastIndexOf("]");
  const colon = host.lastIndexOf(":");
  return colon > close ? host.substring(0, colon) : host;
}
