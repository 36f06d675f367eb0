// The filter's per-request work done the plain-Node way (JSON.parse / JSON.stringify / string scanning): the baseline
// for the time spent inside the wasm. Timed two ways: once per request inside the emulator's process, between its
// requests, as the wasm is (bench/workers/emulator.ts), and in a hot loop here.
import { performance } from "node:perf_hooks";

/** One benchmark request as the Node baseline replays it. */
export interface NodeScenario {
  /** The server's path prefix, and its name in counters and properties. */
  prefix: string;
  server: string;
  /** The client's request body. */
  body: string;
  /** The backend's reply as framed on the wire; absent when the filter answers itself. */
  backend?: string;
  sse?: boolean;
  allow: string[];
}

/** The JSON parsing and serialising alone. */
export function jsonWork(s: NodeScenario): () => unknown {
  const allow = new Set(s.allow);
  return s.backend ? () => proxied(s.body, s.backend!, s.sse ?? false, allow) : () => initialize(s.body);
}

/**
 * The filter's whole per-request work: header checks and stripping, the JSON, properties, counters, and for a
 * proxied request the backend exchange's bookkeeping (session, upstream headers, call tracking, reply headers).
 */
export function fullWork(s: NodeScenario): () => unknown {
  const json = jsonWork(s);
  const headers = clientHeaders(s.prefix, s.body);
  const request = JSON.parse(s.body);
  const method = request.method as string;
  const tool = method === "tools/call" ? String(request.params?.name) : "";
  const replyHeaders = backendReplyHeaders(s);
  return () => {
    const captured = headerWork(headers, s.prefix, s.server);
    if (tool) properties.set("mcp_tool_name", tool);
    const call = s.backend ? dispatchWork(s, method, captured) : undefined;
    const reply = json();
    if (call) replyWork(call, replyHeaders);
    bookkeeping(s.server, method, "ok");
    return reply;
  };
}

/** Mean nanoseconds per call of `fn`, over at least `minMs` after `warmupMs` of warm-up. */
export function timeNs(fn: () => unknown, warmupMs = 100, minMs = 300): number {
  const run = (ms: number) => {
    let n = 0;
    const start = performance.now();
    let now = start;
    while (now - start < ms) {
      for (let i = 0; i < 16; i++) fn();
      n += 16;
      now = performance.now();
    }
    return ((now - start) * 1e6) / n;
  };
  run(warmupMs);
  return run(minMs);
}

/** The data of every `data:` line of every event, events joined by newlines: what an SSE reply parser extracts. */
export function sseData(text: string): string[] {
  const out: string[] = [];
  let lines: string[] = [];
  let pos = 0;
  while (pos <= text.length) {
    let end = text.indexOf("\n", pos);
    if (end < 0) end = text.length;
    const line = text.charCodeAt(end - 1) === 13 ? text.slice(pos, end - 1) : text.slice(pos, end);
    if (line.length === 0) {
      if (lines.length > 0) out.push(lines.join("\n"));
      lines = [];
    } else if (line.startsWith("data:")) {
      lines.push(line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5));
    }
    pos = end + 1;
  }
  if (lines.length > 0) out.push(lines.join("\n"));
  return out;
}

const KNOWN_VERSIONS = new Set(["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"]);
const FORWARDED = ["traceparent", "tracestate", "baggage", "x-request-id"];

/** The request headers as the filter receives them from Envoy for one benchmark request. */
export function clientHeaders(path: string, body: string): [string, string][] {
  return [[":authority", "127.0.0.1:10000"], [":path", path], [":method", "POST"], [":scheme", "http"],
    ["content-type", "application/json"], ["accept", "application/json, text/event-stream"],
    ["content-length", String(Buffer.byteLength(body))], ["mcp-protocol-version", "2025-06-18"],
    ["x-forwarded-proto", "http"], ["x-request-id", "0f8b1a8e-7d52-4a4e-9d57-1c1d2b0c9e11"]];
}

/** Per-request bookkeeping the filter does besides JSON: its access-log properties and request counters. */
const properties = new Map<string, string>();
const counters = new Map<string, number>();

function get(headers: [string, string][], name: string): string {
  return headers.find(([k]) => k === name)?.[1] ?? "";
}

function remove(headers: [string, string][], name: string): void {
  for (let i = headers.length - 1; i >= 0; i--) if (headers[i][0] === name) headers.splice(i, 1);
}

/**
 * What the filter does with the request headers before it reads the body: pick the server by path, check method,
 * protocol version and length, capture authority, the allow-list header, Authorization and the forwarded
 * headers, strip what must not travel on, and set the access-log property.
 */
export function headerWork(original: [string, string][], prefix: string, server: string): [string, string][] {
  const headers = original.slice();
  if (!get(headers, ":path").startsWith(prefix)) throw new Error("no server");
  properties.set("mcp_server_name", server);
  if (get(headers, ":method") !== "POST") throw new Error("not a POST");
  const version = get(headers, "mcp-protocol-version");
  if (version && !KNOWN_VERSIONS.has(version)) throw new Error("bad version");
  if (Number(get(headers, "content-length")) > 1 << 20) throw new Error("too large");
  const captured: [string, string][] = [[":authority", get(headers, ":authority")], ["allow", get(headers, "x-envoy-allow-mcp-tools")],
    ["authorization", get(headers, "authorization")]];
  remove(headers, "x-envoy-allow-mcp-tools");
  remove(headers, "authorization");
  for (const name of FORWARDED) { const value = get(headers, name); if (value) captured.push([name, value]); }
  return captured;
}

