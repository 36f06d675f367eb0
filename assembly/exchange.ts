// One client request and its reply, whatever the mode: what every request gets at the gateway's edge (Origin,
// size, the client's credentials captured and stripped), its JSON-RPC message read once, the allow-lists that apply
// to it, its deadline, and the reply with its metrics. higress.ts and passthrough.ts say what each mode does in
// between; request.ts only chooses.
import { FilterDataStatusValues, FilterHeadersStatusValues, Headers } from "@solo-io/proxy-runtime/assembly";
import { Waiter } from "./backend";
import { HeadersMode, ServerConfig } from "./config";
import {
  SecurityScheme,
  UpstreamAuth,
  extractCredential,
  queryParam,
  upstreamAuth,
  withoutQueryParam,
} from "./credentials";
import { HeaderSnapshot } from "./headers";
import {
  localReply,
  localReplyPairs,
  nowMs,
  pair,
  propertyString,
  replaceRequestHeader,
  requestBody,
  serializePairs,
  Property,
} from "./host";
import {
  INVALID_PARAMS,
  INVALID_REQUEST,
  Message,
  NO_MESSAGE,
  PARSE_ERROR,
  REQUEST_TIMEOUT,
  ReplyId,
  Shape,
  errorReply,
  parseMessage,
} from "./jsonrpc";
import { Scanner } from "./json";
import { originAllowed } from "./origin";
import { Plugin } from "./plugin";
import {
  ALLOW_TOOLS_HEADER,
  ListShape,
  NameFilter,
  Policy,
  SUBJECT_NAMES,
  Subject,
  Target,
  effectiveToolFilter,
  listShape,
  subjectOf,
  targetOf,
} from "./policy";
import { Era, HEADER_MISMATCH, eraOf, headerMismatch, headerName, isNamed, missingMeta } from "./era";
import { Fact, RequestFacts } from "./rules";

/** The cluster Envoy's route chose for the request. */
export const ROUTE_CLUSTER = "xds\0cluster_name";
export const JSON_CONTENT_TYPE = pair("content-type", "application/json");
const JSON_ONLY: Headers = [JSON_CONTENT_TYPE];
const JSON_ONLY_PAIRS = serializePairs(JSON_ONLY);
export const NO_HEADERS: Headers = [];
const NO_PAIRS = serializePairs(NO_HEADERS);
// Access-log properties (filter state): which server, method and tool a request was.
const SERVER_NAME_PROPERTY = new Property("mcp_server_name");
const METHOD_PROPERTY = new Property("mcp_method");
const TOOL_PROPERTY = new Property("mcp_tool_name");

/** The method part of request and upstream stat names (indexes STAT_METHODS). */
export const enum StatMethod {
  Initialize,
  Ping,
  ToolsList,
  ToolsCall,
  ResourcesList,
  ResourcesRead,
  ResourceTemplatesList,
  PromptsList,
  PromptsGet,
  Complete,
  Other,
  Invalid,
  Notification,
  Response,
  Http,
  Stream,
  Delete,
}
export const STAT_METHODS = [
  "initialize",
  "ping",
  "tools_list",
  "tools_call",
  "resources_list",
  "resources_read",
  "resources_templates_list",
  "prompts_list",
  "prompts_get",
  "completion_complete",
  "other",
  "invalid",
  "notification",
  "response",
  "http",
  "stream",
  "delete",
];
const NAMED_METHODS = [
  "initialize",
  "ping",
  "tools/list",
  "tools/call",
  "resources/list",
  "resources/read",
  "resources/templates/list",
  "prompts/list",
  "prompts/get",
  "completion/complete",
];

/** The outcome part of request stat names (indexes OUTCOMES). */
export const enum Outcome {
  Ok,
  Rejected,
  Invalid,
  Accepted,
  NotFound,
  Denied,
  BackendError,
  UpstreamFailure,
  Timeout,
  Forbidden,
  Forwarded,
}
const OUTCOMES = [
  "ok",
  "rejected",
  "invalid",
  "accepted",
  "not_found",
  "denied",
  "backend_error",
  "upstream_failure",
  "timeout",
  "forbidden",
  "forwarded",
];

function statMethodOf(method: string): StatMethod {
  const i = NAMED_METHODS.indexOf(method);
  return i >= 0 ? <StatMethod>i : StatMethod.Other;
}

