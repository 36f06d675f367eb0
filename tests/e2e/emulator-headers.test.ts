// The header maps Envoy hands a filter (reference §1 "Header maps" and §7.1): pseudo-headers first, :authority from
// Host (no host entry), names lowercased, duplicates kept in order, hop-by-hop headers removed, x-forwarded-proto and
// x-request-id appended; responses start with :status; get_header_map_size counts bytes; missing keys are NotFound
// and removing an absent key is Ok.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { echoUpstream } from "../helpers/upstream.ts";
import { own, pluginLogs, send, startWith, waitForLog } from "../helpers/harness.ts";

const NOT_FOUND = "1";
const OK = "0";

async function exchange(t: TestContext) {
  const upstream = await own(t, echoUpstream());
  const { emu, url } = await startWith(t, "headers", { routes: [{ prefix: "/", cluster: "echo" }], clusters: { echo: upstream.port } });
  const reply = await send(url, {
    method: "POST", path: "/p?q=1", body: "hello",
    headers: [["Host", "svc.local"], ["X-Custom", "A"], ["x-dup", "1"], ["X-Dup", "2"], ["Connection", "keep-alive"],
      ["Keep-Alive", "timeout=5"], ["Proxy-Connection", "keep-alive"], ["Transfer-Encoding", "chunked"]],
  });
  assert.equal(reply.status, 200);
  await waitForLog(emu, "resp-remove-absent");
  return { emu, upstream };
}

/** The "SIDE-hdr name=value" lines as pairs. */
function pairsLogged(lines: string[], side: string): [string, string][] {
  return lines.filter((l) => l.startsWith(`${side}-hdr `)).map((l) => {
    const rest = l.slice(side.length + 5);
    const eq = rest.indexOf("=", rest.startsWith(":") ? 1 : 0);
    return [rest.slice(0, eq), rest.slice(eq + 1)];
  });
}

const bytesOf = (pairs: [string, string][]) => pairs.reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);

test("Envoy request header map: pseudo-headers first (:authority from Host, no host), lowercased, duplicates kept, hop-by-hop removed, then x-forwarded-proto and x-request-id", async (t) => {
  const { emu } = await exchange(t);
  const pairs = pairsLogged(pluginLogs(emu), "req");
  const requestId = pairs.find(([k]) => k === "x-request-id")?.[1] ?? "";
  assert.match(requestId, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  assert.deepEqual(pairs, [
    [":authority", "svc.local"], [":path", "/p?q=1"], [":method", "POST"], [":scheme", "http"],
    ["x-custom", "A"], ["x-dup", "1"], ["x-dup", "2"], ["x-forwarded-proto", "http"], ["x-request-id", requestId],
  ]);
});

test("Envoy header map calls: get_header_map_size is the sum of name and value bytes; a missing key is NotFound; removing an absent key is Ok; get lowercases the key and returns the first duplicate", async (t) => {
  const { emu } = await exchange(t);
  const lines = pluginLogs(emu);
  for (const side of ["req", "resp"]) {
    assert.ok(lines.includes(`${side}-size result=${OK} bytes=${bytesOf(pairsLogged(lines, side))}`), `${side} size`);
    assert.ok(lines.includes(`${side}-get-missing result=${NOT_FOUND}`), `${side} missing key`);
    assert.ok(lines.includes(`${side}-remove-absent result=${OK}`), `${side} remove absent`);
  }
  assert.ok(lines.includes("req-get X-Dup=1"));
});

test("Envoy response header map: :status first, upstream headers lowercased without hop-by-hop ones, x-envoy-upstream-service-time added last", async (t) => {
  const { emu } = await exchange(t);
  const pairs = pairsLogged(pluginLogs(emu), "resp");
  assert.deepEqual(pairs[0], [":status", "200"]);
  assert.ok(pairs.some(([k, v]) => k === "x-upstream" && v === "echo"), JSON.stringify(pairs));
  assert.equal(pairs.at(-1)![0], "x-envoy-upstream-service-time");
  for (const hop of ["connection", "keep-alive", "transfer-encoding"]) assert.ok(!pairs.some(([k]) => k === hop), `${hop} removed`);
});

test("Envoy forwards the request upstream with Host from :authority and without the hop-by-hop headers", async (t) => {
  const { upstream } = await exchange(t);
  const seen = upstream.requests[0];
  assert.equal(seen.body, "hello");
  assert.deepEqual(seen.headers.filter(([k]) => k === "host"), [["host", "svc.local"]]);
  assert.deepEqual(seen.headers.filter(([k]) => k === "x-dup"), [["x-dup", "1"], ["x-dup", "2"]]);
  for (const hop of ["keep-alive", "proxy-connection"]) assert.ok(!seen.headers.some(([k]) => k === hop), `${hop} not forwarded`);
});
