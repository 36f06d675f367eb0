// A 2026-07-28 request for a 2025 child, on a pooled session whose child the sidecar initialized itself.
// - server/discover is answered from the child's initialize result.
// - The envelope is taken off; results get what 2026-07-28 requires (resultType, cache fields, serverInfo).
// - Log messages reach the request only at the envelope's logLevel (none: no log messages), and only from a
//   child of the session's own (a shared child's cannot be tied to one request).
// - subscriptions/listen: list changes the child sends anyway, resource updates through resources/subscribe
//   (counted, so that two listens on one URI subscribe once).
// - The child's own requests (sampling, elicitation, roots) during a call become `input_required` by replay:
//   the sidecar keeps nothing between the client's requests. The call is cancelled at the child's first
//   unanswered request, which goes to the client in `inputRequests` (with any others the child sends within
//   INPUT_BURST_MS); every answer so far travels in `requestState` (HMAC-sealed, bound to the user and the request, ten
//   minutes). The retry runs the call again from the start, and the child's requests are answered, in order,
//   from those answers; a request that differs from the one answered before ends the call with an error. So a
//   tool runs once per round: one that changes something before it asks changes it again on each round (catalog
//   `inputRequired: "refuse"` turns this off). The child was initialized as a client that can answer everything:
//   what it asks of a client that did not declare the capability ends the call with -32021.
import { createHash, randomBytes } from "node:crypto";
import { createRequestStateCodec, type RequestStateCodec, type ServerContext } from "@modelcontextprotocol/server";
import {
  CALL_METHODS,
  canonicalJson,
  declares,
  envelopeOf,
  logLevelAllows,
  metaOf,
  modernError,
  modernResult,
  requiredCapabilities,
  withoutEnvelope,
  type Envelope,
} from "./eras.ts";
import {
  errorReply,
  isRequest,
  isResponse,
  paramsOf,
  resultReply,
  type JsonRpcId,
  type JsonRpcMessage,
  type JsonRpcRequest,
} from "./jsonrpc.ts";
import type { ChangeFeed } from "./modern-pool.ts";
import { ModernServing } from "./modern-serving.ts";
import { ErrorCode, META, MODERN_VERSION } from "./protocol.ts";
import { noReplies, type PostReply } from "./reply-sinks.ts";
import type { Session } from "./session.ts";

const REQUEST_STATE_TTL_SECONDS = 600;
/**
 * A 2025 server that needs several inputs sends its requests a few milliseconds apart: those that come within this
 * long of the first go to the client in the same round (any later one makes one more round; nothing is lost).
 */
const INPUT_BURST_MS = 50;
/**
 * 2025 methods that 2026-07-28 removed: the pooled child must not get them (the handshake is the sidecar's, and
 * a level or a subscription would change the child for every client it serves). What to use instead.
 */
const REMOVED_METHODS: Record<string, string> = {
  initialize: "there is no handshake; server/discover tells what the server offers",
  ping: "removed",
  "logging/setLevel": `send ${META.logLevel} in the _meta of each request`,
  "resources/subscribe": "use subscriptions/listen",
  "resources/unsubscribe": "close the subscriptions/listen stream",
};

/** One request of the child answered by the client in an earlier round. */
interface Answer {
  method: string;
  /** Digest of the request's params: a replayed call must ask the same. */
  digest: string;
  result: unknown;
}

/** What requestState carries from one round to the next. */
interface RoundState {
  /** Digest of the client's request (method and params): the state is good for this request only. */
  request: string;
  /** The user whose credentials the child holds (envFromHeaders digest). */
  principal: string;
  answers: Answer[];
  /** The requests the client is being asked to answer now, each under its `key` in inputResponses. */
  pending: Question[];
}

type Question = Omit<Answer, "result"> & { key: string };

/** Seals and opens requestState (the SDK's HMAC codec; the key is the catalog's, shared by replicas, or random). */
export class RequestStates {
  private readonly codec: RequestStateCodec<RoundState>;

  constructor(key: string | undefined) {
    this.codec = createRequestStateCodec<RoundState>({
      key: key ?? randomBytes(32),
      ttlSeconds: REQUEST_STATE_TTL_SECONDS,
    });
  }

  seal(state: RoundState): Promise<string> {
    return this.codec.mint(state);
  }