export class Exchange extends Waiter {
  protected done: bool = false;
  // Captured before the headers are stripped (the snapshot `req` keeps the rest readable in every phase, also in
  // "continue" mode where the host's map is gone once onRequestHeaders returns).
  protected cluster: string = "";
  protected allowHeader: string = "";
  protected authorization: string = "";
  /** By security scheme id; allocated only when a credential was found. */
  protected credentials: Map<string, string> | null = null;
  // From the body.
  protected msg: Message = NO_MESSAGE;
  protected id: ReplyId = ReplyId.none();
  protected method: string = "";
  protected statMethod: StatMethod = StatMethod.Http;
  protected tool: string = "";
  /** What the request names for the policy; null when it must name something and does not. */
  protected target: Target | null = null;
  /** For a list method under a restricted allow-list: what its result is filtered by. */
  protected list: ListShape | null = null;
  protected listFilter: NameFilter = NameFilter.open();
  protected era: Era = Era.Legacy;
  protected deadline: i64 = 0;
  protected bodySize: i32 = 0;
  /** A body callback came: in "hold" mode none ever comes when Envoy lacks allow_on_headers_stop_iteration. */
  private bodySeen: bool = false;

  /** `facts` are the rules' reads (null without rules): the route's cluster is not read from the host twice. */
  constructor(
    public contextId: u32,
    public plugin: Plugin,
    public server: ServerConfig,
    protected req: HeaderSnapshot,
    protected path: string,
    private facts: RequestFacts | null,
  ) {
    super();
  }

  waiting(): bool {
    return !this.done;
  }

  abandon(): void {
    this.done = true;
    this.plugin.active.delete(this);
  }

  // ---- Request headers ----

  /** Checks every request gets whatever the mode, then the mode's own. */
  headers(endOfStream: bool): FilterHeadersStatusValues {
    SERVER_NAME_PROPERTY.setBytes(this.server.nameBytes);
    const stop = FilterHeadersStatusValues.StopIteration;
    if (
      this.req.has("origin") &&
      !originAllowed(this.plugin.config.allowedOrigins, this.req.get("origin"), this.req.get(":authority"))
    ) {
      const origin = this.req.get("origin");
      this.finish(
        403,
        errorReply(this.id, -32000, "Forbidden: Origin " + origin + " is not allowed (allowedOrigins)"),
        Outcome.Forbidden,
      );
      return stop;
    }
    if (this.req.decimal("content-length") > <i64>this.plugin.config.maxRequestBytes) {
      this.tooLarge();
      return stop;
    }
    this.capture();
    this.era = eraOf(this.req);
    if (this.era == Era.Modern && this.refusedByHeaders()) return stop;
    return this.requestHeaders(endOfStream);
  }

  /**
   * A 2026-07-28 request names its tool, resource or prompt in Mcp-Name: one the allow-lists refuse is answered
   * here, before its body is read and before anything (even in "continue" mode) reaches the backend. The body is
   * checked against the header later, so a header cannot carry a call past the lists.
   */
  private refusedByHeaders(): bool {
    const method = this.req.get("mcp-method");
    const name = headerName(this.req);
    if (!isNamed(method) || name === null) return false;
    const subject = subjectOf(method);
    if (this.policy().filterFor(subject).allows(name)) return false;
    this.statMethod = statMethodOf(method);
    this.finish(
      403,
      errorReply(ReplyId.none(), INVALID_PARAMS, SUBJECT_NAMES[subject] + " not allowed: " + name),
      Outcome.Denied,
    );
    return true;
  }

  /** The mode's handling of the request headers (after the common checks). */
  protected requestHeaders(_endOfStream: bool): FilterHeadersStatusValues {
    return FilterHeadersStatusValues.Continue;
  }

  /** What the request headers return once the request is to be read: held in "hold" mode, else sent on. */
  protected readBody(): FilterHeadersStatusValues {
    // The deadline runs from here: a body that never reaches the filter ends in a clear error, not a hang.
    this.deadline = nowMs() + <i64>this.plugin.config.deadlineMs;
    this.plugin.active.add(this);
    return this.plugin.config.headersMode == HeadersMode.Hold
      ? FilterHeadersStatusValues.StopIteration
      : FilterHeadersStatusValues.Continue;
  }

  protected routeCluster(): string {
    const facts = this.facts;
    return facts !== null ? facts.get(Fact.Cluster) : propertyString(ROUTE_CLUSTER);
  }

  protected tooLarge(): void {
    const limit = this.plugin.config.maxRequestBytes.toString();
    this.finish(
      413,
      errorReply(this.id, INVALID_REQUEST, "Request body larger than " + limit + " bytes"),
      Outcome.Rejected,
    );
  }

