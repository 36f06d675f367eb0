// A child that speaks only 2026-07-28, presented to one 2025 peer (a session's client, or the shared child
// that multiplexes many). The sidecar answers what 2026-07-28 removed (initialize from server/discover, ping,
// logging/setLevel), puts the envelope on every request, turns resources/subscribe and the unsolicited list
// changes of 2025 into subscriptions/listen, and fulfils `input_required` results the 2025 way: it sends the
// peer the requests they contain, then retries the call with the answers (and the child's requestState).
import { legacyResult, metaOf, withEnvelope, type Envelope } from "./eras.ts";
import {
  errorReply,
  idKey,
  isRequest,
  isResponse,
  paramsOf,
  resultReply,
  type JsonRpcId,
  type JsonRpcMessage,
  type JsonRpcRequest,
} from "./jsonrpc.ts";
import type { Logger } from "./log.ts";
import { CLIENT_INFO, ErrorCode, LATEST_LEGACY_VERSION, LEGACY_VERSIONS, META, MODERN_VERSION } from "./protocol.ts";

/** A call that keeps asking for input this many times is given up (a loop between child and client). */
const MAX_INPUT_ROUNDS = 16;
/** The listen that carries list changes, beside one listen per subscribed resource. */
const LIST_CHANGES = "";

/** Where messages for the peer go; `related` is the peer's request they belong to, when known. */
export type PeerDelivery = (message: JsonRpcMessage, related?: JsonRpcId) => void;

/** One request of the peer, possibly sent to the child several times (each input round is a retry). */
interface Call {
  peerId: JsonRpcId;
  method: string;
  params: Record<string, unknown>;
  childId?: number;
  rounds: number;
  cancelled: boolean;
}

/** What an id the sidecar sent to the child stands for. */
type Outstanding =
  | { kind: "call"; call: Call }
  | { kind: "discover"; peerId: JsonRpcId; requested: unknown }
  | { kind: "listen"; target: string; answer?: JsonRpcId };

export class LegacyOnModernChild {
  private nextId = 1;
  private nextAsk = 1;
  private envelope: Envelope = { protocolVersion: MODERN_VERSION, clientCapabilities: {}, clientInfo: CLIENT_INFO };
  private logLevel: string | undefined;
  private capabilities: Record<string, Record<string, unknown> | undefined> = {};
  private readonly outstanding = new Map<number, Outstanding>();
  /** The peer's requests in flight, by its id (for notifications/cancelled). */
  private readonly calls = new Map<string, Call>();
  /** Our requests to the peer (input for a call) waiting for its answer. */
  private readonly asks = new Map<string, (reply: JsonRpcMessage) => void>();
  /** Open listens: list changes, and one per subscribed resource URI -> the child-side id of the listen. */
  private readonly listens = new Map<string, number>();

  constructor(
    private readonly toChild: (message: JsonRpcMessage) => void,
    private readonly toPeer: PeerDelivery,
    private readonly log: Logger,
  ) {}

  fromPeer(message: JsonRpcMessage): void {
    if (isResponse(message)) return this.asks.get(idKey(message.id))?.(message);
    if (isRequest(message)) return this.request(message);
    const params = paramsOf(message);
    switch (message.method) {
      case "notifications/initialized":
        return this.listen(LIST_CHANGES);
      case "notifications/cancelled":
        return this.cancel(params.requestId as JsonRpcId);
      // 2026-07-28 has no such notification: a server asks for the roots with each request that needs them.
      case "notifications/roots/list_changed":
        return;
      default:
        this.toChild(message);
    }
  }

  fromChild(message: JsonRpcMessage): void {
    if (isResponse(message)) return this.onReply(message);
    if (isRequest(message)) {
      this.toChild(
        errorReply(
          message.id,
          ErrorCode.methodNotFound,
          `${message.method}: a 2026-07-28 server asks the client through input_required results, not requests`,
        ),
      );
      return;
    }
    const meta = metaOf(paramsOf(message));
    if (meta[META.subscriptionId] !== undefined) return this.onListenMessage(message, meta);
    this.toPeer(message);
  }

  /** The peer is gone: nothing it asked for is answered any more. */
  close(): void {
    for (const call of this.calls.values()) call.cancelled = true;
    this.calls.clear();
    this.asks.clear();
  }

