// One downstream HTTP request through the connection manager: decoder filters in order, the router, encoder
// filters in reverse order, local replies (through the encoder chain, or direct while a filter holds the response
// headers), timeouts and resets — the parts of Envoy's FilterManager and router a filter can observe.
import type http from "node:http";
import { randomUUID } from "node:crypto";
import type { ListenerConfig, WasmFilterConfig } from "./config.ts";
import { HeaderMap, requestHeadersFromNode, responseHeadersFromNode } from "./headers.ts";
import { forwardChunks } from "./chunks.ts";
import { matchRoute, rewritePath, type MatchedRoute } from "./routing.ts";
import { connectFailureBody, type Cluster, type UpstreamFailure } from "./upstream.ts";
import type { Logger } from "./services.ts";
import type { AccessLogEntry } from "./api.ts";
import type { LocalReply, PluginVm } from "./wasm/vm.ts";
import { WasmSlot, type DataVerdict, type DirectionState, type SlotStream } from "./wasm-slot.ts";

export interface StreamEnvironment {
  listener: ListenerConfig;
  clusters: Map<string, Cluster>;
  vms: Map<WasmFilterConfig, PluginVm>;
  logger: Logger;
  /** Called once per finished stream, like an Envoy access log. */
  accessLog: (entry: AccessLogEntry) => void;
  /** Envoy's default per-connection buffer limit (1 MiB): over it, a buffering filter gets 413 / 500. */
  bufferLimit: number;
}

const NO_BODY_STATUSES = new Set([204, 304]);

/** What differs between the request (decoder) and the response (encoder) path; the iteration is shared. */
interface Pipeline {
  direction: "request" | "response";
  /** In the order this direction runs them (encoders run in reverse configuration order). */
  filters: WasmSlot[];
  state(slot: WasmSlot): DirectionState;
  onBody(slot: WasmSlot, data: Buffer, endStream: boolean): { verdict: DataVerdict; data: Buffer };
  /** The stream ended, or a local reply took over. */
  halted(): boolean;
  /** Headers a filter held go on from filter `next`. */
  releaseHeaders(next: number, endStream: boolean): void;
  /** Past the last filter: upstream for requests, downstream for responses. */
  sink(data: Buffer, endStream: boolean): void;
}

export class ActiveStream implements SlotStream {
  requestHeaders: HeaderMap;
  responseHeaders?: HeaderMap;
  localReplyRequested = false;
  /** Local replies asked for by filters and not yet sent (they wait for the VM call to return). */
  private repliesPending = 0;
  private readonly slots: WasmSlot[];
  private readonly encoders: WasmSlot[];
  private readonly decoder: Pipeline;
  private readonly encoder: Pipeline;
  private route?: MatchedRoute;
  private routeCacheValid = true;
  private readonly requestEndsAtHeaders: boolean;
  private downstreamHeadersSent = false;
  private finished = false;
  private upstream?: http.ClientRequest;
  private upstreamResponse?: http.IncomingMessage;
  private upstreamWrites: [Buffer, boolean][] = [];
  private routeTimer?: NodeJS.Timeout;
  private idleTimer?: NodeJS.Timeout;
  private idleTimeoutMs: number;
  private readonly startedAt = Date.now();

  constructor(private readonly env: StreamEnvironment, private readonly req: http.IncomingMessage, private readonly res: http.ServerResponse) {
    this.requestHeaders = requestHeadersFromNode(req.method ?? "GET", req.url ?? "/", req.rawHeaders, randomUUID());
    this.route = this.matchCurrentRoute();
    this.idleTimeoutMs = this.route?.route.idleTimeoutMs ?? env.listener.streamIdleTimeoutMs;
    this.slots = env.listener.httpFilters.flatMap((f) => (f.kind === "wasm" ? [new WasmSlot(env.vms.get(f)!, f, this)] : []));
    this.encoders = [...this.slots].reverse();
    this.decoder = {
      direction: "request", filters: this.slots, state: (slot) => slot.decode,
      onBody: (slot, data, end) => slot.onRequestBody(data, end),
      halted: () => this.stopped,
      releaseHeaders: (next) => this.decodeHeaders(next),
      sink: (data, end) => this.sendUpstream(data, end),
    };
    this.encoder = {
      direction: "response", filters: this.encoders, state: (slot) => slot.encode,
      onBody: (slot, data, end) => slot.onResponseBody(data, end),
      halted: () => this.finished || this.pendingDirectReply(),
      releaseHeaders: (next, end) => this.encodeHeaders(next, this.responseHeaders!, end),
      sink: (data, end) => this.writeDownstreamData(data, end),
    };
    this.requestEndsAtHeaders = !hasRequestBody(req);
  }

