// One wasm filter in one HTTP stream: Envoy's wasm Context. It converts filter statuses as cpp-host does, decides
// which header maps and buffers the filter may touch in each phase, and turns host calls into stream actions.
import type { WasmFilterConfig } from "./config.ts";
import type { HeaderMap } from "./headers.ts";
import { BufferType, MapType, StreamType } from "./wasm/abi.ts";
import type { LocalReply, PluginVm, StreamHost } from "./wasm/vm.ts";

export type HeadersVerdict = "continue" | "stop" | "stopAll";
export type DataVerdict = "continue" | "buffer" | "watermark" | "drop";

/** What a slot needs from its stream. */
export interface SlotStream {
  requestHeaders: HeaderMap;
  responseHeaders?: HeaderMap;
  clearRouteCache(): void;
  continueDecoding(slot: WasmSlot): void;
  continueEncoding(slot: WasmSlot): void;
  reset(reason: string): void;
  requestLocalReply(reply: LocalReply): void;
  property(path: string[]): unknown;
}

export interface DirectionState {
  /** "held": StopIteration on headers; "heldAll": StopAllIteration; "passed": headers went on. */
  headers: "pending" | "held" | "heldAll" | "passed";
  /** Body data this filter holds (StopIterationAndBuffer, or everything while StopAll). */
  held: Buffer | null;
  endStream: boolean;
}

const newDirection = (): DirectionState => ({ headers: "pending", held: null, endStream: false });

export class WasmSlot implements StreamHost {
  readonly decode = newDirection();
  readonly encode = newDirection();
  private contextId?: number;
  private requestHeadersVisible = false;
  private responseHeadersVisible = false;
  private logging = false;
  private current?: { type: BufferType; data: Buffer; blocked: boolean };
  private failedStream = false;
  /** send_local_response during the current callback forces its result to stop (cpp-host). */
  private repliedInCall = false;

  constructor(private readonly vm: PluginVm, readonly config: WasmFilterConfig, private readonly stream: SlotStream) {}

  get bypassed(): boolean {
    return this.vm.failed && this.config.failOpen;
  }

  // ---- callbacks from the stream ----

  onRequestHeaders(endStream: boolean): HeadersVerdict {
    if (this.vm.failed) return this.failStream();
    this.contextId ??= this.vm.createStream(this);
    if (this.contextId === undefined) return this.failStream();
    this.requestHeadersVisible = true;
    this.repliedInCall = false;
    const result = this.vm.call(this.contextId, "proxy_on_request_headers", this.contextId, this.stream.requestHeaders.entries.length, endStream ? 1 : 0);
    return this.headersVerdict(result, "request");
  }

  onResponseHeaders(headers: HeaderMap, endStream: boolean): HeadersVerdict {
    if (this.skipsResponse()) return "continue";
    if (this.vm.failed || this.contextId === undefined) return this.failStream();
    this.responseHeadersVisible = true;
    this.repliedInCall = false;
    const result = this.vm.call(this.contextId, "proxy_on_response_headers", this.contextId, headers.entries.length, endStream ? 1 : 0);
    return this.headersVerdict(result, "response");
  }

  onRequestBody(data: Buffer, endStream: boolean): { verdict: DataVerdict; data: Buffer } {
    return this.runBody(BufferType.HttpRequestBody, "proxy_on_request_body", data, endStream);
  }

  onResponseBody(data: Buffer, endStream: boolean): { verdict: DataVerdict; data: Buffer } {
    return this.runBody(BufferType.HttpResponseBody, "proxy_on_response_body", data, endStream);
  }

  /**
   * Response callbacks this filter does not take part in: a stream it never saw (no context), or the 503 it sent
   * itself because the VM failed (Envoy lets that reply through to the client).
   */
  private skipsResponse(): boolean {
    return (this.contextId === undefined && !this.vm.failed) || this.failedStream;
  }

  /** on_log (headers still readable), on_done, on_delete. */
  end(): Map<string, Buffer> {
    if (this.contextId === undefined) return new Map();
    this.logging = true;
    const state = this.vm.endStream(this.contextId);
    this.contextId = undefined;
    return state;
  }

