// Buffers the whole request body (StopIterationAndBuffer until end of stream), reports what it saw, then applies
// the set_buffer_bytes operation named in the request header `x-op: START,LEN,DATA`, so tests can check Envoy's
// accumulated body size, get_buffer_bytes ranges and the replace / prepend / append / BadArgument semantics. It
// removes content-length before rewriting (Envoy never fixes it), unless the request says `x-keep-length: 1`.
export * from "@solo-io/proxy-runtime/assembly/proxy";
import {
  RootContext, Context, registerRootContext, log, LogLevelValues, FilterHeadersStatusValues, FilterDataStatusValues,
  stream_context, get_buffer_bytes, set_buffer_bytes, BufferTypeValues,
} from "@solo-io/proxy-runtime/assembly";

function say(message: string): void { log(LogLevelValues.info, message); }

function text(buffer: ArrayBuffer): string { return String.UTF8.decode(buffer); }

class Stream extends Context {
  op: string = "";
  onRequestHeaders(_n: u32, _end: bool): FilterHeadersStatusValues {
    this.op = stream_context.headers.request.get("x-op");
    // Envoy never fixes content-length: a filter that changes the body size must drop it.
    const keepLength = stream_context.headers.request.get("x-keep-length") == "1";
    if (this.op != "" && !keepLength) stream_context.headers.request.remove("content-length");
    return FilterHeadersStatusValues.Continue;
  }
  onRequestBody(size: usize, end: bool): FilterDataStatusValues {
    say("body-cb size=" + size.toString() + " eos=" + (end ? "1" : "0"));
    if (!end) return FilterDataStatusValues.StopIterationAndBuffer;
    say("body all=" + text(get_buffer_bytes(BufferTypeValues.HttpRequestBody, 0, <u32>size)));
    say("body from1=" + text(get_buffer_bytes(BufferTypeValues.HttpRequestBody, 1, 1000)));
    say("body past-end=" + text(get_buffer_bytes(BufferTypeValues.HttpRequestBody, <u32>size + 5, 3)));
    if (this.op != "") this.apply(this.op.split(",", 3));
    return FilterDataStatusValues.Continue;
  }
  apply(parts: string[]): void {
    const data = String.UTF8.encode(parts.length > 2 ? parts[2] : "");
    const result = set_buffer_bytes(BufferTypeValues.HttpRequestBody, <u32>parseInt(parts[0]), <u32>parseInt(parts[1]), data);
    say("set result=" + result.toString());
  }
}

class Root extends RootContext {
  createContext(id: u32): Context { return new Stream(id, this); }
}
registerRootContext((id: u32): RootContext => new Root(id), "body");
