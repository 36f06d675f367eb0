// Properties as Envoy serves them (reference §6, §9) and route re-selection after a request header mutation, which
// the filter's rules (xds.route_name, xds.cluster_name, plugin_name) and its request rewrites rely on: paths are
// NUL-joined segments, strings raw, response.code an 8-byte little-endian int, request.headers a pairs map;
// xds.cluster_name is set from the route matched on the original headers, and absent (NotFound) when no route
// matched; rewriting :path makes the router match again, so the request goes to another cluster, or gets a 404 when
// no route matches.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { echoUpstream } from "../../helpers/upstream.ts";
import { own, send, startWith, waitForLog, type RequestSpec } from "../../helpers/harness.ts";

/** Unlike the root id (the filter's registered name), the plugin name is free: a distinct one shows which is which. */
const PLUGIN_NAME = "props-plugin";

async function routed(t: TestContext, spec: RequestSpec) {
  const a = await own(t, echoUpstream("a"));
  const b = await own(t, echoUpstream("b"));
  const { envoy, url } = await startWith(t, "properties", {
    pluginName: PLUGIN_NAME,
    routes: [
      { name: "route_a", prefix: "/a", cluster: "cluster_a" },
      { name: "route_b", prefix: "/b", cluster: "cluster_b" },
    ],
    clusters: { cluster_a: a.port, cluster_b: b.port },
  });
  const reply = await send(url, spec);
  // Envoy logs apart from replying: the stream's last line is the second xds.cluster_name, from on_response_headers.
  await waitForLog(envoy, "prop xds.cluster_name", 2);
  return { reply, lines: envoy.pluginLogs(), a, b, envoy };
}

const prop = (lines: string[], name: string) => lines.filter((l) => l.startsWith(`prop ${name} `));

test("Envoy properties in a stream context: plugin_root_id, plugin_name, request.path/url_path/host/method/headers, source.address, xds.cluster_name, xds.route_name, response.code", async (t) => {
  const { reply, lines } = await routed(t, {
    method: "GET",
    path: "/a/x?y=1",
    headers: [
      ["Host", "svc.local"],
      ["X-Probe", "p1"],
    ],
  });
  assert.equal(reply.status, 200);
  const expect = (name: string, value: string) =>
    assert.deepEqual(prop(lines, name)[0], `prop ${name} result=0 value=${value}`, lines.join("\n"));
  expect("plugin_root_id", "properties");
  expect("plugin_name", PLUGIN_NAME);
  expect("request.path", "/a/x?y=1");
  expect("request.url_path", "/a/x");
  expect("request.host", "svc.local");
  expect("request.method", "GET");
  expect("xds.cluster_name", "cluster_a");
  expect("response.code", "200");
  assert.match(prop(lines, "request.headers")[0], /^prop request\.headers result=0 value=count=\d+ x-probe=p1$/);
  assert.match(prop(lines, "source.address")[0], /^prop source\.address result=0 value=127\.0\.0\.1:\d+$/);
  expect("xds.route_name", "route_a");
});

test('Envoy property paths are NUL-joined segments: "request.path" as one segment is NotFound', async (t) => {
  const { lines } = await routed(t, { path: "/a/x" });
  assert.ok(lines.includes("prop dotted-request.path result=1"), lines.join("\n"));
});

test("Envoy serves plugin_root_id and plugin_name in the root context too", async (t) => {
  const { envoy } = await routed(t, { path: "/a/x" });
  // Every VM's root logs both (one VM per worker and more on the main thread).
  const lines = await waitForLog(envoy, "root plugin_", 2);
  assert.deepEqual([...new Set(lines)].sort(), [`root plugin_name=${PLUGIN_NAME}`, "root plugin_root_id=properties"]);
});

test("Envoy has no xds.cluster_name or xds.route_name (NotFound) for a request that no route matches", async (t) => {
  const { reply, lines } = await routed(t, { path: "/nowhere" });
  assert.equal(reply.status, 404);
  assert.deepEqual(prop(lines, "xds.cluster_name"), [
    "prop xds.cluster_name result=1 value=",
    "prop xds.cluster_name result=1 value=",
  ]);
  assert.deepEqual(prop(lines, "xds.route_name"), ["prop xds.route_name result=1 value="]);
});

test("Envoy re-selects the route after the filter rewrites :path: the request goes to the other cluster with the new path, and xds.cluster_name follows", async (t) => {
  const { reply, lines, a, b } = await routed(t, { path: "/a/original", headers: [["x-reroute", "/b/rewritten"]] });
  assert.equal(reply.status, 200);
  assert.equal(a.requests.length, 0);
  assert.equal(b.requests[0]?.path, "/b/rewritten");
  assert.deepEqual(
    prop(lines, "xds.cluster_name"),
    ["prop xds.cluster_name result=0 value=cluster_a", "prop xds.cluster_name result=0 value=cluster_b"],
    "matched on the original headers before the filter; re-resolved by the response",
  );
});

test("Envoy answers 404 when the rewritten :path matches no route", async (t) => {
  const { reply, a, b } = await routed(t, { path: "/a/original", headers: [["x-reroute", "/nowhere"]] });
  assert.equal(reply.status, 404);
  assert.equal(a.requests.length + b.requests.length, 0);
});