  private request(message: JsonRpcRequest): void {
    const params = paramsOf(message);
    switch (message.method) {
      case "initialize":
        return this.initialize(message.id, params);
      case "ping":
        return this.toPeer(resultReply(message.id, {}));
      case "logging/setLevel":
        // 2026-07-28 sends the level with each request instead.
        this.logLevel = typeof params.level === "string" ? params.level : undefined;
        return this.toPeer(resultReply(message.id, {}));
      case "resources/subscribe":
        return this.subscribe(message.id, String(params.uri));
      case "resources/unsubscribe":
        return this.unsubscribe(message.id, String(params.uri));
      default: {
        const call: Call = { peerId: message.id, method: message.method, params, rounds: 0, cancelled: false };
        this.calls.set(idKey(message.id), call);
        this.attempt(call, {});
      }
    }
  }

  private initialize(peerId: JsonRpcId, params: Record<string, unknown>): void {
    this.envelope = {
      protocolVersion: MODERN_VERSION,
      clientCapabilities: (params.capabilities as Record<string, unknown> | undefined) ?? {},
      clientInfo: (params.clientInfo as Record<string, unknown> | undefined) ?? CLIENT_INFO,
    };
    this.send({ kind: "discover", peerId, requested: params.protocolVersion }, "server/discover", {});
  }

  private currentEnvelope(): Envelope {
    return this.logLevel === undefined ? this.envelope : { ...this.envelope, logLevel: this.logLevel };
  }

  /** Sends a request of ours to the child; its id says what the reply is for. */
  private send(what: Outstanding, method: string, params: Record<string, unknown>): number {
    const id = this.nextId++;
    this.outstanding.set(id, what);
    this.toChild({ jsonrpc: "2.0", id, method, params: withEnvelope(params, this.currentEnvelope()) });
    return id;
  }

  private attempt(call: Call, retry: { inputResponses?: Record<string, unknown>; requestState?: unknown }): void {
    call.childId = this.send({ kind: "call", call }, call.method, { ...call.params, ...retry });
  }

  private onReply(reply: JsonRpcMessage & { id: JsonRpcId }): void {
    const what = typeof reply.id === "number" ? this.outstanding.get(reply.id) : undefined;
    if (!what) return this.log.debug("reply from a 2026-07-28 child for nothing we sent, dropped", { id: reply.id });
    this.outstanding.delete(reply.id as number);
    switch (what.kind) {
      case "discover":
        return this.onDiscovered(what.peerId, what.requested, reply);
      case "listen":
        return this.onListenEnded(what.target, reply.id as number, what.answer, reply);
      case "call":
        return this.onCallReply(what.call, reply);
    }
  }

  /** The peer's initialize, answered from what the child says of itself. */
  private onDiscovered(peerId: JsonRpcId, requested: unknown, reply: JsonRpcMessage): void {
    if (reply.error)
      return this.toPeer(
        errorReply(peerId, reply.error.code, `server/discover failed: ${reply.error.message}`, reply.error.data),
      );
    const result = reply.result as Record<string, unknown>;
    this.capabilities = (result.capabilities as typeof this.capabilities | undefined) ?? {};
    const serverInfo = metaOf(result)[META.serverInfo] ?? { name: "unknown", version: "0" };
    this.toPeer(
      resultReply(peerId, {
        protocolVersion: LEGACY_VERSIONS.includes(String(requested)) ? requested : LATEST_LEGACY_VERSION,
        capabilities: this.capabilities,
        serverInfo,
        ...(typeof result.instructions === "string" ? { instructions: result.instructions } : {}),
      }),
    );
  }

  private onCallReply(call: Call, reply: JsonRpcMessage): void {
    if (call.cancelled) return;
    const result = reply.result as Record<string, unknown> | undefined;
    if (result?.resultType === "input_required") {
      void this.fulfil(call, result);
      return;
    }
    this.calls.delete(idKey(call.peerId));
    this.toPeer(reply.error ? { ...reply, id: call.peerId } : resultReply(call.peerId, legacyResult(reply.result)));
  }

