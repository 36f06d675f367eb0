// Logs every callback the host makes, with its context ids, so tests can check Envoy's start-up order, context
// numbering (root 1, streams 2, 3, ...) and the per-request callback order (on_log before on_done/on_delete).
export * from "@solo-io/proxy-runtime/assembly/proxy";
import {
  RootContext, Context, registerRootContext, log, LogLevelValues,
  FilterHeadersStatusValues, FilterDataStatusValues, FilterTrailersStatusValues,
} from "@solo-io/proxy-runtime/assembly";

function cb(what: string, ctx: u32, extra: string = ""): void {
  log(LogLevelValues.info, "cb " + what + " ctx=" + ctx.toString() + extra);
}

function eos(end: bool): string { return " eos=" + (end ? "1" : "0"); }

class Root extends RootContext {
  onStart(_size: usize): bool { cb("on_vm_start", this.context_id); return true; }
  onConfigure(size: u32): bool { cb("on_configure", this.context_id); return super.onConfigure(size); }
  createContext(id: u32): Context {
    cb("on_context_create", id, " parent=" + this.context_id.toString());
    return new Stream(id, this);
  }
}

class Stream extends Context {
  onRequestHeaders(_n: u32, end: bool): FilterHeadersStatusValues { cb("on_request_headers", this.context_id, eos(end)); return FilterHeadersStatusValues.Continue; }
  onRequestBody(size: usize, end: bool): FilterDataStatusValues { cb("on_request_body", this.context_id, " size=" + size.toString() + eos(end)); return FilterDataStatusValues.Continue; }
  onRequestTrailers(_n: u32): FilterTrailersStatusValues { cb("on_request_trailers", this.context_id); return FilterTrailersStatusValues.Continue; }
  onResponseHeaders(_n: u32, end: bool): FilterHeadersStatusValues { cb("on_response_headers", this.context_id, eos(end)); return FilterHeadersStatusValues.Continue; }
  onResponseBody(size: usize, end: bool): FilterDataStatusValues { cb("on_response_body", this.context_id, " size=" + size.toString() + eos(end)); return FilterDataStatusValues.Continue; }
  onResponseTrailers(_n: u32): FilterTrailersStatusValues { cb("on_response_trailers", this.context_id); return FilterTrailersStatusValues.Continue; }
  onLog(): void { cb("on_log", this.context_id); }
  onDone(): bool { cb("on_done", this.context_id); return true; }
  onDelete(): void { cb("on_delete", this.context_id); }
}

registerRootContext((id: u32): RootContext => {
  cb("on_context_create", id, " parent=0");
  return new Root(id);
}, "lifecycle");