  /** The state, or undefined when it is not one of ours, altered, or expired. */
  async open(sealed: unknown): Promise<RoundState | undefined> {
    if (typeof sealed !== "string") return undefined;
    try {
      // No context binding is configured, so verify never reads the context.
      return await this.codec.verify(sealed, undefined as unknown as ServerContext);
    } catch {
      return undefined;
    }
  }
}

/** The child's requests of one attempt of a call, answered from earlier rounds as long as they match. */
class Replay {
  private asked = 0;

  constructor(readonly answers: Answer[]) {}

  next(method: string, digest: string): { answer: Answer } | { diverged: true } | { ask: number } {
    const index = this.asked++;
    const answer = this.answers[index];
    if (!answer) return { ask: index };
    return answer.method === method && answer.digest === digest ? { answer } : { diverged: true };
  }
}

export class ModernOnLegacyChild extends ModernServing {
  private readonly capabilities: Record<string, Record<string, unknown> | undefined>;
  private readonly serverInfo: unknown;
  /** Resource URI -> listens on it (the child is subscribed while there is one). */
  private readonly subscriptions = new Map<string, number>();

  constructor(
    session: Session,
    private readonly initialized: Record<string, unknown>,
    private readonly feed: ChangeFeed,
    private readonly states: RequestStates,
  ) {
    super(session);
    this.capabilities = (initialized.capabilities as typeof this.capabilities | undefined) ?? {};
    this.serverInfo = initialized.serverInfo;
    feed.listeners.add((notification) => {
      if (notification.method === "notifications/tools/list_changed") this.forgetTools();
    });
  }

  protected toolListParams(params: Record<string, unknown>): Record<string, unknown> {
    return params;
  }

  protected handle(message: JsonRpcRequest, reply: PostReply): void {
    switch (message.method) {
      case "server/discover":
        return reply.deliver(resultReply(message.id, this.discovery()));
      case "subscriptions/listen":
        return this.listen(message, reply);
    }
    const replacement = REMOVED_METHODS[message.method];
    if (replacement !== undefined) {
      return reply.deliver(
        errorReply(
          message.id,
          ErrorCode.methodNotFound,
          `${message.method} is not part of MCP ${MODERN_VERSION}: ${replacement}`,
        ),
      );
    }
    void this.call(message, reply);
  }

  private discovery(): Record<string, unknown> {
    const { instructions } = this.initialized;
    return modernResult(
      "server/discover",
      {
        supportedVersions: [MODERN_VERSION],
        capabilities: this.capabilities,
        ...(typeof instructions === "string" ? { instructions } : {}),
      },
      this.serverInfo,
    );
  }

  private async call(message: JsonRpcRequest, reply: PostReply): Promise<void> {
    const params = paramsOf(message);
    const envelope = envelopeOf(params);
    const { inputResponses, requestState, ...sent } = withoutEnvelope(params);
    const requestDigest = digest({ method: message.method, params: { ...sent, _meta: undefined } });
    const principal = this.session.identity.toString("hex");
    let replay = new Replay([]);
    if (CALL_METHODS.has(message.method) && requestState !== undefined) {
      const state = await this.states.open(requestState);
      if (!state || state.request !== requestDigest || state.principal !== principal) {
        return reply.deliver(
          errorReply(message.id, ErrorCode.invalidParams, "Invalid or expired requestState", {
            reason: "invalid_request_state",
          }),
        );
      }
      replay = new Replay([...state.answers, ...answered(state.pending, inputResponses)]);
      if (reply.ended) return;
    }
    const context: CallContext = {
      message,
      reply,
      envelope,
      replay,
      requestDigest,
      principal,
      childId: "",
      questions: [],
    };
    context.childId = this.forward(message, sent, reply, (answer) => this.fromChild(context, answer));
  }

  private fromChild(call: CallContext, answer: JsonRpcMessage): void {
    const { message, reply, envelope } = call;
    if (isResponse(answer)) {
      return reply.deliver(
        answer.error
          ? { ...answer, id: message.id, error: modernError(answer.error) }
          : resultReply(message.id, modernResult(message.method, answer.result, this.serverInfo)),
      );
    }
    if (isRequest(answer)) return this.childAsks(call, answer);
    if (answer.method !== "notifications/message" || envelope.logLevel === undefined) return;
    if (this.session.server.mode === "session" && logLevelAllows(envelope.logLevel, paramsOf(answer).level))
      reply.deliver(answer);
  }

