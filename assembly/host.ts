// Thin wrappers over the host calls the filter makes, each written so that it cannot trap (the SDK's own
// helpers throw on some non-Ok results, and a trap kills the VM for every later request).
import * as abi from "@solo-io/proxy-runtime/assembly/imports";
import {
  BufferTypeValues,
  GrpcStatusValues,
  HeaderPair,
  Headers,
  LogLevelValues,
  MetricTypeValues,
  WasmResultValues,
  define_metric,
  get_buffer_bytes,
  get_current_time_nanoseconds,
  set_buffer_bytes,
  get_property_or_null,
  increment_metric,
  log,
  proxy_set_effective_context,
  record_metric,
  stream_context,
} from "@solo-io/proxy-runtime/assembly";

// Per export call (exports.ts brackets each one that runs filter code): the host's clock read once, and the
// context the host treats as effective, so that neither costs a host call more than needed.
/** 0 outside a bracketed call: then nothing is cached. */
let effectiveContext: u32 = 0;
let callNowMs: i64 = -1;

export function beginCall(contextId: u32): void {
  effectiveContext = contextId;
  callNowMs = -1;
}

export function endCall(): void {
  effectiveContext = 0;
  callNowMs = -1;
}

/** Milliseconds of the host's clock; constant within one export call (Envoy's own time is per event-loop pass too). */
export function nowMs(): i64 {
  if (callNowMs >= 0) return callNowMs;
  const now = <i64>(get_current_time_nanoseconds() / 1000000);
  if (effectiveContext != 0) callNowMs = now;
  return now;
}

/** Makes `contextId` effective unless it already is. */
function makeEffective(contextId: u32): void {
  if (contextId == effectiveContext) return;
  proxy_set_effective_context(contextId);
  if (effectiveContext != 0) effectiveContext = contextId;
}

/** Removing a request header is Ok even when absent; only call it while the request headers are held. */
export function removeRequestHeader(name: string): void {
  stream_context.headers.request.remove(name);
}

export function replaceRequestHeader(name: string, value: string): void {
  stream_context.headers.request.replace(name, value);
}

/** Names of every request header (pseudo-headers included, duplicates once per entry). */
export function requestHeaderNames(): string[] {
  const pairs = stream_context.headers.request.get_headers();
  const names: string[] = [];
  for (let i = 0; i < pairs.length; i++) names.push(String.UTF8.decode(pairs[i].key));
  return names;
}

export function responseHeader(name: string): string {
  return stream_context.headers.response.get(name);
}

/** Removing a response header is Ok even when absent; only while the response headers are being processed. */
export function removeResponseHeader(name: string): void {
  stream_context.headers.response.remove(name);
}

/** Replaces the current response body chunk (of `size` bytes) with `data`; the result is ignored (never traps). */
export function setResponseBody(size: i32, data: ArrayBuffer): void {
  set_buffer_bytes(BufferTypeValues.HttpResponseBody, 0, size, data);
}

export function requestBody(size: i32): ArrayBuffer {
  return get_buffer_bytes(BufferTypeValues.HttpRequestBody, 0, size);
}

export function responseBody(size: i32): ArrayBuffer {
  return get_buffer_bytes(BufferTypeValues.HttpResponseBody, 0, size);
}

/** Replaces the current request body chunk (of `size` bytes) with `data`; the result is ignored (never traps). */
export function replaceRequestBody(size: i32, data: ArrayBuffer): void {
  set_buffer_bytes(BufferTypeValues.HttpRequestBody, 0, size, data);
}

export function callResponseBody(size: i32): ArrayBuffer {
  return get_buffer_bytes(BufferTypeValues.HttpCallResponseBody, 0, size);
}

/** Whether a property exists (absent and empty differ here, unlike propertyString). */
export function hasProperty(path: string): bool {
  return get_property_or_null(path) !== null;
}

/** A property's raw bytes; "" when absent. Segments of the path are joined with NUL, as the ABI wants. */
export function propertyString(path: string): string {
  const value = get_property_or_null(path);
  return value === null ? "" : String.UTF8.decode(value);
}

/** A filter-state property (visible to access logs) whose name is encoded once. */
export class Property {
  private name: ArrayBuffer;

  constructor(name: string) {
    this.name = String.UTF8.encode(name);
  }

  set(value: string): void {
    this.setBytes(String.UTF8.encode(value));
  }

  setBytes(value: ArrayBuffer): void {
    abi.proxy_set_property(
      changetype<usize>(this.name),
      this.name.byteLength,
      changetype<usize>(value),
      value.byteLength,
    );
  }
}

export function pair(name: string, value: string): HeaderPair {
  return new HeaderPair(String.UTF8.encode(name), String.UTF8.encode(value));
}

const REPLY_DETAILS = String.UTF8.encode("mcp_proxy");

/** Sends a local reply on stream `contextId` (the effective context may be the root inside a callout). */
export function localReply(contextId: u32, status: u32, body: ArrayBuffer, headers: Headers): void {
  localReplyPairs(contextId, status, body, serializePairs(headers));
}

