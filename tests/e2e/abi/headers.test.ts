// The header maps Envoy hands a filter (reference §1 "Header maps" and §7.1), which the filter reads, rewrites and
// forwards: pseudo-headers first, :authority from Host (no host entry), names lowercased, duplicates kept in order,
// hop-by-hop headers removed from requests, x-forwarded-proto and x-request-id appended; responses start with :status
// and still hold the upstream's connection and transfer-encoding (and, in Envoy 1.36, keep-alive);
// get_header_map_size counts bytes; missing keys are NotFound and removing an absent key is Ok; replace, remove and
// add change what the upstream and the client get.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { createServer, type AddressInfo, type Socket } from "node:net";
import { echoUpstream } from "../../helpers/upstream.ts";
import { header, own, send, startWith, waitForLog } from "../../helpers/harness.ts";

const NOT_FOUND = "1";
const OK = "0";

async function exchange(t: TestContext) {
  const upstream = await own(t, echoUpstream());
  const { envoy, url } = await startWith(t, "headers", {
    routes: [{ prefix: "/", cluster: "echo" }],
    clusters: { echo: upstream.port },
  });
  const reply = await send(url, {
    method: "POST",
    path: "/p?q=1",
    body: "hello",
    headers: [
      ["Host", "svc.local"],
      ["X-Custom", "A"],
      ["x-dup", "1"],
      ["X-Dup", "2"],
      ["Connection", "keep-alive"],
      ["Keep-Alive", "timeout=5"],
      ["Proxy-Connection", "keep-alive"],
      ["Transfer-Encoding", "chunked"],
    ],
  });
  assert.equal(reply.status, 200);
  await waitForLog(envoy, "resp-remove-absent");
  return { envoy, upstream };
}

/** The "SIDE-hdr name=value" lines as pairs. */
function pairsLogged(lines: string[], side: string): [string, string][] {
  return lines
    .filter((l) => l.startsWith(`${side}-hdr `))
    .map((l) => {
      const rest = l.slice(side.length + 5);
      const eq = rest.indexOf("=", rest.startsWith(":") ? 1 : 0);
      return [rest.slice(0, eq), rest.slice(eq + 1)];
    });
}

const bytesOf = (pairs: [string, string][]) =>
  pairs.reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);

