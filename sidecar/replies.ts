// Sinks for the replies to one POST: gathered into one JSON body, or streamed as SSE.
import { idKey, isResponse, type JsonRpcId, type JsonRpcMessage } from './jsonrpc.ts';
import type { MessageSink } from './session.ts';
import type { SseStream } from './sse.ts';

/** Waits for the replies to the given request ids; carries nothing else. */
export class ReplyCollector implements MessageSink {
  readonly streaming = false;
  readonly done: Promise<JsonRpcMessage[]>;
  private readonly replies: JsonRpcMessage[] = [];
  private readonly waiting: Set<string>;
  private resolve!: (replies: JsonRpcMessage[]) => void;

  constructor(requestIds: JsonRpcId[]) {
    this.waiting = new Set(requestIds.map(idKey));
    this.done = new Promise((resolve) => { this.resolve = resolve; });
  }

  deliver(message: JsonRpcMessage): void {
    if (!isResponse(message) || !this.waiting.delete(idKey(message.id))) return;
    this.replies.push(message);
    if (this.waiting.size === 0) this.resolve(this.replies);
  }
}

/** Streams everything for these requests and ends the response after the last reply. */
export class StreamedReplies implements MessageSink {
  readonly streaming = true;
  private readonly waiting: Set<string>;

  constructor(private readonly stream: SseStream, requestIds: JsonRpcId[]) {
    this.waiting = new Set(requestIds.map(idKey));
  }

  deliver(message: JsonRpcMessage): void {
    this.stream.deliver(message);
    if (isResponse(message) && this.waiting.delete(idKey(message.id)) && this.waiting.size === 0) this.stream.close();
  }
}

/** Where replies to notifications and responses would go: nowhere, they have none. */
export const noReplies: MessageSink = { streaming: false, deliver: () => {} };
