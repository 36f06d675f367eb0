// Entry file: only exports and root-context registration live here (json-as drops every export when a @json class
// sits in the entry file).
export * from "@solo-io/proxy-runtime/assembly/proxy";
import { RootContext, Context, registerRootContext, FilterHeadersStatusValues, stream_context } from "@solo-io/proxy-runtime/assembly";

class McpProxyRoot extends RootContext {
  createContext(context_id: u32): Context {
    return new McpProxyStream(context_id, this);
  }
}

class McpProxyStream extends Context {
  onRequestHeaders(_count: u32, _endOfStream: bool): FilterHeadersStatusValues {
    stream_context.headers.request.add("x-mcp-proxy", "1");
    return FilterHeadersStatusValues.Continue;
  }
}

registerRootContext((context_id: u32): RootContext => new McpProxyRoot(context_id), "mcp-proxy");