  start(): void {
    this.touch();
    this.res.on("close", () => {
      if (!this.res.writableFinished) this.reset("downstream_remote_disconnect");
    });
    this.res.on("finish", () => this.complete());
    if (!this.requestEndsAtHeaders) forwardChunks(this.req, (chunk, end) => this.onDownstreamData(chunk, end));
    this.decodeHeaders(0);
  }

  private get stopped(): boolean {
    return this.finished || this.localReplyRequested;
  }

  // ---- request path ----

  private decodeHeaders(from: number): void {
    for (let i = from; i < this.slots.length; i++) {
      if (this.stopped) return;
      const slot = this.slots[i];
      if (slot.bypassed) continue;
      const verdict = slot.onRequestHeaders(this.requestEndsAtHeaders);
      if (this.stopped) return;
      if (verdict !== "continue") {
        slot.decode.headers = verdict === "stop" ? "held" : "heldAll";
        return;
      }
      slot.decode.headers = "passed";
    }
    if (!this.stopped) this.routeRequest();
  }

  private onDownstreamData(chunk: Buffer, endStream: boolean): void {
    this.touch();
    this.runData(this.decoder, 0, chunk, endStream);
  }

  /**
   * Body data through one direction's filters, as Envoy's FilterManager iterates: a filter that has not passed the
   * headers on holds the data (StopAll), a body callback's Continue releases headers it held, Buffer/Watermark keep
   * the data in the filter, NoBuffer drops it.
   */
  private runData(p: Pipeline, from: number, data: Buffer, endStream: boolean): void {
    for (let i = from; i < p.filters.length; i++) {
      if (p.halted()) return;
      const slot = p.filters[i];
      if (slot.bypassed) continue;
      const state = p.state(slot);
      if (state.headers === "heldAll" || state.headers === "pending") {
        if (this.holdData(state, data, endStream, "watermark")) this.overLimit(p.direction);
        return;
      }
      const { verdict, data: out } = p.onBody(slot, takeHeld(state, data), endStream);
      if (p.halted()) return;
      if (verdict === "continue") {
        if (state.headers === "held") {
          state.headers = "passed";
          p.releaseHeaders(i + 1, false);
          this.runData(p, i + 1, out, endStream);
          return;
        }
        data = out;
        continue;
      }
      if (verdict !== "drop" && this.holdData(state, out, endStream, verdict)) this.overLimit(p.direction);
      if (verdict === "drop") state.endStream = endStream;
      return;
    }
    if (!p.halted()) p.sink(data, endStream);
  }

  /** continue_stream: headers held by this filter go on, then the data it held (to itself first after StopAll). */
  private continueIteration(p: Pipeline, slot: WasmSlot): void {
    const i = p.filters.indexOf(slot);
    const state = p.state(slot);
    if (p.halted() || (state.headers === "passed" && state.held === null)) return; // nothing held: Envoy ignores it
    const heldAll = state.headers === "heldAll";
    if (state.headers !== "passed") {
      state.headers = "passed";
      p.releaseHeaders(i + 1, state.endStream && state.held === null);
    }
    if (state.held === null) return;
    const data = state.held;
    state.held = null;
    this.runData(p, heldAll ? i : i + 1, data, state.endStream);
  }

  /** Keeps data in a filter; true when a buffering filter went over the limit. */
  private holdData(state: DirectionState, data: Buffer, endStream: boolean, mode: "buffer" | "watermark"): boolean {
    state.held = state.held ? Buffer.concat([state.held, data]) : data;
    state.endStream = endStream;
    return mode === "buffer" && state.held.length > this.env.bufferLimit;
  }

  private overLimit(direction: "request" | "response"): void {
    if (direction === "request") this.sendLocalReply(localReply(413, "Payload Too Large", "request_payload_too_large"));
    else this.sendLocalReply(localReply(500, "Internal Server Error", "response_payload_too_large"));
  }

