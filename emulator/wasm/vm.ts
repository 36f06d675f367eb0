// One proxy-wasm VM for one wasm filter config: loads the module as Envoy does, implements every ABI 0.2.x host
// function with Envoy's results and ownership rules, keeps context ids and the effective context, defers stream
// actions until the VM call that asked for them has returned, and fails the whole VM on a trap.
import { readFileSync } from "node:fs";
import { randomFillSync } from "node:crypto";
import type { WasmFilterConfig } from "../config.ts";
import { HeaderMap, serializePairs, deserializePairs, type HeaderList } from "../headers.ts";
import type { Logger, MetricStore, SharedState } from "../services.ts";
import { BufferType, LOG_LEVELS, MapType, StreamType, WasmResult } from "./abi.ts";
import { GuestMemory } from "./memory.ts";
import { checkModule } from "./module-check.ts";
import { encodeProperty } from "./properties.ts";
import { Stopwatch } from "./stopwatch.ts";

export interface LocalReply { status: number; details: string; body: Buffer; headers: HeaderList; grpcStatus: number }

/** What a stream context needs from the HTTP stream it belongs to. */
export interface StreamHost {
  headerMap(type: MapType): HeaderMap | undefined;
  headersMutated(type: MapType): void;
  body(type: BufferType): Buffer | undefined;
  setBody(type: BufferType, data: Buffer): void;
  /** Runs once the VM call has returned (Envoy defers it). */
  continueStream(type: StreamType): void;
  /** Runs at once: after continue_stream the stream's headers and body are no longer the filter's to touch. */
  continueRequested(type: StreamType): void;
  closeStream(type: StreamType): void;
  sendLocalResponse(reply: LocalReply): void;
  property(path: string[]): unknown;
}

export interface HttpCallResult { headers: HeaderList; body: Buffer; trailers: HeaderList }

export interface HttpCaller {
  /** Undefined: unknown cluster (BadArgument); "no_endpoints": synchronous failure (InternalFailure). */
  start(cluster: string, headers: HeaderList, body: Buffer, timeoutMs: number,
    done: (result: HttpCallResult | "reset") => void): "ok" | "unknown_cluster" | "no_endpoints";
}

export interface VmServices { logger: Logger; metrics: MetricStore; shared: SharedState; http: HttpCaller }

interface ContextRecord {
  id: number;
  rootId: number;
  stream?: StreamHost;
  filterState: Map<string, Buffer>;
  callResponse?: HttpCallResult;
}

type Exports = Record<string, (...args: any[]) => any> & { memory: WebAssembly.Memory };

/** Wall-clock time in nanoseconds, as both proxy_get_current_time_nanoseconds and WASI's clock report it. */
const wallClockNs = () => BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));

const continueAction = (stream: StreamHost, type: StreamType) => stream.continueStream(type);

// proxy-wasm-cpp-host hands out http call tokens in steps of 4.
const HTTP_CALL_TOKEN_STEP = 4;

export class PluginVm {
  failed = false;
  readonly rootId = 1;
  private exports!: Exports;
  private memory!: GuestMemory;
  private readonly contexts = new Map<number, ContextRecord>();
  private nextContextId = 1;
  private effectiveId = 0;
  private depth = 0;
  private deferred: (() => void)[] = [];
  private pluginConfigurationVisible = false;
  private tickTimer?: NodeJS.Timeout;
  private nextHttpToken = 0;
  private readonly pendingCalls = new Set<number>();
  private lastStatus = { code: 0, message: "" };
  private readonly failureListeners: (() => void)[] = [];
  private readonly stopwatch = new Stopwatch();

  constructor(readonly config: WasmFilterConfig, private readonly services: VmServices) {}

