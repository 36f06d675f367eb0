// A 2026-07-28 request for a child that speaks 2026-07-28: it goes as it is, under the pooled session's id and
// progress token; a listen's notifications carry the listen's id, which goes back to the client's.
import { envelopeOf, metaOf, withEnvelope } from "./eras.ts";
import {
  errorReply,
  isRequest,
  isResponse,
  paramsOf,
  type JsonRpcId,
  type JsonRpcMessage,
  type JsonRpcRequest,
} from "./jsonrpc.ts";
import { ModernServing } from "./modern-serving.ts";
import { ErrorCode, META } from "./protocol.ts";
import { noReplies, type PostReply } from "./reply-sinks.ts";

export class ModernOnModernChild extends ModernServing {
  protected toolListParams(params: Record<string, unknown>, message: JsonRpcRequest): Record<string, unknown> {
    return withEnvelope(params, { ...envelopeOf(paramsOf(message)), logLevel: undefined });
  }

  protected handle(message: JsonRpcRequest, reply: PostReply): void {
    const childId = this.forward(message, paramsOf(message), reply, (answer) => {
      if (isRequest(answer)) {
        this.session.dispatch(
          [
            errorReply(
              answer.id,
              ErrorCode.methodNotFound,
              `${answer.method}: a 2026-07-28 server asks the client through input_required results, not requests`,
            ),
          ],
          noReplies,
        );
        return;
      }
      reply.deliver(restamp(isResponse(answer) ? { ...answer, id: message.id } : answer, childId, message.id));
    });
  }
}

/** The listen id a 2026-07-28 child stamps on a listen's messages, as the client knows it. */
function restamp(message: JsonRpcMessage, childId: string, clientId: JsonRpcId): JsonRpcMessage {
  const field = isResponse(message) ? "result" : "params";
  const body = (message[field] ?? {}) as Record<string, unknown>;
  const meta = metaOf(body);
  if (meta[META.subscriptionId] !== childId) return message;
  return { ...message, [field]: { ...body, _meta: { ...meta, [META.subscriptionId]: clientId } } };
}
