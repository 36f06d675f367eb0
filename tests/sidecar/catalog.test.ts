// Catalog validation: defaults, and a bad catalog stopping start-up with the field named.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { CatalogError, GLOBAL_DEFAULTS, loadCatalog, parseCatalog, RESTART_DEFAULTS } from "../../sidecar/catalog.ts";
import { ROOT } from "./helpers.ts";

const TEST = { timeout: 30_000 };

const workDir = mkdtempSync(join(tmpdir(), "sidecar-catalog-"));
after(() => rmSync(workDir, { recursive: true, force: true }));

function problems(document: unknown): string[] {
  try {
    parseCatalog(document);
  } catch (error) {
    assert.ok(error instanceof CatalogError);
    return error.problems;
  }
  assert.fail("the catalog was accepted");
}

test("a Claude Desktop entry gets every documented default", TEST, () => {
  const catalog = parseCatalog({ mcpServers: { gh: { command: "npx", args: ["-y", "server"], env: { A: "b" } } } });
  assert.deepEqual(catalog.global, GLOBAL_DEFAULTS);
  assert.deepEqual(catalog.servers.get("gh"), {
    name: "gh",
    command: "npx",
    args: ["-y", "server"],
    env: { A: "b" },
    cwd: undefined,
    mode: "session",
    maxSessions: GLOBAL_DEFAULTS.maxSessions,
    idleTimeoutMs: GLOBAL_DEFAULTS.idleTimeoutMs,
    envFromHeaders: {},
    restart: RESTART_DEFAULTS,
    rateLimit: GLOBAL_DEFAULTS.rateLimit,
    protocol: "auto",
    inputRequired: "replay",
  });
  assert.deepEqual(GLOBAL_DEFAULTS.rateLimit, { requestsPerSecond: 100, burst: 200 }, "the documented rate limit");
});

test("per-server options override the global ones; header names are matched case-insensitively", TEST, () => {
  const catalog = parseCatalog({
    mcpServers: {
      a: { command: "x", maxSessions: 3, idleTimeoutMs: 1000, envFromHeaders: { TOKEN: "X-Token" } },
      off: { command: "y", enabled: false },
    },
    sidecar: { maxSessions: 10, idleTimeoutMs: 5000 },
  });
  const a = catalog.servers.get("a")!;
  assert.equal(a.maxSessions, 3);
  assert.equal(a.idleTimeoutMs, 1000);
  assert.deepEqual(a.envFromHeaders, { TOKEN: "x-token" });
  assert.equal(catalog.global.maxSessions, 10);
  assert.ok(!catalog.servers.has("off"), "enabled: false leaves a server out");
});

test("rateLimit: global default for every server, per-server override field by field, 0 turns it off", TEST, () => {
  const catalog = parseCatalog({
    mcpServers: {
      a: { command: "x" },
      b: { command: "y", rateLimit: { burst: 3 } },
      c: { command: "z", rateLimit: { requestsPerSecond: 0 } },
    },
    sidecar: { rateLimit: { requestsPerSecond: 0.5, burst: 10 } },
  });
  assert.deepEqual(catalog.servers.get("a")!.rateLimit, { requestsPerSecond: 0.5, burst: 10 });
  assert.deepEqual(catalog.servers.get("b")!.rateLimit, { requestsPerSecond: 0.5, burst: 3 });
  assert.deepEqual(catalog.servers.get("c")!.rateLimit, { requestsPerSecond: 0, burst: 10 });
  assert.deepEqual(
    problems({ mcpServers: { r: { command: "x", rateLimit: { requestsPerSecond: -1, burst: 0.5 } } } }),
    [
      "mcpServers.r.rateLimit.requestsPerSecond: must be a number >= 0",
      "mcpServers.r.rateLimit.burst: must be an integer >= 1",
    ],
  );
});