  /** Envoy's plugin start: instantiate, on_context_create(root), on_vm_start, on_configure. Throws if Envoy would refuse it. */
  async start(): Promise<void> {
    const bytes = readFileSync(this.config.wasmFile);
    const module = await WebAssembly.compile(bytes);
    checkModule(bytes, module);
    const instance = await WebAssembly.instantiate(module, this.imports());
    this.exports = instance.exports as Exports;
    const malloc = this.exports.malloc ? "malloc" : "proxy_on_memory_allocate";
    // Through invoke so that allocation counts as the guest's own time (it is the module's code), not the host's.
    this.memory = new GuestMemory(this.exports.memory, (size) => this.invoke(malloc, [size]) ?? 0);
    const init = this.exports._initialize ? "_initialize" : this.exports._start ? "_start" : undefined;
    if (init && this.invoke(init, []) === undefined) this.refuse("start");
    const root = this.newContext(undefined);
    if (this.call(root.id, "proxy_on_context_create", root.id, 0) === undefined) this.refuse("create the root context");
    if (this.call(root.id, "proxy_on_vm_start", root.id, Buffer.byteLength(this.config.vmConfiguration)) === 0) this.refuse("start (on_vm_start returned false)");
    this.pluginConfigurationVisible = true;
    const configured = this.call(root.id, "proxy_on_configure", root.id, Buffer.byteLength(this.config.configuration));
    this.pluginConfigurationVisible = false;
    if (!configured) this.refuse("configure (on_configure returned false)");
  }

  private refuse(what: string): never {
    throw new Error(`Wasm plugin "${this.config.name}" (root_id "${this.config.rootId}") failed to ${what}; Envoy refuses the configuration`);
  }

  onFailure(listener: () => void): void {
    this.failureListeners.push(listener);
  }

  // ---- contexts and calls ----

  private newContext(stream: StreamHost | undefined): ContextRecord {
    const record: ContextRecord = { id: this.nextContextId++, rootId: stream ? this.rootId : 0, stream, filterState: new Map() };
    this.contexts.set(record.id, record);
    return record;
  }

  /** Creates a stream context (Envoy does this lazily at the first request headers); undefined if the VM trapped. */
  createStream(stream: StreamHost): number | undefined {
    const record = this.newContext(stream);
    return this.call(record.id, "proxy_on_context_create", record.id, this.rootId) === undefined ? undefined : record.id;
  }

  /**
   * on_log, on_done, on_delete, in Envoy's order (access logs run before filters are destroyed). Returns the
   * values the filter stored with set_property: Envoy keeps them as filter state that access logs can print.
   */
  endStream(id: number): Map<string, Buffer> {
    if (!this.failed) {
      this.call(id, "proxy_on_log", id);
      this.call(id, "proxy_on_done", id);
      this.call(id, "proxy_on_delete", id);
    }
    const state = this.contexts.get(id)?.filterState ?? new Map<string, Buffer>();
    this.contexts.delete(id);
    return state;
  }

  /**
   * Calls an export with `contextId` effective. Returns its result (0 for a missing callback, which Envoy treats as
   * Continue), or undefined if the VM trapped or had already failed.
   */
  call(contextId: number, name: string, ...args: number[]): number | undefined {
    if (this.failed) return undefined;
    const fn = this.exports[name];
    if (!fn) return 0;
    const outermost = this.depth === 0;
    if (outermost) this.effectiveId = contextId;
    const result = this.invoke(name, args);
    if (outermost) this.effectiveId = 0;
    return result;
  }

  private invoke(name: string, args: number[]): number | undefined {
    this.depth++;
    try {
      const value = this.stopwatch.time(name, () => this.exports[name](...args));
      return typeof value === "number" ? value >>> 0 : 0;
    } catch (error) {
      this.fail(name, error);
      return undefined;
    } finally {
      this.depth--;
      if (this.depth === 0 && this.deferred.length > 0) process.nextTick(() => this.runDeferred());
    }
  }

  /** Time spent in each export, net of host functions (whose total is under HOST_FUNCTIONS). */
  get timings() {
    return this.stopwatch.timings;
  }

  private fail(name: string, error: unknown): void {
    if (this.failed) return;
    this.failed = true;
    clearInterval(this.tickTimer);
    this.services.logger.log("critical", this.config.name, `Function: ${name} failed: ${String(error)}`);
    this.services.logger.log("critical", "emulator", `wasm VM of plugin "${this.config.name}" failed: every later stream gets ${this.config.failOpen ? "no filtering (fail_open)" : "503"}`);
    this.failureListeners.forEach((listener) => listener());
  }

  /** Stream actions asked for during a VM call run only once the outermost VM call has returned, as in Envoy. */
  private defer(action: () => void): void {
    this.deferred.push(action);
  }

