import {
  parseConfig,
  HeadersMode,
  Mode,
  Transport,
  DEFAULT_TIMEOUT_MS,
  DEFAULT_DEADLINE_MS,
} from "../../assembly/config";
import { Category, DomainKind } from "../../assembly/rules";

function errorOf(json: string): string {
  return parseConfig(json).error;
}

const HIGRESS = `{
  "server": {
    "name": "weather", "type": "mcp-proxy", "transport": "http", "mcpServerURL": "http://backend:8080/mcp?x=1",
    "timeout": 3000, "passthroughAuthHeader": true,
    "securitySchemes": [
      {"id": "in", "type": "http", "scheme": "bearer"},
      {"id": "out", "type": "apiKey", "in": "header", "name": "X-Key", "defaultCredential": "k"}
    ],
    "defaultDownstreamSecurity": {"id": "in", "passthrough": true},
    "defaultUpstreamSecurity": {"id": "out"}
  },
  "allowTools": ["echo", "add"],
  "tools": [{"name": "add", "security": {"id": "in"}, "requestTemplate": {"security": {"id": "in"}}}]
}`;

describe("configuration", () => {
  it("accepts Higress's schema unchanged", () => {
    const r = parseConfig(HIGRESS);
    expect(r.error).toBe("");
    const c = r.config!;
    expect(c.headersMode).toBe(HeadersMode.Hold);
    expect(c.deadlineMs).toBe(DEFAULT_DEADLINE_MS);
    const s = c.servers[0];
    expect(s.name).toBe("weather");
    expect(s.authority).toBe("backend:8080");
    expect(s.urlScheme).toBe("http");
    expect(s.path).toBe("/mcp?x=1");
    expect(s.cluster).toBe("");
    expect(s.timeoutMs).toBe(3000);
    expect(s.passthroughAuthHeader).toBe(true);
    expect(s.allowTools.allows("add")).toBe(true);
    expect(s.schemes.get("out").name).toBe("x-key");
    expect(s.upstreamFor("add").id).toBe("in");
    expect(s.upstreamFor("echo").id).toBe("out");
    expect(s.downstreamFor("echo").passthrough).toBe(true);
    expect(c.match("/anything")).toBe(s);
  });

  it("defaults", () => {
    const c = parseConfig('{"server":{"name":"a","transport":"http","mcpServerURL":"/mcp"}}').config!;
    expect(c.servers[0].timeoutMs).toBe(DEFAULT_TIMEOUT_MS);
    expect(c.servers[0].authority).toBe("");
    expect(c.servers[0].allowTools.restricted).toBe(false);
    expect(c.forwardHeaders.includes("traceparent")).toBe(true);
    expect(c.sessionIdleMs).toBe(600000);
  });

  it("multi-server form, matched by the longest path prefix at a segment boundary", () => {
    const r = parseConfig(`{"requestHeadersMode":"continue","servers":[
      {"pathPrefix":"/mcp","cluster":"a","name":"a","transport":"http","mcpServerURL":"http://a/mcp"},
      {"pathPrefix":"/mcp/b","cluster":"b","name":"b","transport":"stdio","allowTools":[]}]}`);
    expect(r.error).toBe("");
    const c = r.config!;
    expect(c.headersMode).toBe(HeadersMode.Continue);
    expect(c.match("/mcp/b?x")!.name).toBe("b");
    expect(c.match("/mcp/bc")!.name).toBe("a");
    expect(c.match("/other")).toBeNull();
    expect(c.servers[1].transport).toBe(Transport.Stdio);
    expect(c.servers[1].path).toBe("/servers/b/mcp");
    expect(c.servers[1].allowTools.restricted).toBe(true);
    expect(c.servers[1].allowTools.names.size).toBe(0);
  });

  it("names the bad field", () => {
    expect(errorOf("")).toBe("(root): not valid JSON");
    expect(errorOf("{")).toBe("(root): not valid JSON");
    expect(errorOf("[]")).toBe("(root): must be a JSON object");
    expect(errorOf("{}")).toBe('server: required (or "servers")');
    expect(errorOf('{"server":{"name":"a","transport":"ws","mcpServerURL":"/m"}}')).toBe(
      'server.transport: must be "http", "sse" or "stdio"',
    );
    expect(errorOf('{"server":{"name":"a","transport":"sse","mcpServerURL":"/m"}}')).toBe("");
    expect(
      errorOf(
        '{"requestHeadersMode":"continue","server":{"name":"a","transport":"sse","mcpServerURL":"/m"}}',
      ).startsWith('server.transport: "sse" needs requestHeadersMode "hold"'),
    ).toBe(true);
    expect(
      errorOf(
        '{"requestHeadersMode":"continue","servers":[{"pathPrefix":"/a","cluster":"c","name":"a","transport":"http","mcpServerURL":"/m"},' +
          '{"pathPrefix":"/b","cluster":"c","name":"b","transport":"sse","mcpServerURL":"/sse"}]}',
      ).startsWith('servers[1].transport: "sse" needs'),
    ).toBe(true);
    expect(errorOf('{"server":{"name":"a","transport":"http"}}')).toBe(
      "server.mcpServerURL: required (a non-empty string)",
    );
    expect(
      errorOf('{"server":{"name":"a","transport":"http","mcpServerURL":"ftp://x"}}').includes("server.mcpServerURL"),
    ).toBe(true);
    expect(
      errorOf('{"server":{"name":"a","transport":"http","mcpServerURL":"/m","timeout":-1}}').includes("server.timeout"),
    ).toBe(true);
    expect(errorOf('{"server":{"name":"a","transport":"http","mcpServerURL":"/m","timeout":"5"}}')).toBe(
      "server.timeout: must be a number",
    );
    expect(
      errorOf('{"server":{"name":"a","transport":"http","mcpServerURL":"/m","defaultUpstreamSecurity":{"id":"x"}}}'),
    ).toBe('server.defaultUpstreamSecurity.id: no security scheme "x"');
    expect(
      errorOf(
        '{"server":{"name":"a","transport":"http","mcpServerURL":"/m","securitySchemes":[{"id":"x","type":"oauth"}]}}',
      ),
    ).toBe('server.securitySchemes[0].type: must be "http" or "apiKey"');
    expect(errorOf('{"server":{"name":"a","transport":"http","mcpServerURL":"/m"},"allowTools":[1]}')).toBe(
      "allowTools[0]: must be a string",
    );
    expect(
      errorOf('{"server":{"name":"a","transport":"http","mcpServerURL":"/m"},"forwardHeaders":["Cookie"]}').includes(
        "forwardHeaders[0]",
      ),
    ).toBe(true);
    expect(errorOf('{"servers":[{"pathPrefix":"/a","name":"a","transport":"http","mcpServerURL":"/m"}]}')).toBe(
      "servers[0].cluster: required (a non-empty string)",
    );
    expect(
      errorOf(
        '{"servers":[{"pathPrefix":"/a","cluster":"c","name":"a","transport":"http","mcpServerURL":"/m"}],"allowTools":["x"]}',
      ),
    ).toBe('allowTools: put it in each "servers" entry');
    expect(errorOf('{"requestHeadersMode":"later","server":{"name":"a","transport":"http","mcpServerURL":"/m"}}')).toBe(
      'requestHeadersMode: must be "hold" or "continue"',
    );
    expect(errorOf('{"deadlineMs":0,"server":{"name":"a","transport":"http","mcpServerURL":"/m"}}')).toBe(
      "deadlineMs: must be greater than 0",
    );
  });
});

