export * from "@solo-io/proxy-runtime/assembly/proxy";
import { RootContext, Context, registerRootContext, FilterHeadersStatusValues } from "@solo-io/proxy-runtime/assembly";

class Root extends RootContext {
  createContext(context_id: u32): Context { return new Context(context_id, this); }
}
registerRootContext((id: u32): RootContext => new Root(id), "passthrough");
