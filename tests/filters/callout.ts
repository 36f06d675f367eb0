// Makes one proxy_http_call per request, as told by request headers (x-call-cluster, x-call-path, x-call-timeout,
// x-call-omit: a pseudo-header to leave out, x-call-body), holds the request at its headers (StopIteration) and
// resumes it from the call's callback, or, with `x-reply-in-callback: 1`, answers it there with a local reply. It
// reports the call result, where and how the callback arrived, the response (status, header count, body), every
// request body callback and on_delete, so tests can check Envoy's http-call outcomes, the StopIteration ->
// StopAllIterationAndWatermark conversion, the deferral of continue_stream and callbacks for ended streams.
//
// proxy_http_call is called directly and the root keeps its own token -> stream map, so that the tests see what the
// SDK's RootContext.httpCall hides: the callback's arrival on the root and what set_effective_context answers.
export * from "@solo-io/proxy-runtime/assembly/proxy";
import {
  RootContext, Context, registerRootContext, log, LogLevelValues, FilterHeadersStatusValues, FilterDataStatusValues,
  stream_context, continue_request, add_header_map_value, HeaderMapTypeValues, get_buffer_bytes, BufferTypeValues,
  proxy_set_effective_context, send_local_response, HeaderPair, GrpcStatusValues,
} from "@solo-io/proxy-runtime/assembly";

// @ts-ignore: decorator
@external("env", "proxy_http_call")
declare function proxy_http_call(up: usize, upLen: usize, hdrs: usize, hdrsLen: usize, body: usize, bodyLen: usize,
  trailers: usize, trailersLen: usize, timeoutMs: u32, token: usize): u32;

function say(message: string): void { log(LogLevelValues.info, message); }

// Pairs format: u32 N; N x (u32 keyLen, u32 valueLen); then key bytes, NUL, value bytes, NUL for each pair.
function serializePairs(keys: string[], values: string[]): ArrayBuffer {
  let size = 4;
  for (let i = 0; i < keys.length; i++) size += 10 + String.UTF8.byteLength(keys[i]) + String.UTF8.byteLength(values[i]);
  const out = new ArrayBuffer(size);
  const base = changetype<usize>(out);
  store<u32>(base, keys.length);
  let data = base + 4 + 8 * keys.length;
  for (let i = 0; i < keys.length; i++) {
    const key = String.UTF8.encode(keys[i]);
    const value = String.UTF8.encode(values[i]);
    store<u32>(base + 4 + 8 * i, key.byteLength);
    store<u32>(base + 8 + 8 * i, value.byteLength);
    memory.copy(data, changetype<usize>(key), key.byteLength);
    data += key.byteLength + 1;
    memory.copy(data, changetype<usize>(value), value.byteLength);
    data += value.byteLength + 1;
  }
  return out;
}

function requestHeader(name: string, fallback: string): string {
  const value = stream_context.headers.request.get(name);
  return value == "" ? fallback : value;
}

function addRequestHeader(key: string, value: string): i32 {
  return add_header_map_value(HeaderMapTypeValues.RequestHeaders, String.UTF8.encode(key), String.UTF8.encode(value));
}

class Stream extends Context {
  continued: bool = false;
  replyInCallback: bool = false;

  onRequestHeaders(_n: u32, _end: bool): FilterHeadersStatusValues {
    this.replyInCallback = requestHeader("x-reply-in-callback", "") == "1";
    const omit = requestHeader("x-call-omit", "");
    const keys: string[] = [];
    const values: string[] = [];
    const pseudo = [":method", ":path", ":authority"];
    const defaults = ["GET", requestHeader("x-call-path", "/side"), "side"];
    for (let i = 0; i < pseudo.length; i++) {
      if (pseudo[i] != omit) { keys.push(pseudo[i]); values.push(defaults[i]); }
    }
    const token = (this.root_context as Root).call(requestHeader("x-call-cluster", "side"), serializePairs(keys, values),
      String.UTF8.encode(requestHeader("x-call-body", "")), <u32>parseInt(requestHeader("x-call-timeout", "5000")), this);
    // Returning from here before the callback shows the call is never answered synchronously.
    say("returned from on_request_headers");
    return token ? FilterHeadersStatusValues.StopIteration : FilterHeadersStatusValues.Continue;
  }

