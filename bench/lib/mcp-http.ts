// A minimal MCP Streamable HTTP client on node:http with a keep-alive agent: the load generator must cost the same
// whatever it talks to, and far less than the SDK client would, so the figures measure the server side.
import http from "node:http";
import { Socket } from "node:net";

export const PROTOCOL_VERSION = "2025-06-18";

export interface RawReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export function newAgent(maxSockets: number): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
}

export function postRaw(
  url: URL,
  body: string,
  headers: Record<string, string>,
  agent: http.Agent | false,
): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: "POST",
        agent,
        headers: {
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          "content-length": Buffer.byteLength(body),
          ...headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** The JSON-RPC message answering `id` in a JSON or SSE reply body. */
export function replyMessage(reply: RawReply, id: number): any {
  const type = String(reply.headers["content-type"] ?? "");
  if (!type.includes("text/event-stream")) return JSON.parse(reply.body);
  for (const event of reply.body.split(/\r?\n\r?\n/)) {
    const data = event
      .split(/\r?\n/)
      .filter((l) => l.startsWith("data:"))
      .map((l) => l.slice(5).replace(/^ /, ""))
      .join("\n");
    if (!data) continue;
    const message = JSON.parse(data);
    if (message.id === id) return message;
  }
  throw new Error(`no reply to id ${id} in the event stream`);
}

/** One client session: initialize (+ notifications/initialized), then requests on the same agent. */
export class McpSession {
  sessionId?: string;
  private nextId = 1;

  constructor(
    readonly url: URL,
    readonly agent: http.Agent | false,
    readonly extraHeaders: Record<string, string> = {},
  ) {}

  private headers(): Record<string, string> {
    const h: Record<string, string> = { ...this.extraHeaders };
    if (this.sessionId) h["mcp-session-id"] = this.sessionId;
    if (this.nextId > 1) h["mcp-protocol-version"] = PROTOCOL_VERSION;
    return h;
  }

  async open(): Promise<this> {
    const init = { protocolVersion: PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: "bench", version: "1" } };
    const reply = await this.raw("initialize", init);
    this.sessionId = reply.headers["mcp-session-id"] as string | undefined;
    await this.notify("notifications/initialized");
    return this;
  }

  async notify(method: string): Promise<void> {
    const reply = await postRaw(this.url, JSON.stringify({ jsonrpc: "2.0", method }), this.headers(), this.agent);
    if (reply.status !== 202 && reply.status !== 200) throw new Error(`${method}: HTTP ${reply.status}`);
  }

  private async raw(method: string, params: unknown): Promise<RawReply & { message: any }> {
    const id = this.nextId++;
    const reply = await postRaw(
      this.url,
      JSON.stringify({ jsonrpc: "2.0", id, method, params }),
      this.headers(),
      this.agent,
    );
    if (reply.status !== 200) throw new Error(`${method}: HTTP ${reply.status} ${reply.body.slice(0, 200)}`);
    const message = replyMessage(reply, id);
    if (message.error) throw new Error(`${method}: ${JSON.stringify(message.error)}`);
    return { ...reply, message };
  }

  async request(method: string, params: unknown = {}): Promise<any> {
    return (await this.raw(method, params)).message.result;
  }

  callTool(name: string, args: Record<string, unknown>): Promise<any> {
    return this.request("tools/call", { name, arguments: args });
  }

  /** DELETE, so the server can end the session (best effort). */
  async close(): Promise<void> {
    if (!this.sessionId) return;
    await new Promise<void>((resolve) => {
      const req = http.request(this.url, { method: "DELETE", agent: this.agent, headers: this.headers() }, (res) => {
        res.resume();
        res.on("end", resolve);
      });
      req.on("error", () => resolve());
      req.end();
    });
  }
}

/**
 * Sends `initialize` on a fresh connection and destroys the socket `afterMs` later (or as soon as the reply's
 * headers arrive, whichever is first), without DELETE: a client that vanishes.
 */
export function abandonedInitialize(url: URL, afterMs: number, untilHeaders: boolean): Promise<string | undefined> {
  return new Promise((resolve) => {
    const body = JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: {
        protocolVersion: PROTOCOL_VERSION,
        capabilities: {},
        clientInfo: { name: "bench-abandon", version: "1" },
      },
    });
    let socket: Socket | undefined;
    let sessionId: string | undefined;
    const req = http.request(
      url,
      {
        method: "POST",
        agent: false,
        headers: {
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          "content-length": Buffer.byteLength(body),
        },
      },
      (res) => {
        sessionId = res.headers["mcp-session-id"] as string | undefined;
        if (untilHeaders) finish();
      },
    );
    const finish = () => {
      clearTimeout(timer);
      req.destroy();
      socket?.destroy();
      resolve(sessionId);
    };
    const timer = setTimeout(finish, afterMs);
    req.on("socket", (s) => {
      socket = s;
    });
    req.on("error", () => undefined);
    req.end(body);
  });
}
