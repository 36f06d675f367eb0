// Route selection as Envoy's router does it: virtual host by :authority (exact, then suffix/prefix wildcards, then
// "*"), then the first route whose prefix or exact path matches.
import type { RouteConfig, VirtualHostConfig } from "./config.ts";

export interface MatchedRoute { virtualHost: VirtualHostConfig; route: RouteConfig }

function domainScore(domain: string, host: string): number {
  if (domain === "*") return 1;
  if (domain === host) return 4;
  if (domain.startsWith("*") && host.endsWith(domain.slice(1)) && host.length > domain.length - 1) return 3;
  if (domain.endsWith("*") && host.startsWith(domain.slice(0, -1)) && host.length > domain.length - 1) return 2;
  return 0;
}

function selectVirtualHost(hosts: VirtualHostConfig[], authority: string): VirtualHostConfig | undefined {
  const candidates = [authority.toLowerCase(), authority.toLowerCase().replace(/:\d+$/, "")];
  let best: VirtualHostConfig | undefined;
  let bestScore = 0;
  for (const host of candidates) {
    for (const vh of hosts) {
      for (const domain of vh.domains) {
        const score = domainScore(domain.toLowerCase(), host);
        if (score > bestScore) {
          best = vh;
          bestScore = score;
        }
      }
    }
    if (bestScore > 1) break;
  }
  return best;
}

function routeMatches(route: RouteConfig, path: string): boolean {
  if (route.prefix !== undefined) return path.startsWith(route.prefix);
  // Exact path matches ignore the query string and fragment.
  return path.replace(/[?#].*$/, "") === route.path;
}

export function matchRoute(hosts: VirtualHostConfig[], authority: string, path: string): MatchedRoute | undefined {
  const virtualHost = selectVirtualHost(hosts, authority);
  const route = virtualHost?.routes.find((r) => routeMatches(r, path));
  return virtualHost && route ? { virtualHost, route } : undefined;
}

/** prefix_rewrite replaces what the route matched: the prefix, or for a path route the whole path (query kept). */
export function rewritePath(route: RouteConfig, path: string): string {
  if (route.prefixRewrite === undefined) return path;
  const matched = route.prefix ?? route.path ?? "";
  return route.prefixRewrite + path.slice(matched.length);
}