  /** The child asks the client something while it serves a call: answered from earlier rounds, or asked now. */
  private childAsks(call: CallContext, request: JsonRpcRequest): void {
    if (request.method === "ping") return this.answerChild(resultReply(request.id, {}));
    const { _meta, ...asked } = paramsOf(request);
    const required = requiredCapabilities(request.method, asked);
    const refusal = this.refusal(call, request.method, required);
    if (refusal)
      return this.answerChild(
        errorReply(request.id, ErrorCode.methodNotFound, `${request.method} cannot reach the client: ${refusal}`),
      );
    const step = call.replay.next(request.method, digest(asked));
    if ("answer" in step) return this.answerChild(resultReply(request.id, step.answer.result));
    if ("diverged" in step) {
      this.endAttempt(call, [request.id]);
      return call.reply.deliver(
        errorReply(
          call.message.id,
          ErrorCode.internalError,
          `when the call ran again with the client's answers, the server asked something else (${request.method}) than before; ` +
            "send the request again without inputResponses and requestState",
        ),
      );
    }
    call.questions.push({
      key: `input-${step.ask}`,
      method: request.method,
      digest: digest(asked),
      params: asked,
      required: required!,
      id: request.id,
    });
    if (call.questions.length === 1) setTimeout(() => void this.askClient(call), INPUT_BURST_MS);
  }

  private answerChild(answer: JsonRpcMessage): void {
    this.session.dispatch([answer], noReplies);
  }

  /** Stops this attempt of the call: cancelled first, so that nothing the child answers after counts. */
  private endAttempt(call: CallContext, requests: JsonRpcId[]): void {
    this.session.cancel(call.childId, "the client is asked for input; the call runs again with the answers");
    for (const id of requests)
      this.answerChild(
        errorReply(id, ErrorCode.internalError, "request cancelled: the call was answered with input_required"),
      );
  }

  /** Ends the attempt with an input_required result asking the client what the child asked. */
  private async askClient(call: CallContext): Promise<void> {
    const { questions } = call;
    this.endAttempt(
      call,
      questions.map((question) => question.id),
    );
    // The child was told its client can answer everything: this one may not, and 2026-07-28 says so with -32021.
    const missing = questions.filter((question) => !declares(call.envelope.clientCapabilities, question.required));
    if (missing.length > 0) {
      const requiredCapabilities = Object.assign({}, ...missing.map((question) => question.required));
      return call.reply.deliver(
        errorReply(
          call.message.id,
          ErrorCode.missingClientCapability,
          `${call.message.method} needs the client capability ${Object.keys(requiredCapabilities).join(", ")} ` +
            `(the server sent ${missing.map((question) => question.method).join(", ")})`,
          { requiredCapabilities },
        ),
      );
    }
    const requestState = await this.states.seal({
      request: call.requestDigest,
      principal: call.principal,
      answers: call.replay.answers,
      pending: questions.map(({ key, method, digest: asked }) => ({ key, method, digest: asked })),
    });
    call.reply.deliver(
      resultReply(call.message.id, {
        resultType: "input_required",
        inputRequests: Object.fromEntries(
          questions.map((question) => [question.key, { method: question.method, params: question.params }]),
        ),
        requestState,
        _meta: { [META.serverInfo]: this.serverInfo },
      }),
    );
  }

  /** Why the child's request cannot be put to the client at all, if it cannot. */
  private refusal(call: CallContext, method: string, required: unknown): string | undefined {
    if (!CALL_METHODS.has(call.message.method)) {
      return `a 2026-07-28 client is asked for input only in answer to ${[...CALL_METHODS].join(", ")}`;
    }
    if (required === undefined) return `${method} is not a request a 2026-07-28 client answers`;
    if (this.session.server.inputRequired === "refuse")
      return 'this server is configured with "inputRequired": "refuse"';
    return undefined;
  }

