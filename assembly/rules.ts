// Higress match rules: a WasmPlugin's matchRules reach the plugin as `_rules_` entries, each matching requests by
// route name, :authority or the route's cluster (an Istio service). This module decides which rule, if any, a
// request falls under; config.ts parses the rules and owns each rule's servers. Pure code: what a rule needs from
// the host comes through RequestFacts, read lazily so that a request pays only for what the rules ask.

/** What a rule can ask about a request. */
export const enum Fact {
  Authority = 0,
  RouteName = 1,
  Cluster = 2,
}

/** Higress's rule categories, decided by which match key a rule carries. */
export const enum Category {
  Route = 0,
  Domain = 1,
  Service = 2,
  RoutePrefix = 3,
}

/**
 * The request's facts, each read at most once and only when a rule asks for it. `read` is the host access:
 * request.ts overrides it with header and property reads, tests with fakes.
 */
export class RequestFacts {
  private cache: StaticArray<string | null> = new StaticArray<string | null>(3);
  private hostValue: string | null = null;
  private serviceParsed: bool = false;
  private serviceValue: ServiceName | null = null;

  protected read(_fact: Fact): string {
    return "";
  }

  get(fact: Fact): string {
    const cached = this.cache[<i32>fact];
    if (cached !== null) return cached;
    const value = this.read(fact);
    this.cache[<i32>fact] = value;
    return value;
  }

  /** :authority without its port, lowercased (DNS names are case-insensitive; a rule must not be dodged by case). */
  host(): string {
    const cached = this.hostValue;
    if (cached !== null) return cached;
    const value = stripPort(this.get(Fact.Authority)).toLowerCase();
    this.hostValue = value;
    return value;
  }

  /** The service of the route's cluster, or null when the cluster name is not Istio's `outbound|PORT|SUBSET|FQDN`. */
  service(): ServiceName | null {
    if (!this.serviceParsed) {
      this.serviceParsed = true;
      this.serviceValue = parseCluster(this.get(Fact.Cluster));
    }
    return this.serviceValue;
  }
}

/** A service: its FQDN and port ("" in a rule entry without a port: any port). */
export class ServiceName {
  constructor(
    public fqdn: string,
    public port: string,
  ) {}

  /** As a rule entry: the same FQDN, and the same port unless the entry names none. */
  covers(actual: ServiceName): bool {
    return this.fqdn == actual.fqdn && (this.port.length == 0 || this.port == actual.port);
  }
}

export const enum DomainKind {
  Exact = 0,
  Suffix = 1,
  Prefix = 2,
}

/** `*.example.com`: suffix ".example.com"; `www.example.*`: prefix "www.example."; anything else: exact. */
export class DomainPattern {
  constructor(
    public kind: DomainKind,
    public text: string,
  ) {}

  static of(pattern: string): DomainPattern {
    const p = pattern.toLowerCase();
    if (p.startsWith("*")) return new DomainPattern(DomainKind.Suffix, p.substring(1));
    if (p.endsWith("*")) return new DomainPattern(DomainKind.Prefix, p.substring(0, p.length - 1));
    return new DomainPattern(DomainKind.Exact, p);
  }

  matches(host: string): bool {
    if (this.kind == DomainKind.Suffix) return host.endsWith(this.text);
    if (this.kind == DomainKind.Prefix) return host.startsWith(this.text);
    return host == this.text;
  }
}

export class Rule {
  category: Category = Category.Route;
  /** Route names (Route) or route-name prefixes (RoutePrefix). */
  routes: string[] = [];
  domains: DomainPattern[] = [];
  /** Service rules; also a Route rule's second condition when not empty. */
  services: ServiceName[] = [];

  /** Reads only the facts its category needs, in order: a route rule asks for the cluster only once its route matched. */
  matches(facts: RequestFacts): bool {
    if (this.category == Category.Route) {
      return (
        this.routes.includes(facts.get(Fact.RouteName)) && (this.services.length == 0 || this.servesCluster(facts))
      );
    }
    if (this.category == Category.Domain) {
      const host = facts.host();
      for (let i = 0; i < this.domains.length; i++) if (this.domains[i].matches(host)) return true;
      return false;
    }
    if (this.category == Category.Service) return this.servesCluster(facts);
    const route = facts.get(Fact.RouteName);
    for (let i = 0; i < this.routes.length; i++) if (route.startsWith(this.routes[i])) return true;
    return false;
  }

  private servesCluster(facts: RequestFacts): bool {
    const actual = facts.service();
    if (actual === null) return false;
    for (let i = 0; i < this.services.length; i++) if (this.services[i].covers(actual)) return true;
    return false;
  }
}

/** Index of the first rule that matches, or -1 (no rules: no fact is read). */
export function firstMatch(rules: Rule[], facts: RequestFacts): i32 {
  for (let i = 0; i < rules.length; i++) if (rules[i].matches(facts)) return i;
  return -1;
}

/** `host:port` -> `host`; the colons of an IPv6 literal (`[::1]`, `[::1]:80`) are not a port separator. */
export function stripPort(authority: string): string {
  const colon = authority.lastIndexOf(":");
  return colon > authority.lastIndexOf("]") ? authority.substring(0, colon) : authority;
}

/** A rule's `fqdn` or `fqdn:port` entry; null when what follows the last ':' is not a port number. */
export function parseServiceEntry(entry: string): ServiceName | null {
  const colon = entry.lastIndexOf(":");
  if (colon < 0) return new ServiceName(entry, "");
  const port = entry.substring(colon + 1);
  return colon > 0 && isPort(port) ? new ServiceName(entry.substring(0, colon), port) : null;
}

/** Istio's cluster name `outbound|PORT|SUBSET|FQDN` (exactly four parts); null for any other name. */
export function parseCluster(cluster: string): ServiceName | null {
  const parts = cluster.split("|");
  if (parts.length != 4 || parts[3].length == 0) return null;
  return new ServiceName(parts[3], parts[1]);
}

function isPort(text: string): bool {
  if (text.length == 0 || text.length > 5) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}