  private runDeferred(): void {
    const actions = this.deferred;
    this.deferred = [];
    actions.forEach((action) => action());
  }

  private effective(): ContextRecord | undefined {
    return this.contexts.get(this.effectiveId);
  }

  private effectiveRoot(): ContextRecord | undefined {
    const context = this.effective();
    return context ? this.contexts.get(context.rootId || context.id) : undefined;
  }

  // ---- http calls ----

  private httpCall(cluster: string, pairs: HeaderList, body: Buffer, timeoutMs: number, tokenPtr: number): WasmResult {
    const map = new HeaderMap(pairs.map(([k, v]) => [k.toLowerCase(), v]));
    if (!map.get(":path") || !map.get(":method") || !map.get(":authority")) return WasmResult.BadArgument;
    if (body.length > 0) map.set("content-length", String(body.length));
    const token = (this.nextHttpToken += HTTP_CALL_TOKEN_STEP);
    const started = this.services.http.start(cluster, map.entries, body, timeoutMs, (result) => {
      // Callbacks are posted to the dispatcher: never synchronous, never inside another VM call.
      setImmediate(() => this.deliverHttpResponse(token, result));
    });
    if (started === "unknown_cluster") return WasmResult.BadArgument;
    if (started === "no_endpoints") return WasmResult.InternalFailure;
    this.pendingCalls.add(token);
    return this.memory.writeU32(tokenPtr, token) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
  }

  private deliverHttpResponse(token: number, result: HttpCallResult | "reset"): void {
    if (!this.pendingCalls.delete(token) || this.failed) return;
    const root = this.contexts.get(this.rootId);
    if (!root) return;
    if (result === "reset") {
      this.lastStatus = { code: WasmResult.BrokenConnection, message: "reset" };
      this.call(this.rootId, "proxy_on_http_call_response", this.rootId, token, 0, 0, 0);
      return;
    }
    this.lastStatus = { code: WasmResult.Ok, message: "" };
    root.callResponse = result;
    this.call(this.rootId, "proxy_on_http_call_response", this.rootId, token, result.headers.length, result.body.length, result.trailers.length);
    root.callResponse = undefined;
  }

  // ---- header maps and buffers ----

  private headerMap(type: number): HeaderMap | undefined {
    if (type === MapType.HttpCallResponseHeaders || type === MapType.HttpCallResponseTrailers) {
      const response = this.effectiveRoot()?.callResponse;
      if (!response) return undefined;
      return new HeaderMap(type === MapType.HttpCallResponseHeaders ? response.headers : response.trailers);
    }
    if (type > MapType.ResponseTrailers) return undefined;
    return this.effective()?.stream?.headerMap(type);
  }

  private buffer(type: number): Buffer | undefined {
    switch (type) {
      case BufferType.HttpRequestBody:
      case BufferType.HttpResponseBody:
        return this.effective()?.stream?.body(type);
      case BufferType.HttpCallResponseBody:
        return this.effectiveRoot()?.callResponse?.body;
      case BufferType.VmConfiguration:
        return Buffer.from(this.config.vmConfiguration);
      case BufferType.PluginConfiguration:
        return this.pluginConfigurationVisible ? Buffer.from(this.config.configuration) : undefined;
      default:
        return undefined;
    }
  }

  private setBuffer(type: number, start: number, length: number, data: Buffer): WasmResult {
    if (type > BufferType.CallData) return WasmResult.BadArgument;
    const current = this.buffer(type);
    if (!current) return WasmResult.NotFound;
    const stream = this.effective()?.stream;
    if (!stream || (type !== BufferType.HttpRequestBody && type !== BufferType.HttpResponseBody)) return WasmResult.BadArgument;
    // Envoy: start 0 drops the first `length` bytes and prepends; start >= size appends; nothing else.
    if (start === 0) stream.setBody(type, Buffer.concat([data, current.subarray(Math.min(length, current.length))]));
    else if (start >= current.length) stream.setBody(type, Buffer.concat([current, data]));
    else return WasmResult.BadArgument;
    return WasmResult.Ok;
  }

  // ---- imports ----