  /** Reads and strips what must not reach backends as the client sent it: the allow-list header and credentials. */
  protected capture(): void {
    const req = this.req;
    this.cluster = this.server.cluster.length > 0 ? this.server.cluster : this.routeCluster();
    if (req.has(ALLOW_TOOLS_HEADER)) {
      this.allowHeader = req.get(ALLOW_TOOLS_HEADER);
      req.remove(ALLOW_TOOLS_HEADER);
    }
    this.captureCredentials();
  }

  /** The client's :authority (backends without an authority of their own get it). */
  protected get authority(): string {
    return this.req.get(":authority");
  }

  /** Reads and strips every downstream credential; Authorization goes too unless passthroughAuthHeader. */
  private captureCredentials(): void {
    const req = this.req;
    const schemes = this.server.downstreamSchemes;
    const original = this.path;
    let path = original;
    for (let i = 0; i < schemes.length; i++) {
      const scheme = schemes[i];
      const value = scheme.inQuery ? queryParam(path, scheme.name) : req.get(scheme.name);
      if (value.length == 0) continue;
      let found = this.credentials;
      if (found === null) this.credentials = found = new Map();
      found.set(scheme.id, value);
      if (scheme.inQuery) path = withoutQueryParam(path, scheme.name);
      else req.remove(scheme.name);
    }
    if (path != original) {
      replaceRequestHeader(":path", path);
      this.path = path;
    }
    if (!req.has("authorization")) return;
    this.authorization = req.get("authorization");
    if (!this.server.passthroughAuthHeader) req.remove("authorization");
  }

  /** The upstream identity: the tool's (or server's) upstream scheme fed by a passthrough credential, if any. */
  protected upstream(): UpstreamAuth {
    const server = this.server;
    const down = server.downstreamFor(this.tool);
    const downScheme = server.scheme(down);
    let passthrough = "";
    const found = this.credentials;
    if (downScheme !== null && down.passthrough && found !== null && found.has(down.id)) {
      passthrough = extractCredential(downScheme as SecurityScheme, found.get(down.id));
    }
    const upScheme = server.scheme(server.upstreamFor(this.tool));
    if (upScheme !== null) return upstreamAuth(upScheme as SecurityScheme, passthrough);
    if (downScheme === null && server.passthroughAuthHeader && this.authorization.length > 0) {
      return new UpstreamAuth("authorization", this.authorization);
    }
    return new UpstreamAuth();
  }

  /** The allow-lists for this request (the tools list narrowed by the header an auth filter in front may set). */
  protected policy(): Policy {
    const server = this.server;
    return new Policy(
      effectiveToolFilter(server.allowTools, this.allowHeader),
      server.allowResources,
      server.allowPrompts,
    );
  }

  // ---- Request body ----

  body(size: i32, endOfStream: bool): FilterDataStatusValues {
    const hold = FilterDataStatusValues.StopIterationAndBuffer;
    this.bodySeen = true;
    if (this.done) return hold;
    if (size > this.plugin.config.maxRequestBytes) {
      this.tooLarge();
      return hold;
    }
    if (!endOfStream) return hold;
    this.bodySize = size;
    this.read(requestBody(size));
    return this.afterBody();
  }

  /** What the body callback returns once the message was handled. */
  protected afterBody(): FilterDataStatusValues {
    return FilterDataStatusValues.StopIterationAndBuffer;
  }

  private read(body: ArrayBuffer): void {
    const m = parseMessage(Scanner.of(body));
    this.msg = m;
    this.id = ReplyId.of(m);
    if (m.shape == Shape.Malformed) {
      this.statMethod = StatMethod.Invalid;
      this.finish(400, errorReply(ReplyId.none(), PARSE_ERROR, "Parse error"), Outcome.Invalid);
    } else if (m.shape == Shape.Invalid) {
      this.statMethod = StatMethod.Invalid;
      this.finish(
        400,
        errorReply(this.id, INVALID_REQUEST, "Invalid Request: not a JSON-RPC 2.0 message (batches are not supported)"),
        Outcome.Invalid,
      );
    } else if (m.shape == Shape.Request) {
      this.method = m.methodName();
      METHOD_PROPERTY.set(this.method);
      this.statMethod = statMethodOf(this.method);
      this.target = targetOf(this.method, m);
      if (this.era != Era.Modern || this.modernRequestValid()) this.request();
    } else {
      this.statMethod = m.shape == Shape.Notification ? StatMethod.Notification : StatMethod.Response;
      this.notification();
    }
  }

