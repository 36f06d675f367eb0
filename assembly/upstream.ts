// Dispatched calls to MCP backends (proxy_http_call): issuing them, reading the reply once in the callback, and
// finding the JSON-RPC response to our request in a JSON or SSE body.
import { HeaderMapTypeValues, Headers } from "@solo-io/proxy-runtime/assembly";
import { ByteWriter, bytesEqual, containsAsciiCI } from "./bytes";
import { Kind, Scanner, Span } from "./json";
import { Message, Shape, parseMessage } from "./jsonrpc";
import { SseParser } from "./sse";
import { HeaderSnapshot } from "./headers";
import { callResponseBody, httpCall, incrementMetric, nowMs, pair, recordMetric, serializePairs } from "./host";
import { CallStat } from "./stats";

/** Receives a dispatched call's reply. Subclasses override onReply. */
export class Handler {
  onReply(_call: Call, _reply: BackendReply): void {}
}

/** A call in flight, found again by its token when the reply comes (AssemblyScript has no closures). */
export class Call {
  constructor(
    public handler: Handler,
    public stat: CallStat,
    public startedMs: i64,
    public maxBytes: i32,
  ) {}
}

export class BackendReply {
  /** 0 when the call was reset or never answered. */
  status: i32 = 0;
  /** Set for the legacy SSE GET's answer; a dispatched call's is read from `headers`. */
  contentType: string = "";
  wwwAuthenticate: string = "";
  body: ArrayBuffer = new ArrayBuffer(0);
  tooLarge: bool = false;
  /** The reply's headers (dispatched calls only), for what only some callers read. */
  headers: HeaderSnapshot | null = null;

  header(name: string): string {
    const headers = this.headers;
    return headers === null ? "" : headers.get(name);
  }
}

/** The fixed part of a dispatched POST's headers. */
export class Target {
  private clusterName: ArrayBuffer | null = null;

  constructor(
    public cluster: string,
    public authority: string,
    public path: string,
    public timeoutMs: i32,
  ) {}

  /** The cluster name as the host wants it, encoded once per target. */
  get clusterBytes(): ArrayBuffer {
    let bytes = this.clusterName;
    if (bytes === null) this.clusterName = bytes = String.UTF8.encode(this.cluster);
    return bytes;
  }
}

const ACCEPT = "application/json, text/event-stream";

/** A POST's headers in the ABI's flat form: the target's, then `extra`. */
export function postPairs(target: Target, extra: Headers): ArrayBuffer {
  return targetPairs("POST", target, [pair("content-type", "application/json"), pair("accept", ACCEPT)], extra);
}

export function deletePairs(target: Target, extra: Headers): ArrayBuffer {
  return targetPairs("DELETE", target, [], extra);
}

function targetPairs(method: string, target: Target, own: Headers, extra: Headers): ArrayBuffer {
  const h: Headers = [pair(":method", method), pair(":path", target.path), pair(":authority", target.authority)];
  for (let i = 0; i < own.length; i++) h.push(own[i]);
  for (let i = 0; i < extra.length; i++) h.push(extra[i]);
  return serializePairs(h);
}

/** One configuration's calls in flight, by token: replies come to the root context that made the call. */
export class Calls {
  private inFlight: Map<u32, Call> = new Map();

  /** Issues the call; false when the host refused it synchronously (then no callback will ever come). */
  dispatch(
    target: Target,
    pairs: ArrayBuffer,
    body: ArrayBuffer,
    handler: Handler,
    stat: CallStat,
    timeoutMs: i32,
    maxBytes: i32,
  ): bool {
    incrementMetric(stat.calls);
    const token = httpCall(target.clusterBytes, pairs, body, <u32>max(timeoutMs, 1));
    if (token < 0) return false;
    this.inFlight.set(<u32>token, new Call(handler, stat, nowMs(), maxBytes));
    return true;
  }

  /** The root's proxy_on_http_call_response: hands the reply to the call's handler (false for an unknown token). */
  deliver(token: u32, bodySize: i32): bool {
    if (!this.inFlight.has(token)) return false;
    const call = this.inFlight.get(token);
    this.inFlight.delete(token);
    recordMetric(call.stat.latency, nowMs() - call.startedMs);
    call.handler.onReply(call, readReply(call, bodySize));
    return true;
  }
}

function readReply(call: Call, bodySize: i32): BackendReply {
  const r = new BackendReply();
  const headers = HeaderSnapshot.read(HeaderMapTypeValues.HttpCallResponseHeaders);
  r.headers = headers;
  r.status = <i32>max<i64>(min<i64>(headers.decimal(":status"), 999), 0);
  if (r.status == 401 || r.status == 403) r.wwwAuthenticate = headers.get("www-authenticate");
  if (bodySize > call.maxBytes) r.tooLarge = true;
  else if (bodySize > 0) r.body = callResponseBody(bodySize);
  return r;
}

/** An HTTP status header's value; 0 when it is not a number. */
export function parseStatus(text: string): i32 {
  const n = I32.parseInt(text);
  return isNaN(<f64>n) ? 0 : n;
}

