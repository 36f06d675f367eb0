import { originAllowed } from "../../assembly/origin";

describe("Origin validation", () => {
  it("without allowedOrigins: localhost origins (any port) and the gateway's own pass", () => {
    expect(originAllowed(null, "http://localhost:3000", "gw.example.com")).toBe(true);
    expect(originAllowed(null, "http://127.0.0.1", "gw.example.com")).toBe(true);
    expect(originAllowed(null, "http://[::1]:8080", "gw.example.com")).toBe(true);
    expect(originAllowed(null, "https://GW.example.com", "gw.example.com")).toBe(true);
    expect(originAllowed(null, "https://gw.example.com:8443", "gw.example.com:8443")).toBe(true);
  });

  it("without allowedOrigins: any other origin is refused", () => {
    expect(originAllowed(null, "http://evil.example.com", "gw.example.com")).toBe(false);
    expect(originAllowed(null, "https://gw.example.com:8443", "gw.example.com")).toBe(false);
    expect(originAllowed(null, "http://localhost.evil.com", "gw.example.com")).toBe(false);
    expect(originAllowed(null, "null", "gw.example.com")).toBe(false);
    expect(originAllowed(null, "file://", "gw.example.com")).toBe(false);
  });

  it("with allowedOrigins: exactly those (case-insensitive), or any with *", () => {
    const allowed = ["https://app.example.com"];
    expect(originAllowed(allowed, "https://APP.example.com", "gw")).toBe(true);
    expect(originAllowed(allowed, "http://localhost", "gw")).toBe(false);
    expect(originAllowed(allowed, "https://app.example.com:444", "gw")).toBe(false);
    expect(originAllowed(["*"], "https://anything.example", "gw")).toBe(true);
  });
});
