import { parseConfig } from "../../assembly/config";
import {
  DomainPattern,
  Fact,
  RequestFacts,
  Rule,
  Category,
  ServiceName,
  firstMatch,
  parseCluster,
  parseServiceEntry,
  stripPort,
} from "../../assembly/rules";

/** Facts as the host would give them, counting every read. */
class FakeFacts extends RequestFacts {
  reads: i32[] = [0, 0, 0];

  constructor(
    public authority: string,
    public route: string,
    public cluster: string,
  ) {
    super();
  }

  protected read(fact: Fact): string {
    this.reads[<i32>fact]++;
    return fact == Fact.Authority ? this.authority : fact == Fact.RouteName ? this.route : this.cluster;
  }

  get total(): i32 {
    return this.reads[0] + this.reads[1] + this.reads[2];
  }
}

const SVC = "outbound|8080||svc.ns.svc.cluster.local";

function domain(pattern: string, host: string): bool {
  return DomainPattern.of(pattern).matches(host);
}

function rule(category: Category, routes: string[], services: string[] = []): Rule {
  const r = new Rule();
  r.category = category;
  r.routes = routes;
  for (let i = 0; i < services.length; i++) r.services.push(parseServiceEntry(services[i])!);
  return r;
}

/** The name of the server the configuration picks for the request, or "-" for none. */
function pick(config: string, path: string, facts: FakeFacts): string {
  const server = parseConfig(config).config!.select(path, facts);
  return server === null ? "-" : server.name;
}

function serverOf(name: string): string {
  return '"server":{"name":"' + name + '","transport":"http","mcpServerURL":"/m"}';
}

const ORDERED =
  '{"_rules_":[' +
  '{"_match_route_":["mcp/a"],"_match_service_":["svc.ns.svc.cluster.local:9090"],' +
  serverOf("route+service") +
  "}," +
  '{"_match_route_":["mcp/a"],' +
  serverOf("route") +
  "}," +
  '{"_match_domain_":["*.example.com"],' +
  serverOf("domain") +
  "}," +
  '{"_match_service_":["svc.ns.svc.cluster.local"],' +
  serverOf("service") +
  "}," +
  '{"_match_route_prefix_":["mcp/"],' +
  serverOf("prefix") +
  "}]}";

const WITH_GLOBAL =
  '{"servers":[{"pathPrefix":"/mcp/g","cluster":"g","name":"global","transport":"http","mcpServerURL":"/m"}],' +
  '"_rules_":[{"_match_route_":["r"],"servers":[' +
  '{"pathPrefix":"/mcp","cluster":"c","name":"rule-mcp","transport":"http","mcpServerURL":"/m"},' +
  '{"pathPrefix":"/mcp/x","cluster":"c","name":"rule-x","transport":"http","mcpServerURL":"/m"}]}]}';

describe("domains", () => {
  it("strips the port, not an IPv6 literal's colons", () => {
    expect(stripPort("example.com:8080")).toBe("example.com");
    expect(stripPort("example.com")).toBe("example.com");
    expect(stripPort("[::1]:443")).toBe("[::1]");
    expect(stripPort("[2001:db8::1]")).toBe("[2001:db8::1]");
    expect(stripPort("127.0.0.1:10000")).toBe("127.0.0.1");
    expect(stripPort("")).toBe("");
  });

  it("*.example.com is a suffix, www.example.* a prefix, anything else exact", () => {
    expect(domain("*.example.com", "api.example.com")).toBe(true);
    expect(domain("*.example.com", "a.b.example.com")).toBe(true);
    expect(domain("*.example.com", "example.com")).toBe(false);
    expect(domain("*.example.com", "api.example.org")).toBe(false);
    expect(domain("www.example.*", "www.example.org")).toBe(true);
    expect(domain("www.example.*", "example.org")).toBe(false);
    expect(domain("api.example.com", "api.example.com")).toBe(true);
    expect(domain("api.example.com", "www.api.example.com")).toBe(false);
    expect(domain("*", "anything")).toBe(true);
    expect(domain("[::1]", "[::1]")).toBe(true);
  });

  it("the request's host is compared without port and case", () => {
    const facts = new FakeFacts("API.Example.COM:8443", "", "");
    expect(facts.host()).toBe("api.example.com");
    expect(DomainPattern.of("*.EXAMPLE.com").matches(facts.host())).toBe(true);
    expect(new FakeFacts("[::1]:10000", "", "").host()).toBe("[::1]");
  });
});

