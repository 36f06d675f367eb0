import { base64, unbase64 } from "../../assembly/base64";
import {
  SchemeType,
  SecurityScheme,
  extractCredential,
  queryParam,
  upstreamAuth,
  withQueryParam,
  withoutQueryParam,
} from "../../assembly/credentials";

const bearer = new SecurityScheme("b", SchemeType.Bearer, "authorization", "");
const basic = new SecurityScheme("u", SchemeType.Basic, "authorization", "alice:secret");
const keyHeader = new SecurityScheme("k", SchemeType.ApiKeyHeader, "x-api-key", "default-key");
const keyQuery = new SecurityScheme("q", SchemeType.ApiKeyQuery, "api_key", "qk");

describe("downstream credentials", () => {
  it("strips the http prefixes case-insensitively", () => {
    expect(extractCredential(bearer, "Bearer tok123")).toBe("tok123");
    expect(extractCredential(bearer, "bearer  tok123 ")).toBe("tok123");
    expect(extractCredential(basic, "Basic YTpi")).toBe("YTpi");
    expect(extractCredential(keyHeader, "raw-key")).toBe("raw-key");
  });

  it("reads and removes query credentials", () => {
    expect(queryParam("/mcp?a=1&api_key=s%20p+q&b", "api_key")).toBe("s p q");
    expect(queryParam("/mcp?a=1", "api_key")).toBe("");
    expect(queryParam("/mcp?api_key=%zz%", "api_key")).toBe("%zz%");
    expect(withoutQueryParam("/mcp?a=1&api_key=x&b=2", "api_key")).toBe("/mcp?a=1&b=2");
    expect(withoutQueryParam("/mcp?api_key=x", "api_key")).toBe("/mcp");
    expect(withoutQueryParam("/mcp", "api_key")).toBe("/mcp");
  });
});

describe("upstream credentials", () => {
  it("bearer: passthrough wins over the default; nothing when both are empty", () => {
    expect(upstreamAuth(bearer, "t1").value).toBe("Bearer t1");
    expect(upstreamAuth(bearer, "").name).toBe("");
    expect(upstreamAuth(new SecurityScheme("b2", SchemeType.Bearer, "authorization", "d"), "").value).toBe("Bearer d");
  });

  it("basic: encodes user:pass, keeps an encoded token", () => {
    expect(upstreamAuth(basic, "").value).toBe("Basic YWxpY2U6c2VjcmV0");
    expect(upstreamAuth(basic, "YTpi").value).toBe("Basic YTpi");
  });

  it("apiKey in header and in query", () => {
    const h = upstreamAuth(keyHeader, "");
    expect(h.name).toBe("x-api-key");
    expect(h.value).toBe("default-key");
    expect(h.inQuery).toBe(false);
    const q = upstreamAuth(keyQuery, "a b&c");
    expect(q.inQuery).toBe(true);
    expect(withQueryParam("/mcp", q.name, q.value)).toBe("/mcp?api_key=a%20b%26c");
    expect(withQueryParam("/mcp?x=1", "k", "\u00e9")).toBe("/mcp?x=1&k=%C3%A9");
  });

  it("session keys differ per credential", () => {
    expect(upstreamAuth(bearer, "t1").key).not.toBe(upstreamAuth(bearer, "t2").key);
    expect(upstreamAuth(keyQuery, "t1").key).not.toBe(upstreamAuth(keyHeader, "t1").key);
  });

  it("base64 pads correctly", () => {
    expect(base64(String.UTF8.encode(""))).toBe("");
    expect(base64(String.UTF8.encode("a"))).toBe("YQ==");
    expect(base64(String.UTF8.encode("ab"))).toBe("YWI=");
    expect(base64(String.UTF8.encode("abc"))).toBe("YWJj");
  });

  it("unbase64 reverses it and refuses what is not base64", () => {
    expect(String.UTF8.decode(unbase64("SGVsbG8sIOS4lueVjA==")!)).toBe("Hello, 世界");
    expect(String.UTF8.decode(unbase64("YWI=")!)).toBe("ab");
    expect(unbase64("")!.byteLength).toBe(0);
    expect(unbase64("YWJ")).toBeNull();
    expect(unbase64("Y*Jj")).toBeNull();
    expect(unbase64("=YWJ")).toBeNull();
  });
});

describe("credential details Higress's own tests expect", () => {
  it("an apiKey in the query replaces a parameter of the same name already in mcpServerURL", () => {
    expect(withQueryParam("/mcp?api_key=stale&x=1", "api_key", "fresh")).toBe("/mcp?x=1&api_key=fresh");
    expect(withQueryParam("/mcp?api_key=stale", "api_key", "fresh")).toBe("/mcp?api_key=fresh");
    expect(withQueryParam("/mcp", "api_key", "a b")).toBe("/mcp?api_key=a%20b");
  });

  it("a defaultCredential that already carries its scheme's prefix is not prefixed again", () => {
    expect(upstreamAuth(new SecurityScheme("b", SchemeType.Bearer, "authorization", "Bearer abc"), "").value).toBe(
      "Bearer abc",
    );
    expect(upstreamAuth(new SecurityScheme("b", SchemeType.Bearer, "authorization", "bearer abc"), "").value).toBe(
      "bearer abc",
    );
    expect(upstreamAuth(new SecurityScheme("b", SchemeType.Bearer, "authorization", "abc"), "").value).toBe(
      "Bearer abc",
    );
    expect(upstreamAuth(new SecurityScheme("u", SchemeType.Basic, "authorization", "Basic YTpi"), "").value).toBe(
      "Basic YTpi",
    );
  });
});
