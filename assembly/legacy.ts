// The legacy HTTP+SSE (2024-11-05) request path, in one place. request.ts reads and classifies the client's POST
// and decides it needs the backend (tools/list, tools/call); from there this module:
//  1. rewrites the held request into the backend's SSE GET, in the request body callback, and lets it go upstream.
//     Envoy re-matches the route on the new :path/:authority, so the SSE URL must be routed to the backend's cluster;
//  2. holds the response headers and parses the SSE body incrementally as it streams, dropping every chunk;
//  3. on `endpoint`, POSTs initialize, then notifications/initialized, then the client's request (proxy_http_call to
//     the cluster that serves the GET), and reads each reply off the stream by our id;
//  4. hands the reply (or a Failure) to the Exchange, which answers with a local reply while the response headers
//     are still held: Envoy then replies directly and resets the SSE stream, which ends the backend's session. The
//     same holds when the GET was answered with anything but a stream, Envoy's own 404/503/504 included: the
//     client always gets the JSON-RPC error, never that answer.
// A legacy session lives exactly as long as its GET, so nothing can be reused: every request costs a GET and three
// POSTs (as in Higress). Requests that need no backend (initialize, ping, notifications) never open a stream.
import { FilterDataStatusValues, FilterHeadersStatusValues, Headers } from "@solo-io/proxy-runtime/assembly";
import { ServerConfig } from "./config";
import { UpstreamAuth, withQueryParam } from "./credentials";
import { Scanner } from "./json";
import { Message, Shape, parseMessage } from "./jsonrpc";
import {
  pair,
  propertyString,
  removeRequestHeader,
  replaceRequestBody,
  replaceRequestHeader,
  requestHeaderNames,
  responseBody,
  responseHeader,
} from "./host";
import { Plugin } from "./plugin";
import { Failure, Waiter, describe } from "./backend";
import { isEnvoyRequestHeader } from "./headers";
import { initializeRefusal, initializeRequest, initializedNotification, notificationFailed } from "./handshake";
import { SseEvent, SseParser } from "./sse";
import { BackendReply, Call, Handler, Target, parseStatus, postPairs, transportProblem } from "./upstream";
import { resolveEndpoint } from "./url";

const enum Stage {
  /** The GET went upstream; no response yet. */
  Opened,
  /** Streaming; waiting for the `endpoint` event. */
  Endpoint,
  /** initialize POSTed; waiting for its response on the stream. */
  Initialize,
  /** notifications/initialized POSTed; waiting for the POST's reply. */
  Notify,
  /** The client's request POSTed; waiting for its response on the stream. */
  Request,
  /** The GET got something other than an SSE stream: buffering it to rewrite it into the client's error. */
  Rejected,
  Done,
}

/** What the Exchange hands over: the backend request (with our id) and the identity to send it with. */
export class LegacyRequest {
  constructor(
    public id: i64,
    /** The request to send once the stream's handshake is done; null when only the handshake is wanted (initialize). */
    public body: ArrayBuffer | null,
    public what: string,
    public auth: UpstreamAuth,
    /** Allowlisted client headers: kept on the GET, copied onto the POSTs. */
    public forwarded: Headers,
    /** The authority of the GET and the POSTs (mcpServerURL's, or the client's own). */
    public authority: string,
    /** The cluster the route chose for the client's request; replaced by the one that serves the GET. */
    public cluster: string,
  ) {}
}

/** How much later than deadlineMs the SSE GET times out: over two of the root's ticks, which check deadlines. */
const GET_TIMEOUT_MARGIN_MS: i32 = 1500;

export class LegacySse extends Handler {
  private stage: Stage = Stage.Opened;
  private parser: SseParser = new SseParser();
  private initId: i64 = 0;
  private postPath: string = "";
  /** True while this filter holds the GET's response headers. */
  private holding: bool = false;
  /** The rejected GET's answer, for the error message. */
  private rejected: BackendReply = new BackendReply();
  /** The notifications the backend sent while our request ran (the data of each event). */
  notifications: Uint8Array[] = [];

  constructor(
    public waiter: Waiter,
    public server: ServerConfig,
    public plugin: Plugin,
    public req: LegacyRequest,
  ) {
    super();
  }

  // ---- 1. The client's POST becomes the SSE GET ----