/** localReply with the headers already in flat form (serializePairs), for header sets used on every reply. */
export function localReplyPairs(contextId: u32, status: u32, body: ArrayBuffer, pairs: ArrayBuffer): void {
  makeEffective(contextId);
  abi.proxy_send_local_response(
    status,
    changetype<usize>(REPLY_DETAILS),
    REPLY_DETAILS.byteLength,
    changetype<usize>(body),
    body.byteLength,
    changetype<usize>(pairs),
    pairs.byteLength,
    GrpcStatusValues.InvalidCode,
  );
}

/** The ABI's flat header map (u32 count, (name, value) lengths, then "name\0value\0" each) in one allocation. */
export function serializePairs(headers: Headers): ArrayBuffer {
  let size = 4 + 8 * headers.length;
  for (let i = 0; i < headers.length; i++) size += headers[i].key.byteLength + headers[i].value.byteLength + 2;
  const flat = new ArrayBuffer(size);
  const base = changetype<usize>(flat);
  store<u32>(base, headers.length);
  writePairs(base + 4, base + 4 + 8 * <usize>headers.length, headers);
  return flat;
}

/** Writes each pair's lengths from `sizes` on and its bytes (NUL-terminated) from `at` on. */
function writePairs(sizes: usize, at: usize, headers: Headers): void {
  for (let i = 0; i < headers.length; i++) {
    const key = headers[i].key,
      value = headers[i].value;
    store<u32>(sizes + 8 * <usize>i, key.byteLength);
    store<u32>(sizes + 4 + 8 * <usize>i, value.byteLength);
    memory.copy(at, changetype<usize>(key), key.byteLength);
    at += <usize>key.byteLength + 1;
    memory.copy(at, changetype<usize>(value), value.byteLength);
    at += <usize>value.byteLength + 1;
  }
}

/** `flat` (a serialized map) with `extra` appended, in one allocation: repeated headers are serialized once. */
export function appendPairs(flat: ArrayBuffer, extra: Headers): ArrayBuffer {
  if (extra.length == 0) return flat;
  const base = changetype<usize>(flat);
  const n = <usize>load<u32>(base);
  const m = <usize>extra.length;
  const oldData = <usize>flat.byteLength - 4 - 8 * n;
  let size = <usize>flat.byteLength + 8 * m;
  for (let i = 0; i < extra.length; i++) size += <usize>(extra[i].key.byteLength + extra[i].value.byteLength + 2);
  const out = new ArrayBuffer(<i32>size);
  const to = changetype<usize>(out);
  store<u32>(to, <u32>(n + m));
  memory.copy(to + 4, base + 4, 8 * n);
  const data = to + 4 + 8 * (n + m);
  memory.copy(data, base + 4 + 8 * n, oldData);
  writePairs(to + 4 + 8 * n, data + oldData, extra);
  return out;
}

export function logInfo(message: string): void {
  log(LogLevelValues.info, "mcp-proxy: " + message);
}

export function logWarn(message: string): void {
  log(LogLevelValues.warn, "mcp-proxy: " + message);
}

export function logError(message: string): void {
  log(LogLevelValues.error, "mcp-proxy: " + message);
}

const NO_TRAILERS = new ArrayBuffer(4); // a flat map of zero pairs
const CALL_TOKEN = memory.data(4);

/**
 * proxy_http_call with headers already in flat form (a session's repeat them on every call); the call's token, or
 * -1 when the host refused it synchronously.
 */
export function httpCall(cluster: ArrayBuffer, pairs: ArrayBuffer, body: ArrayBuffer, timeoutMs: u32): i64 {
  const result = abi.proxy_http_call(
    changetype<usize>(cluster),
    cluster.byteLength,
    changetype<usize>(pairs),
    pairs.byteLength,
    changetype<usize>(body),
    body.byteLength,
    changetype<usize>(NO_TRAILERS),
    NO_TRAILERS.byteLength,
    timeoutMs,
    CALL_TOKEN,
  );
  return result == WasmResultValues.Ok ? <i64>load<u32>(CALL_TOKEN) : -1;
}

const COUNTER = MetricTypeValues.Counter;
export const GAUGE = MetricTypeValues.Gauge;
export const HISTOGRAM = MetricTypeValues.Histogram;
/** The id of a metric the host refused to define: using it does nothing. */
const NO_METRIC: u32 = 0xffffffff;

/** Metrics are defined on first use; ids are cached per name (Envoy's ids are per VM, as this module state is). */
const metricIds = new Map<string, u32>();

export function metricId(name: string, type: MetricTypeValues = COUNTER): u32 {
  if (metricIds.has(name)) return metricIds.get(name);
  const defined = define_metric(type, name);
  const id = defined.result == 0 ? defined.metric_id : NO_METRIC;
  metricIds.set(name, id);
  return id;
}

export function incrementMetric(id: u32): void {
  if (id != NO_METRIC) increment_metric(id, 1);
}

/** Sets a gauge, or records a histogram value. */
export function recordMetric(id: u32, value: i64): void {
  if (id != NO_METRIC) record_metric(id, <u64>max<i64>(value, 0));
}