  private listen(message: JsonRpcRequest, reply: PostReply): void {
    const filter = paramsOf(message).notifications;
    if (typeof filter !== "object" || filter === null) {
      return reply.deliver(
        errorReply(message.id, ErrorCode.invalidParams, "Invalid params: 'notifications' is required"),
      );
    }
    if (!reply.streaming) {
      return reply.deliver(
        errorReply(
          message.id,
          ErrorCode.invalidRequest,
          "subscriptions/listen is answered with an SSE stream: accept text/event-stream",
        ),
      );
    }
    const honored = this.honored(filter as Record<string, unknown>);
    const stamp = (notification: JsonRpcMessage): JsonRpcMessage => {
      const params = paramsOf(notification);
      return {
        ...notification,
        params: { ...params, _meta: { ...metaOf(params), [META.subscriptionId]: message.id } },
      };
    };
    reply.deliver(
      stamp({ jsonrpc: "2.0", method: "notifications/subscriptions/acknowledged", params: { notifications: honored } }),
    );
    const end = () =>
      reply.deliver(
        resultReply(message.id, {
          resultType: "complete",
          _meta: { [META.subscriptionId]: message.id, [META.serverInfo]: this.serverInfo },
        }),
      );
    if (Object.keys(honored).length === 0) return end();
    const uris = (honored.resourceSubscriptions as string[] | undefined) ?? [];
    for (const uri of uris) this.subscribe(uri);
    const listener = (notification: JsonRpcMessage) => {
      if (wanted(honored, notification)) reply.deliver(stamp(notification));
    };
    this.feed.listeners.add(listener);
    const release = this.session.holdStream(end);
    reply.onEnd(() => {
      this.feed.listeners.delete(listener);
      for (const uri of uris) this.unsubscribe(uri);
      release();
    });
  }

  /** The part of a listen filter the child can deliver (what its capabilities announce). */
  private honored(filter: Record<string, unknown>): Record<string, unknown> {
    const caps = this.capabilities;
    const honored: Record<string, unknown> = {};
    if (filter.toolsListChanged === true && caps.tools?.listChanged === true) honored.toolsListChanged = true;
    if (filter.promptsListChanged === true && caps.prompts?.listChanged === true) honored.promptsListChanged = true;
    if (filter.resourcesListChanged === true && caps.resources?.listChanged === true)
      honored.resourcesListChanged = true;
    const uris = Array.isArray(filter.resourceSubscriptions)
      ? filter.resourceSubscriptions.filter((uri) => typeof uri === "string")
      : [];
    if (uris.length > 0 && caps.resources?.subscribe === true) honored.resourceSubscriptions = uris;
    return honored;
  }

  private subscribe(uri: string): void {
    const listens = this.subscriptions.get(uri) ?? 0;
    this.subscriptions.set(uri, listens + 1);
    if (listens === 0) void this.childRequest("resources/subscribe", uri);
  }

  private unsubscribe(uri: string): void {
    const listens = (this.subscriptions.get(uri) ?? 1) - 1;
    if (listens > 0) return void this.subscriptions.set(uri, listens);
    this.subscriptions.delete(uri);
    if (!this.session.ended) void this.childRequest("resources/unsubscribe", uri);
  }

  private async childRequest(method: string, uri: string): Promise<void> {
    const reply = await this.session.request(method, { uri });
    if (reply.error) this.session.log.warn(`${method} failed`, { uri, error: reply.error.message });
  }
}

interface CallContext {
  message: JsonRpcRequest;
  reply: PostReply;
  envelope: Envelope;
  replay: Replay;
  requestDigest: string;
  principal: string;
  childId: string;
  /** What the child asked in this attempt that no earlier round answered. */
  questions: Array<
    Question & { params: Record<string, unknown>; required: Record<string, Record<string, unknown>>; id: JsonRpcId }
  >;
}

/** The answers a retry brings, in the order the child asked: up to the first one missing (asked again then). */
function answered(pending: Question[], inputResponses: unknown): Answer[] {
  const responses = (typeof inputResponses === "object" && inputResponses !== null ? inputResponses : {}) as Record<
    string,
    unknown
  >;
  const answers: Answer[] = [];
  for (const question of pending) {
    const result = responses[question.key];
    if (result === undefined) break;
    answers.push({ method: question.method, digest: question.digest, result });
  }
  return answers;
}

/** Whether a listen filter asks for this change notification. */
function wanted(honored: Record<string, unknown>, notification: JsonRpcMessage): boolean {
  switch (notification.method) {
    case "notifications/tools/list_changed":
      return honored.toolsListChanged === true;
    case "notifications/prompts/list_changed":
      return honored.promptsListChanged === true;
    case "notifications/resources/list_changed":
      return honored.resourcesListChanged === true;
    case "notifications/resources/updated":
      return ((honored.resourceSubscriptions as string[] | undefined) ?? []).includes(
        String(paramsOf(notification).uri),
      );
    default:
      return false;
  }
}

function digest(value: unknown): string {
  return createHash("sha256").update(canonicalJson(value)).digest("base64url");
}
