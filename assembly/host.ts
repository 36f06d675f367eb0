// Thin wrappers over the host calls the filter makes, each written so that it cannot trap (the SDK's own
// helpers throw on some non-Ok results, and a trap kills the VM for every later request).
import * as abi from "@solo-io/proxy-runtime/assembly/imports";
import {
  BufferTypeValues, GrpcStatusValues, HeaderPair, Headers, LogLevelValues, MetricTypeValues, define_metric,
  get_buffer_bytes, get_current_time_nanoseconds, set_buffer_bytes, get_property_or_null, increment_metric, log, proxy_set_effective_context,
  record_metric, stream_context,
} from "@solo-io/proxy-runtime/assembly";

export function nowMs(): i64 {
  return <i64>(get_current_time_nanoseconds() / 1000000);
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

/** Only while the response headers are held (the SDK traps on a non-Ok result). */
export function replaceResponseHeader(name: string, value: string): void {
  stream_context.headers.response.replace(name, value);
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

export function replaceResponseBody(size: i32, data: ArrayBuffer): void {
  set_buffer_bytes(BufferTypeValues.HttpResponseBody, 0, size, data);
}

export function callResponseBody(size: i32): ArrayBuffer {
  return get_buffer_bytes(BufferTypeValues.HttpCallResponseBody, 0, size);
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
    abi.proxy_set_property(changetype<usize>(this.name), this.name.byteLength, changetype<usize>(value), value.byteLength);
  }
}

export function pair(name: string, value: string): HeaderPair {
  return new HeaderPair(String.UTF8.encode(name), String.UTF8.encode(value));
}

const REPLY_DETAILS = String.UTF8.encode("mcp_proxy");

/** Sends a local reply on stream `contextId` (the effective context may be the root inside a callout). */
export function localReply(contextId: u32, status: u32, body: ArrayBuffer, headers: Headers): void {
  proxy_set_effective_context(contextId);
  const pairs = serializePairs(headers);
  abi.proxy_send_local_response(status, changetype<usize>(REPLY_DETAILS), REPLY_DETAILS.byteLength,
    changetype<usize>(body), body.byteLength, changetype<usize>(pairs), pairs.byteLength, GrpcStatusValues.InvalidCode);
}

/** The ABI's flat header map (u32 count, (name, value) lengths, then "name\0value\0" each) in one allocation. */
function serializePairs(headers: Headers): ArrayBuffer {
  let size = 4 + 8 * headers.length;
  for (let i = 0; i < headers.length; i++) size += headers[i].key.byteLength + headers[i].value.byteLength + 2;
  const flat = new ArrayBuffer(size);
  const base = changetype<usize>(flat);
  store<u32>(base, headers.length);
  let at = base + 4 + 8 * <usize>headers.length;
  for (let i = 0; i < headers.length; i++) {
    const key = headers[i].key, value = headers[i].value;
    store<u32>(base + 4 + 8 * <usize>i, key.byteLength);
    store<u32>(base + 8 + 8 * <usize>i, value.byteLength);
    memory.copy(at, changetype<usize>(key), key.byteLength);
    at += <usize>key.byteLength + 1;
    memory.copy(at, changetype<usize>(value), value.byteLength);
    at += <usize>value.byteLength + 1;
  }
  return flat;
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

/** Metrics are defined on first use; ids are cached per name. */
const metricIds = new Map<string, u32>();

function metric(type: MetricTypeValues, name: string): u32 {
  if (metricIds.has(name)) return metricIds.get(name);
  const defined = define_metric(type, name);
  const id = defined.result == 0 ? defined.metric_id : 0xffffffff;
  metricIds.set(name, id);
  return id;
}

export function count(name: string): void {
  const id = metric(MetricTypeValues.Counter, name);
  if (id != 0xffffffff) increment_metric(id, 1);
}

/**
 * Counter ids under a caller's integer key, so a per-request counter whose name is built from a few known parts
 * is joined and hashed only the first time.
 */
const idsByKey = new Map<i64, u32>();

/** Increments the counter cached under `key`; false when there is none yet (then call countAs). */
export function countCached(key: i64): bool {
  if (!idsByKey.has(key)) return false;
  const id = idsByKey.get(key);
  if (id != 0xffffffff) increment_metric(id, 1);
  return true;
}

/** Defines (or finds) the counter `name`, caches it under `key` and increments it. */
export function countAs(key: i64, name: string): void {
  const id = metric(MetricTypeValues.Counter, name);
  idsByKey.set(key, id);
  if (id != 0xffffffff) increment_metric(id, 1);
}

export function recordMs(name: string, value: i64): void {
  const id = metric(MetricTypeValues.Histogram, name);
  if (id != 0xffffffff) record_metric(id, <u64>max<i64>(value, 0));
}
