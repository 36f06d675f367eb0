// One HTTP request for one catalog server, as every transport gets it, and the settings of the SSE streams they open.
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { ServerConfig } from "./catalog.ts";
import type { SessionRegistry } from "./sessions.ts";
import type { SseOptions } from "./sse-stream.ts";

export interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  server: ServerConfig;
  sessions: SessionRegistry;
}

export function sseOptions(sessions: SessionRegistry, headers?: OutgoingHttpHeaders): SseOptions {
  const { keepAliveIntervalMs, maxLineBytes } = sessions.services.global;
  return { keepAliveIntervalMs, maxBufferedBytes: maxLineBytes * 2, headers };
}
