// Public API of the emulator, for tests and for `npm start`. The CLI (`envoy-emulator -c FILE`) wraps startEmulator.

export type LogLevelName = "trace" | "debug" | "info" | "warn" | "error" | "critical";

export interface EmulatorLogLine {
  level: LogLevelName;
  /** The wasm plugin's `config.name`, or "emulator" for the host's own lines. */
  source: string;
  message: string;
}

export type { TimingOverhead } from "./wasm/stopwatch.ts";
import type { TimingOverhead } from "./wasm/stopwatch.ts";

/** Key of wasmTime() under which the time spent in host functions (the emulator's code) is reported. */
export const HOST_FUNCTIONS = "(host functions)";

/** startEmulator rejects with this when Envoy would refuse the configuration; `logs` says why. */
export interface EmulatorStartError extends Error {
  logs?: EmulatorLogLine[];
}

export interface EmulatorOptions {
  /** Bootstrap YAML text (alternative to a file path). */
  yaml?: string;
  /** Path of an Envoy bootstrap YAML file; relative `code.local.filename` paths resolve against the cwd, as in Envoy. */
  configPath?: string;
  /** Minimum level printed to the console (Envoy's --component-log-level wasm:LEVEL); default "info". */
  logLevel?: LogLevelName;
  /** Do not print logs, only keep them in `logs`. */
  quiet?: boolean;
}

export interface ListenerInfo {
  name: string;
  port: number;
  /** http://127.0.0.1:PORT */
  url: string;
}

/** One finished stream, as an Envoy access log line would describe it. */
export interface AccessLogEntry {
  method: string;
  path: string;
  /** Status sent downstream; 0 when the stream was reset before any response. */
  status: number;
  /** Values the wasm filters stored with proxy_set_property (Envoy filter state), path segments joined by ".". */
  filterState: Record<string, string>;
}

export interface Emulator {
  listeners: ListenerInfo[];
  /** http://127.0.0.1:PORT of the admin endpoint, when `admin.address` is configured. */
  adminUrl?: string;
  /** Every log line of the host and the plugins, in order, whatever the console level. */
  logs: EmulatorLogLine[];
  /** Every finished stream, in order of completion. */
  accessLog: AccessLogEntry[];
  /** Current value of every metric the plugins defined, by name (as in the admin /stats output). */
  metrics(): Map<string, number>;
  /**
   * Time spent inside wasm exports, in nanoseconds, per export name, not counting the host functions they called;
   * the host functions' own total is under HOST_FUNCTIONS (for benchmarks).
   */
  wasmTime(): Map<string, { calls: number; ns: bigint }>;
  /** Linear memory of every plugin VM, in bytes (for tests that bound the filter's garbage). */
  wasmMemoryBytes(): number;
  /**
   * What wasmTime()'s own clock readings and wrappers charge a guest per export call and per host call, measured
   * now on a probe module (takes about 0.6 s; for benchmarks that report the figures net of it).
   */
  timingOverhead(): TimingOverhead;
  close(): Promise<void>;
}
