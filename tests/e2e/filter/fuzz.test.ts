// Thousands of malformed bodies must each get a proper HTTP/JSON-RPC error, and the VM must still serve a valid
// request afterwards: a single trap would kill it for every later request.
import { test } from "node:test";
import assert from "node:assert/strict";
import { own } from "../../helpers/harness.ts";
import { startScriptedBackend } from "../../fixtures/backends/scripted-backend.ts";
import { httpServer, startGateway } from "../../helpers/gateway.ts";

/** Deterministic PRNG (mulberry32) so a failure can be replayed. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const SEEDS = [
  '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"alpha","arguments":{"a":[1,2.5e3,"x\\u00e9"]}}}',
  '{"jsonrpc":"2.0","id":"s","method":"tools/list","params":{"cursor":"c"}}',
  '{"jsonrpc":"2.0","id":2,"method":"initialize","params":{"protocolVersion":"2025-06-18"}}',
  '{"jsonrpc":"2.0","method":"notifications/initialized"}',
  '{"jsonrpc":"2.0","id":3,"result":{}}',
];
const ALPHABET = '{}[]":,\\ntrufalsenul0123456789-+.eE \t\r\n\u00e9\ud83d\ude00';

function mutate(r: () => number): Buffer {
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)];
  const seed = pick(SEEDS);
  const kind = Math.floor(r() * 8);
  const at = Math.floor(r() * seed.length);
  switch (kind) {
    case 0:
      return Buffer.from(seed.slice(0, at));
    case 1:
      return Buffer.from(seed.slice(0, at) + pick([...ALPHABET]) + seed.slice(at));
    case 2:
      return Buffer.from(seed.slice(0, at) + seed.slice(at + 1 + Math.floor(r() * 5)));
    case 3: {
      const bytes = Buffer.from(seed);
      for (let i = 0; i < 1 + r() * 4; i++) bytes[Math.floor(r() * bytes.length)] = Math.floor(r() * 256);
      return bytes;
    }
    case 4: {
      const depth = Math.floor(r() * 5000);
      return Buffer.from(
        `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"alpha","arguments":${"[".repeat(depth)}${r() < 0.5 ? "]".repeat(depth) : ""}}}`,
      );
    }
    case 5:
      return Buffer.from(Array.from({ length: Math.floor(r() * 64) }, () => pick([...ALPHABET])).join(""));
    case 6:
      return Buffer.from(
        seed.replace(/"id":[^,]*/, `"id":${pick(["null", "{}", "[]", "true", '"\\ud800"', "1e999", "-0"])}`),
      );
    default:
      return Buffer.from(seed.replace("2.0", pick(["2", "1.0", "", "2.0\\u0000"])));
  }
}

test(
  "thousands of malformed bodies never trap the VM; each gets a JSON-RPC answer; a valid request still works after",
  { timeout: 300_000 },
  async (t) => {
    const backend = await own(t, startScriptedBackend());
    const { url, envoy } = await startGateway(t, { pluginConfig: httpServer(), clusters: { backend: backend.port } });
    const r = rng(42);
    const statuses = new Map<number, number>();
    for (let i = 0; i < 3000; i++) {
      const body = mutate(r);
      const res = await fetch(`${url}/mcp`, {
        method: "POST",
        body: new Uint8Array(body),
        headers: { "content-type": "application/json" },
      });
      const text = await res.text();
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      assert.ok(
        [200, 202, 400].includes(res.status),
        `status ${res.status} for ${JSON.stringify(body.toString("latin1"))}: ${text}`,
      );
      if (res.status !== 202) {
        const reply = JSON.parse(text);
        assert.equal(reply.jsonrpc, "2.0", text);
        assert.ok("result" in reply || "error" in reply, text);
      }
    }
    assert.ok((statuses.get(400) ?? 0) > 1000, `mostly rejected: ${JSON.stringify([...statuses])}`);
    const valid = await fetch(`${url}/mcp`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: "after",
        method: "tools/call",
        params: { name: "alpha", arguments: {} },
      }),
    });
    assert.equal(valid.status, 200);
    const reply = await valid.json();
    assert.equal(reply.id, "after");
    assert.ok(reply.result.content, JSON.stringify(reply));
    assert.ok(
      !envoy.logs.some((l) => l.level === "critical"),
      envoy.logs
        .filter((l) => l.level === "critical")
        .map((l) => l.message)
        .join("\n"),
    );
  },
);
