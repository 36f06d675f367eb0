// The catalog: which stdio servers exist and how they may be run. It is the only source of the
// commands a child runs; nothing in a request can change them.
import { readFileSync } from "node:fs";
import { extname } from "node:path";
import YAML from "yaml";
import type { ChildProtocol } from "./eras.ts";
import { MODERN_VERSION } from "./protocol.ts";

export type ServerMode = "session" | "shared";
/** What a 2025 child's own requests (sampling, elicitation, roots) become for a 2026-07-28 client. */
export type InputRequiredPolicy = "replay" | "refuse";

export interface RestartPolicy {
  initialDelayMs: number;
  maxDelayMs: number;
}

/** Token bucket per client and server: `burst` requests at once, refilled at `requestsPerSecond` (0: no limit). */
export interface RateLimit {
  requestsPerSecond: number;
  burst: number;
}

export interface ServerConfig {
  name: string;
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd?: string;
  mode: ServerMode;
  maxSessions: number;
  idleTimeoutMs: number;
  /** Child environment variable -> request header (lower case). */
  envFromHeaders: Record<string, string>;
  restart: RestartPolicy;
  rateLimit: RateLimit;
  /** The era spoken to the child: "auto" opens with initialize and switches when the child speaks only 2026-07-28. */
  protocol: ChildProtocol;
  inputRequired: InputRequiredPolicy;
}

export interface GlobalConfig {
  maxSessions: number;
  apiKeys: string[];
  maxBodyBytes: number;
  maxLineBytes: number;
  keepAliveIntervalMs: number;
  gracePeriodMs: number;
  initializeTimeoutMs: number;
  idleTimeoutMs: number;
  retryAfterSeconds: number;
  allowedOrigins: string[];
  rateLimit: RateLimit;
  /**
   * HMAC key of the requestState the sidecar hands to 2026-07-28 clients (input_required bridged from a 2025 child);
   * set the same one on every replica so that a retry may land on any. Unset: a random key per process.
   */
  requestStateKey?: string;
}

export interface Catalog {
  global: GlobalConfig;
  servers: Map<string, ServerConfig>;
  /** Non-fatal remarks, e.g. fields we do not know, logged at start-up. */
  warnings: string[];
}

export const GLOBAL_DEFAULTS: GlobalConfig = {
  maxSessions: 100,
  apiKeys: [],
  maxBodyBytes: 4 * 1024 * 1024,
  maxLineBytes: 8 * 1024 * 1024,
  keepAliveIntervalMs: 15_000,
  gracePeriodMs: 5_000,
  initializeTimeoutMs: 30_000,
  idleTimeoutMs: 15 * 60_000,
  retryAfterSeconds: 5,
  allowedOrigins: [],
  rateLimit: { requestsPerSecond: 100, burst: 200 },
};

export const RESTART_DEFAULTS: RestartPolicy = { initialDelayMs: 500, maxDelayMs: 30_000 };