/** The JSON-RPC response whose id is `id`, from a JSON or an SSE reply; null when there is none. */
export function responseFor(reply: BackendReply, id: i64): Message | null {
  if (isEventStream(reply)) return fromSse(reply.body, id);
  const m = parseMessage(Scanner.of(reply.body));
  return m.shape == Shape.Response && m.idIs(id) ? m : null;
}

function isEventStream(reply: BackendReply): bool {
  const headers = reply.headers;
  if (headers !== null) return headers.valueContainsCI("content-type", "text/event-stream");
  return reply.contentType.toLowerCase().includes("text/event-stream");
}

/**
 * responseFor, collecting into `notifications` the data of the notifications an SSE reply carried before the
 * response (progress and log messages of the request): they belong to the client's request too.
 */
export function responseWithNotifications(reply: BackendReply, id: i64, notifications: Uint8Array[]): Message | null {
  if (isEventStream(reply)) return fromSse(reply.body, id, notifications);
  return responseFor(reply, id);
}

/** Skips server-to-client requests, priming events and other ids; the first matching response wins. */
function fromSse(body: ArrayBuffer, id: i64, notifications: Uint8Array[] | null = null): Message | null {
  const parser = new SseParser();
  parser.pushBody(body);
  const events = parser.events;
  for (let i = 0; i < events.length; i++) {
    if (events[i].type != "message") continue;
    const m = parseMessage(new Scanner(events[i].data));
    if (m.shape == Shape.Response && m.idIs(id)) return m;
    if (m.shape == Shape.Notification && notifications !== null) notifications.push(events[i].data);
  }
  return null;
}

const MODERN_ERRORS = ["-32020", "-32021", "-32022"];

/**
 * The JSON-RPC error a backend sent with an HTTP error status (a 2026-07-28 server answers -32021 or -32602 with
 * 400, an unknown method with 404): null when the body carries none.
 */
export function errorResponse(reply: BackendReply): Message | null {
  if (reply.status < 400 || reply.status >= 500 || reply.tooLarge) return null;
  const m = parseMessage(Scanner.of(reply.body));
  return m.error.kind == Kind.Object ? m : null;
}

/**
 * A 2026-07-28 server's refusal of a request it cannot take as sent (HTTP 400 with HeaderMismatch,
 * MissingRequiredClientCapability or UnsupportedProtocolVersion): what tells a modern server from a legacy one.
 */
export function isModernError(reply: BackendReply): bool {
  if (reply.status != 400) return false;
  const s = Scanner.of(reply.body);
  const doc = new Span();
  const error = new Span();
  const code = new Span();
  if (!s.isDocument(doc) || doc.kind != Kind.Object || !s.member(doc, "error", error) || error.kind != Kind.Object)
    return false;
  if (!s.member(error, "code", code) || code.kind != Kind.Number) return false;
  for (let i = 0; i < MODERN_ERRORS.length; i++)
    if (bytesEqual(s.ptr, code.start, code.end, MODERN_ERRORS[i])) return true;
  return false;
}

/** A backend's way of saying our session is gone: 404, or 400 "session not found" (server-everything). */
export function sessionLost(reply: BackendReply): bool {
  if (reply.status == 404) return true;
  return (
    reply.status == 400 && containsAsciiCI(changetype<usize>(reply.body), reply.body.byteLength, "session not found")
  );
}

/** Why a reply is unusable, for the client's error message; "" when the HTTP exchange itself succeeded. */
export function transportProblem(reply: BackendReply, timeoutMs: i32): string {
  if (reply.tooLarge) return "sent a reply larger than maxResponseBodyBytes";
  if (reply.status == 0) return "reset the connection";
  if (reply.status < 300) return "";
  // Only Envoy's own short 503/504 bodies are read: a large reply is never decoded just to be checked.
  const body =
    reply.status == 503 || reply.status == 504
      ? String.UTF8.decodeUnsafe(changetype<usize>(reply.body), <usize>min(reply.body.byteLength, 200))
      : "";
  if (reply.status == 504 && body == "upstream request timeout")
    return "timed out after " + timeoutMs.toString() + " ms";
  if (reply.status == 503 && (body.startsWith("upstream connect error") || body.startsWith("no healthy upstream"))) {
    return "is unreachable (" + body.substring(0, 160) + ")";
  }
  return "returned HTTP " + reply.status.toString();
}

/** `{"jsonrpc":"2.0","id":N,"method":M[,"params":P]}` with params copied verbatim from `src`. */
export function requestBody(id: i64, method: string, src: Uint8Array | null, start: i32, end: i32): ArrayBuffer {
  const w = new ByteWriter(48 + method.length + (end - start));
  w.str('{"jsonrpc":"2.0","id":').int(id).str(',"method":"').str(method).byte(0x22);
  if (src !== null) w.str(',"params":').span(src, start, end);
  return w.byte(0x7d).take();
}

export function notificationBody(method: string): ArrayBuffer {
  return new ByteWriter(40 + method.length).str('{"jsonrpc":"2.0","method":"').str(method).str('"}').take();
}

/** The string member `key` of a result object ("" when absent). */
export function resultString(m: Message, key: string): string {
  const v = new Span();
  return m.s.member(m.result, key, v) ? m.s.decodeSpan(v) : "";
}