  private imports(): WebAssembly.Imports {
    const mem = () => this.memory;
    const str = (ptr: number, len: number, encoding: BufferEncoding = "utf8") => mem().readString(ptr >>> 0, len >>> 0, encoding);
    const bytes = (ptr: number, len: number) => mem().read(ptr >>> 0, len >>> 0);
    const out = (data: Uint8Array, ptrPtr: number, sizePtr: number) => mem().copyOut(data, ptrPtr >>> 0, sizePtr >>> 0);
    const u32 = (ptr: number, value: number) => (mem().writeU32(ptr >>> 0, value) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess);
    const stream = () => this.effective()?.stream;
    const logger = this.services.logger;
    const shared = this.services.shared;
    const metrics = this.services.metrics;

    const env: Record<string, (...args: any[]) => number> = {
      proxy_log: (level, ptr, len) => {
        const message = str(ptr, len);
        if (message === undefined) return WasmResult.InvalidMemoryAccess;
        if (level < 0 || level > 5) return WasmResult.BadArgument;
        logger.log(LOG_LEVELS[level], this.config.name, message);
        return WasmResult.Ok;
      },
      proxy_get_log_level: (ptr) => u32(ptr, logger.levelIndex),
      proxy_get_status: (codePtr, msgPtr, msgSizePtr) => {
        if (u32(codePtr, this.lastStatus.code) !== WasmResult.Ok) return WasmResult.InvalidMemoryAccess;
        return out(Buffer.from(this.lastStatus.message), msgPtr, msgSizePtr);
      },
      proxy_set_tick_period_milliseconds: (ms) => {
        const root = this.effectiveRoot();
        if (!root) return WasmResult.BadArgument;
        clearInterval(this.tickTimer);
        this.tickTimer = undefined;
        if (ms >>> 0 > 0) {
          this.tickTimer = setInterval(() => this.call(root.id, "proxy_on_tick", root.id), ms >>> 0);
          this.tickTimer.unref();
        }
        return WasmResult.Ok;
      },
      proxy_get_current_time_nanoseconds: (ptr) =>
        mem().writeU64(ptr >>> 0, wallClockNs()) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess,
      proxy_get_property: (pathPtr, pathLen, valuePtr, valueSizePtr) => {
        const path = bytes(pathPtr, pathLen);
        if (!path) return WasmResult.InvalidMemoryAccess;
        const value = this.property(path);
        return value === undefined ? WasmResult.NotFound : out(value, valuePtr, valueSizePtr);
      },
      proxy_set_property: (pathPtr, pathLen, valuePtr, valueLen) => {
        const path = bytes(pathPtr, pathLen);
        const value = bytes(valuePtr, valueLen);
        const context = this.effective();
        if (!path || !value) return WasmResult.InvalidMemoryAccess;
        if (!context) return WasmResult.BadArgument;
        context.filterState.set(path.toString("latin1"), value);
        return WasmResult.Ok;
      },
      proxy_continue_stream: (type) => this.streamAction(type, continueAction),
      proxy_close_stream: (type) => this.streamAction(type, (s, t) => s.closeStream(t)),
      proxy_send_local_response: (status, detailsPtr, detailsLen, bodyPtr, bodyLen, pairsPtr, pairsLen, grpcStatus) => {
        const details = str(detailsPtr, detailsLen);
        const body = bytes(bodyPtr, bodyLen);
        const pairs = bytes(pairsPtr, pairsLen);
        if (details === undefined || !body || !pairs) return WasmResult.InvalidMemoryAccess;
        stream()?.sendLocalResponse({ status: status >>> 0, details, body, headers: deserializePairs(pairs), grpcStatus });
        return WasmResult.Ok;
      },
      proxy_get_shared_data: (keyPtr, keyLen, valuePtr, valueSizePtr, casPtr) => {
        const key = str(keyPtr, keyLen);
        if (key === undefined) return WasmResult.InvalidMemoryAccess;
        const entry = shared.get(this.config.vmId, key);
        if (!entry) return WasmResult.NotFound;
        const result = out(entry.value, valuePtr, valueSizePtr);
        return result === WasmResult.Ok ? u32(casPtr, entry.cas) : result;
      },
      proxy_set_shared_data: (keyPtr, keyLen, valuePtr, valueLen, cas) => {
        const key = str(keyPtr, keyLen);
        const value = bytes(valuePtr, valueLen);
        if (key === undefined || !value) return WasmResult.InvalidMemoryAccess;
        return shared.set(this.config.vmId, key, value, cas >>> 0);
      },
      proxy_register_shared_queue: (namePtr, nameLen, tokenPtr) => {
        const name = str(namePtr, nameLen);
        const root = this.effectiveRoot();
        if (name === undefined) return WasmResult.InvalidMemoryAccess;
        if (!root) return WasmResult.BadArgument;
        const token = shared.register(this.config.vmId, name, root.id, (t) => this.call(root.id, "proxy_on_queue_ready", root.id, t));
        return u32(tokenPtr, token);
      },
      proxy_resolve_shared_queue: (vmPtr, vmLen, namePtr, nameLen, tokenPtr) => {
        const vmId = str(vmPtr, vmLen);
        const name = str(namePtr, nameLen);
        if (vmId === undefined || name === undefined) return WasmResult.InvalidMemoryAccess;
        const token = shared.resolve(vmId, name);
        return token === undefined ? WasmResult.NotFound : u32(tokenPtr, token);
      },
      proxy_enqueue_shared_queue: (token, ptr, len) => {
        const value = bytes(ptr, len);
        return value ? shared.enqueue(token >>> 0, value) : WasmResult.InvalidMemoryAccess;
      },
      proxy_dequeue_shared_queue: (token, ptrPtr, sizePtr) => {
        const value = shared.dequeue(token >>> 0);
        return typeof value === "number" ? value : out(value, ptrPtr, sizePtr);
      },
      proxy_get_header_map_value: (type, keyPtr, keyLen, valuePtr, valueSizePtr) => {
        const key = str(keyPtr, keyLen, "latin1");
        if (key === undefined) return WasmResult.InvalidMemoryAccess;
        const map = this.headerMap(type);
        if (!map) return WasmResult.BadArgument;
        const value = map.get(key);
        return value === undefined ? WasmResult.NotFound : out(Buffer.from(value, "latin1"), valuePtr, valueSizePtr);
      },
      proxy_add_header_map_value: (type, keyPtr, keyLen, valuePtr, valueLen) =>
        this.mutateMap(type, str(keyPtr, keyLen, "latin1"), str(valuePtr, valueLen, "latin1"), (map, k, v) => map.add(k, v)),
      proxy_replace_header_map_value: (type, keyPtr, keyLen, valuePtr, valueLen) =>
        this.mutateMap(type, str(keyPtr, keyLen, "latin1"), str(valuePtr, valueLen, "latin1"), (map, k, v) => map.set(k, v)),
      proxy_remove_header_map_value: (type, keyPtr, keyLen) =>
        this.mutateMap(type, str(keyPtr, keyLen, "latin1"), "", (map, k) => map.remove(k)),
      proxy_get_header_map_pairs: (type, ptrPtr, sizePtr) => {
        if (type < 0 || type > MapType.HttpCallResponseTrailers) return WasmResult.BadArgument;
        return out(serializePairs(this.headerMap(type)?.entries ?? []), ptrPtr, sizePtr);
      },
      proxy_set_header_map_pairs: (type, ptr, len) => {
        const data = bytes(ptr, len);
        if (!data) return WasmResult.InvalidMemoryAccess;
        return this.mutateMap(type, "", "", (map) => {
          map.entries = deserializePairs(data).map(([k, v]) => [k.toLowerCase(), v]);
        });
      },
      proxy_get_header_map_size: (type, sizePtr) => {
        const map = this.headerMap(type);
        return map ? u32(sizePtr, map.byteSize()) : WasmResult.BadArgument;
      },
      proxy_get_buffer_bytes: (type, start, length, ptrPtr, sizePtr) => {
        if (type < 0 || type > BufferType.CallData) return WasmResult.BadArgument;
        const buffer = this.buffer(type);
        if (!buffer) return WasmResult.NotFound;
        const from = start >>> 0;
        const end = from + (length >>> 0);
        if (end > 0xffffffff) return WasmResult.BadArgument;
        return out(from >= buffer.length ? Buffer.alloc(0) : buffer.subarray(from, Math.min(end, buffer.length)), ptrPtr, sizePtr);
      },
      proxy_get_buffer_status: (type, lengthPtr, flagsPtr) => {
        if (type < 0 || type > BufferType.CallData) return WasmResult.BadArgument;
        const buffer = this.buffer(type);
        if (!buffer) return WasmResult.NotFound;
        return u32(lengthPtr, buffer.length) || u32(flagsPtr, 0);
      },
      proxy_set_buffer_bytes: (type, start, length, dataPtr, dataLen) => {
        const data = bytes(dataPtr, dataLen);
        return data ? this.setBuffer(type, start >>> 0, length >>> 0, data) : WasmResult.InvalidMemoryAccess;
      },
      proxy_http_call: (upPtr, upLen, headersPtr, headersLen, bodyPtr, bodyLen, trailersPtr, trailersLen, timeout, tokenPtr) => {
        const cluster = str(upPtr, upLen);
        const headers = bytes(headersPtr, headersLen);
        const body = bytes(bodyPtr, bodyLen);
        if (cluster === undefined || !headers || !body || !bytes(trailersPtr, trailersLen)) return WasmResult.InvalidMemoryAccess;
        return this.httpCall(cluster, deserializePairs(headers), body, timeout >>> 0, tokenPtr >>> 0);
      },
      proxy_grpc_call: () => this.unsupported("proxy_grpc_call"),
      proxy_grpc_stream: () => this.unsupported("proxy_grpc_stream"),
      proxy_grpc_send: () => this.unsupported("proxy_grpc_send"),
      proxy_grpc_cancel: () => this.unsupported("proxy_grpc_cancel"),
      proxy_grpc_close: () => this.unsupported("proxy_grpc_close"),
      proxy_define_metric: (type, namePtr, nameLen, idPtr) => {
        const name = str(namePtr, nameLen);
        if (name === undefined) return WasmResult.InvalidMemoryAccess;
        if (type < 0 || type > 2) return WasmResult.BadArgument;
        return u32(idPtr, metrics.define(type, name));
      },
      proxy_increment_metric: (id, offset: bigint) => metrics.increment(id >>> 0, offset),
      proxy_record_metric: (id, value: bigint) => metrics.record(id >>> 0, BigInt.asUintN(64, value)),
      proxy_get_metric: (id, resultPtr) => {
        const value = metrics.get(id >>> 0);
        if (typeof value === "number") return value;
        return mem().writeU64(resultPtr >>> 0, value) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
      },
      proxy_set_effective_context: (id) => {
        if (!this.contexts.has(id >>> 0)) return WasmResult.BadArgument;
        this.effectiveId = id >>> 0;
        return WasmResult.Ok;
      },
      proxy_done: () => WasmResult.Ok,
      // Envoy's foreign functions (compress, declare_property, ...) are not reproduced; unknown names are NotFound.
      proxy_call_foreign_function: () => WasmResult.NotFound,
    };
    const wasi = this.stopwatch.hostFunctions(this.wasi());
    return { env: this.stopwatch.hostFunctions(env), wasi_snapshot_preview1: wasi, wasi_unstable: wasi };
  }