// What Higress's controller hands the plugin for a WasmPlugin with defaultConfig and three matchRules.
const RULES = `{
  "requestHeadersMode": "hold", "deadlineMs": 120000,
  "server": {"name": "fallback", "transport": "http", "mcpServerURL": "/mcp"},
  "allowTools": ["echo"],
  "_rules_": [
    {"_match_route_": ["mcp/a"], "_match_service_": ["svc.ns.svc.cluster.local:8080"],
     "server": {"name": "shared", "transport": "http", "mcpServerURL": "http://backend/mcp"}, "allowTools": []},
    {"_match_domain_": ["*.example.com", "WWW.Example.*", "api.internal"],
     "servers": [{"pathPrefix": "/mcp/x", "cluster": "x", "name": "shared", "transport": "stdio", "allowTools": ["add"]},
                 {"pathPrefix": "/mcp/y", "cluster": "y", "name": "y", "transport": "sse", "mcpServerURL": "/sse"}]},
    {"_match_service_": ["svc.ns.svc.cluster.local"], "server": {"name": "s", "transport": "http", "mcpServerURL": "/mcp"},
     "comment": "unknown keys are ignored, as at the top level"},
    {"_match_route_prefix_": ["mcp/"], "server": {"name": "p", "transport": "http", "mcpServerURL": "/mcp"}}
  ]
}`;

