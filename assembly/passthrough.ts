// The pass-through mode, in one place: the client's requests go through Envoy's router to the backend, which is
// the MCP server clients see (its sessions, its GET stream, its server-to-client requests, its progress streamed as
// it comes), with the filter's policy applied in line:
//  - before anything goes upstream: Origin and size (exchange.ts); the client's credentials captured and stripped
//    and the upstream one applied; only the headers a backend needs; a tools/call, resources/read, prompts/get or
//    completion that the allow-lists refuse is answered here and never reaches the backend;
//  - on the way back: a list result under a restricted allow-list is filtered (a JSON reply whole; an SSE reply by
//    its one matching event, every other event passing as it comes); everything else streams untouched.
// The route must take the client's path to the backend (prefix_rewrite), and the backend's session ids belong to the
// client: keep a session on its replica with Envoy's stateful_session filter (README).
import { FilterDataStatusValues, FilterHeadersStatusValues } from "@solo-io/proxy-runtime/assembly";
import { describe } from "./backend";
import { ByteWriter } from "./bytes";
import { HeadersMode } from "./config";
import { withQueryParam } from "./credentials";
import { Exchange, Outcome, StatMethod } from "./exchange";
import { isEnvoyRequestHeader } from "./headers";
import {
  pair,
  removeRequestHeader,
  removeResponseHeader,
  replaceRequestHeader,
  requestHeaderNames,
  responseBody,
  responseHeader,
  setResponseBody,
} from "./host";
import { Scanner } from "./json";
import { INTERNAL_ERROR, Message, ReplyId, Shape, errorReply, parseMessage, resultReply } from "./jsonrpc";
import { filteredList } from "./policy";
import { SseParser } from "./sse";

/** Client headers a backend gets (besides forwardHeaders, Envoy's own and the upstream credential). */
const KEPT_HEADERS = [
  "accept",
  "content-type",
  "content-length",
  "user-agent",
  "origin",
  "mcp-session-id",
  "mcp-protocol-version",
  "last-event-id",
  "mcp-method",
  "mcp-name",
];

const enum Rewrite {
  None,
  Json,
  Sse,
}

export class PassthroughExchange extends Exchange {
  private rewrite: Rewrite = Rewrite.None;
  private events: SseListEvents | null = null;

  // ---- Request ----

  protected requestHeaders(endOfStream: bool): FilterHeadersStatusValues {
    const post = this.req.valueIs(":method", "POST");
    if (!post && !this.req.valueIs(":method", "GET") && !this.req.valueIs(":method", "DELETE")) {
      this.finish(
        405,
        errorReply(this.id, -32000, "Method not allowed: MCP uses POST, GET and DELETE"),
        Outcome.Rejected,
        [pair("allow", "GET, POST, DELETE")],
      );
      return FilterHeadersStatusValues.StopIteration;
    }
    if (this.server.cluster.length > 0 && this.routeCluster() != this.server.cluster) {
      this.finish(
        200,
        errorReply(
          this.id,
          INTERNAL_ERROR,
          describe(
            this.server,
            'is routed to cluster "' +
              this.routeCluster() +
              '", not "' +
              this.server.cluster +
              '": in mode "passthrough" the route takes requests to the backend',
          ),
        ),
        Outcome.UpstreamFailure,
      );
      return FilterHeadersStatusValues.StopIteration;
    }
    this.keepOnlyBackendHeaders();
    if (!post || endOfStream) {
      // A GET stream or a DELETE (or a POST without a body, which the backend refuses itself): nothing to read.
      this.statMethod = this.req.valueIs(":method", "GET")
        ? StatMethod.Stream
        : this.req.valueIs(":method", "DELETE")
          ? StatMethod.Delete
          : StatMethod.Invalid;
      this.sendOn();
      return FilterHeadersStatusValues.Continue;
    }
    // In "continue" mode the headers go upstream now: the upstream credential must be on them already.
    if (this.plugin.config.headersMode == HeadersMode.Continue) this.applyUpstreamCredential();
    return this.readBody();
  }