  onRequestBody(size: usize, end: bool): FilterDataStatusValues {
    say("body size=" + size.toString() + " eos=" + (end ? "1" : "0") + " continued=" + (this.continued ? "1" : "0"));
    return this.continued ? FilterDataStatusValues.Continue : FilterDataStatusValues.StopIterationAndBuffer;
  }

  onCallout(numHeaders: u32, bodySize: usize): void {
    const pairs = stream_context.headers.http_callback.get_headers();
    const first = pairs.length > 0 ? String.UTF8.decode(pairs[0].key) : "";
    const body = String.UTF8.decode(get_buffer_bytes(BufferTypeValues.HttpCallResponseBody, 0, <u32>bodySize));
    const status = stream_context.headers.http_callback.get(":status");
    say("callout status=" + status + " num_headers=" + numHeaders.toString() + " pairs=" + pairs.length.toString() +
      " first=" + first + " body_size=" + bodySize.toString() + " body=" + body);
    if (this.replyInCallback) this.reply(status);
    else this.resume();
  }

  /** Answers the held request: 502 with the side call's status in a JSON body. */
  reply(sideStatus: string): void {
    const headers = [new HeaderPair(String.UTF8.encode("content-type"), String.UTF8.encode("application/json")),
      new HeaderPair(String.UTF8.encode("x-from-callback"), String.UTF8.encode("1"))];
    const body = String.UTF8.encode("{\"side\":" + sideStatus + "}");
    const result = send_local_response(502, "callout_reply", body, headers, GrpcStatusValues.InvalidCode);
    say("callback send_local_response result=" + result.toString());
  }

  resume(): void {
    // Header mutations while held persist; continue returns Ok at once but takes effect after this callback, and
    // from then on request header calls are BadArgument.
    say("before-continue add=" + addRequestHeader("x-added-while-held", "1").toString());
    this.continued = true;
    say("continue result=" + continue_request().toString());
    say("after-continue add=" + addRequestHeader("x-added-after-continue", "1").toString());
  }

  onDelete(): void {
    say("on_delete ctx=" + this.context_id.toString());
  }
}

class Root extends RootContext {
  pending: Map<u32, Stream> = new Map();

  createContext(id: u32): Context { return new Stream(id, this); }

  /** Returns whether the call was accepted. */
  call(cluster: string, headers: ArrayBuffer, body: ArrayBuffer, timeoutMs: u32, origin: Stream): bool {
    const name = String.UTF8.encode(cluster);
    const trailers = serializePairs([], []);
    const token = new ArrayBuffer(4);
    const result = proxy_http_call(changetype<usize>(name), name.byteLength, changetype<usize>(headers), headers.byteLength,
      changetype<usize>(body), body.byteLength, changetype<usize>(trailers), trailers.byteLength, timeoutMs, changetype<usize>(token));
    say("http_call result=" + result.toString());
    if (result != 0) return false;
    this.pending.set(load<u32>(changetype<usize>(token)), origin);
    return true;
  }

  onHttpCallResponse(token: u32, headers: u32, bodySize: u32, _trailers: u32): void {
    say("on_http_call_response ctx=" + this.context_id.toString() + " known=" + (this.pending.has(token) ? "1" : "0"));
    if (!this.pending.has(token)) return;
    const stream = this.pending.get(token);
    this.pending.delete(token);
    const effective = proxy_set_effective_context(stream.context_id);
    say("set_effective_context result=" + effective.toString());
    if (effective == 0) stream.onCallout(headers, bodySize);
    else say("callout for an ended stream status=" + stream_context.headers.http_callback.get(":status"));
  }
}
registerRootContext((id: u32): RootContext => new Root(id), "callout");