  private streamAction(type: number, action: (stream: StreamHost, type: StreamType) => void): WasmResult {
    if (type < 0 || type > StreamType.Upstream) return WasmResult.BadArgument;
    if (type >= StreamType.Downstream) return WasmResult.Unimplemented;
    const stream = this.effective()?.stream;
    if (stream) {
      if (action === continueAction) stream.continueRequested(type);
      this.defer(() => action(stream, type));
    }
    return WasmResult.Ok;
  }

  private mutateMap(type: number, key: string | undefined, value: string | undefined,
    mutate: (map: HeaderMap, key: string, value: string) => void): WasmResult {
    if (key === undefined || value === undefined) return WasmResult.InvalidMemoryAccess;
    if (type < 0 || type > MapType.ResponseTrailers) return WasmResult.BadArgument; // call-response maps are read-only
    const stream = this.effective()?.stream;
    const map = stream?.headerMap(type);
    if (!stream || !map) return WasmResult.BadArgument;
    mutate(map, key.toLowerCase(), value);
    stream.headersMutated(type);
    return WasmResult.Ok;
  }

  private property(rawPath: Buffer): Buffer | undefined {
    const context = this.effective();
    if (!context) return undefined;
    const stored = context.filterState.get(rawPath.toString("latin1"));
    if (stored) return stored;
    const path = rawPath.toString("utf8").split("\0").filter((segment, i, all) => segment !== "" || i < all.length - 1);
    switch (path.join(".")) {
      case "plugin_root_id": return Buffer.from(this.config.rootId);
      case "plugin_name": return Buffer.from(this.config.name);
      case "plugin_vm_id": return Buffer.from(this.config.vmId);
    }
    return context.stream ? encodeProperty(context.stream.property(path)) : undefined;
  }