export class CatalogError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid catalog:\n  ${problems.join("\n  ")}`);
  }
}

const SERVER_NAME = /^[A-Za-z0-9._-]+$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const KNOWN_SERVER_FIELDS = new Set([
  "command",
  "args",
  "env",
  "cwd",
  "mode",
  "maxSessions",
  "idleTimeoutMs",
  "envFromHeaders",
  "restart",
  "rateLimit",
  "enabled",
  "type",
  "protocol",
  "inputRequired",
]);
const PROTOCOLS: ChildProtocol[] = ["auto", "2025", MODERN_VERSION];
const INPUT_REQUIRED_POLICIES: InputRequiredPolicy[] = ["replay", "refuse"];

/** Collects every problem with a path, so one start-up shows them all. */
class Checker {
  readonly problems: string[] = [];
  readonly warnings: string[] = [];

  fail(path: string, message: string): undefined {
    this.problems.push(`${path}: ${message}`);
    return undefined;
  }

  isObject(path: string, value: unknown): value is Record<string, unknown> {
    if (typeof value === "object" && value !== null && !Array.isArray(value)) return true;
    this.fail(path, "must be an object");
    return false;
  }

  string(path: string, value: unknown): string | undefined {
    if (typeof value === "string" && value.length > 0) return value;
    return this.fail(path, "must be a non-empty string");
  }

  integer(path: string, value: unknown, min: number): number | undefined {
    if (typeof value === "number" && Number.isInteger(value) && value >= min) return value;
    return this.fail(path, `must be an integer >= ${min}`);
  }

  number(path: string, value: unknown, min: number): number | undefined {
    if (typeof value === "number" && Number.isFinite(value) && value >= min) return value;
    return this.fail(path, `must be a number >= ${min}`);
  }

  stringArray(path: string, value: unknown): string[] | undefined {
    if (!Array.isArray(value)) return this.fail(path, "must be an array of strings");
    value.forEach((item, i) => {
      if (typeof item !== "string") this.fail(`${path}[${i}]`, "must be a string");
    });
    return value as string[];
  }

  stringRecord(path: string, value: unknown, keyPattern: RegExp, keyRule: string): Record<string, string> | undefined {
    if (!this.isObject(path, value)) return undefined;
    for (const [key, item] of Object.entries(value)) {
      if (!keyPattern.test(key)) this.fail(`${path}.${key}`, `name must be ${keyRule}`);
      if (typeof item !== "string") this.fail(`${path}.${key}`, "must be a string");
    }
    return value as Record<string, string>;
  }

  optional<T>(
    container: Record<string, unknown>,
    key: string,
    path: string,
    read: (p: string, v: unknown) => T | undefined,
    fallback: T,
  ): T {
    if (container[key] === undefined) return fallback;
    return read(`${path}.${key}`, container[key]) ?? fallback;
  }
}

function readGlobal(check: Checker, raw: unknown): GlobalConfig {
  if (raw === undefined) return { ...GLOBAL_DEFAULTS };
  if (!check.isObject("sidecar", raw)) return { ...GLOBAL_DEFAULTS };
  const d = GLOBAL_DEFAULTS;
  const int = (key: keyof GlobalConfig, min: number) =>
    check.optional(raw, key, "sidecar", (p, v) => check.integer(p, v, min), d[key] as number);
  const keys = check.optional(raw, "apiKeys", "sidecar", (p, v) => check.stringArray(p, v), d.apiKeys);
  keys.forEach((key, i) => {
    if (key.length < 16) check.fail(`sidecar.apiKeys[${i}]`, "must be at least 16 characters");
  });
  for (const key of Object.keys(raw)) {
    if (!(key in d) && key !== "requestStateKey") check.warnings.push(`sidecar.${key}: unknown field, ignored`);
  }
  const requestStateKey = check.optional<string | undefined>(
    raw,
    "requestStateKey",
    "sidecar",
    (p, v) => check.string(p, v),
    undefined,
  );
  if (requestStateKey !== undefined && Buffer.byteLength(requestStateKey) < 32) {
    check.fail("sidecar.requestStateKey", "must be at least 32 bytes");
  }
  return {
    requestStateKey,
    maxSessions: int("maxSessions", 1),
    apiKeys: keys,
    maxBodyBytes: int("maxBodyBytes", 1024),
    maxLineBytes: int("maxLineBytes", 1024),
    keepAliveIntervalMs: int("keepAliveIntervalMs", 10),
    gracePeriodMs: int("gracePeriodMs", 0),
    initializeTimeoutMs: int("initializeTimeoutMs", 10),
    idleTimeoutMs: int("idleTimeoutMs", 10),
    retryAfterSeconds: int("retryAfterSeconds", 0),
    allowedOrigins: check.optional(
      raw,
      "allowedOrigins",
      "sidecar",
      (p, v) => check.stringArray(p, v),
      d.allowedOrigins,
    ),
    rateLimit: check.optional(
      raw,
      "rateLimit",
      "sidecar",
      (p, v) => readRateLimit(check, p, v, d.rateLimit),
      d.rateLimit,
    ),
  };
}

function readRateLimit(check: Checker, path: string, raw: unknown, fallback: RateLimit): RateLimit {
  if (!check.isObject(path, raw)) return fallback;
  return {
    requestsPerSecond: check.optional(
      raw,
      "requestsPerSecond",
      path,
      (p, v) => check.number(p, v, 0),
      fallback.requestsPerSecond,
    ),
    burst: check.optional(raw, "burst", path, (p, v) => check.integer(p, v, 1), fallback.burst),
  };
}

function readRestart(check: Checker, path: string, raw: unknown): RestartPolicy {
  if (!check.isObject(path, raw)) return { ...RESTART_DEFAULTS };
  const int = (key: keyof RestartPolicy) =>
    check.optional(raw, key, path, (p, v) => check.integer(p, v, 10), RESTART_DEFAULTS[key]);
  const policy = { initialDelayMs: int("initialDelayMs"), maxDelayMs: int("maxDelayMs") };
  if (policy.maxDelayMs < policy.initialDelayMs) check.fail(`${path}.maxDelayMs`, "must be >= initialDelayMs");
  return policy;
}

function oneOf<T extends string>(check: Checker, allowed: T[]): (path: string, value: unknown) => T | undefined {
  return (path, value) =>
    allowed.includes(value as T)
      ? (value as T)
      : check.fail(path, `must be ${allowed.map((item) => `"${item}"`).join(" or ")}`);
}

function readServer(check: Checker, name: string, raw: unknown, global: GlobalConfig): ServerConfig | undefined {
  const path = `mcpServers.${name}`;
  if (!SERVER_NAME.test(name)) check.fail(path, 'name must use only letters, digits, ".", "_" and "-"');
  if (!check.isObject(path, raw)) return undefined;
  if (raw.enabled === false) return undefined;
  if (raw.command === undefined && raw.url !== undefined) {
    return check.fail(path, 'only stdio servers ("command") are supported; this one has a "url"');
  }
  for (const key of Object.keys(raw)) {
    if (!KNOWN_SERVER_FIELDS.has(key)) check.warnings.push(`${path}.${key}: unknown field, ignored`);
  }
  if (raw.type !== undefined && raw.type !== "stdio") check.fail(`${path}.type`, 'must be "stdio" when present');
  const server: ServerConfig = {
    name,
    command: check.string(`${path}.command`, raw.command) ?? "",
    args: check.optional(raw, "args", path, (p, v) => check.stringArray(p, v), []),
    env: check.optional(
      raw,
      "env",
      path,
      (p, v) => check.stringRecord(p, v, ENV_NAME, "an environment variable name"),
      {},
    ),
    cwd: check.optional<string | undefined>(raw, "cwd", path, (p, v) => check.string(p, v), undefined),
    mode: check.optional(raw, "mode", path, oneOf<ServerMode>(check, ["session", "shared"]), "session"),
    maxSessions: check.optional(raw, "maxSessions", path, (p, v) => check.integer(p, v, 1), global.maxSessions),
    idleTimeoutMs: check.optional(raw, "idleTimeoutMs", path, (p, v) => check.integer(p, v, 10), global.idleTimeoutMs),
    envFromHeaders: check.optional(
      raw,
      "envFromHeaders",
      path,
      (p, v) => check.stringRecord(p, v, ENV_NAME, "an environment variable name"),
      {},
    ),
    restart: check.optional(raw, "restart", path, (p, v) => readRestart(check, p, v), { ...RESTART_DEFAULTS }),
    rateLimit: check.optional(
      raw,
      "rateLimit",
      path,
      (p, v) => readRateLimit(check, p, v, global.rateLimit),
      global.rateLimit,
    ),
    protocol: check.optional(raw, "protocol", path, oneOf(check, PROTOCOLS), "auto"),
    inputRequired: check.optional(raw, "inputRequired", path, oneOf(check, INPUT_REQUIRED_POLICIES), "replay"),
  };
  for (const [variable, header] of Object.entries(server.envFromHeaders)) {
    if (typeof header === "string" && !HEADER_NAME.test(header)) {
      check.fail(`${path}.envFromHeaders.${variable}`, "must be an HTTP header name");
    }
  }
  server.envFromHeaders = Object.fromEntries(
    Object.entries(server.envFromHeaders).map(([variable, header]) => [variable, String(header).toLowerCase()]),
  );
  // A shared child is started once, before any request, and serves every client: there is no request
  // to take its environment from, and whatever it held would be every client's. Refused rather than
  // ignored, so that nobody believes a shared server runs with their own credentials.
  if (server.mode === "shared" && Object.keys(server.envFromHeaders).length > 0) {
    check.fail(
      `${path}.envFromHeaders`,
      'cannot be used with mode "shared": its one child serves every client, ' +
        'so it cannot run with any one client\'s headers (use mode "session", or fixed values in "env")',
    );
  }
  return server;
}

/** Validates a parsed catalog document; throws a CatalogError naming every bad field. */
export function parseCatalog(document: unknown): Catalog {
  const check = new Checker();
  if (!check.isObject("(root)", document)) throw new CatalogError(check.problems);
  const global = readGlobal(check, document.sidecar);
  const servers = new Map<string, ServerConfig>();
  if (check.isObject("mcpServers", document.mcpServers)) {
    for (const [name, raw] of Object.entries(document.mcpServers)) {
      const server = readServer(check, name, raw, global);
      if (server) servers.set(name, server);
    }
    if (Object.keys(document.mcpServers).length === 0) check.fail("mcpServers", "must name at least one server");
  }
  if (check.problems.length > 0) throw new CatalogError(check.problems);
  return { global, servers, warnings: check.warnings };
}

/** Reads a catalog file: JSON (the Claude Desktop format), or YAML when it ends in .yaml/.yml. */
export function loadCatalog(file: string): Catalog {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new CatalogError([`${file}: cannot be read (${(error as Error).message})`]);
  }
  const isYaml = [".yaml", ".yml"].includes(extname(file));
  let document: unknown;
  try {
    document = isYaml ? YAML.parse(text) : JSON.parse(text);
  } catch (error) {
    throw new CatalogError([`${file}: not valid ${isYaml ? "YAML" : "JSON"} (${(error as Error).message})`]);
  }
  return parseCatalog(document);
}