  /** One input round: every request of the result goes to the peer; the answers come back in a retry. */
  private async fulfil(call: Call, result: Record<string, unknown>): Promise<void> {
    if (++call.rounds > MAX_INPUT_ROUNDS) {
      this.calls.delete(idKey(call.peerId));
      return this.toPeer(
        errorReply(
          call.peerId,
          ErrorCode.internalError,
          `${call.method} still asked for input after ${MAX_INPUT_ROUNDS} rounds`,
        ),
      );
    }
    const requests = Object.entries((result.inputRequests as Record<string, JsonRpcMessage> | undefined) ?? {});
    const answers = await Promise.all(
      requests.map(async ([key, request]) => [key, await this.ask(call, request)] as const),
    );
    if (call.cancelled) return;
    const failed = answers.find(([, answer]) => answer.error);
    if (failed) {
      this.calls.delete(idKey(call.peerId));
      const [key, { error }] = failed;
      return this.toPeer(
        errorReply(
          call.peerId,
          error!.code,
          `the client did not answer input "${key}": ${error!.message}`,
          error!.data,
        ),
      );
    }
    this.attempt(call, {
      inputResponses: Object.fromEntries(answers.map(([key, answer]) => [key, answer.result])),
      ...(result.requestState === undefined ? {} : { requestState: result.requestState }),
    });
  }

  /** Sends one input request to the peer as a 2025 server-to-client request; resolves with its reply. */
  private ask(call: Call, request: JsonRpcMessage): Promise<JsonRpcMessage> {
    const id = `sidecar-input-${this.nextAsk++}`;
    return new Promise((resolve) => {
      this.asks.set(idKey(id), (reply) => {
        this.asks.delete(idKey(id));
        resolve(reply);
      });
      this.toPeer(
        { jsonrpc: "2.0", id, method: String(request.method), ...(request.params ? { params: request.params } : {}) },
        call.peerId,
      );
    });
  }

  private cancel(peerId: JsonRpcId): void {
    const call = peerId === undefined ? undefined : this.calls.get(idKey(peerId));
    if (!call) return;
    call.cancelled = true;
    this.calls.delete(idKey(peerId));
    if (call.childId === undefined) return;
    this.outstanding.delete(call.childId);
    this.toChild({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: call.childId } });
  }

  /** Opens a listen: list changes (what a 2025 server sends unasked), or one subscribed resource. */
  private listen(target: string, answer?: JsonRpcId): void {
    const caps = this.capabilities;
    const notifications =
      target === LIST_CHANGES
        ? {
            toolsListChanged: caps.tools?.listChanged === true,
            promptsListChanged: caps.prompts?.listChanged === true,
            resourcesListChanged: caps.resources?.listChanged === true,
          }
        : { resourceSubscriptions: [target] };
    if (Object.values(notifications).every((wanted) => wanted === false)) return;
    this.listens.set(target, this.send({ kind: "listen", target, answer }, "subscriptions/listen", { notifications }));
  }

  private subscribe(peerId: JsonRpcId, uri: string): void {
    if (this.capabilities.resources?.subscribe !== true) {
      return this.toPeer(
        errorReply(peerId, ErrorCode.methodNotFound, "this server does not offer resource subscriptions"),
      );
    }
    if (this.listens.has(uri)) return this.toPeer(resultReply(peerId, {}));
    // Answered once the child acknowledges the listen: from then on, no update is missed.
    this.listen(uri, peerId);
  }

  private unsubscribe(peerId: JsonRpcId, uri: string): void {
    const listenId = this.listens.get(uri);
    if (listenId !== undefined) {
      this.listens.delete(uri);
      this.outstanding.delete(listenId);
      this.toChild({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: listenId } });
    }
    this.toPeer(resultReply(peerId, {}));
  }

  private onListenMessage(message: JsonRpcMessage, meta: Record<string, unknown>): void {
    const listenId = meta[META.subscriptionId];
    const what = typeof listenId === "number" ? this.outstanding.get(listenId) : undefined;
    if (what?.kind !== "listen") return;
    if (message.method === "notifications/subscriptions/acknowledged") {
      if (what.answer !== undefined) this.toPeer(resultReply(what.answer, {}));
      what.answer = undefined;
      return;
    }
    // A 2025 notification: the same, without the listen's id.
    const { [META.subscriptionId]: _id, ...rest } = meta;
    const params = { ...paramsOf(message), _meta: rest };
    if (Object.keys(rest).length === 0) delete (params as { _meta?: unknown })._meta;
    this.toPeer({ ...message, params });
  }

  /** The child ended a listen (shutting down, or it refused the filter). */
  private onListenEnded(target: string, id: number, answer: JsonRpcId | undefined, reply: JsonRpcMessage): void {
    if (this.listens.get(target) === id) this.listens.delete(target);
    if (answer === undefined) return;
    this.toPeer(
      reply.error
        ? errorReply(answer, reply.error.code, reply.error.message, reply.error.data)
        : errorReply(answer, ErrorCode.internalError, "the server ended the subscription at once"),
    );
  }
}
