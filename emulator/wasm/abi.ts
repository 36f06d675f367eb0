// Proxy-wasm ABI 0.2.x constants and the import set Envoy (proxy-wasm-cpp-host) registers for it.

export const enum WasmResult {
  Ok = 0, NotFound = 1, BadArgument = 2, SerializationFailure = 3, ParseFailure = 4, BadExpression = 5,
  InvalidMemoryAccess = 6, Empty = 7, CasMismatch = 8, ResultMismatch = 9, InternalFailure = 10,
  BrokenConnection = 11, Unimplemented = 12,
}

export const enum MapType {
  RequestHeaders = 0, RequestTrailers = 1, ResponseHeaders = 2, ResponseTrailers = 3,
  GrpcInitialMetadata = 4, GrpcTrailingMetadata = 5, HttpCallResponseHeaders = 6, HttpCallResponseTrailers = 7,
}

export const enum BufferType {
  HttpRequestBody = 0, HttpResponseBody = 1, DownstreamData = 2, UpstreamData = 3, HttpCallResponseBody = 4,
  GrpcReceiveBuffer = 5, VmConfiguration = 6, PluginConfiguration = 7, CallData = 8,
}

export const enum StreamType { Request = 0, Response = 1, Downstream = 2, Upstream = 3 }

export const enum MetricType { Counter = 0, Gauge = 1, Histogram = 2 }

export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "critical"] as const;

// Header-callback results as Envoy acts on them after cpp-host's conversion.
export const enum HeadersStatus { Continue = 0, StopIteration = 1, ContinueAndEndStream = 2, StopAllBuffer = 3, StopAllWatermark = 4 }
export const enum DataStatus { Continue = 0, StopIterationAndBuffer = 1, StopIterationAndWatermark = 2, StopIterationNoBuffer = 3 }

// Signatures as "params:results" with i = i32, I = i64, as registered by cpp-host for ABI 0.2.x.
const i = (n: number) => "i".repeat(n);
export const ENVOY_IMPORTS: Record<string, string> = {
  "env.proxy_log": `${i(3)}:i`,
  "env.proxy_get_log_level": `${i(1)}:i`,
  "env.proxy_get_status": `${i(3)}:i`,
  "env.proxy_set_tick_period_milliseconds": `${i(1)}:i`,
  "env.proxy_get_current_time_nanoseconds": `${i(1)}:i`,
  "env.proxy_get_property": `${i(4)}:i`,
  "env.proxy_set_property": `${i(4)}:i`,
  "env.proxy_continue_stream": `${i(1)}:i`,
  "env.proxy_close_stream": `${i(1)}:i`,
  "env.proxy_send_local_response": `${i(8)}:i`,
  "env.proxy_get_shared_data": `${i(5)}:i`,
  "env.proxy_set_shared_data": `${i(5)}:i`,
  "env.proxy_register_shared_queue": `${i(3)}:i`,
  "env.proxy_resolve_shared_queue": `${i(5)}:i`,
  "env.proxy_enqueue_shared_queue": `${i(3)}:i`,
  "env.proxy_dequeue_shared_queue": `${i(3)}:i`,
  "env.proxy_get_header_map_value": `${i(5)}:i`,
  "env.proxy_add_header_map_value": `${i(5)}:i`,
  "env.proxy_replace_header_map_value": `${i(5)}:i`,
  "env.proxy_remove_header_map_value": `${i(3)}:i`,
  "env.proxy_get_header_map_pairs": `${i(3)}:i`,
  "env.proxy_set_header_map_pairs": `${i(3)}:i`,
  "env.proxy_get_header_map_size": `${i(2)}:i`,
  "env.proxy_get_buffer_bytes": `${i(5)}:i`,
  "env.proxy_get_buffer_status": `${i(3)}:i`,
  "env.proxy_set_buffer_bytes": `${i(5)}:i`,
  "env.proxy_http_call": `${i(10)}:i`,
  "env.proxy_grpc_call": `${i(12)}:i`,
  "env.proxy_grpc_stream": `${i(9)}:i`,
  "env.proxy_grpc_send": `${i(4)}:i`,
  "env.proxy_grpc_cancel": `${i(1)}:i`,
  "env.proxy_grpc_close": `${i(1)}:i`,
  "env.proxy_define_metric": `${i(4)}:i`,
  "env.proxy_increment_metric": "iI:i",
  "env.proxy_record_metric": "iI:i",
  "env.proxy_get_metric": `${i(2)}:i`,
  "env.proxy_set_effective_context": `${i(1)}:i`,
  "env.proxy_done": ":i",
  "env.proxy_call_foreign_function": `${i(6)}:i`,
};

const WASI_FUNCTIONS: Record<string, string> = {
  fd_write: `${i(4)}:i`, fd_read: `${i(4)}:i`, fd_seek: "iIii:i", fd_close: "i:i", fd_fdstat_get: "ii:i",
  fd_fdstat_set_flags: "ii:i", fd_prestat_get: "ii:i", fd_prestat_dir_name: "iii:i", path_open: "iiiiiIIii:i",
  environ_get: "ii:i", environ_sizes_get: "ii:i", args_get: "ii:i", args_sizes_get: "ii:i",
  clock_time_get: "iIi:i", clock_res_get: "ii:i", random_get: "ii:i", sched_yield: ":i", poll_oneoff: "iiii:i",
  proc_exit: "i:",
};
for (const module of ["wasi_unstable", "wasi_snapshot_preview1"]) {
  for (const [name, signature] of Object.entries(WASI_FUNCTIONS)) ENVOY_IMPORTS[`${module}.${name}`] = signature;
}

export const ABI_MARKERS = ["proxy_abi_version_0_2_1", "proxy_abi_version_0_2_0"];