describe("services", () => {
  it("parses rule entries: fqdn or fqdn:port", () => {
    const a = parseServiceEntry("svc.ns.svc.cluster.local:8080")!;
    expect(a.fqdn).toBe("svc.ns.svc.cluster.local");
    expect(a.port).toBe("8080");
    expect(parseServiceEntry("svc.ns")!.port).toBe("");
    expect(parseServiceEntry("svc:http")).toBeNull();
    expect(parseServiceEntry("svc:")).toBeNull();
    expect(parseServiceEntry(":80")).toBeNull();
  });

  it("parses Istio cluster names, exactly four parts", () => {
    const s = parseCluster(SVC)!;
    expect(s.fqdn).toBe("svc.ns.svc.cluster.local");
    expect(s.port).toBe("8080");
    expect(parseCluster("outbound|8080|v1|svc.ns.svc.cluster.local")!.fqdn).toBe("svc.ns.svc.cluster.local");
    expect(parseCluster("backend")).toBeNull();
    expect(parseCluster("")).toBeNull();
    expect(parseCluster("outbound|8080|svc.ns")).toBeNull();
    expect(parseCluster("outbound|8080||svc.ns|x")).toBeNull();
    expect(parseCluster("outbound|8080||")).toBeNull();
  });

  it("an entry with a port needs the same port; one without takes any", () => {
    const actual = parseCluster(SVC)!;
    expect(parseServiceEntry("svc.ns.svc.cluster.local:8080")!.covers(actual)).toBe(true);
    expect(parseServiceEntry("svc.ns.svc.cluster.local:9090")!.covers(actual)).toBe(false);
    expect(parseServiceEntry("svc.ns.svc.cluster.local")!.covers(actual)).toBe(true);
    expect(parseServiceEntry("svc.other.svc.cluster.local")!.covers(actual)).toBe(false);
    expect(new ServiceName("svc", "").covers(new ServiceName("svc.ns", ""))).toBe(false);
  });

  it("a cluster that is not Istio's matches no service rule", () => {
    const r = rule(Category.Service, [], ["backend"]);
    expect(r.matches(new FakeFacts("", "", "backend"))).toBe(false);
  });
});

describe("rule matching", () => {
  it("no rules: nothing read", () => {
    const facts = new FakeFacts("a.example.com", "mcp/a", SVC);
    expect(firstMatch([], facts)).toBe(-1);
    expect(facts.total).toBe(0);
  });

  it("the first matching rule wins, in order", () => {
    expect(pick(ORDERED, "/mcp", new FakeFacts("api.example.com", "mcp/a", SVC))).toBe("route");
    expect(pick(ORDERED, "/mcp", new FakeFacts("api.example.com", "mcp/b", SVC))).toBe("domain");
    expect(pick(ORDERED, "/mcp", new FakeFacts("other.org", "mcp/b", SVC))).toBe("service");
    expect(pick(ORDERED, "/mcp", new FakeFacts("other.org", "mcp/b", "outbound|80||x.ns.svc.cluster.local"))).toBe(
      "prefix",
    );
    expect(pick(ORDERED, "/mcp", new FakeFacts("other.org", "b", "x"))).toBe("-");
  });

  it("route + service: both must match", () => {
    const both = "outbound|9090||svc.ns.svc.cluster.local";
    expect(pick(ORDERED, "/mcp", new FakeFacts("", "mcp/a", both))).toBe("route+service");
    expect(pick(ORDERED, "/mcp", new FakeFacts("", "mcp/b", both))).toBe("service");
    const r = rule(Category.Route, ["mcp/a"], ["svc.ns.svc.cluster.local:9090"]);
    const facts = new FakeFacts("", "mcp/b", both);
    expect(r.matches(facts)).toBe(false);
    expect(facts.reads[Fact.Cluster]).toBe(0);
  });

  it("route-name prefixes", () => {
    const r = rule(Category.RoutePrefix, ["team-a/", "mcp-"]);
    expect(r.matches(new FakeFacts("", "mcp-remote", ""))).toBe(true);
    expect(r.matches(new FakeFacts("", "team-a/x", ""))).toBe(true);
    expect(r.matches(new FakeFacts("", "team-b/x", ""))).toBe(false);
    expect(r.matches(new FakeFacts("", "", ""))).toBe(false);
  });

  it("reads only what the rules ask for, each fact at most once", () => {
    const routed = new FakeFacts("api.example.com", "mcp/a", SVC);
    expect(pick(ORDERED, "/mcp", routed)).toBe("route");
    expect(routed.reads[Fact.RouteName]).toBe(1);
    // The first rule's route matched, so its service was asked for; no rule before the match needs the authority.
    expect(routed.reads[Fact.Cluster]).toBe(1);
    expect(routed.reads[Fact.Authority]).toBe(0);
    const all = new FakeFacts("other.org", "none", "x");
    expect(pick(ORDERED, "/mcp", all)).toBe("-");
    expect(all.reads[Fact.RouteName]).toBe(1);
    expect(all.reads[Fact.Authority]).toBe(1);
    expect(all.reads[Fact.Cluster]).toBe(1);
  });
});

describe("choosing the server", () => {
  it("in the matching rule's servers, by the longest path prefix; a path of none passes through", () => {
    expect(pick(WITH_GLOBAL, "/mcp/x/1", new FakeFacts("", "r", ""))).toBe("rule-x");
    expect(pick(WITH_GLOBAL, "/mcp/y", new FakeFacts("", "r", ""))).toBe("rule-mcp");
    expect(pick(WITH_GLOBAL, "/other", new FakeFacts("", "r", ""))).toBe("-");
    // The rule matched: the global servers are not consulted, even for their own path.
    expect(pick(WITH_GLOBAL, "/mcp/g", new FakeFacts("", "r", ""))).toBe("rule-mcp");
  });

  it("no rule matches: the global configuration, else nothing", () => {
    expect(pick(WITH_GLOBAL, "/mcp/g", new FakeFacts("", "other", ""))).toBe("global");
    expect(pick(WITH_GLOBAL, "/mcp/x", new FakeFacts("", "other", ""))).toBe("-");
    expect(pick(ORDERED, "/mcp", new FakeFacts("", "other", ""))).toBe("-");
  });
});