  continueDecoding(slot: WasmSlot): void {
    this.continueIteration(this.decoder, slot);
  }

  clearRouteCache(): void {
    this.routeCacheValid = false;
  }

  private matchCurrentRoute(): MatchedRoute | undefined {
    return matchRoute(this.env.listener.virtualHosts, this.requestHeaders.get(":authority") ?? "", this.requestHeaders.get(":path") ?? "/");
  }

  // ---- router ----

  private routeRequest(): void {
    if (!this.routeCacheValid) {
      this.route = this.matchCurrentRoute();
      this.routeCacheValid = true;
    }
    const matched = this.route;
    if (!matched) {
      this.sendLocalReply(localReply(404, "", "route_not_found"));
      return;
    }
    const cluster = this.env.clusters.get(matched.route.cluster)!;
    if (!cluster.hasEndpoints) {
      this.sendLocalReply(localReply(503, "no healthy upstream", "no_healthy_upstream"));
      return;
    }
    const headers = this.upstreamHeaders(matched);
    cluster.request({
      method: this.requestHeaders.get(":method") ?? "GET",
      path: rewritePath(matched.route, this.requestHeaders.get(":path") ?? "/"),
      headers,
      onResponse: (response) => this.onUpstreamResponse(response),
      onFailure: (reason) => this.onUpstreamFailure(reason),
    }).then((request) => {
      if (this.stopped) {
        request.destroy();
        return;
      }
      this.upstream = request;
      // Envoy's router sends the headers as soon as the connection is up, even while a filter still holds the body.
      request.flushHeaders();
      const writes = this.upstreamWrites;
      this.upstreamWrites = [];
      writes.forEach(([data, end]) => this.writeUpstream(data, end));
    }, (error) => this.onUpstreamFailure(error?.code === "ENOTFOUND" ? "connect_failure" : "reset"));
    if (this.requestEndsAtHeaders) this.sendUpstream(Buffer.alloc(0), true);
  }

  private upstreamHeaders(matched: MatchedRoute): string[] {
    const map = this.requestHeaders.clone();
    map.remove("host");
    const flat = ["host", map.get(":authority") ?? "", ...map.toNodeFlat()];
    if (matched.route.timeoutMs > 0) flat.push("x-envoy-expected-rq-timeout-ms", String(Math.round(matched.route.timeoutMs)));
    // Envoy's HTTP/1 codec frames a body without content-length as chunked; a GET whose body was drained thus
    // still ends with an empty chunk.
    if (!this.requestEndsAtHeaders && map.get("content-length") === undefined) flat.push("transfer-encoding", "chunked");
    return flat;
  }

  private sendUpstream(data: Buffer, endStream: boolean): void {
    if (this.upstream) this.writeUpstream(data, endStream);
    else this.upstreamWrites.push([data, endStream]);
  }

  private writeUpstream(data: Buffer, endStream: boolean): void {
    const request = this.upstream!;
    if (data.length > 0) request.write(data);
    if (!endStream) return;
    request.end();
    // The route timeout starts once the whole request has gone upstream.
    const timeoutMs = this.route?.route.timeoutMs ?? 0;
    if (timeoutMs > 0) this.routeTimer = setTimeout(() => this.onRouteTimeout(), timeoutMs);
  }

  private onRouteTimeout(): void {
    this.env.logger.log("debug", "emulator", `upstream request timeout on ${this.requestHeaders.get(":path")}`);
    this.abortUpstream();
    if (this.downstreamHeadersSent) this.reset("upstream_response_timeout");
    else this.sendLocalReply(localReply(504, "upstream request timeout", "upstream_response_timeout"));
  }

  private onUpstreamFailure(reason: UpstreamFailure): void {
    if (this.stopped) return;
    this.abortUpstream();
    if (this.upstreamResponse || this.downstreamHeadersSent) this.reset("upstream_reset_after_response_started");
    else this.sendLocalReply(localReply(503, connectFailureBody(reason), `upstream_reset_before_response_started{${reason}}`));
  }

