// Entry file: the module's exports (exports.ts) and the root context's registration under the root id Envoy's
// configuration names.
export * from "./exports";
import { RootContext, registerRootContext } from "@solo-io/proxy-runtime/assembly";
import { McpRoot } from "./root";

registerRootContext((context_id: u32): RootContext => new McpRoot(context_id), "mcp-proxy");
