// Structured logging: one JSON object per line, so log shippers need no parser of their own.

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, unknown>;
export type LogRecord = { time: string; level: LogLevel; msg: string } & LogFields;
export type LogSink = (record: LogRecord) => void;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger whose records all carry `fields` (e.g. server and session). */
  with(fields: LogFields): Logger;
}

const LEVEL_RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

const stdoutSink: LogSink = (record) => {
  process.stdout.write(JSON.stringify(record) + "\n");
};

export function createLogger(sink: LogSink = stdoutSink, minLevel: LogLevel = "info", base: LogFields = {}): Logger {
  const emit = (level: LogLevel, msg: string, fields?: LogFields): void => {
    if (LEVEL_RANK[level] < LEVEL_RANK[minLevel]) return;
    sink({ time: new Date().toISOString(), level, msg, ...base, ...fields });
  };
  return {
    debug: (msg, fields) => emit("debug", msg, fields),
    info: (msg, fields) => emit("info", msg, fields),
    warn: (msg, fields) => emit("warn", msg, fields),
    error: (msg, fields) => emit("error", msg, fields),
    with: (fields) => createLogger(sink, minLevel, { ...base, ...fields }),
  };
}

/** Also keeps the last `max` warnings and errors in `kept` (oldest first), for the status page. */
export function keepingProblems(log: Logger, kept: LogRecord[], max: number, base: LogFields = {}): Logger {
  const keep = (level: LogLevel, msg: string, fields?: LogFields): void => {
    kept.push({ time: new Date().toISOString(), level, msg, ...base, ...fields });
    if (kept.length > max) kept.shift();
  };
  return {
    debug: (msg, fields) => log.debug(msg, fields),
    info: (msg, fields) => log.info(msg, fields),
    warn: (msg, fields) => {
      log.warn(msg, fields);
      keep("warn", msg, fields);
    },
    error: (msg, fields) => {
      log.error(msg, fields);
      keep("error", msg, fields);
    },
    with: (fields) => keepingProblems(log.with(fields), kept, max, { ...base, ...fields }),
  };
}