  private onUpstreamResponse(response: http.IncomingMessage): void {
    if (this.stopped) {
      response.destroy();
      return;
    }
    this.touch();
    this.upstreamResponse = response;
    const status = response.statusCode ?? 502;
    const headers = responseHeadersFromNode(status, response.rawHeaders, Date.now() - this.startedAt);
    const bodyless = NO_BODY_STATUSES.has(status) || this.requestHeaders.get(":method") === "HEAD" || response.headers["content-length"] === "0";
    response.on("error", () => this.onUpstreamFailure("reset"));
    response.on("end", () => clearTimeout(this.routeTimer));
    if (bodyless) response.resume();
    else forwardChunks(response, (chunk, end) => {
      this.touch();
      this.runData(this.encoder, 0, chunk, end);
    });
    this.encodeHeaders(0, headers, bodyless);
    if (bodyless) clearTimeout(this.routeTimer);
  }

  private abortUpstream(): void {
    clearTimeout(this.routeTimer);
    this.upstream?.destroy();
    this.upstreamResponse?.destroy();
  }

  // ---- response path ----

  private encodeHeaders(from: number, headers: HeaderMap, endStream: boolean): void {
    this.responseHeaders = headers;
    for (let i = from; i < this.encoders.length; i++) {
      if (this.finished) return;
      const slot = this.encoders[i];
      if (slot.bypassed) continue;
      const verdict = slot.onResponseHeaders(headers, endStream);
      if (this.finished || this.pendingDirectReply()) return;
      if (verdict !== "continue") {
        slot.encode.headers = verdict === "stop" ? "held" : "heldAll";
        slot.encode.endStream = endStream;
        return;
      }
      slot.encode.headers = "passed";
    }
    if (!this.finished) this.writeDownstreamHeaders(headers, endStream);
  }

  continueEncoding(slot: WasmSlot): void {
    if (this.responseHeaders) this.continueIteration(this.encoder, slot);
  }

  /** A local reply asked for during a response callback is sent once the VM call returns: stop encoding meanwhile. */
  private pendingDirectReply(): boolean {
    return this.repliesPending > 0;
  }

  // ---- local replies, resets, completion ----

  /** From a filter: Envoy defers it until the VM call returns. */
  requestLocalReply(reply: LocalReply): void {
    if (this.finished) return;
    this.localReplyRequested = true;
    this.repliesPending++;
    process.nextTick(() => {
      this.repliesPending--;
      this.sendLocalReply(reply);
    });
  }

  /**
   * Envoy's FilterManager::sendLocalReply: with no response headers yet the reply goes through the encoder filters;
   * with response headers not yet encoded (a filter holds them, be they the upstream's or an earlier local reply's)
   * it is a direct reply that skips the encoder filters; once headers went downstream the stream is reset.
   */
  private sendLocalReply(reply: LocalReply): void {
    if (this.finished) return;
    this.localReplyRequested = true;
    this.abortUpstream();
    const headers = localReplyHeaders(reply);
    if (this.downstreamHeadersSent) {
      this.reset("local_reply_after_response_started");
    } else if (this.responseHeaders) {
      this.writeDownstreamHeaders(headers, reply.body.length === 0);
      if (reply.body.length > 0) this.writeDownstreamData(reply.body, true);
    } else {
      this.encodeHeaders(0, headers, reply.body.length === 0);
      if (reply.body.length > 0) this.runData(this.encoder, 0, reply.body, true);
    }
  }

  private writeDownstreamHeaders(headers: HeaderMap, endStream: boolean): void {
    if (this.downstreamHeadersSent || this.finished) return;
    this.downstreamHeadersSent = true;
    const status = Number(headers.get(":status") ?? 502);
    const out = headers.clone();
    // Envoy's default server_header_transformation is OVERWRITE.
    out.set("server", "envoy");
    if (endStream && out.get("content-length") === undefined && !NO_BODY_STATUSES.has(status)) out.set("content-length", "0");
    this.res.writeHead(status, out.toNodeFlat());
    if (endStream) this.res.end();
    else this.res.flushHeaders();
  }

  private writeDownstreamData(data: Buffer, endStream: boolean): void {
    if (this.finished) return;
    if (data.length > 0) this.res.write(data);
    if (endStream) this.res.end();
  }

