// Talking to a stdio MCP server directly over its pipes (newline-delimited JSON-RPC, requests multiplexed by id):
// the baseline for the sidecar, with no HTTP at all.
import type { ChildProcess } from "node:child_process";
import { PROTOCOL_VERSION } from "./mcp-http.ts";

export class StdioConnection {
  private nextId = 1;
  private buffer = "";
  private readonly pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();

  constructor(private readonly child: ChildProcess) {
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (chunk: string) => this.onData(chunk));
    child.once("exit", () => this.pending.forEach((p) => p.reject(new Error("stdio server exited"))));
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    let nl: number;
    while ((nl = this.buffer.indexOf("\n")) >= 0) {
      const line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + 1);
      if (!line.trim()) continue;
      const message = JSON.parse(line);
      const waiter =
        message.id !== undefined && message.method === undefined ? this.pending.get(message.id) : undefined;
      if (!waiter) continue;
      this.pending.delete(message.id);
      if (message.error) waiter.reject(new Error(JSON.stringify(message.error)));
      else waiter.resolve(message.result);
    }
  }

  private write(message: object): void {
    this.child.stdin!.write(JSON.stringify({ jsonrpc: "2.0", ...message }) + "\n");
  }

  request(method: string, params: unknown = {}): Promise<any> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.write({ id, method, params });
    });
  }

  async open(): Promise<this> {
    await this.request("initialize", {
      protocolVersion: PROTOCOL_VERSION,
      capabilities: {},
      clientInfo: { name: "bench", version: "1" },
    });
    this.write({ method: "notifications/initialized" });
    return this;
  }
}
