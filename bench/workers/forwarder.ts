// The extra network hop and nothing else: a keep-alive HTTP forwarder to 127.0.0.1:PORT (argv[2]) that pipes
// requests and replies through untouched. Its cost, minus the direct call's, is what any proxy in front of the
// backend adds before it does any work of its own. Prints {"port"} when listening.
import http from "node:http";

const target = Number(process.argv[2]);
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

const server = http.createServer({ keepAlive: true, noDelay: true }, (req, res) => {
  const upstream = http.request({ host: "127.0.0.1", port: target, method: req.method, path: req.url, headers: req.headers, agent }, (reply) => {
    res.writeHead(reply.statusCode ?? 502, reply.headers);
    reply.pipe(res);
  });
  upstream.on("error", () => res.writeHead(502).end());
  req.pipe(upstream);
});
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => process.stdout.write(JSON.stringify({ port: (server.address() as { port: number }).port }) + "\n"));
process.on("disconnect", () => process.exit(0));