const SERVER = '"server":{"name":"a","transport":"http","mcpServerURL":"/m"}';

/** A configuration with one rule made of `members` (plus a server unless `members` names one). */
function ruleError(members: string, top: string = ""): string {
  const all = members.includes('"server') ? members : members.length > 0 ? members + "," + SERVER : SERVER;
  return errorOf("{" + top + '"_rules_":[{' + all + "}]}");
}

describe("Higress _rules_", () => {
  it("accepts a Higress-shaped configuration: plugin-wide settings on top, servers per rule", () => {
    const r = parseConfig(RULES);
    expect(r.error).toBe("");
    const c = r.config!;
    expect(c.deadlineMs).toBe(120000);
    expect(c.rules.length).toBe(4);
    expect(c.ruleServers.length).toBe(4);
    expect(c.rules[0].category).toBe(Category.Route);
    expect(c.rules[0].routes[0]).toBe("mcp/a");
    expect(c.rules[0].services[0].port).toBe("8080");
    expect(c.rules[1].category).toBe(Category.Domain);
    expect(c.rules[1].domains[0].kind).toBe(DomainKind.Suffix);
    expect(c.rules[1].domains[1].kind).toBe(DomainKind.Prefix);
    expect(c.rules[1].domains[1].text).toBe("www.example.");
    expect(c.rules[1].domains[2].kind).toBe(DomainKind.Exact);
    expect(c.rules[2].category).toBe(Category.Service);
    expect(c.rules[2].services[0].port).toBe("");
    expect(c.rules[3].category).toBe(Category.RoutePrefix);
    // The rule's own allowTools, beside its server or inside its servers[] entries.
    expect(c.ruleServers[0].servers[0].allowTools.names.size).toBe(0);
    expect(c.ruleServers[1].servers[0].allowTools.allows("add")).toBe(true);
    expect(c.ruleServers[1].servers[1].transport).toBe(Transport.Sse);
    expect(c.ruleServers[2].servers[0].allowTools.restricted).toBe(false);
    expect(c.global.servers[0].allowTools.allows("echo")).toBe(true);
  });

  it("numbers every server across the top level and the rules: a name reused in two rules is two servers", () => {
    const c = parseConfig(RULES).config!;
    expect(c.servers.length).toBe(6);
    for (let i = 0; i < c.servers.length; i++) expect(c.servers[i].index).toBe(i);
    const a = c.ruleServers[0].servers[0];
    const b = c.ruleServers[1].servers[0];
    expect(a.name).toBe(b.name);
    expect(a.index).not.toBe(b.index);
    expect(a.statName).toBe(b.statName);
  });

  it("with rules the top level may hold no server: only _rules_ (defaultConfigDisable) or only plugin-wide settings", () => {
    const only = parseConfig('{"_rules_":[{"_match_route_":["r"],' + SERVER + "}]}");
    expect(only.error).toBe("");
    expect(only.config!.global.servers.length).toBe(0);
    expect(only.config!.match("/m")).toBeNull();
    expect(
      errorOf('{"requestHeadersMode":"continue","deadlineMs":5,"_rules_":[{"_match_route_":["r"],' + SERVER + "}]}"),
    ).toBe("");
    // Without rules a server stays required.
    expect(errorOf('{"deadlineMs":5}')).toBe('server: required (or "servers")');
  });

  it("refuses what is not a list of rule objects", () => {
    expect(errorOf('{"_rules_":{}}')).toBe("_rules_: must be an array");
    expect(errorOf('{"_rules_":[]}')).toBe("_rules_: must list at least one rule");
    expect(errorOf('{"_rules_":[{"_match_route_":["r"],' + SERVER + '},"r"]}')).toBe("_rules_[1]: must be an object");
  });

  it("each match key is a non-empty list of non-empty strings", () => {
    expect(ruleError("")).toBe(
      "_rules_[0]: needs _match_route_, _match_domain_, _match_service_ or _match_route_prefix_",
    );
    expect(ruleError('"_match_domain_":"a.com"')).toBe("_rules_[0]._match_domain_: must be an array");
    expect(ruleError('"_match_route_":[]')).toBe("_rules_[0]._match_route_: must list at least one entry");
    expect(ruleError('"_match_domain_":["a","b",""]')).toBe("_rules_[0]._match_domain_[2]: must be a non-empty string");
    expect(ruleError('"_match_service_":["a",1]')).toBe("_rules_[0]._match_service_[1]: must be a string");
    expect(ruleError('"_match_route_prefix_":[""]')).toBe(
      "_rules_[0]._match_route_prefix_[0]: must be a non-empty string",
    );
  });

  it("refuses the combinations Higress would silently narrow; route + service is one rule", () => {
    expect(ruleError('"_match_route_":["r"],"_match_domain_":["a.com"]')).toBe(
      "_rules_[0]._match_domain_: Higress would ignore it beside _match_route_ (only _match_route_ with _match_service_ combine); use another rule",
    );
    expect(
      ruleError('"_match_domain_":["a.com"],"_match_service_":["s"]').startsWith(
        "_rules_[0]._match_service_: Higress would ignore it beside _match_domain_",
      ),
    ).toBe(true);
    expect(
      ruleError('"_match_route_":["r"],"_match_route_prefix_":["p"]').startsWith(
        "_rules_[0]._match_route_prefix_: Higress would ignore it beside _match_route_",
      ),
    ).toBe(true);
    expect(
      ruleError('"_match_service_":["s"],"_match_route_prefix_":["p"]').startsWith(
        "_rules_[0]._match_route_prefix_: Higress would ignore it beside _match_service_",
      ),
    ).toBe(true);
    expect(ruleError('"_match_route_":["r"],"_match_service_":["s:80"]')).toBe("");
  });

  it("refuses domain and service entries Higress would match otherwise than they read", () => {
    expect(ruleError('"_match_domain_":["a.com","api.*.com"]')).toBe(
      '_rules_[0]._match_domain_[1]: one "*" at most, first (*.example.com) or last (www.example.*): Higress matches any other "*" literally',
    );
    expect(ruleError('"_match_domain_":["*.example.*"]').startsWith("_rules_[0]._match_domain_[0]: one")).toBe(true);
    expect(ruleError('"_match_domain_":["*"]')).toBe("");
    expect(ruleError('"_match_service_":["s.ns","s.ns:http"]')).toBe(
      '_rules_[0]._match_service_[1]: must be "fqdn" or "fqdn:port"',
    );
    expect(ruleError('"_match_service_":[":80"]')).toBe('_rules_[0]._match_service_[0]: must be "fqdn" or "fqdn:port"');
  });

  it("plugin-wide settings belong to the top level", () => {
    expect(
      errorOf(
        '{"_rules_":[{"_match_route_":["r"],' + SERVER + '},{"_match_route_":["s"],"deadlineMs":5,' + SERVER + "}]}",
      ),
    ).toBe("_rules_[1].deadlineMs: plugin-wide; set it in defaultConfig");
    const keys = [
      "requestHeadersMode",
      "sessionIdleTimeoutMs",
      "maxBackendSessions",
      "maxRequestBodyBytes",
      "maxResponseBodyBytes",
      "forwardHeaders",
    ];
    for (let i = 0; i < keys.length; i++) {
      expect(ruleError('"_match_route_":["r"],"' + keys[i] + '":1')).toBe(
        "_rules_[0]." + keys[i] + ": plugin-wide; set it in defaultConfig",
      );
    }
  });

  it("a rule's servers are read as the top level's, with the rule's path in errors", () => {
    expect(errorOf('{"_rules_":[{"_match_route_":["r"],"allowTools":[]}]}')).toBe(
      '_rules_[0].allowTools: needs "server"',
    );
    expect(errorOf('{"_rules_":[{"_match_route_":["r"]}]}')).toBe('_rules_[0].server: required (or "servers")');
    expect(ruleError('"_match_route_":["r"],"server":{"name":"a","transport":"ws","mcpServerURL":"/m"}')).toBe(
      '_rules_[0].server.transport: must be "http", "sse" or "stdio"',
    );
    expect(
      ruleError(
        '"_match_route_":["r"],"servers":[{"pathPrefix":"/a","name":"a","transport":"http","mcpServerURL":"/m"}]',
      ),
    ).toBe("_rules_[0].servers[0].cluster: required (a non-empty string)");
    expect(
      ruleError(
        '"_match_route_":["r"],"servers":[{"pathPrefix":"/a","cluster":"c","name":"a","transport":"http","mcpServerURL":"/m"}],"allowTools":["x"]',
      ),
    ).toBe('_rules_[0].allowTools: put it in each "servers" entry');
    expect(ruleError('"_match_route_":["r"],"allowTools":[1]')).toBe("_rules_[0].allowTools[0]: must be a string");
    expect(ruleError('"_match_route_":["r"],"tools":[{"name":"t","security":{"id":"x"}}]')).toBe(
      '_rules_[0].tools[0].security.id: no security scheme "x"',
    );
    expect(
      ruleError(
        '"_match_route_":["r"],"server":{"name":"a","transport":"sse","mcpServerURL":"/m"}',
        '"requestHeadersMode":"continue",',
      ).startsWith('_rules_[0].server.transport: "sse" needs requestHeadersMode "hold"'),
    ).toBe(true);
    // The top level's own mistakes come first.
    expect(errorOf('{"allowTools":["x"],"_rules_":[{"_match_route_":["r"],' + SERVER + "}]}")).toBe(
      'allowTools: needs "server"',
    );
  });
});