  private runBody(type: BufferType, callback: string, data: Buffer, endStream: boolean): { verdict: DataVerdict; data: Buffer } {
    if (this.skipsResponse()) return { verdict: "continue", data };
    if (this.vm.failed || this.contextId === undefined) {
      return { verdict: toData(this.failStream()), data };
    }
    this.current = { type, data, blocked: false };
    this.repliedInCall = false;
    const result = this.vm.call(this.contextId, callback, this.contextId, data.length, endStream ? 1 : 0);
    const out = this.current.data;
    this.current = undefined;
    if (result === undefined) return { verdict: toData(this.failStream()), data: out };
    if (this.repliedInCall) return { verdict: "drop", data: out };
    const verdict: DataVerdict = result === 0 ? "continue" : result === 1 ? "buffer" : result === 2 ? "watermark" : "drop";
    if (verdict === "continue") {
      if (type === BufferType.HttpRequestBody) this.requestHeadersVisible = false;
      else this.responseHeadersVisible = false;
    }
    return { verdict, data: out };
  }

  // cpp-host's convertVmCallResultToFilterHeadersStatus.
  private headersVerdict(result: number | undefined, direction: "request" | "response"): HeadersVerdict {
    if (result === undefined) return this.failStream();
    let verdict: HeadersVerdict;
    if (this.repliedInCall || result > 2) verdict = "stopAll";
    else if (result === 1) verdict = this.config.allowOnHeadersStopIteration ? "stop" : "stopAll";
    else verdict = "continue";
    if (verdict === "continue") {
      if (direction === "request") this.requestHeadersVisible = false;
      else this.responseHeadersVisible = false;
    }
    return verdict;
  }

  /** Envoy's CHECK_FAIL_HTTP: a failed VM lets the stream through with fail_open, else answers 503 once. */
  private failStream(): HeadersVerdict {
    if (this.config.failOpen) return "continue";
    if (!this.failedStream) {
      this.failedStream = true;
      this.stream.requestLocalReply({ status: 503, details: "wasm_fail_stream", body: Buffer.alloc(0), headers: [], grpcStatus: -1 });
    }
    return "stopAll";
  }

  // ---- StreamHost: host calls from the filter ----

  headerMap(type: MapType): HeaderMap | undefined {
    if (type === MapType.RequestHeaders && (this.requestHeadersVisible || this.logging)) return this.stream.requestHeaders;
    if (type === MapType.ResponseHeaders && (this.responseHeadersVisible || this.logging)) return this.stream.responseHeaders;
    return undefined;
  }

  headersMutated(type: MapType): void {
    // Envoy clears the route cache on every request header mutation by a wasm filter (ABI <= 0.2.1).
    if (type === MapType.RequestHeaders && !this.logging) this.stream.clearRouteCache();
  }

  body(type: BufferType): Buffer | undefined {
    return this.current?.type === type && !this.current.blocked ? this.current.data : undefined;
  }

  setBody(type: BufferType, data: Buffer): void {
    if (this.current?.type === type) this.current.data = data;
  }

  continueRequested(type: StreamType): void {
    if (type === StreamType.Request) this.requestHeadersVisible = false;
    else this.responseHeadersVisible = false;
    const bodyType = type === StreamType.Request ? BufferType.HttpRequestBody : BufferType.HttpResponseBody;
    if (this.current?.type === bodyType) this.current.blocked = true;
  }

  continueStream(type: StreamType): void {
    if (type === StreamType.Request) this.stream.continueDecoding(this);
    else this.stream.continueEncoding(this);
  }

  closeStream(): void {
    this.stream.reset("wasm_close_stream");
  }

  sendLocalResponse(reply: LocalReply): void {
    this.repliedInCall = true;
    this.stream.requestLocalReply(reply);
  }

  property(path: string[]): unknown {
    return this.stream.property(path);
  }
}

function toData(verdict: HeadersVerdict): DataVerdict {
  return verdict === "continue" ? "continue" : "drop";
}
