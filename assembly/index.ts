// Entry file: only exports and root-context registration live here (json-as drops every export when a @json class
// sits in the entry file).
export * from "./exports";
import { RootContext, registerRootContext } from "@solo-io/proxy-runtime/assembly";
import { McpRoot } from "./root";

registerRootContext((context_id: u32): RootContext => new McpRoot(context_id), "mcp-proxy");
