// How the sidecar talks to one child. A 2025 peer (a session's client, a shared child) talks to a 2025
// child as it is, and to a child that speaks only 2026-07-28 through LegacyOnModernChild. Which one it is comes from
// the catalog's `protocol`, or ("auto") from the child's answer to the peer's initialize: a 2026-only server
// refuses it naming the versions it speaks, and the same child is then spoken to in 2026-07-28.
// A 2026-07-28 peer (a session of the modern pool) always talks to the child as it is; it bridges above, per request.
import { refusedAsModernOnly, type ChildProtocol } from "./eras.ts";
import { isRequest, isResponse, type JsonRpcMessage } from "./jsonrpc.ts";
import { LegacyOnModernChild, type PeerDelivery } from "./legacy-on-modern-child.ts";
import type { Logger } from "./log.ts";
import { MODERN_VERSION } from "./protocol.ts";
import type { StdioChild } from "./stdio-child.ts";

export class ChildLink {
  private modern: LegacyOnModernChild | undefined;
  /** The peer's initialize while the child's era is not known: replayed through LegacyOnModernChild if refused. */
  private probe: JsonRpcMessage | undefined;

  constructor(
    private readonly child: StdioChild,
    private readonly protocol: ChildProtocol,
    private readonly legacyPeer: boolean,
    private readonly toPeer: PeerDelivery,
    private readonly log: Logger,
  ) {
    if (legacyPeer && protocol === MODERN_VERSION) this.modern = this.bridge();
  }

  send(message: JsonRpcMessage): void {
    if (this.modern) return this.modern.fromPeer(message);
    if (this.legacyPeer && this.protocol === "auto" && isRequest(message) && message.method === "initialize")
      this.probe = message;
    this.child.send(message);
  }

  fromChild(message: JsonRpcMessage): void {
    if (this.modern) return this.modern.fromChild(message);
    if (this.probe && isResponse(message) && message.id === this.probe.id) {
      const initialize = this.probe;
      this.probe = undefined;
      if (refusedAsModernOnly(message)) {
        this.log.info("the child speaks only 2026-07-28: bridging it for a 2025 client", {
          refusal: message.error?.message,
        });
        this.modern = this.bridge();
        return this.modern.fromPeer(initialize);
      }
    }
    this.toPeer(message);
  }

  close(): void {
    this.modern?.close();
  }

  private bridge(): LegacyOnModernChild {
    return new LegacyOnModernChild((message) => this.child.send(message), this.toPeer, this.log);
  }
}