test("Envoy request header map: pseudo-headers first (:authority from Host, no host), lowercased, duplicates kept, hop-by-hop removed, then x-forwarded-proto and x-request-id", async (t) => {
  const { envoy } = await exchange(t);
  const pairs = pairsLogged(envoy.pluginLogs(), "req");
  const requestId = pairs.find(([k]) => k === "x-request-id")?.[1] ?? "";
  assert.match(requestId, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  assert.deepEqual(pairs, [
    [":authority", "svc.local"],
    [":path", "/p?q=1"],
    [":method", "POST"],
    [":scheme", "http"],
    ["x-custom", "A"],
    ["x-dup", "1"],
    ["x-dup", "2"],
    ["x-forwarded-proto", "http"],
    ["x-request-id", requestId],
  ]);
});

test("Envoy header map calls: get_header_map_size is the sum of name and value bytes; a missing key is NotFound; removing an absent key is Ok; get lowercases the key and returns the first duplicate", async (t) => {
  const { envoy } = await exchange(t);
  const lines = envoy.pluginLogs();
  for (const side of ["req", "resp"]) {
    assert.ok(lines.includes(`${side}-size result=${OK} bytes=${bytesOf(pairsLogged(lines, side))}`), `${side} size`);
    assert.ok(lines.includes(`${side}-get-missing result=${NOT_FOUND}`), `${side} missing key`);
    assert.ok(lines.includes(`${side}-remove-absent result=${OK}`), `${side} remove absent`);
  }
  assert.ok(lines.includes("req-get X-Dup=1"));
});

/** An upstream that answers the first request on each connection with `head` (status line and headers, as written). */
async function rawUpstream(t: TestContext, head: string[]): Promise<number> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    let seen = "";
    socket.on("data", (chunk) => {
      if (seen.includes("\r\n\r\n")) return;
      seen += chunk.toString("latin1");
      if (seen.includes("\r\n\r\n")) socket.write(`${head.join("\r\n")}\r\n\r\n5\r\nhello\r\n0\r\n\r\n`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  );
  return (server.address() as AddressInfo).port;
}

test("Envoy response header map: :status first, upstream headers lowercased in order with duplicates, hop-by-hop connection and transfer-encoding included (Envoy strips them only when it encodes the reply); x-envoy-upstream-service-time added last", async (t) => {
  const port = await rawUpstream(t, [
    "HTTP/1.1 200 OK",
    "X-Upper: A",
    "x-dup: 1",
    "X-Dup: 2",
    "Connection: keep-alive",
    "Keep-Alive: timeout=5",
    "Transfer-Encoding: chunked",
  ]);
  const { envoy, url } = await startWith(t, "headers", {
    routes: [{ prefix: "/", cluster: "raw" }],
    clusters: { raw: port },
  });
  const reply = await send(url, { path: "/raw" });
  assert.deepEqual([reply.status, reply.body], [200, "hello"]);
  await waitForLog(envoy, "resp-remove-absent");
  const pairs = pairsLogged(envoy.pluginLogs(), "resp");
  const serviceTime = pairs.at(-1)!;
  assert.equal(serviceTime[0], "x-envoy-upstream-service-time");
  // The upstream's keep-alive header is dropped by Envoy 1.40.0 and kept by 1.36.4.
  assert.deepEqual(
    pairs.filter(([k]) => k !== "keep-alive"),
    [
      [":status", "200"],
      ["x-upper", "A"],
      ["x-dup", "1"],
      ["x-dup", "2"],
      ["connection", "keep-alive"],
      ["transfer-encoding", "chunked"],
      serviceTime,
    ],
  );
  assert.equal(header(reply, "connection"), "close", "the client's reply has Envoy's own connection header");
});

test("Envoy forwards the request upstream with Host from :authority and without the hop-by-hop headers", async (t) => {
  const { upstream } = await exchange(t);
  const seen = upstream.requests[0];
  assert.equal(seen.body, "hello");
  assert.deepEqual(
    seen.headers.filter(([k]) => k === "host"),
    [["host", "svc.local"]],
  );
  assert.deepEqual(
    seen.headers.filter(([k]) => k === "x-dup"),
    [
      ["x-dup", "1"],
      ["x-dup", "2"],
    ],
  );
  for (const hop of ["keep-alive", "proxy-connection"])
    assert.ok(!seen.headers.some(([k]) => k === hop), `${hop} not forwarded`);
});

test("Envoy header map writes: replace sets one value in place of all duplicates and adds an absent header, remove drops every value, add appends; the upstream and the client see the changes", async (t) => {
  const upstream = await own(t, echoUpstream());
  const { url } = await startWith(t, "headers", {
    routes: [{ prefix: "/", cluster: "echo" }],
    clusters: { echo: upstream.port },
  });
  const reply = await send(url, {
    path: "/mutate",
    headers: [
      ["x-mutate", "1"],
      ["x-rep", "1"],
      ["x-rep", "2"],
      ["x-gone", "1"],
      ["x-gone", "2"],
    ],
  });
  assert.equal(reply.status, 200);
  const seen = upstream.requests[0].headers;
  const values = (headers: [string, string][], name: string) => headers.filter(([k]) => k === name).map(([, v]) => v);
  assert.deepEqual(values(seen, "x-rep"), ["R"], JSON.stringify(seen));
  assert.deepEqual(values(seen, "x-new"), ["N"]);
  assert.deepEqual(values(seen, "x-gone"), []);
  assert.deepEqual(values(seen, "x-add"), ["1", "2"]);
  assert.deepEqual(values(reply.headers, "x-upstream"), ["replaced"], JSON.stringify(reply.headers));
  assert.deepEqual(values(reply.headers, "content-type"), []);
  assert.deepEqual(values(reply.headers, "x-resp-add"), ["1"]);
});