  reset(reason: string): void {
    if (this.finished) return;
    this.env.logger.log("debug", "emulator", `stream reset: ${reason}`);
    this.abortUpstream();
    this.res.destroy();
    this.complete();
  }

  private complete(): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.idleTimer);
    clearTimeout(this.routeTimer);
    if (!this.upstreamResponse?.complete) this.upstream?.destroy();
    const filterState: Record<string, string> = {};
    for (const slot of this.slots) {
      for (const [key, value] of slot.end()) filterState[key.replaceAll("\0", ".")] = value.toString("utf8");
    }
    this.env.accessLog({
      method: this.requestHeaders.get(":method") ?? "",
      path: this.requestHeaders.get(":path") ?? "",
      status: this.downstreamHeadersSent ? this.res.statusCode : 0,
      filterState,
    });
  }

  /** stream_idle_timeout (or the route's idle_timeout): reset by any activity in either direction. */
  private touch(): void {
    if (this.idleTimeoutMs <= 0 || this.finished) return;
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      if (this.downstreamHeadersSent) this.reset("stream_idle_timeout");
      else this.sendLocalReply(localReply(408, "stream timeout", "stream_idle_timeout"));
    }, this.idleTimeoutMs);
  }

  // ---- properties ----

  property(path: string[]): unknown {
    const [group, name, key] = path;
    if (group === "request") return this.requestProperty(name, key);
    if (group === "response") return this.responseProperty(name, key);
    if (group === "xds") {
      if (name === "cluster_name") return this.route?.route.cluster;
      if (name === "route_name") return this.route?.route.name;
      if (name === "virtual_host_name") return this.route?.virtualHost.name;
      return undefined;
    }
    if (group === "source" || group === "destination") return this.addressProperty(group, name);
    return undefined;
  }

  private requestProperty(name: string, key?: string): unknown {
    const headers = this.requestHeaders;
    const path = headers.get(":path") ?? "";
    switch (name) {
      case "path": return path;
      case "url_path": return path.replace(/\?.*$/, "");
      case "host": return headers.get(":authority");
      case "scheme": return headers.get(":scheme");
      case "method": return headers.get(":method");
      case "headers": return key === undefined ? headers.entries : headers.get(key);
      case "id": return headers.get("x-request-id");
      case "protocol": return `HTTP/${this.req.httpVersion}`;
      case "referer": return headers.get("referer");
      case "useragent": return headers.get("user-agent");
      case "time": return BigInt(this.startedAt) * 1_000_000n;
      default: return undefined;
    }
  }

  private responseProperty(name: string, key?: string): unknown {
    const headers = this.responseHeaders;
    if (!headers) return undefined;
    if (name === "code") return Number(headers.get(":status"));
    if (name === "headers") return key === undefined ? headers.entries : headers.get(key);
    return undefined;
  }

  private addressProperty(group: "source" | "destination", name: string): unknown {
    const socket = this.req.socket;
    const address = group === "source" ? socket.remoteAddress : socket.localAddress;
    const port = group === "source" ? socket.remotePort : socket.localPort;
    if (name === "address") return `${address}:${port}`;
    if (name === "port") return port;
    return undefined;
  }
}

function hasRequestBody(req: http.IncomingMessage): boolean {
  const length = req.headers["content-length"];
  if (length !== undefined) return Number(length) > 0;
  return req.headers["transfer-encoding"] !== undefined;
}

function takeHeld(state: DirectionState, data: Buffer): Buffer {
  if (state.held === null) return data;
  const combined = data.length > 0 ? Buffer.concat([state.held, data]) : state.held;
  state.held = null;
  return combined;
}

function localReply(status: number, body: string, details: string): LocalReply {
  return { status, details, body: Buffer.from(body), headers: [], grpcStatus: -1 };
}

/** `:status`, the plugin's headers (lowercased), then content-length/content-type as Envoy's sendLocalReply sets them. */
function localReplyHeaders(reply: LocalReply): HeaderMap {
  const map = new HeaderMap([[":status", String(reply.status)]]);
  for (const [k, v] of reply.headers) map.add(k, v);
  if (reply.body.length > 0) {
    map.set("content-length", String(reply.body.length));
    if (map.get("content-type") === undefined) map.add("content-type", "text/plain");
  } else {
    map.remove("content-length");
    map.remove("content-type");
  }
  return map;
}
