// The sidecar's baseline: the same MCP server the stdio child runs (server-everything's createServer), served
// directly over Streamable HTTP by the Node SDK on node:http, one server instance per session as server-everything's
// own HTTP mode does (without its per-request console logging and its in-memory event store). Listens on
// 127.0.0.1 at /mcp; prints {"port"} when listening.
import http from "node:http";
import { randomUUID } from "node:crypto";
import { join } from "node:path";
// The copy of the SDK server-everything itself imports (node_modules has one), as an ES module as it does.
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";

const everything = join(
  new URL("../..", import.meta.url).pathname,
  "node_modules/@modelcontextprotocol/server-everything/dist/server/index.js",
);
const { createServer } = await import(everything);

const transports = new Map<string, InstanceType<typeof StreamableHTTPServerTransport>>();

async function readBody(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  return text ? JSON.parse(text) : undefined;
}

async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  if (!req.url?.startsWith("/mcp")) {
    res.writeHead(404).end();
    return;
  }
  const id = req.headers["mcp-session-id"] as string | undefined;
  const body = req.method === "POST" ? await readBody(req) : undefined;
  let transport = id ? transports.get(id) : undefined;
  if (id && !transport) {
    res.writeHead(404).end();
    return;
  }
  if (!transport) {
    const { server, cleanup } = createServer();
    const created = new StreamableHTTPServerTransport({
      sessionIdGenerator: randomUUID,
      onsessioninitialized: (sid: string) => {
        transports.set(sid, created);
      },
    });
    created.onclose = () => {
      if (created.sessionId) {
        transports.delete(created.sessionId);
        cleanup(created.sessionId);
      }
    };
    transport = created;
    await server.connect(transport);
  }
  await transport.handleRequest(req, res, body);
}

const httpServer = http.createServer({ keepAlive: true, noDelay: true }, (req, res) => {
  handle(req, res).catch((error) => {
    if (!res.headersSent) res.writeHead(500).end(String(error));
  });
});
httpServer.keepAliveTimeout = 60_000;
httpServer.listen(0, "127.0.0.1", () =>
  process.stdout.write(JSON.stringify({ port: (httpServer.address() as { port: number }).port }) + "\n"),
);
process.on("disconnect", () => process.exit(0));
