// Traps (wasm unreachable) on a request for /trap, and passes everything else through. Envoy fails the whole VM
// on a trap: that request and every later one get 503 unless fail_open is set.
export * from "@solo-io/proxy-runtime/assembly/proxy";
import { RootContext, Context, registerRootContext, log, LogLevelValues, FilterHeadersStatusValues, stream_context } from "@solo-io/proxy-runtime/assembly";

class Stream extends Context {
  onRequestHeaders(_n: u32, _end: bool): FilterHeadersStatusValues {
    const path = stream_context.headers.request.get(":path");
    log(LogLevelValues.info, "request path=" + path);
    if (path == "/trap") unreachable();
    return FilterHeadersStatusValues.Continue;
  }
}

class Root extends RootContext {
  createContext(id: u32): Context { return new Stream(id, this); }
}
registerRootContext((id: u32): RootContext => new Root(id), "trap");
