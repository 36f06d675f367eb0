// Public API of the emulator, for tests and for `npm start`. The CLI (`envoy-emulator -c FILE`) wraps startEmulator.

export type LogLevelName = "trace" | "debug" | "info" | "warn" | "error" | "critical";

export interface EmulatorLogLine {
  level: LogLevelName;
  /** The wasm plugin's `config.name`, or "emulator" for the host's own lines. */
  source: string;
  message: string;
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

export interface Emulator {
  listeners: ListenerInfo[];
  /** http://127.0.0.1:PORT of the admin endpoint, when `admin.address` is configured. */
  adminUrl?: string;
  /** Every log line of the host and the plugins, in order, whatever the console level. */
  logs: EmulatorLogLine[];
  /** Current value of every metric the plugins defined, by name (as in the admin /stats output). */
  metrics(): Map<string, number>;
  /** Time spent inside wasm exports, in nanoseconds, per export name (for benchmarks). */
  wasmTime(): Map<string, { calls: number; ns: bigint }>;
  close(): Promise<void>;
}
