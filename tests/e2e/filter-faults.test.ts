// Backend replies a gateway must survive: SSE with noise before the response, JSON-RPC errors (passed through
// verbatim), 401 challenges, timeouts, a request deadline; and a configuration the filter refuses.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { header, own } from "../helpers/harness.ts";
import { startEmulator } from "../../emulator/index.ts";
import { bootstrapYaml } from "../helpers/bootstrap.ts";
import { startScriptedBackend, type ScriptedOptions } from "../fixtures/backends/scripted-backend.ts";
import { filterWasm, httpServer, json, metric, post, startGateway } from "./filter-harness.ts";

async function gateway(t: TestContext, options: ScriptedOptions, server: Record<string, unknown> = {}, top: Record<string, unknown> = {}) {
  const backend = await own(t, startScriptedBackend(options));
  const gw = await startGateway(t, { pluginConfig: httpServer(server, top), clusters: { backend: backend.port } });
  return { backend, ...gw };
}

const call = (url: string, name: string, id: unknown = 11) =>
  post(url, { jsonrpc: "2.0", id, method: "tools/call", params: { name, arguments: { q: 1 }, _meta: { progressToken: "p1" } } });

test("SSE replies: priming event, comments, notifications, server-to-client requests and other ids are skipped; the matching response wins", async (t) => {
  const { url, backend } = await gateway(t, { sse: true });
  const list = json(await post(url, { jsonrpc: "2.0", id: "L", method: "tools/list" }));
  assert.equal(list.id, "L");
  assert.deepEqual(list.result.tools.map((x: any) => x.name), ["alpha", "beta"]);
  const reply = json(await call(url, "alpha"));
  const echo = JSON.parse(reply.result.content[0].text);
  assert.deepEqual(echo.params, { name: "alpha", arguments: { q: 1 }, _meta: { progressToken: "p1" } }, "params pass through verbatim");
  assert.equal(backend.count("initialize"), 1);
});

test("a backend JSON-RPC error passes through verbatim (code, message, data) with the client's id", async (t) => {
  const { url } = await gateway(t, {});
  const reply = await call(url, "boom", "x-1");
  assert.equal(reply.status, 200);
  assert.equal(reply.body, '{"jsonrpc":"2.0","id":"x-1","error":{"code":-32042,"message":"boom happened","data":{"why":"test"}}}');
});

test("401/403 from the backend keep their HTTP status and WWW-Authenticate", async (t) => {
  for (const status of [401, 403]) {
    const { url } = await gateway(t, { toolStatus: status });
    const reply = await call(url, "alpha");
    assert.equal(reply.status, status);
    assert.equal(header(reply, "www-authenticate"), 'Bearer realm="scripted"');
    assert.match(json(reply).error.message, new RegExp(`returned HTTP ${status}`));
  }
});

test("a backend slower than server.timeout: the call times out with a message saying so", async (t) => {
  const { url } = await gateway(t, { callDelayMs: 2000 }, { timeout: 200 });
  const started = Date.now();
  const reply = json(await call(url, "alpha"));
  assert.match(reply.error.message, /MCP server "fixture" timed out after 200 ms/);
  assert.ok(Date.now() - started < 1500);
});

test("the overall deadline ends a request waiting on a slow handshake, and the waiters it shares", async (t) => {
  const { url, envoy } = await gateway(t, { initDelayMs: 3000 }, { timeout: 10000 }, { deadlineMs: 400 });
  const started = Date.now();
  const replies = await Promise.all([call(url, "alpha", 1), call(url, "alpha", 2)]);
  for (const r of replies) assert.equal(json(r).error.code, -32001, r.body);
  assert.ok(Date.now() - started < 2000, `answered after ${Date.now() - started} ms`);
  assert.equal(await metric(envoy, "mcp-proxy.requests.fixture.tools_call.timeout"), 2);
});

/** Runs `fn` with the emulator's console output captured (it prints plugin logs at error level to stderr). */
async function stderrOf(fn: () => Promise<unknown>): Promise<string> {
  const original = process.stderr.write.bind(process.stderr);
  let text = "";
  process.stderr.write = ((chunk: string | Uint8Array) => { text += String(chunk); return true; }) as typeof process.stderr.write;
  try {
    await fn();
  } finally {
    process.stderr.write = original;
  }
  return text;
}

test("an invalid configuration is refused at proxy_on_configure with one log line naming the field", async () => {
  for (const [config, expected] of [
    [{ server: { name: "a", transport: "ws", mcpServerURL: "/mcp" } }, 'server.transport: must be "http", "sse" or "stdio"'],
    [{ requestHeadersMode: "continue", server: { name: "a", transport: "sse", mcpServerURL: "/sse" } },
      'server.transport: "sse" needs requestHeadersMode "hold" (and allow_on_headers_stop_iteration: true, Envoy >= 1.35): ' +
      'in "continue" mode the request headers go upstream before the body is read, so the POST cannot become the SSE GET'],
    [{ server: { name: "a", transport: "http", mcpServerURL: "/m" }, allowTools: "echo" }, "allowTools: must be an array"],
    ["{not json", "(root): not valid JSON"],
  ] as [unknown, string][]) {
    const yaml = bootstrapYaml({ wasm: filterWasm(), pluginConfig: config, routes: [{ prefix: "/", cluster: "c" }], clusters: { c: 1 },
      allowOnHeadersStopIteration: true });
    let refusal = "";
    const printed = await stderrOf(() => startEmulator({ yaml, logLevel: "error" }).then((envoy) => envoy.close(), (err) => { refusal = String(err); }));
    assert.match(refusal, /on_configure returned false/, "Envoy refuses the plugin");
    const lines = printed.split("\n").filter((l) => l.includes("mcp-proxy: "));
    assert.equal(lines.length, 1, printed);
    assert.ok(lines[0].endsWith(`mcp-proxy: invalid configuration: ${expected}`), lines[0]);
  }
});