  private warnedUnsupported = new Set<string>();
  private unsupported(name: string): WasmResult {
    if (!this.warnedUnsupported.has(name)) {
      this.warnedUnsupported.add(name);
      this.services.logger.log("warn", "emulator", `${name}: gRPC callouts are not reproduced by the emulator (Unimplemented)`);
    }
    return WasmResult.Unimplemented;
  }

  private wasi(): Record<string, (...args: any[]) => any> {
    const mem = () => this.memory;
    const ERRNO_SUCCESS = 0;
    const ERRNO_BADF = 8;
    const ERRNO_NOSYS = 52;
    const zeroPair = (countPtr: number, sizePtr: number) => (mem().writeU32(countPtr >>> 0, 0) && mem().writeU32(sizePtr >>> 0, 0) ? ERRNO_SUCCESS : ERRNO_BADF);
    return {
      // Envoy maps stdout to info logs and stderr to error logs.
      fd_write: (fd: number, iovs: number, iovsLen: number, writtenPtr: number) => {
        if (fd !== 1 && fd !== 2) return ERRNO_BADF;
        const parts: Buffer[] = [];
        for (let n = 0; n < iovsLen; n++) {
          const header = mem().read((iovs >>> 0) + n * 8, 8);
          if (!header) return ERRNO_BADF;
          const part = mem().read(header.readUInt32LE(0), header.readUInt32LE(4));
          if (!part) return ERRNO_BADF;
          parts.push(part);
        }
        const text = Buffer.concat(parts);
        this.services.logger.log(fd === 1 ? "info" : "error", this.config.name, text.toString("utf8").replace(/\n$/, ""));
        mem().writeU32(writtenPtr >>> 0, text.length);
        return ERRNO_SUCCESS;
      },
      fd_read: () => ERRNO_BADF, fd_seek: () => ERRNO_BADF, fd_close: () => ERRNO_BADF, fd_fdstat_get: () => ERRNO_BADF,
      fd_fdstat_set_flags: () => ERRNO_BADF, fd_prestat_get: () => ERRNO_BADF, fd_prestat_dir_name: () => ERRNO_BADF,
      path_open: () => ERRNO_NOSYS, poll_oneoff: () => ERRNO_NOSYS, sched_yield: () => ERRNO_SUCCESS,
      environ_sizes_get: zeroPair, environ_get: () => ERRNO_SUCCESS,
      args_sizes_get: zeroPair, args_get: () => ERRNO_SUCCESS,
      clock_time_get: (_id: number, _precision: bigint, ptr: number) =>
        mem().writeU64(ptr >>> 0, wallClockNs()) ? ERRNO_SUCCESS : ERRNO_BADF,
      clock_res_get: (_id: number, ptr: number) => (mem().writeU64(ptr >>> 0, 1000n) ? ERRNO_SUCCESS : ERRNO_BADF),
      random_get: (ptr: number, len: number) => {
        const data = randomFillSync(Buffer.alloc(len >>> 0));
        return mem().write(ptr >>> 0, data) ? ERRNO_SUCCESS : ERRNO_BADF;
      },
      // Envoy only logs proc_exit; execution goes on (AssemblyScript's abort follows it with `unreachable`).
      proc_exit: (code: number) => {
        this.services.logger.log("critical", this.config.name, `proc_exit(${code}) called`);
      },
    };
  }

  /** Size of the module's linear memory (it only grows, as in V8 under Envoy). */
  get memoryBytes(): number {
    return this.exports.memory.buffer.byteLength;
  }

  close(): void {
    clearInterval(this.tickTimer);
  }
}
