import { normalize, resolveEndpoint, sameAuthority } from "../../assembly/url";

function path(data: string, ssePath: string = "/sse", scheme: string = "http", authority: string = "backend"): string {
  const r = resolveEndpoint(data, scheme, authority, ssePath);
  return r.error.length > 0 ? "refused: " + r.error : r.path;
}

describe("legacy SSE endpoint resolution", () => {
  it("takes an absolute path as it is (the SDK's /message?sessionId=...)", () => {
    expect(path("/message?sessionId=abc")).toBe("/message?sessionId=abc");
    expect(path("/legacy/messages?sessionId=1", "/legacy/sse")).toBe("/legacy/messages?sessionId=1");
  });

  it("resolves a relative reference against the SSE URL's directory, keeping the path prefix", () => {
    expect(path("messages?sessionId=1", "/legacy/sse")).toBe("/legacy/messages?sessionId=1");
    expect(path("messages", "/a/b/sse?token=x")).toBe("/a/b/messages");
    expect(path("../up?x=1", "/a/b/sse")).toBe("/a/up?x=1");
    expect(path("./m", "/a/sse")).toBe("/a/m");
    expect(path("message", "/sse")).toBe("/message");
  });

  it("resolves a query-only reference against the SSE path", () => {
    expect(path("?sessionId=9", "/legacy/sse?old=1")).toBe("/legacy/sse?sessionId=9");
  });

  it("accepts an absolute URL on the same origin (case, default port) and drops the fragment", () => {
    expect(path("http://backend/message?s=1")).toBe("/message?s=1");
    expect(path("HTTP://Backend:80/x/../message?s=1#frag")).toBe("/message?s=1");
    expect(path("http://backend:8080/m", "/sse", "http", "backend:8080")).toBe("/m");
    expect(path("https://backend/m", "/sse", "https", "backend:443")).toBe("/m");
    expect(path("//backend/m")).toBe("/m");
    expect(path("http://backend?s=1")).toBe("/?s=1");
    expect(path("http://backend")).toBe("/");
  });

  it("compares only the authority when mcpServerURL was a bare path", () => {
    expect(path("http://gw.local/m", "/sse", "", "gw.local")).toBe("/m");
    expect(path("https://gw.local/m", "/sse", "", "gw.local")).toBe("/m");
  });

  it("refuses another origin, another scheme and unusable targets", () => {
    expect(path("http://evil.example/message").includes("another origin")).toBe(true);
    expect(path("http://backend:81/message").includes("another origin")).toBe(true);
    expect(path("https://backend/message").includes("another origin")).toBe(true);
    expect(path("//evil/m").includes("another origin")).toBe(true);
    expect(path("http://backend.evil/m").includes("another origin")).toBe(true);
    expect(path("javascript:alert(1)").includes("unsupported scheme")).toBe(true);
    expect(path("").includes("empty")).toBe(true);
    expect(path("   ").includes("empty")).toBe(true);
    expect(path("/a b").includes("whitespace")).toBe(true);
    expect(path("/a\r\nx-injected: 1").includes("whitespace")).toBe(true);
  });

  it("never climbs above the root", () => {
    expect(normalize("/../../etc")).toBe("/etc");
    expect(normalize("/a/..")).toBe("/");
    expect(normalize("/a/./b/.?q=../x")).toBe("/a/b/?q=../x");
  });

  it("compares authorities with default ports and IPv6 literals", () => {
    expect(sameAuthority("[::1]", "[::1]:80", "http")).toBe(true);
    expect(sameAuthority("[::1]:8080", "[::1]", "http")).toBe(false);
    expect(sameAuthority("Host:443", "host", "https")).toBe(true);
  });
});
