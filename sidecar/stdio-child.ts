// One stdio MCP server process: spawned in its own process group, framed line by line, and ended
// by signalling the whole group (SIGTERM, then SIGKILL after a grace period) so that grandchildren
// started through npx/uvx/shells die with it. `launchChild` starts one counted in the metrics and among the
// children that shutdown waits for.
import { spawn, type ChildProcess } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import type { ServerConfig } from "./catalog.ts";
import { isMessage, type JsonRpcMessage } from "./jsonrpc.ts";
import { LineSplitter } from "./lines.ts";
import type { Logger } from "./log.ts";
import type { Services } from "./services.ts";

/** Variables a child may inherit from the sidecar; everything else (secrets included) stays behind. */
const INHERITED_ENV = [
  "PATH",
  "HOME",
  "USER",
  "LOGNAME",
  "LANG",
  "LC_ALL",
  "LC_CTYPE",
  "TERM",
  "SHELL",
  "TMPDIR",
  "TZ",
];
const STDERR_LINE_BYTES = 16 * 1024;
const LOG_SAMPLE_CHARS = 200;
const GROUP_POLL_MS = 20;

/** Why a child ended: the reason it was stopped for, or what it did on its own. */
export type ExitReason =
  | "crashed"
  | "spawn-error"
  | "deleted"
  | "idle"
  | "disconnected"
  | "shutdown"
  | "initialize-timeout"
  | "initialize-failed"
  | "misbehaved";

export interface ExitInfo {
  reason: ExitReason;
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ChildOptions {
  server: ServerConfig;
  /** Per-session variables (from envFromHeaders), applied over the catalog's `env`. */
  sessionEnv: Record<string, string>;
  maxLineBytes: number;
  gracePeriodMs: number;
  log: Logger;
  onMessage(message: JsonRpcMessage): void;
}

function childEnvironment(server: ServerConfig, sessionEnv: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of INHERITED_ENV) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return { ...env, ...server.env, ...sessionEnv };
}

export class StdioChild {
  readonly startedAt = Date.now();
  /** Settles as soon as the process itself has exited (in-flight requests fail at once). */
  readonly exited: Promise<ExitInfo>;
  /** Settles once the process is reaped and its process group is empty. */
  readonly ended: Promise<ExitInfo>;
  private readonly process: ChildProcess;
  private readonly log: Logger;
  private stopReason: ExitReason | undefined;
  private killDeadline = Infinity;
  private finished = false;
  private killTimer: NodeJS.Timeout | undefined;
  private killed = false;
  /** stdin is corked until the next setImmediate. */
  private corked = false;
  private resolveExited!: (info: ExitInfo) => void;
  private resolveEnded!: (info: ExitInfo) => void;

  constructor(private readonly options: ChildOptions) {
    const { server } = options;
    this.exited = new Promise((resolve) => {
      this.resolveExited = resolve;
    });
    this.ended = new Promise((resolve) => {
      this.resolveEnded = resolve;
    });
    this.process = spawn(server.command, server.args, {
      cwd: server.cwd,
      env: childEnvironment(server, options.sessionEnv),
      detached: true,
      stdio: ["pipe", "pipe", "pipe"],
    });
    this.log = options.log.with({ pid: this.process.pid });
    this.wireOutput();
    this.process.on("exit", (code, signal) => void this.afterExit(code, signal));
    this.process.on("error", (error) => this.onSpawnError(error));
    this.process.stdin!.on("error", (error) => this.log.debug("child stdin error", { error: error.message }));
  }

  get pid(): number | undefined {
    return this.process.pid;
  }

  get running(): boolean {
    return this.process.exitCode === null && this.process.signalCode === null && this.process.pid !== undefined;
  }

  /**
   * Writes one message; a child that stops reading its stdin is treated as misbehaving. Writes are corked until
   * the event loop has run the I/O callbacks due now, so that the messages of many requests go in one write.
   */
  send(message: JsonRpcMessage): void {
    const stdin = this.process.stdin!;
    if (!stdin.writable) return;
    if (!this.corked) {
      this.corked = true;
      stdin.cork();
      setImmediate(() => {
        this.corked = false;
        stdin.uncork();
      });
    }
    stdin.write(JSON.stringify(message) + "\n");
    if (stdin.writableLength > this.options.maxLineBytes * 2) {
      this.log.warn("child is not reading its stdin; stopping it", { buffered: stdin.writableLength });
      void this.stop("misbehaved");
    }
  }

  /**
   * Ends the child and its group; resolves when nothing of it is left. A later call with a shorter
   * deadline (shutdown) brings the SIGKILL forward.
   */
  stop(reason: ExitReason, killAfterMs = this.options.gracePeriodMs): Promise<ExitInfo> {
    this.stopReason ??= reason;
    if (this.finished || Date.now() + killAfterMs >= this.killDeadline) return this.ended;
    if (this.running) this.process.stdin!.end();
    this.signalGroup("SIGTERM");
    clearTimeout(this.killTimer);
    this.armKill(killAfterMs);
    return this.ended;
  }

