// A Streamable HTTP MCP server that does as little as possible and counts every request it gets, by path and
// JSON-RPC method: the upstream for the filter's benchmarks. Paths: /{json|sse}/{tools}/mcp — reply framing
// (application/json or one SSE event) and how many tools tools/list returns.
//   tools/call "blob" {bytes}: a text result of that many characters (JSON-looking, so it has escapes);
//   tools/call "echo" {message}: the message back.
// GET /_counts -> {"<path> <method>": n}; POST /_reset clears them. Prints {"port"} when listening.
import http from "node:http";
import { randomUUID } from "node:crypto";
import { blob, frame, toolList } from "../lib/payloads.ts";

const counts = new Map<string, number>();
function result(method: string, params: any, tools: number): string | undefined {
  if (method === "initialize") {
    return JSON.stringify({
      protocolVersion: params?.protocolVersion ?? "2025-06-18",
      capabilities: { tools: {} },
      serverInfo: { name: "bench-backend", version: "1" },
    });
  }
  if (method === "tools/list") return toolList(tools);
  if (method === "tools/call" && params?.name === "blob") return blob(Number(params.arguments?.bytes ?? 1024));
  if (method === "tools/call")
    return JSON.stringify({ content: [{ type: "text", text: String(params?.arguments?.message ?? "") }] });
  if (method === "ping") return "{}";
  return undefined;
}

function count(key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

function answer(res: http.ServerResponse, sse: boolean, body: string, sessionId?: string): void {
  const headers: Record<string, string> = sessionId ? { "mcp-session-id": sessionId } : {};
  res.writeHead(200, { ...headers, "content-type": sse ? "text/event-stream" : "application/json" }).end(body);
}

function serveMcp(req: http.IncomingMessage, res: http.ServerResponse, path: string, body: string): void {
  const [, framing, toolCount] = path.split("/");
  if (req.method === "DELETE") {
    count(`${path} DELETE`);
    res.writeHead(200).end();
    return;
  }
  const message = JSON.parse(body);
  count(`${path} ${message.method}`);
  if (message.id === undefined) {
    res.writeHead(202).end();
    return;
  }
  const value = result(message.method, message.params, Number(toolCount));
  if (value === undefined) {
    res
      .writeHead(200, { "content-type": "application/json" })
      .end(`{"jsonrpc":"2.0","id":${JSON.stringify(message.id)},"error":{"code":-32601,"message":"Method not found"}}`);
    return;
  }
  answer(
    res,
    framing === "sse",
    frame(message.id, value, framing === "sse"),
    message.method === "initialize" ? randomUUID() : undefined,
  );
}

const server = http.createServer({ keepAlive: true, noDelay: true }, (req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    const path = (req.url ?? "/").replace(/\?.*$/, "");
    if (path === "/_counts") {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(Object.fromEntries(counts)));
      return;
    }
    if (path === "/_reset") {
      counts.clear();
      res.writeHead(200).end();
      return;
    }
    try {
      serveMcp(req, res, path, Buffer.concat(chunks).toString("utf8"));
    } catch (error) {
      res.writeHead(400, { "content-type": "text/plain" }).end(String(error));
    }
  });
});
server.keepAliveTimeout = 60_000;

server.listen(0, "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ port: (server.address() as { port: number }).port }) + "\n");
});
process.on("disconnect", () => process.exit(0));