describe("modes, allow-lists, origins", () => {
  it("mode per server, higress by default; allowResources and allowPrompts beside allowTools", () => {
    const c = parseConfig(`{"servers":[
      {"pathPrefix":"/a","cluster":"a","name":"a","transport":"http","mcpServerURL":"/mcp","mode":"passthrough","allowResources":["test://x/*"],"allowPrompts":["p"]},
      {"pathPrefix":"/b","cluster":"b","name":"b","transport":"http","mcpServerURL":"/mcp"}]}`).config!;
    expect(c.servers[0].mode).toBe(Mode.Passthrough);
    expect(c.servers[1].mode).toBe(Mode.Higress);
    expect(c.servers[0].allowResources.allows("test://x/1")).toBe(true);
    expect(c.servers[0].allowPrompts.allows("q")).toBe(false);
    expect(c.servers[1].allowPrompts.restricted).toBe(false);
  });

  it("refuses what cannot work, naming the field", () => {
    expect(errorOf('{"server":{"name":"a","transport":"http","mcpServerURL":"/m","mode":"direct"}}')).toBe(
      'server.mode: must be "higress" or "passthrough"',
    );
    expect(errorOf('{"server":{"name":"a","transport":"sse","mcpServerURL":"/sse","mode":"passthrough"}}')).toBe(
      'server.transport: "sse" (the legacy HTTP+SSE transport) works in mode "higress" only: the filter turns each request into the SSE GET',
    );
    expect(
      errorOf(
        '{"servers":[{"pathPrefix":"/a","cluster":"c","name":"a","transport":"http","mcpServerURL":"/m"}],"allowPrompts":["x"]}',
      ),
    ).toBe('allowPrompts: put it in each "servers" entry');
    expect(
      errorOf('{"allowedOrigins":["app.example.com"],"server":{"name":"a","transport":"http","mcpServerURL":"/m"}}'),
    ).toBe('allowedOrigins[0]: must be an origin such as "https://app.example.com" (scheme://host[:port]), or "*"');
  });

  it("allowedOrigins are lowercased without a trailing slash; identity headers are the forwarded ones that are not trace context", () => {
    const c = parseConfig(
      '{"allowedOrigins":["https://App.example.com/"],"forwardHeaders":["traceparent","X-User-Token"],"server":{"name":"a","transport":"http","mcpServerURL":"/m"}}',
    ).config!;
    expect(c.allowedOrigins![0]).toBe("https://app.example.com");
    expect(c.identityHeaders.length).toBe(1);
    expect(c.identityHeaders[0]).toBe("x-user-token");
  });
});
