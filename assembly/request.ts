// Where a client request goes: the server its path (and Higress's match rules) choose, then that server's mode —
// the Higress-compatible mode (higress.ts: the filter is the MCP server clients see) or pass-through
// (passthrough.ts: the backend is, with the policy applied in line). What every request gets whatever the mode is
// in exchange.ts. Paths of no configured server pass through untouched.
import {
  Context,
  FilterDataStatusValues,
  FilterHeadersStatusValues,
  HeaderMapTypeValues,
  RootContext,
} from "@solo-io/proxy-runtime/assembly";
import { Mode } from "./config";
import { Exchange, ROUTE_CLUSTER } from "./exchange";
import { HeaderSnapshot } from "./headers";
import { HigressExchange } from "./higress";
import { hasProperty, propertyString } from "./host";
import { PassthroughExchange } from "./passthrough";
import { Plugin } from "./plugin";
import { Fact, RequestFacts } from "./rules";

export class McpStream extends Context {
  private exchange: Exchange | null = null;

  constructor(
    id: u32,
    root: RootContext,
    public plugin: Plugin,
  ) {
    super(id, root);
  }

  onRequestHeaders(_headers: u32, endOfStream: bool): FilterHeadersStatusValues {
    const headers = HeaderSnapshot.read(HeaderMapTypeValues.RequestHeaders);
    const config = this.plugin.config;
    // Without Higress rules only :path chooses the server; with them, only what the rules ask for is read.
    const facts: HostFacts | null = config.rules.length == 0 ? null : new HostFacts(headers);
    const path = headers.get(":path");
    const server = facts === null ? config.match(path) : config.select(path, facts);
    // Paths of no configured server pass through untouched: the filter can share a listener with other routes. So
    // does a request Envoy has no route for (a Host outside the virtual hosts' domains): Envoy answers it, 404.
    if (server === null || !hasProperty(ROUTE_NAME)) return FilterHeadersStatusValues.Continue;
    const exchange =
      server.mode == Mode.Passthrough
        ? (new PassthroughExchange(this.context_id, this.plugin, server, headers, path, facts) as Exchange)
        : (new HigressExchange(this.context_id, this.plugin, server, headers, path, facts) as Exchange);
    this.exchange = exchange;
    return exchange.headers(endOfStream);
  }

  onRequestBody(size: usize, endOfStream: bool): FilterDataStatusValues {
    const exchange = this.exchange;
    return exchange === null ? FilterDataStatusValues.Continue : exchange.body(<i32>size, endOfStream);
  }

  onResponseHeaders(_headers: u32, endOfStream: bool): FilterHeadersStatusValues {
    const exchange = this.exchange;
    return exchange === null ? FilterHeadersStatusValues.Continue : exchange.responseHeaders(endOfStream);
  }

  onResponseBody(size: usize, endOfStream: bool): FilterDataStatusValues {
    const exchange = this.exchange;
    return exchange === null ? FilterDataStatusValues.Continue : exchange.responseBody(<i32>size, endOfStream);
  }

  onDelete(): void {
    const exchange = this.exchange;
    if (exchange !== null) exchange.abandon();
  }
}

const ROUTE_NAME = "xds\0route_name";

/** Rule facts from the request headers and Envoy's xds properties (absent ones read as ""). */
class HostFacts extends RequestFacts {
  constructor(private headers: HeaderSnapshot) {
    super();
  }

  protected read(fact: Fact): string {
    if (fact == Fact.Authority) return this.headers.get(":authority");
    return propertyString(fact == Fact.RouteName ? ROUTE_NAME : ROUTE_CLUSTER);
  }
}
