// The handshake the filter performs as the client of a 2025 backend, the same whichever way it reaches that backend
// (a kept session, sessions.ts; a legacy SSE stream, legacy.ts): initialize, then notifications/initialized. The
// filter declares no client capabilities: it cannot be asked anything (sampling, elicitation, roots) on a backend
// session that serves many clients, and a compliant backend then asks nothing.
import { Failure, describe } from "./backend";
import { ServerConfig } from "./config";
import { logWarn } from "./host";
import { Message } from "./jsonrpc";
import { notificationBody, requestBody, resultString } from "./upstream";

/** The version we ask backends for; they answer with the one they speak, which we then send on every request. */
export const BACKEND_PROTOCOL_VERSION = "2025-11-25";
/** What a backend that sends no protocolVersion is assumed to speak (the spec's default). */
const ASSUMED_VERSION = "2025-03-26";
const INIT_PARAMS = String.UTF8.encode(
  '{"protocolVersion":"' +
    BACKEND_PROTOCOL_VERSION +
    '","capabilities":{},"clientInfo":{"name":"mcp-proxy-wasm","version":"0.1.0"}}',
);
const INITIALIZED = notificationBody("notifications/initialized");

/** Our initialize request, with id `id`. */
export function initializeRequest(id: i64): ArrayBuffer {
  return requestBody(id, "initialize", Uint8Array.wrap(INIT_PARAMS), 0, INIT_PARAMS.byteLength);
}

/** The notification that completes the handshake (the same bytes every time). */
export function initializedNotification(): ArrayBuffer {
  return INITIALIZED;
}

/** Why the backend's answer to our initialize cannot open a session; null when it can. */
export function initializeRefusal(server: ServerConfig, m: Message): Failure | null {
  return m.error.present ? new Failure(200, describe(server, "refused initialize"), "", m) : null;
}

/** The version the backend said it speaks (the spec's default when it said none). */
export function negotiatedVersion(m: Message): string {
  const version = resultString(m, "protocolVersion");
  return version.length > 0 ? version : ASSUMED_VERSION;
}

/** A failed notifications/initialized is only logged: most servers serve requests regardless. */
export function notificationFailed(server: ServerConfig, problem: string): void {
  logWarn(describe(server, "rejected notifications/initialized: " + problem));
}