  /** A 2026-07-28 request carries its `_meta`, and its headers agree with its body (else 400, as the spec says). */
  private modernRequestValid(): bool {
    const missing = missingMeta(this.msg);
    if (missing.length > 0) {
      this.finish(400, errorReply(this.id, INVALID_PARAMS, missing), Outcome.Invalid);
      return false;
    }
    const target = this.target;
    const mismatch = headerMismatch(this.req, this.msg, this.method, target !== null ? target.name : "");
    if (mismatch.length > 0) {
      this.finish(400, errorReply(this.id, HEADER_MISMATCH, mismatch), Outcome.Invalid);
      return false;
    }
    return true;
  }

  /** A JSON-RPC request (`method`, `msg`, `id`, `target` are set; a modern one was checked against its headers). */
  protected request(): void {}

  /** A notification or a response from the client. */
  protected notification(): void {}

  /**
   * The allow-lists, in every mode: what `target` names is refused unless allowed (answered here, and true is
   * returned), and a list method under a restricted list has its result filtered by `list` and `listFilter`.
   */
  protected refusedByPolicy(target: Target | null): bool {
    const policy = this.policy();
    if (target !== null) {
      if (target.subject == Subject.Tool) this.setTool(target.name);
      if (!policy.filterFor(target.subject).allows(target.name)) {
        this.finish(
          200,
          errorReply(this.id, INVALID_PARAMS, SUBJECT_NAMES[target.subject] + " not allowed: " + target.name),
          Outcome.Denied,
        );
        return true;
      }
    }
    const shape = listShape(this.method);
    if (shape !== null && policy.filterFor(shape.subject).restricted) {
      this.list = shape;
      this.listFilter = policy.filterFor(shape.subject);
    }
    return false;
  }

  /** Names the tool of a tools/call for the access log (and for tool-level security). */
  protected setTool(name: string): void {
    this.tool = name;
    TOOL_PROPERTY.set(name);
  }

  // ---- Response (the route's upstream) ----

  responseHeaders(_endOfStream: bool): FilterHeadersStatusValues {
    return FilterHeadersStatusValues.Continue;
  }

  responseBody(_size: i32, _endOfStream: bool): FilterDataStatusValues {
    return FilterDataStatusValues.Continue;
  }

  // ---- Deadline ----

  tick(now: i64): void {
    if (now < this.deadline) return;
    const config = this.plugin.config;
    let message = "Request timed out after " + config.deadlineMs.toString() + " ms (deadlineMs)";
    if (!this.bodySeen && config.headersMode == HeadersMode.Hold) {
      message +=
        ': its body never reached the filter. In requestHeadersMode "hold" Envoy must run the filter with ' +
        'allow_on_headers_stop_iteration: true (Envoy >= 1.35); without it use requestHeadersMode "continue"';
    }
    this.finish(200, errorReply(this.id, REQUEST_TIMEOUT, message), Outcome.Timeout);
  }

  /** No deadline any more (the request went on to the backend through the router, which bounds it). */
  protected released(): void {
    this.plugin.active.delete(this);
  }

  // ---- The reply ----

  /** <prefix>.requests.<server>.<method>.<outcome>. */
  protected countOutcome(outcome: Outcome): void {
    this.plugin.stats.count(
      "requests." + this.server.statName + "." + STAT_METHODS[this.statMethod] + "." + OUTCOMES[outcome],
    );
  }

  /**
   * Answers the client with a local reply. `extra` is the caller's own array (a content-type is added to it when it
   * has none and there is a body); the shared defaults are never mutated.
   */
  finish(status: u32, body: ArrayBuffer, outcome: Outcome, extra: Headers = NO_HEADERS): void {
    if (this.done) return;
    this.done = true;
    this.plugin.active.delete(this);
    this.countOutcome(outcome);
    let headers = extra;
    if (body.byteLength > 0 && !hasContentType(extra)) {
      if (extra.length == 0) headers = JSON_ONLY;
      else extra.push(JSON_CONTENT_TYPE);
    }
    if (headers === JSON_ONLY) localReplyPairs(this.contextId, status, body, JSON_ONLY_PAIRS);
    else if (headers === NO_HEADERS) localReplyPairs(this.contextId, status, body, NO_PAIRS);
    else localReply(this.contextId, status, body, headers);
  }
}

function hasContentType(headers: Headers): bool {
  for (let i = 0; i < headers.length; i++) {
    if (headers[i].key.byteLength == 12 && String.UTF8.decode(headers[i].key) == "content-type") return true;
  }
  return false;
}
