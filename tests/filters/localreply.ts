// Sends local replies, as told by the request header `x-mode`:
// - "request": from on_request_headers. Envoy defers the reply until the callback returns and sends it through the
//   encoder chain, so this filter's own on_response_headers sees it (and marks it with x-seen-by-filter).
// - "direct": holds the upstream's response headers (StopIteration, needs allow_on_headers_stop_iteration) and
//   replies from on_response_body. Envoy then discards the upstream response, writes the reply straight to the
//   client without running encoder filters (no x-seen-by-filter) and resets the upstream request.
// - "twice": two replies from on_request_headers (403 "first reply", then 500 "second reply").
// - "again": the 403 from on_request_headers, then the 500 from on_response_headers while the 403 passes the filter.
export * from "@solo-io/proxy-runtime/assembly/proxy";
import {
  RootContext, Context, registerRootContext, log, LogLevelValues, FilterHeadersStatusValues, FilterDataStatusValues,
  stream_context, send_local_response, HeaderPair, GrpcStatusValues,
} from "@solo-io/proxy-runtime/assembly";

function say(message: string): void { log(LogLevelValues.info, message); }

function reply(status: u32, body: string, headerName: string, headerValue: string): void {
  const headers = [new HeaderPair(String.UTF8.encode(headerName), String.UTF8.encode(headerValue))];
  const result = send_local_response(status, "test_reply", String.UTF8.encode(body), headers, GrpcStatusValues.InvalidCode);
  say("send_local_response result=" + result.toString());
}

function secondReply(): void { reply(500, "second reply", "x-reply", "second"); }

class Stream extends Context {
  mode: string = "";
  onRequestHeaders(_n: u32, _end: bool): FilterHeadersStatusValues {
    this.mode = stream_context.headers.request.get("x-mode");
    if (this.mode == "request") {
      reply(403, "denied by filter", "x-local", "1");
      // Still inside the callback: the request headers are still there, the reply has not been sent.
      say("after send_local_response path=" + stream_context.headers.request.get(":path"));
    } else if (this.mode == "twice" || this.mode == "again") {
      reply(403, "first reply", "x-reply", "first");
      if (this.mode == "twice") secondReply();
    }
    return FilterHeadersStatusValues.Continue;
  }
  onResponseHeaders(_n: u32, _end: bool): FilterHeadersStatusValues {
    say("on_response_headers status=" + stream_context.headers.response.get(":status"));
    stream_context.headers.response.add("x-seen-by-filter", "1");
    if (this.mode == "again") secondReply();
    return this.mode == "direct" ? FilterHeadersStatusValues.StopIteration : FilterHeadersStatusValues.Continue;
  }
  onResponseBody(size: usize, _end: bool): FilterDataStatusValues {
    say("on_response_body size=" + size.toString());
    if (this.mode != "direct") return FilterDataStatusValues.Continue;
    reply(418, "short and stout", "content-type", "application/x-teapot");
    say("after send_local_response");
    return FilterDataStatusValues.StopIterationNoBuffer;
  }
}

class Root extends RootContext {
  createContext(id: u32): Context { return new Stream(id, this); }
}
registerRootContext((id: u32): RootContext => new Root(id), "localreply");