  /** Removes every client header a backend has no use for: cookies, credentials, encodings, anything unknown. */
  private keepOnlyBackendHeaders(): void {
    const keep = this.plugin.config.forwardHeaders;
    const names = requestHeaderNames();
    for (let i = 0; i < names.length; i++) {
      const name = names[i];
      if (
        name.startsWith(":") ||
        KEPT_HEADERS.includes(name) ||
        keep.includes(name) ||
        isEnvoyRequestHeader(name) ||
        name.startsWith("mcp-param-") ||
        (name == "authorization" && this.server.passthroughAuthHeader)
      )
        continue;
      removeRequestHeader(name);
    }
  }

  /** The upstream scheme's credential (the tool's own once the body named the tool, in "hold" mode). */
  private applyUpstreamCredential(): void {
    const auth = this.upstream();
    if (auth.name.length == 0) return;
    if (auth.inQuery) replaceRequestHeader(":path", withQueryParam(this.path, auth.name, auth.value));
    else replaceRequestHeader(auth.name, auth.value);
  }

  protected request(): void {
    if (this.refusedByPolicy(this.target)) return;
    this.sendOn();
  }

  protected notification(): void {
    this.sendOn();
  }

  /** The request goes on to the backend through the router: counted, and no longer bounded by the filter. */
  private sendOn(): void {
    if (this.plugin.config.headersMode == HeadersMode.Hold && this.req.valueIs(":method", "POST"))
      this.applyUpstreamCredential();
    this.countOutcome(Outcome.Forwarded);
    this.released();
  }

  protected afterBody(): FilterDataStatusValues {
    return this.done ? FilterDataStatusValues.StopIterationAndBuffer : FilterDataStatusValues.Continue;
  }

  // ---- Response ----

  responseHeaders(_endOfStream: bool): FilterHeadersStatusValues {
    if (this.list === null || this.done || !responseHeader(":status").startsWith("2"))
      return FilterHeadersStatusValues.Continue;
    const type = responseHeader("content-type").toLowerCase();
    if (type.includes("text/event-stream")) {
      this.rewrite = Rewrite.Sse;
      this.events = new SseListEvents(this, this.plugin.config.maxResponseBytes);
    } else if (type.includes("application/json")) {
      this.rewrite = Rewrite.Json;
    } else {
      return FilterHeadersStatusValues.Continue;
    }
    // The body will change size: let Envoy frame it (chunked, or by stream end).
    removeResponseHeader("content-length");
    return FilterHeadersStatusValues.Continue;
  }

  responseBody(size: i32, endOfStream: bool): FilterDataStatusValues {
    if (this.rewrite == Rewrite.Json) {
      if (!endOfStream) return FilterDataStatusValues.StopIterationAndBuffer;
      setResponseBody(size, this.filteredJson(responseBody(size)));
      return FilterDataStatusValues.Continue;
    }
    const events = this.events;
    if (this.rewrite == Rewrite.Sse && events !== null) {
      setResponseBody(size, events.push(size > 0 ? responseBody(size) : new ArrayBuffer(0), endOfStream));
    }
    return FilterDataStatusValues.Continue;
  }

  /** A JSON reply to the list request, filtered; any other body passes as it is. */
  private filteredJson(body: ArrayBuffer): ArrayBuffer {
    const filtered = this.filtered(parseMessage(Scanner.of(body)));
    return filtered !== null ? filtered : body;
  }

  /** The filtered response when `m` is the response to this request with a result; else null. */
  filtered(m: Message): ArrayBuffer | null {
    if (m.shape != Shape.Response || !m.result.present || !sameId(m, this.msg)) return null;
    const result = Uint8Array.wrap(filteredList(m.s, m.result, this.list!, this.listFilter));
    return resultReply(ReplyId.of(m), result, 0, result.length);
  }

  /** For an SSE reply that outgrew the bound before its response came: the client's error instead. */
  tooLargeResponse(): ArrayBuffer {
    return errorReply(
      ReplyId.of(this.msg),
      INTERNAL_ERROR,
      describe(this.server, "sent an SSE event larger than maxResponseBodyBytes"),
    );
  }
}

