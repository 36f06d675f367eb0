// One Server-Sent Events response: unbuffered, with keep-alive comments so that proxies keep it
// open and a vanished client is noticed by a failed write.
import type { OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { JsonRpcMessage } from "./jsonrpc.ts";
import type { MessageSink } from "./session.ts";

export interface SseOptions {
  keepAliveIntervalMs: number;
  /** A client that reads slower than this many buffered bytes is cut off rather than buffered for. */
  maxBufferedBytes: number;
  headers?: OutgoingHttpHeaders;
}

export class SseStream implements MessageSink {
  readonly streaming = true;
  private readonly keepAlive: NodeJS.Timeout;
  private readonly closeHandlers: Array<() => void> = [];
  private open = true;

  constructor(
    private readonly res: ServerResponse,
    private readonly options: SseOptions,
  ) {
    res.writeHead(200, {
      "content-type": "text/event-stream",
      "cache-control": "no-cache, no-transform",
      connection: "keep-alive",
      "x-accel-buffering": "no",
      ...options.headers,
    });
    res.flushHeaders();
    this.keepAlive = setInterval(() => this.write(": keep-alive\n\n"), options.keepAliveIntervalMs);
    res.on("close", () => this.finish());
  }

  onClose(handler: () => void): void {
    if (this.open) this.closeHandlers.push(handler);
    else handler();
  }

  event(name: string, data: string): void {
    this.write(`event: ${name}\ndata: ${data}\n\n`);
  }

  deliver(message: JsonRpcMessage): void {
    this.event("message", JSON.stringify(message));
  }

  close(): void {
    if (!this.open) return;
    this.res.end();
    this.finish();
  }

  private write(text: string): void {
    if (!this.open) return;
    this.res.write(text);
    if (this.res.writableLength > this.options.maxBufferedBytes) this.res.destroy();
  }

  private finish(): void {
    if (!this.open) return;
    this.open = false;
    clearInterval(this.keepAlive);
    for (const handler of this.closeHandlers.splice(0)) handler();
  }
}
