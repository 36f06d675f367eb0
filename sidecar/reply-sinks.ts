// Sinks for the replies to one POST: gathered into one JSON body, or streamed as SSE.
import type { OutgoingHttpHeaders, ServerResponse } from "node:http";
import { idKey, isResponse, type JsonRpcId, type JsonRpcMessage } from "./jsonrpc.ts";
import type { MessageSink } from "./session.ts";
import { SseStream, type SseOptions } from "./sse-stream.ts";

/** Waits for the replies to the given request ids; carries nothing else. */
export class ReplyCollector implements MessageSink {
  readonly streaming = false;
  readonly done: Promise<JsonRpcMessage[]>;
  private readonly replies: JsonRpcMessage[] = [];
  private readonly waiting: Set<string>;
  private resolve!: (replies: JsonRpcMessage[]) => void;

  constructor(requestIds: JsonRpcId[]) {
    this.waiting = new Set(requestIds.map(idKey));
    this.done = new Promise((resolve) => {
      this.resolve = resolve;
    });
  }

  deliver(message: JsonRpcMessage): void {
    if (!isResponse(message) || !this.waiting.delete(idKey(message.id))) return;
    this.replies.push(message);
    if (this.waiting.size === 0) this.resolve(this.replies);
  }
}

export interface PostReplyOptions {
  requestIds: JsonRpcId[];
  /** What the client's Accept allows. */
  json: boolean;
  sse: boolean;
  /** Answer a batch with an array (2025-03-26 batches). */
  batch: boolean;
  sseOptions: SseOptions;
  /** Extra response headers, whichever way it is answered. */
  headers?: OutgoingHttpHeaders;
  /** The HTTP status of a JSON body (2026-07-28 maps some errors to 4xx); 200 by default. */
  statusOf?: (replies: JsonRpcMessage[]) => number;
}

/**
 * The reply to one POST, decided as late as possible: one JSON body when only the replies come, an SSE stream
 * from the first message that is not a reply (progress, a log message, a request for the client), so that what
 * the server says while it works reaches the client before the result. A client that takes only JSON gets only
 * the replies (`streaming` is false: the session sends the rest elsewhere); one that takes only SSE gets SSE.
 */
export class PostReply implements MessageSink {
  readonly streaming: boolean;
  private readonly waiting: Set<string>;
  private readonly replies: JsonRpcMessage[] = [];
  private stream: SseStream | undefined;
  private readonly endHandlers: Array<(abandoned: boolean) => void> = [];
  private finished = false;

  constructor(
    private readonly res: ServerResponse,
    private readonly options: PostReplyOptions,
  ) {
    this.streaming = options.sse;
    this.waiting = new Set(options.requestIds.map(idKey));
    res.on("close", () => this.over(true));
  }

  /** The last reply is written, or the client is gone. */
  get ended(): boolean {
    return this.finished;
  }

  /** Called once, when the last reply is written (false) or the client went away before it (true). */
  onEnd(handler: (abandoned: boolean) => void): void {
    if (this.finished) handler(false);
    else this.endHandlers.push(handler);
  }

  deliver(message: JsonRpcMessage): void {
    if (this.finished || this.res.destroyed) return;
    if (!isResponse(message)) {
      if (!this.streaming) return;
      this.open().deliver(message);
      return;
    }
    if (!this.waiting.delete(idKey(message.id))) return;
    if (this.stream) this.stream.deliver(message);
    else this.replies.push(message);
    if (this.waiting.size === 0) this.finish();
  }

  private open(): SseStream {
    if (!this.stream) {
      this.stream = new SseStream(this.res, { ...this.options.sseOptions, headers: this.options.headers });
      for (const reply of this.replies.splice(0)) this.stream.deliver(reply);
    }
    return this.stream;
  }

  private finish(): void {
    if (!this.res.destroyed) {
      if (!this.stream && this.options.json) this.writeJson();
      else this.open().close();
    }
    this.over(false);
  }

  private over(abandoned: boolean): void {
    if (this.finished) return;
    this.finished = true;
    for (const handler of this.endHandlers.splice(0)) handler(abandoned);
  }

  private writeJson(): void {
    const { res, options, replies } = this;
    const body = JSON.stringify(options.batch ? replies : replies[0]);
    const status = options.statusOf?.(replies) ?? 200;
    const headers: OutgoingHttpHeaders = {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(body),
    };
    res.writeHead(status, { ...headers, ...options.headers });
    res.end(body);
  }
}

/** Where replies to notifications and responses would go: nowhere, they have none. */
export const noReplies: MessageSink = { streaming: false, deliver: () => {} };