  /** In the request body callback, with the request headers held: the caller then returns Continue. */
  open(bodySize: i32): void {
    const keep = this.plugin.config.forwardHeaders;
    const names = requestHeaderNames();
    // Everything the client sent goes, except the allowlist: cookies, credentials, content headers, MCP headers.
    // Envoy's own headers stay: without x-forwarded-proto its route lookup finds no route at all.
    for (let i = 0; i < names.length; i++) {
      const name = names[i];
      if (!name.startsWith(":") && !keep.includes(name) && !isEnvoyRequestHeader(name)) removeRequestHeader(name);
    }
    const auth = this.req.auth;
    replaceRequestHeader(":method", "GET");
    replaceRequestHeader(
      ":path",
      auth.inQuery ? withQueryParam(this.server.path, auth.name, auth.value) : this.server.path,
    );
    replaceRequestHeader(":authority", this.req.authority);
    replaceRequestHeader("accept", "text/event-stream");
    // The router would cut the stream at the route's timeout (15 s by default) and answer past the filter: the GET
    // gets the filter's own deadline instead, a margin later, so the deadline's JSON-RPC error comes first.
    replaceRequestHeader(
      "x-envoy-upstream-rq-timeout-ms",
      (this.plugin.config.deadlineMs + GET_TIMEOUT_MARGIN_MS).toString(),
    );
    if (!auth.inQuery && auth.name.length > 0) replaceRequestHeader(auth.name, auth.value);
    // Without content-length the drained body goes upstream as an empty end of stream (HTTP/1: chunked, "0\r\n\r\n").
    replaceRequestBody(bodySize, new ArrayBuffer(0));
    this.plugin.stats.count("upstream." + this.server.statName + ".sse_get");
  }

  // ---- 2. The SSE response ----

  responseHeaders(endOfStream: bool): FilterHeadersStatusValues {
    const stop = FilterHeadersStatusValues.StopIteration;
    const routed = propertyString("xds\0cluster_name");
    if (this.server.cluster.length > 0 && routed.length > 0 && routed != this.server.cluster) {
      this.fail(
        new Failure(
          200,
          describe(
            this.server,
            'has its SSE URL routed to cluster "' +
              routed +
              '", not "' +
              this.server.cluster +
              '": route ' +
              this.server.path +
              " to the backend's cluster",
          ),
        ),
      );
      return stop;
    }
    // The POSTs must reach the process that holds the GET's session: the cluster the router chose for it.
    if (routed.length > 0) this.req.cluster = routed;
    const status = parseStatus(responseHeader(":status"));
    const type = responseHeader("content-type");
    this.holding = true;
    if (status == 200 && type.toLowerCase().includes("text/event-stream")) {
      this.stage = Stage.Endpoint;
      if (endOfStream) this.closedEarly();
      return stop;
    }
    const r = this.rejected;
    r.status = status;
    r.contentType = type;
    r.wwwAuthenticate = responseHeader("www-authenticate");
    this.stage = Stage.Rejected;
    if (endOfStream) this.reject();
    return stop;
  }

  responseBody(size: i32, endOfStream: bool): FilterDataStatusValues {
    if (this.stage == Stage.Rejected) return this.bufferRejected(size, endOfStream);
    // Chunks of a local reply that went through the encoder chain (e.g. the deadline passed before any response).
    if (!this.holding) return FilterDataStatusValues.Continue;
    if (this.stage != Stage.Done && size > 0) this.consume(size);
    if (endOfStream && this.stage != Stage.Done) this.closedEarly();
    return FilterDataStatusValues.StopIterationNoBuffer;
  }

  private consume(size: i32): void {
    const chunk = responseBody(size);
    const parser = this.parser;
    parser.push(changetype<usize>(chunk), chunk.byteLength);
    const events = parser.events;
    parser.events = [];
    // The bound holds whether an event arrives in pieces (the parser's pending bytes) or whole in one chunk.
    const max = this.plugin.config.maxResponseBytes;
    for (let i = 0; i < events.length && this.stage != Stage.Done; i++) {
      if (events[i].data.length > max) this.eventTooLarge();
      else this.onEvent(events[i]);
    }
    if (this.stage != Stage.Done && parser.pending > max) this.eventTooLarge();
  }

  private eventTooLarge(): void {
    this.fail(new Failure(200, describe(this.server, "sent an SSE event larger than maxResponseBodyBytes")));
  }

  private onEvent(e: SseEvent): void {
    if (e.type == "endpoint") {
      if (this.stage == Stage.Endpoint) this.onEndpoint(e.text);
      return;
    }
    if (e.type != "message") return;
    const m = parseMessage(new Scanner(e.data));
    // Notifications while our request runs are its progress and log messages: delivered with the reply. Server-to-
    // client requests, priming events and other ids are not ours.
    if (m.shape == Shape.Notification && this.stage == Stage.Request) this.notifications.push(e.data);
    if (m.shape != Shape.Response) return;
    if (this.stage == Stage.Initialize && m.idIs(this.initId)) this.initialized(m);
    else if (this.stage == Stage.Request && m.idIs(this.req.id)) this.answered(m);
  }