/** The outcome counter and method property the filter sets for every request. */
export function bookkeeping(server: string, method: string, outcome: string): void {
  properties.set("mcp_method", method);
  const name = `mcp_proxy.requests.${server}.${method.replace("/", "_")}.${outcome}`;
  counters.set(name, (counters.get(name) ?? 0) + 1);
}

export function initialize(clientBody: string): string {
  const req = JSON.parse(clientBody);
  if (req.jsonrpc !== "2.0" || req.method !== "initialize") throw new Error("bad request");
  const asked = req.params?.protocolVersion;
  const protocolVersion = KNOWN_VERSIONS.has(asked) ? asked : "2025-11-25";
  return JSON.stringify({ jsonrpc: "2.0", id: req.id, result: { protocolVersion, capabilities: { tools: {} }, serverInfo: { name: "bench", version: "0.1.0" } } });
}

/** A proxied request: parse the client's, write the upstream one, parse the backend's reply, answer with the client's id. */
export function proxied(clientBody: string, backendBody: string, sse: boolean, allow: Set<string>): string {
  const req = JSON.parse(clientBody);
  if (req.method === "tools/call" && !allow.has(req.params?.name)) throw new Error("not allowed");
  const upstream = JSON.stringify({ jsonrpc: "2.0", id: 7, method: req.method, params: req.params });
  if (upstream.length === 0) throw new Error("unreachable");
  const reply = JSON.parse(sse ? sseData(backendBody)[0] : backendBody);
  if (req.method === "tools/list") reply.result.tools = reply.result.tools.filter((t: { name: string }) => allow.has(t.name));
  reply.id = req.id;
  return JSON.stringify(reply);
}

/** The backend session the baseline's requests run in (its id comes back on every reply). */
const BACKEND_SESSION_ID = "5b0d9c1e-8f43-4f0e-a6a2-3c1f4e2d9b77";

/** The backend's reply headers as the filter reads them (the bench backend's, as Envoy hands them on). */
function backendReplyHeaders(s: NodeScenario): [string, string][] {
  return [[":status", "200"], ["mcp-session-id", BACKEND_SESSION_ID],
    ["content-type", s.sse ? "text/event-stream" : "application/json"], ["date", new Date(0).toUTCString()],
    ["content-length", String(Buffer.byteLength(s.backend ?? ""))]];
}

interface BackendSession { id: string; version: string; lastUsedMs: number }
interface CallInFlight { session: BackendSession; stat: string; startedMs: number; deadline: number }

const sessions = new Map<string, BackendSession>();
const inFlight = new Map<number, CallInFlight>();
const waiting = new Set<CallInFlight>();
/** Upstream latencies by stat name: the filter hands each to the host's histogram, which buckets it (host work). */
const latencies = new Map<string, { count: number; sumMs: number }>();
let nextToken = 1;

/** A warm session's lookup, the upstream POST's headers, the upstream counter and the call's tracking. */
function dispatchWork(s: NodeScenario, method: string, captured: [string, string][]): number {
  // headerWork's captures: :authority, the allow-list header, Authorization, then the forwarded headers.
  const authority = captured[0][1];
  const key = `${s.server}\n${s.prefix}\n${authority}\n`;
  let session = sessions.get(key);
  if (!session) sessions.set(key, session = { id: BACKEND_SESSION_ID, version: "2025-11-25", lastUsedMs: 0 });
  const now = Date.now();
  const upstream: [string, string][] = [[":method", "POST"], [":path", `${s.prefix}/mcp`], [":authority", authority],
    ["content-type", "application/json"], ["accept", "application/json, text/event-stream"],
    ["mcp-protocol-version", session.version], ["mcp-session-id", session.id], ...captured.slice(3)];
  if (upstream.length === 0) throw new Error("unreachable");
  const stat = `mcp_proxy.upstream.${s.server}.${method.replace("/", "_")}`;
  counters.set(stat, (counters.get(stat) ?? 0) + 1);
  const call = { session, stat, startedMs: now, deadline: now + 120_000 };
  waiting.add(call);
  const token = nextToken++;
  inFlight.set(token, call);
  return token;
}

/** The reply's tracking, its latency and header checks (status, session loss, JSON or SSE). */
function replyWork(token: number, headers: [string, string][]): boolean {
  const call = inFlight.get(token)!;
  inFlight.delete(token);
  const now = Date.now();
  let latency = latencies.get(call.stat);
  if (!latency) latencies.set(call.stat, latency = { count: 0, sumMs: 0 });
  latency.count++;
  latency.sumMs += now - call.startedMs;
  const status = Number(get(headers, ":status"));
  if (status === 404 || status >= 300) throw new Error(`backend status ${status}`);
  const eventStream = get(headers, "content-type").toLowerCase().includes("text/event-stream");
  call.session.lastUsedMs = now;
  waiting.delete(call);
  return eventStream;
}