  private wireOutput(): void {
    const { maxLineBytes, onMessage } = this.options;
    const stdout = new LineSplitter(maxLineBytes, {
      line: (text) => this.onStdoutLine(text, onMessage),
      oversize: (bytes, sample) =>
        this.log.warn("child stdout line over the limit, discarded", { bytes, limit: maxLineBytes, sample }),
    });
    const stderr = new LineSplitter(STDERR_LINE_BYTES, {
      line: (text) => this.log.info("child stderr", { line: text }),
      oversize: (bytes, sample) => this.log.info("child stderr", { line: sample, truncatedFrom: bytes }),
    });
    this.process.stdout!.on("data", (chunk: Buffer) => stdout.push(chunk));
    this.process.stdout!.on("end", () => stdout.flush());
    this.process.stderr!.on("data", (chunk: Buffer) => stderr.push(chunk));
    this.process.stderr!.on("end", () => stderr.flush());
  }

  private onStdoutLine(text: string, onMessage: (message: JsonRpcMessage) => void): void {
    if (text.trim() === "") return;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      this.log.warn("child wrote non-JSON to stdout, ignored", { sample: text.slice(0, LOG_SAMPLE_CHARS) });
      return;
    }
    if (isMessage(value)) onMessage(value);
    else
      this.log.warn("child wrote a non-JSON-RPC value to stdout, ignored", { sample: text.slice(0, LOG_SAMPLE_CHARS) });
  }

  private onSpawnError(error: Error): void {
    if (this.process.pid !== undefined) {
      this.log.warn("child process error", { error: error.message });
      return;
    }
    this.log.error("cannot start child", { command: this.options.server.command, error: error.message });
    this.finish({ reason: "spawn-error", code: null, signal: null });
  }

  private async afterExit(code: number | null, signal: NodeJS.Signals | null): Promise<void> {
    const reason = this.stopReason ?? "crashed";
    this.log[reason === "crashed" ? "warn" : "info"]("child exited", { reason, code, signal });
    this.resolveExited({ reason, code, signal });
    await this.emptyGroup();
    this.finish({ reason, code, signal });
  }

  private finish(info: ExitInfo): void {
    clearTimeout(this.killTimer);
    this.finished = true;
    this.resolveExited(info);
    this.resolveEnded(info);
  }

  /** The leader is gone, but grandchildren may linger in its group: they get the same treatment. */
  private async emptyGroup(): Promise<void> {
    if (!this.groupAlive()) return;
    if (this.killTimer === undefined) {
      this.signalGroup("SIGTERM");
      this.armKill(this.options.gracePeriodMs);
    }
    // After SIGKILL nothing can survive; members may linger only as zombies for their new parent to reap.
    while (!this.killed && this.groupAlive()) await sleep(GROUP_POLL_MS);
  }

  private armKill(afterMs: number): void {
    this.killDeadline = Date.now() + afterMs;
    this.killTimer = setTimeout(() => {
      this.killed = true;
      this.signalGroup("SIGKILL");
    }, afterMs);
  }

  private groupAlive(): boolean {
    return this.signalGroup(0);
  }

  private signalGroup(signal: NodeJS.Signals | 0): boolean {
    if (this.process.pid === undefined) return false;
    try {
      process.kill(-this.process.pid, signal);
      return true;
    } catch {
      return false; // ESRCH: the group is already empty
    }
  }
}

/** Starts a child for `server`, counted in the metrics and among the children that shutdown waits for. */
export function launchChild(
  services: Services,
  server: ServerConfig,
  log: Logger,
  sessionEnv: Record<string, string>,
  onMessage: (message: JsonRpcMessage) => void,
): StdioChild {
  const child = new StdioChild({
    server,
    sessionEnv,
    log,
    onMessage,
    maxLineBytes: services.global.maxLineBytes,
    gracePeriodMs: services.global.gracePeriodMs,
  });
  services.children.add(child);
  void child.ended.then(() => services.children.delete(child));
  const labels = { server: server.name };
  services.metrics.spawns.inc(labels);
  if (child.pid !== undefined) services.metrics.children.inc(labels);
  log.info("child started", { pid: child.pid, command: server.command });
  void child.exited.then((info) => {
    if (child.pid !== undefined) services.metrics.children.dec(labels);
    services.metrics.exits.inc({ ...labels, reason: info.reason });
  });
  return child;
}

/** The error text in-flight requests get when their child is gone. */
export function describeExit(info: ExitInfo, initializeTimeoutMs: number): string {
  switch (info.reason) {
    case "crashed":
      return `MCP server process exited (code ${info.code}, signal ${info.signal})`;
    case "spawn-error":
      return "MCP server process could not be started";
    case "initialize-timeout":
      return `MCP server did not answer initialize within ${initializeTimeoutMs} ms`;
    default:
      return `MCP server process stopped (${info.reason})`;
  }
}
