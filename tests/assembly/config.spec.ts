import { parseConfig, HeadersMode, Transport, DEFAULT_TIMEOUT_MS, DEFAULT_DEADLINE_MS } from "../../assembly/config";

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
    expect(c.mode).toBe(HeadersMode.Hold);
    expect(c.deadlineMs).toBe(DEFAULT_DEADLINE_MS);
    const s = c.servers[0];
    expect(s.name).toBe("weather");
    expect(s.authority).toBe("backend:8080");
    expect(s.urlScheme).toBe("http");
    expect(s.path).toBe("/mcp?x=1");
    expect(s.cluster).toBe("");
    expect(s.timeoutMs).toBe(3000);
    expect(s.passthroughAuthHeader).toBe(true);
    expect(s.allowTools!.has("add")).toBe(true);
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
    expect(c.servers[0].allowTools).toBeNull();
    expect(c.forwardHeaders.includes("traceparent")).toBe(true);
    expect(c.sessionIdleMs).toBe(600000);
  });

  it("multi-server form, matched by the longest path prefix at a segment boundary", () => {
    const r = parseConfig(`{"requestHeadersMode":"continue","servers":[
      {"pathPrefix":"/mcp","cluster":"a","name":"a","transport":"http","mcpServerURL":"http://a/mcp"},
      {"pathPrefix":"/mcp/b","cluster":"b","name":"b","transport":"stdio","allowTools":[]}]}`);
    expect(r.error).toBe("");
    const c = r.config!;
    expect(c.mode).toBe(HeadersMode.Continue);
    expect(c.match("/mcp/b?x")!.name).toBe("b");
    expect(c.match("/mcp/bc")!.name).toBe("a");
    expect(c.match("/other")).toBeNull();
    expect(c.servers[1].transport).toBe(Transport.Stdio);
    expect(c.servers[1].path).toBe("/servers/b/mcp");
    expect(c.servers[1].allowTools!.size).toBe(0);
  });

  it("names the bad field", () => {
    expect(errorOf("")).toBe("(root): not valid JSON");
    expect(errorOf("{")).toBe("(root): not valid JSON");
    expect(errorOf("[]")).toBe("(root): must be a JSON object");
    expect(errorOf("{}")).toBe('server: required (or "servers")');
    expect(errorOf('{"server":{"name":"a","transport":"ws","mcpServerURL":"/m"}}')).toBe(
      'server.transport: must be "http", "sse" or "stdio"');
    expect(errorOf('{"server":{"name":"a","transport":"sse","mcpServerURL":"/m"}}')).toBe("");
    expect(errorOf('{"requestHeadersMode":"continue","server":{"name":"a","transport":"sse","mcpServerURL":"/m"}}')
      .startsWith('server.transport: "sse" needs requestHeadersMode "hold"')).toBe(true);
    expect(errorOf('{"requestHeadersMode":"continue","servers":[{"pathPrefix":"/a","cluster":"c","name":"a","transport":"http","mcpServerURL":"/m"},' +
      '{"pathPrefix":"/b","cluster":"c","name":"b","transport":"sse","mcpServerURL":"/sse"}]}')
      .startsWith('servers[1].transport: "sse" needs')).toBe(true);
    expect(errorOf('{"server":{"name":"a","transport":"http"}}')).toBe("server.mcpServerURL: required (a non-empty string)");
    expect(errorOf('{"server":{"name":"a","transport":"http","mcpServerURL":"ftp://x"}}').includes("server.mcpServerURL")).toBe(true);
    expect(errorOf('{"server":{"name":"a","transport":"http","mcpServerURL":"/m","timeout":-1}}').includes("server.timeout")).toBe(true);
    expect(errorOf('{"server":{"name":"a","transport":"http","mcpServerURL":"/m","timeout":"5"}}')).toBe("server.timeout: must be a number");
    expect(errorOf('{"server":{"name":"a","transport":"http","mcpServerURL":"/m","defaultUpstreamSecurity":{"id":"x"}}}')).toBe(
      'server.defaultUpstreamSecurity.id: no security scheme "x"');
    expect(errorOf('{"server":{"name":"a","transport":"http","mcpServerURL":"/m","securitySchemes":[{"id":"x","type":"oauth"}]}}')).toBe(
      'server.securitySchemes[0].type: must be "http" or "apiKey"');
    expect(errorOf('{"server":{"name":"a","transport":"http","mcpServerURL":"/m"},"allowTools":[1]}')).toBe("allowTools[0]: must be a string");
    expect(errorOf('{"server":{"name":"a","transport":"http","mcpServerURL":"/m"},"forwardHeaders":["Cookie"]}').includes("forwardHeaders[0]")).toBe(true);
    expect(errorOf('{"servers":[{"pathPrefix":"/a","name":"a","transport":"http","mcpServerURL":"/m"}]}')).toBe(
      "servers[0].cluster: required (a non-empty string)");
    expect(errorOf('{"_rules_":[{"_match_route_":["r"],"allowTools":[]}],"server":{"name":"a","transport":"http","mcpServerURL":"/m"}}')
      .startsWith("_rules_: Higress matchRules are not supported yet")).toBe(true);
    expect(errorOf('{"requestHeadersMode":"later","server":{"name":"a","transport":"http","mcpServerURL":"/m"}}')).toBe(
      'requestHeadersMode: must be "hold" or "continue"');
    expect(errorOf('{"deadlineMs":0,"server":{"name":"a","transport":"http","mcpServerURL":"/m"}}')).toBe("deadlineMs: must be greater than 0");
  });
});
