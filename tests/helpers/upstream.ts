// Small real HTTP upstreams on 127.0.0.1 (ephemeral ports) for the end-to-end tests.
import type { TestContext } from "node:test";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createNetServer, type AddressInfo } from "node:net";

export interface Upstream {
  port: number;
  /** Every request the upstream received, in order. */
  requests: EchoedRequest[];
  close(): Promise<void>;
}

export interface EchoedRequest {
  upstream: string;
  method: string;
  path: string;
  /** Raw header pairs as received (lowercased names, duplicates kept, in order). */
  headers: [string, string][];
  body: string;
}

type Handler = (req: IncomingMessage, res: ServerResponse, echoed: EchoedRequest) => void;

function pairs(raw: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < raw.length; i += 2) out.push([raw[i].toLowerCase(), raw[i + 1]]);
  return out;
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

async function stop(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** Serves `server` on an ephemeral port of 127.0.0.1 until the test ends (its connections cut then); its port. */
export async function listenUntilEnd(t: TestContext, server: Server): Promise<number> {
  const port = await listen(server);
  t.after(() => stop(server));
  return port;
}

/** An upstream that reads the whole request body, records it, then lets `handler` answer. */
async function upstream(name: string, handler: Handler): Promise<Upstream> {
  const requests: EchoedRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const echoed = {
        upstream: name,
        method: req.method ?? "",
        path: req.url ?? "",
        headers: pairs(req.rawHeaders),
        body: Buffer.concat(chunks).toString(),
      };
      requests.push(echoed);
      handler(req, res, echoed);
    });
  });
  const port = await listen(server);
  return { port, requests, close: () => stop(server) };
}

/** Answers 200 with the request it saw (upstream name, method, path, headers, body) as JSON. */
export function echoUpstream(name = "echo"): Promise<Upstream> {
  return upstream(name, (_req, res, echoed) => {
    res.setHeader("content-type", "application/json");
    res.setHeader("x-upstream", name);
    res.end(JSON.stringify(echoed));
  });
}

/** Waits `delayMs` before answering like the echo upstream (for timeouts and for "not before X" orderings). */
export function slowUpstream(delayMs: number, name = "slow"): Promise<Upstream> {
  return upstream(name, (_req, res, echoed) => {
    const timer = setTimeout(() => res.end(JSON.stringify(echoed)), delayMs);
    res.on("close", () => clearTimeout(timer));
  });
}

export interface SseUpstream extends Upstream {
  /** Sends one SSE event on the current (latest) stream. */
  send(data: string): void;
  /** Ends the current stream. */
  end(): void;
  /** Resolves when a client stream is open (response headers sent). */
  opened(): Promise<void>;
  /** Resolves when the current stream's connection closed; `finished` tells whether the upstream ended it. */
  closed(): Promise<{ finished: boolean }>;
}

/** A text/event-stream upstream whose events the test releases one by one. */
export async function sseUpstream(): Promise<SseUpstream> {
  let current: ServerResponse | undefined;
  let onOpen: (() => void)[] = [];
  let closedPromise: Promise<{ finished: boolean }> = new Promise(() => {});
  const base = await upstream("sse", (_req, res) => {
    current = res;
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    res.flushHeaders();
    closedPromise = new Promise((resolve) => res.on("close", () => resolve({ finished: res.writableFinished })));
    onOpen.forEach((f) => f());
    onOpen = [];
  });
  return {
    ...base,
    send: (data) => current!.write(`data: ${data}\n\n`),
    end: () => current!.end(),
    opened: () => (current ? Promise.resolve() : new Promise((resolve) => onOpen.push(resolve))),
    closed: () => closedPromise,
  };
}

export interface SilentUpstream {
  port: number;
  /** Request heads in order of arrival (a body may never come). */
  requests: { path: string; headers: IncomingMessage["headers"] }[];
  close(): Promise<void>;
}

/** Records each request's head on arrival and never answers (for a route whose request must never complete). */
export async function silentUpstream(): Promise<SilentUpstream> {
  const requests: SilentUpstream["requests"] = [];
  const server = createServer((req) => {
    requests.push({ path: req.url ?? "", headers: req.headers });
  });
  return { port: await listen(server), requests, close: () => stop(server) };
}

/** A port on 127.0.0.1 with nothing listening (connect gets ECONNREFUSED). */
export async function closedPort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
