// The protocol's constants, in one place: the MCP versions of each era, who the sidecar says it is to its
// children, the JSON-RPC error codes, the HTTP headers and the reserved `_meta` keys.
import { readFileSync } from "node:fs";

/** The sidecar's version: the package's, read once. */
const SIDECAR_VERSION = (
  JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }
).version;
/** The clientInfo of the sessions the sidecar initializes itself (shared children, pooled sessions, bridges). */
export const CLIENT_INFO = { name: "mcp-sidecar", version: SIDECAR_VERSION };
/** The clientInfo of the REST API's pooled sessions. */
export const REST_CLIENT_INFO = { name: "mcp-sidecar-rest", version: SIDECAR_VERSION };

/** The 2026-07-28 era: no session, an envelope in every request's `_meta`. */
export const MODERN_VERSION = "2026-07-28";
/** Versions a 2025-era client may negotiate with us; the last is what we offer when it asks for another. */
export const LEGACY_VERSIONS = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];
export const LATEST_LEGACY_VERSION = LEGACY_VERSIONS[LEGACY_VERSIONS.length - 1];
/** What the REST API's pooled sessions ask their child for. */
export const REST_PROTOCOL_VERSION = "2025-06-18";

export const ErrorCode = {
  parseError: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  internalError: -32603,
  /** Implementation-defined range: the child is gone, or could not be reached. */
  serverUnavailable: -32000,
  requestTimeout: -32001,
  /** 2025 resource-not-found; 2026-07-28 uses invalidParams instead. */
  resourceNotFound: -32002,
  /** 2026-07-28: HTTP headers that disagree with the body, or required ones missing (HTTP 400). */
  headerMismatch: -32020,
  /** 2026-07-28: the request needs a client capability its envelope does not declare (HTTP 400). */
  missingClientCapability: -32021,
  /** 2026-07-28: a protocol version the server does not speak; data has `supported` and `requested` (HTTP 400). */
  unsupportedProtocolVersion: -32022,
  /** Ours, like HTTP 429: the client's rate limit is spent (data.retryAfterSeconds says for how long). */
  rateLimited: -32029,
} as const;

/** MCP's HTTP headers, as Node's lower-cased `req.headers` has them. */
export const HEADER = {
  sessionId: "mcp-session-id",
  protocolVersion: "mcp-protocol-version",
  /** 2026-07-28: the request's method, its name (tool, prompt, resource) and marked tool arguments, from the body. */
  method: "mcp-method",
  name: "mcp-name",
  paramPrefix: "mcp-param-",
} as const;

/** The WebSocket subprotocol MCP clients (the SDK's among them) ask for. */
export const WEBSOCKET_SUBPROTOCOL = "mcp";

/** The reserved `_meta` keys of the 2026-07-28 envelope and results. */
export const META = {
  protocolVersion: "io.modelcontextprotocol/protocolVersion",
  clientCapabilities: "io.modelcontextprotocol/clientCapabilities",
  clientInfo: "io.modelcontextprotocol/clientInfo",
  logLevel: "io.modelcontextprotocol/logLevel",
  serverInfo: "io.modelcontextprotocol/serverInfo",
  subscriptionId: "io.modelcontextprotocol/subscriptionId",
} as const;
/** Every reserved `_meta` key starts with this. */
export const RESERVED_META_PREFIX = "io.modelcontextprotocol/";