/** The response's id is the request's, byte for byte (pass-through: the client's own id). */
function sameId(m: Message, request: Message): bool {
  const a = m.id,
    b = request.id;
  if (a.end - a.start != b.end - b.start) return false;
  for (let i = 0; i < a.end - a.start; i++) if (m.s.at(a.start + i) != request.s.at(b.start + i)) return false;
  return true;
}

/**
 * An SSE reply to a list request, chunk by chunk: bytes up to the last complete event go on at once, except the
 * event carrying the response, whose data is replaced by the filtered result (its other lines kept). After it,
 * everything passes untouched.
 */
class SseListEvents {
  private pending: ByteWriter = new ByteWriter(256);
  private found: bool = false;

  constructor(
    private exchange: PassthroughExchange,
    private maxBytes: i32,
  ) {}

  /** What goes on for this chunk. */
  push(chunk: ArrayBuffer, endOfStream: bool): ArrayBuffer {
    if (this.found) return chunk;
    this.pending.all(chunk);
    const out = new ByteWriter(chunk.byteLength + 64);
    const bytes = changetype<usize>(this.pending.buf);
    const length = this.pending.len;
    let eventStart = 0;
    let lineStart = 0;
    let i = 0;
    while (i < length && !this.found) {
      const c = load<u8>(bytes + <usize>i);
      if (c != 0x0a && c != 0x0d) {
        i++;
        continue;
      }
      const emptyLine = i == lineStart;
      i += c == 0x0d && i + 1 < length && load<u8>(bytes + <usize>i + 1) == 0x0a ? 2 : 1;
      if (emptyLine) {
        this.event(out, bytes + <usize>eventStart, i - eventStart);
        eventStart = i;
      }
      lineStart = i;
    }
    const rest = length - eventStart;
    if (this.found || endOfStream) {
      out.raw(bytes + <usize>eventStart, rest);
      this.pending = new ByteWriter(16);
    } else if (rest > this.maxBytes) {
      this.found = true;
      out.str("event: message\ndata: ").all(this.exchange.tooLargeResponse()).str("\n\n");
    } else {
      this.keep(bytes + <usize>eventStart, rest);
    }
    return out.take();
  }

  /** One complete event (blank line included): the response is written filtered, any other event as it came. */
  private event(out: ByteWriter, ptr: usize, length: i32): void {
    const parser = new SseParser();
    parser.push(ptr, length);
    const filtered =
      parser.events.length == 1 && parser.events[0].type == "message"
        ? this.exchange.filtered(parseMessage(new Scanner(parser.events[0].data)))
        : null;
    if (filtered === null) {
      out.raw(ptr, length);
      return;
    }
    this.found = true;
    copyLinesExceptData(out, ptr, length);
    out.str("data: ").all(filtered).str("\n\n");
  }

  private keep(ptr: usize, length: i32): void {
    const next = new ByteWriter(max(length, 256));
    next.raw(ptr, length);
    this.pending = next;
  }
}

/** The event's lines but its data lines and its final blank line (id, event, retry, comments kept). */
function copyLinesExceptData(out: ByteWriter, ptr: usize, length: i32): void {
  let lineStart = 0;
  for (let i = 0; i < length; i++) {
    const c = load<u8>(ptr + <usize>i);
    if (c != 0x0a && c != 0x0d) continue;
    const lineLength = i - lineStart;
    const isData =
      lineLength >= 4 &&
      load<u32>(ptr + <usize>lineStart) == 0x61746164 &&
      (lineLength == 4 || load<u8>(ptr + <usize>lineStart + 4) == 0x3a); // "data" then ":" or nothing
    if (lineLength > 0 && !isData) out.raw(ptr + <usize>lineStart, lineLength).byte(0x0a);
    if (c == 0x0d && i + 1 < length && load<u8>(ptr + <usize>i + 1) == 0x0a) i++;
    lineStart = i + 1;
  }
}
