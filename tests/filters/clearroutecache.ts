// Imports proxy_clear_route_cache, which Envoy provides only under ABI 0.1.0: Envoy refuses this module at load.
export * from "@solo-io/proxy-runtime/assembly/proxy";
import { RootContext, Context, registerRootContext, FilterHeadersStatusValues } from "@solo-io/proxy-runtime/assembly";

// @ts-ignore: decorator
@external("env", "proxy_clear_route_cache") declare function proxy_clear_route_cache(): u32;

class Stream extends Context {
  onRequestHeaders(_n: u32, _end: bool): FilterHeadersStatusValues {
    proxy_clear_route_cache();
    return FilterHeadersStatusValues.Continue;
  }
}

class Root extends RootContext {
  createContext(id: u32): Context { return new Stream(id, this); }
}
registerRootContext((id: u32): RootContext => new Root(id), "clearroutecache");