  private closedEarly(): void {
    this.fail(new Failure(200, describe(this.server, "closed the SSE stream before answering " + this.req.what)));
  }

  // ---- 3. The POSTs ----

  private onEndpoint(data: string): void {
    const endpoint = resolveEndpoint(data, this.server.urlScheme, this.req.authority, this.server.path);
    if (endpoint.error.length > 0) {
      this.fail(new Failure(200, describe(this.server, endpoint.error)));
      return;
    }
    const auth = this.req.auth;
    this.postPath = auth.inQuery ? withQueryParam(endpoint.path, auth.name, auth.value) : endpoint.path;
    this.initId = this.plugin.nextId();
    this.stage = Stage.Initialize;
    this.post(initializeRequest(this.initId), "initialize");
  }

  private initialized(m: Message): void {
    const refusal = initializeRefusal(this.server, m);
    if (refusal !== null) {
      this.fail(refusal);
      return;
    }
    if (this.req.body === null) {
      this.stage = Stage.Done;
      this.waiter.initialized(m);
      return;
    }
    this.stage = Stage.Notify;
    this.post(initializedNotification(), "initialized");
  }

  private post(body: ArrayBuffer, what: string): void {
    const target = new Target(this.req.cluster, this.req.authority, this.postPath, this.server.timeoutMs);
    const auth = this.req.auth;
    const headers: Headers = [];
    if (!auth.inQuery && auth.name.length > 0) headers.push(pair(auth.name, auth.value));
    for (let i = 0; i < this.req.forwarded.length; i++) headers.push(this.req.forwarded[i]);
    const stat = this.plugin.stats.call(this.server.statName, what);
    if (!this.plugin.post(target, postPairs(target, headers), body, new Post(this, what), stat)) {
      this.fail(new Failure(200, describe(this.server, 'could not be called (cluster "' + target.cluster + '")')));
    }
  }

  /** A POST's own reply: only its status matters (the answer comes on the stream). */
  posted(what: string, reply: BackendReply): void {
    if (this.stage == Stage.Done || !this.waiter.waiting()) return;
    const problem = transportProblem(reply, this.server.timeoutMs);
    if (what == "initialized") {
      if (problem.length > 0) notificationFailed(this.server, problem);
      this.stage = Stage.Request;
      this.post(this.req.body!, this.req.what);
    } else if (problem.length > 0) {
      this.fail(Failure.fromReply(this.server, reply, "rejected the " + what + " POST: " + problem));
    }
  }

  // ---- 4. Handing over ----

  private answered(m: Message): void {
    this.stage = Stage.Done;
    this.waiter.answered(m);
  }

  private fail(f: Failure): void {
    this.stage = Stage.Done;
    this.waiter.onSessionFailed(f);
  }

  private bufferRejected(size: i32, endOfStream: bool): FilterDataStatusValues {
    if (!endOfStream) return FilterDataStatusValues.StopIterationAndBuffer;
    this.rejected.body = responseBody(size);
    this.reject();
    return FilterDataStatusValues.StopIterationNoBuffer;
  }

  /**
   * The GET was answered with something else than an SSE stream (an HTTP error, Envoy's own 404/503/504, a JSON
   * body): the client's JSON-RPC error replaces that answer (a local reply sent while the headers are held).
   */
  private reject(): void {
    const r = this.rejected;
    let problem = transportProblem(r, this.server.timeoutMs);
    if (r.status == 504 && problem.startsWith("timed out"))
      problem = "did not answer the SSE GET within the route timeout";
    if (problem.length == 0)
      problem = 'answered the SSE GET with content-type "' + r.contentType + '", not text/event-stream';
    if (r.status == 404 && propertyString("response\0code_details") == "route_not_found") {
      problem =
        "cannot be reached: Envoy has no route for its SSE URL " +
        this.server.path +
        " (route it to the backend's cluster)";
    }
    this.fail(Failure.fromReply(this.server, r, problem));
  }
}

/** Routes one POST's reply back to its LegacySse (AssemblyScript has no closures). */
class Post extends Handler {
  constructor(
    public owner: LegacySse,
    public what: string,
  ) {
    super();
  }

  onReply(_call: Call, reply: BackendReply): void {
    this.owner.posted(this.what, reply);
  }
}
