// What the two ways of serving a 2026-07-28 request on a pooled session have in common: the request goes to the
// child under the session's own id and progress token (every client counts its ids from the start, and many
// clients share a pooled session), progress comes back under the client's token, a client that closes its
// response stream cancels the request, and a tools/call is checked against the Mcp-Param-* headers its tool's
// schema asks for (the tool list is fetched once per pooled session, again when a tool is not in it).
import type { IncomingHttpHeaders } from "node:http";
import { metaOf } from "./eras.ts";
import { errorReply, paramsOf, type JsonRpcMessage, type JsonRpcRequest } from "./jsonrpc.ts";
import { headerDeclarations, paramHeaderMismatch, type HeaderDeclaration } from "./modern-headers.ts";
import { ErrorCode } from "./protocol.ts";
import type { PostReply } from "./reply-sinks.ts";
import type { Session } from "./session.ts";

/** A server that keeps handing out cursors is not followed forever. */
const MAX_TOOL_PAGES = 100;

export abstract class ModernServing {
  private nextId = 1;
  /** Tool name -> its x-mcp-header marks, from the child's tool list. */
  private toolHeaders: Map<string, HeaderDeclaration[]> | undefined;

  constructor(protected readonly session: Session) {}

  serve(message: JsonRpcRequest, reply: PostReply, headers: IncomingHttpHeaders): void {
    if (message.method !== "tools/call") return this.handle(message, reply);
    void this.paramHeaderMismatch(message, headers).then((mismatch) => {
      if (mismatch)
        return reply.deliver(errorReply(message.id, ErrorCode.headerMismatch, `header mismatch: ${mismatch}`));
      if (!reply.ended) this.handle(message, reply);
    });
  }

  /** Serves one request (its headers checked). */
  protected abstract handle(message: JsonRpcRequest, reply: PostReply): void;

  /** The params of the sidecar's own tools/list for a client's request (a 2026-07-28 child needs the envelope). */
  protected abstract toolListParams(params: Record<string, unknown>, message: JsonRpcRequest): Record<string, unknown>;

  /** The child's tool list changed: the marks are read again when next needed. */
  protected forgetTools(): void {
    this.toolHeaders = undefined;
  }

  /**
   * Sends `message` with `params` to the child; everything the child says about it but progress goes to
   * `onMessage`. Returns the id it has on the session.
   */
  protected forward(
    message: JsonRpcRequest,
    params: Record<string, unknown>,
    reply: PostReply,
    onMessage: (message: JsonRpcMessage) => void,
  ): string {
    const childId = `request-${this.nextId++}`;
    const token = metaOf(paramsOf(message)).progressToken;
    const sent = token === undefined ? params : { ...params, _meta: { ...metaOf(params), progressToken: childId } };
    const sink = {
      streaming: true,
      deliver: (answer: JsonRpcMessage) => {
        if (answer.method !== "notifications/progress") return onMessage(answer);
        reply.deliver({ ...answer, params: { ...paramsOf(answer), progressToken: token } });
      },
    };
    this.session.dispatch([{ jsonrpc: "2.0", id: childId, method: message.method, params: sent }], sink);
    reply.onEnd((abandoned) => {
      if (abandoned) this.session.cancel(childId, "the client closed its response stream");
    });
    return childId;
  }

  private async paramHeaderMismatch(
    message: JsonRpcRequest,
    headers: IncomingHttpHeaders,
  ): Promise<string | undefined> {
    const { name, arguments: args } = paramsOf(message);
    if (typeof name !== "string") return undefined;
    if (!this.toolHeaders?.has(name)) this.toolHeaders = await this.readToolHeaders(message);
    return paramHeaderMismatch(this.toolHeaders.get(name) ?? [], args, headers);
  }

  private async readToolHeaders(message: JsonRpcRequest): Promise<Map<string, HeaderDeclaration[]>> {
    const marks = new Map<string, HeaderDeclaration[]>();
    let cursor: unknown;
    for (let page = 0; page < MAX_TOOL_PAGES; page++) {
      const reply = await this.session.request(
        "tools/list",
        this.toolListParams(cursor === undefined ? {} : { cursor }, message),
      );
      const result = reply.result as
        { tools?: Array<{ name?: unknown; inputSchema?: unknown }>; nextCursor?: unknown } | undefined;
      for (const tool of result?.tools ?? []) {
        if (typeof tool.name === "string") marks.set(tool.name, headerDeclarations(tool.inputSchema));
      }
      if (result?.nextCursor === undefined || result.nextCursor === cursor) break;
      cursor = result.nextCursor;
    }
    return marks;
  }
}