test("every bad field is named", TEST, () => {
  assert.deepEqual(problems({ mcpServers: { foo: { command: "x", args: ["a", "b", 3] } } }), [
    "mcpServers.foo.args[2]: must be a string",
  ]);
  assert.deepEqual(problems({ mcpServers: { foo: { args: [] } } }), [
    "mcpServers.foo.command: must be a non-empty string",
  ]);
  assert.deepEqual(problems({ mcpServers: { "a/b": { command: "x", mode: "pooled", maxSessions: 0 } } }), [
    'mcpServers.a/b: name must use only letters, digits, ".", "_" and "-"',
    'mcpServers.a/b.mode: must be "session" or "shared"',
    "mcpServers.a/b.maxSessions: must be an integer >= 1",
  ]);
  assert.deepEqual(problems({ mcpServers: { s: { command: "x", mode: "shared", envFromHeaders: { T: "x-t" } } } }), [
    'mcpServers.s.envFromHeaders: cannot be used with mode "shared": its one child serves every client, ' +
      'so it cannot run with any one client\'s headers (use mode "session", or fixed values in "env")',
  ]);
  assert.deepEqual(problems({ mcpServers: { r: { url: "https://remote" } } }), [
    'mcpServers.r: only stdio servers ("command") are supported; this one has a "url"',
  ]);
  assert.deepEqual(problems({ mcpServers: { e: { command: "x", env: { "BAD-NAME": "v", OK: 1 } } } }), [
    "mcpServers.e.env.BAD-NAME: name must be an environment variable name",
    "mcpServers.e.env.OK: must be a string",
  ]);
  assert.deepEqual(
    problems({ mcpServers: { e: { command: "x" } }, sidecar: { apiKeys: ["short"], gracePeriodMs: -1 } }),
    ["sidecar.apiKeys[0]: must be at least 16 characters", "sidecar.gracePeriodMs: must be an integer >= 0"],
  );
  assert.deepEqual(problems({ servers: {} }), ["mcpServers: must be an object"]);
});

test("protocol, inputRequired and requestStateKey take only their documented values", TEST, () => {
  const catalog = parseCatalog({
    mcpServers: {
      m: { command: "x", protocol: "2026-07-28", inputRequired: "refuse" },
      l: { command: "y", protocol: "2025" },
    },
    sidecar: { requestStateKey: "k".repeat(32) },
  });
  assert.equal(catalog.servers.get("m")!.protocol, "2026-07-28");
  assert.equal(catalog.servers.get("m")!.inputRequired, "refuse");
  assert.equal(catalog.servers.get("l")!.protocol, "2025");
  assert.equal(catalog.global.requestStateKey, "k".repeat(32));
  assert.deepEqual(catalog.warnings, []);
  assert.deepEqual(
    problems({
      mcpServers: { p: { command: "x", protocol: "2025-06-18", inputRequired: "park" } },
      sidecar: { requestStateKey: "short" },
    }),
    [
      "sidecar.requestStateKey: must be at least 32 bytes",
      'mcpServers.p.protocol: must be "auto" or "2025" or "2026-07-28"',
      'mcpServers.p.inputRequired: must be "replay" or "refuse"',
    ],
  );
});

test("unknown fields are warnings, not errors (Claude Desktop files carry their own)", TEST, () => {
  const catalog = parseCatalog({ mcpServers: { a: { command: "x", disabledTools: [] } }, sidecar: { colour: "blue" } });
  assert.deepEqual(catalog.warnings, [
    "sidecar.colour: unknown field, ignored",
    "mcpServers.a.disabledTools: unknown field, ignored",
  ]);
});

test("YAML catalogs load too", TEST, () => {
  const file = join(workDir, "catalog.yaml");
  writeFileSync(file, "mcpServers:\n  y:\n    command: node\n    args: [server.js]\n");
  assert.deepEqual(loadCatalog(file).servers.get("y")?.args, ["server.js"]);
});

test("mcp-sidecar with a bad catalog exits 2 and names the field", TEST, () => {
  const file = join(workDir, "bad.json");
  writeFileSync(file, JSON.stringify({ mcpServers: { foo: { command: "x", args: ["a", "b", 3] } } }));
  const run = spawnSync(process.execPath, [join(ROOT, "sidecar", "bin.mjs"), "--config", file, "--port", "0"], {
    encoding: "utf8",
    timeout: 20_000,
  });
  assert.equal(run.status, 2);
  assert.match(run.stderr, /mcpServers\.foo\.args\[2\]: must be a string/);
});
