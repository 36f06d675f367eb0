// envoy/envoy.yaml as shipped, in real Envoy (the newest pinned version, two workers as `npm start` runs it), in front
// of the demo backends (mcp-sidecar on envoy/sidecar.json and server-everything over Streamable HTTP and legacy SSE),
// started the way `npm start` starts them. Only the socket ports (and the listener/admin address, to stay on
// loopback) are rewritten, to free ones, so the test can run beside anything; a check proves nothing else was
// touched. An SDK Client then lists and calls tools on all three routes, and a tool call longer than Envoy's default
// route timeout (15 s) completes on each.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { parse, stringify } from "yaml";
import { DEMO_PORTS, ROUTES, startBackends, stopAll, type Ports } from "../../../scripts/start.ts";
import { ownEnvoy } from "../../helpers/envoy.ts";
import { send } from "../../helpers/harness.ts";
import { closedPort } from "../../helpers/upstream.ts";
import { connectClient, filterWasm, repoRoot } from "../../helpers/gateway.ts";

type Json = Record<string, any>;
const shippedText = readFileSync(join(repoRoot, "envoy/envoy.yaml"), "utf8");
const shipped: Json = parse(shippedText);

/** Every socket_address in the bootstrap with where it is: the listener, the admin endpoint, cluster endpoints. */
function sockets(bootstrap: Json): { path: string; socket: Json }[] {
  const found: { path: string; socket: Json }[] = [];
  if (bootstrap.admin) found.push({ path: "admin", socket: bootstrap.admin.address.socket_address });
  bootstrap.static_resources.listeners.forEach((l: Json, i: number) =>
    found.push({ path: `listeners[${i}]`, socket: l.address.socket_address }),
  );
  for (const cluster of bootstrap.static_resources.clusters) {
    cluster.load_assignment.endpoints.forEach((locality: Json) =>
      locality.lb_endpoints.forEach((lb: Json) =>
        found.push({ path: `cluster ${cluster.name}`, socket: lb.endpoint.address.socket_address }),
      ),
    );
  }
  return found;
}

/** The shipped file with each shipped port mapped through `ports`, the listener on :0 and listener/admin on 127.0.0.1. */
function withPorts(ports: Ports): Json {
  const copy: Json = structuredClone(shipped);
  const byShippedPort = new Map(Object.entries(DEMO_PORTS).map(([what, port]) => [port, ports[what as keyof Ports]]));
  for (const { path, socket } of sockets(copy)) {
    const port = byShippedPort.get(socket.port_value);
    assert.ok(port !== undefined, `${path}: port ${socket.port_value} is not one of scripts/start.ts's DEMO_PORTS`);
    socket.port_value = port;
    if (!path.startsWith("cluster")) socket.address = "127.0.0.1";
  }
  return copy;
}

/** Paths (a.b[2].c) at which two JSON values differ. */
function differences(a: unknown, b: unknown, path = ""): string[] {
  if (a !== null && b !== null && typeof a === "object" && typeof b === "object") {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].flatMap((k) =>
      differences((a as Json)[k], (b as Json)[k], Array.isArray(a) ? `${path}[${k}]` : path ? `${path}.${k}` : k),
    );
  }
  return isDeepStrictEqual(a, b) ? [] : [path];
}

/** Envoy binds its own sockets on port 0 (tests/helpers/envoy.ts finds them); the backends get free ports. */
async function freePorts(): Promise<Ports> {
  const ports = {} as Ports;
  for (const what of Object.keys(DEMO_PORTS) as (keyof Ports)[])
    ports[what] = what === "listener" || what === "admin" ? 0 : await closedPort();
  return ports;
}

async function startShipped(t: TestContext) {
  const ports = await freePorts();
  const procs = await startBackends(ports);
  t.after(() => stopAll(procs));
  const bootstrap = withPorts(ports);
  // The wasm path is relative to Envoy's working directory: run it from the repository root, as `npm start` does.
  filterWasm();
  const envoy = await ownEnvoy(t, { yaml: stringify(bootstrap), cwd: repoRoot, concurrency: 2 });
  assert.equal(await envoy.stat("server.concurrency"), 2, "two workers: two Wasm VMs, as under npm start");
  return { bootstrap, envoy, url: envoy.url };
}

test("the rewrite touches socket ports and listener/admin addresses only", () => {
  const rewritten = withPorts({ listener: 0, admin: 1, sidecar: 2, remote: 3, legacy: 4 });
  const socketField =
    /^(admin|static_resources\.listeners\[\d+\])\.address\.socket_address\.(address|port_value)$|^static_resources\.clusters\[\d+\]\.load_assignment\.endpoints\[\d+\]\.lb_endpoints\[\d+\]\.endpoint\.address\.socket_address\.port_value$/;
  const changed = differences(shipped, rewritten);
  assert.deepEqual(
    changed.filter((p) => !socketField.test(p)),
    [],
  );
  // Every port was rewritten (a socket the map missed would silently keep a fixed port).
  assert.equal(changed.filter((p) => p.endsWith("port_value")).length, sockets(shipped).length);
});

/** The routes to server-everything (over stdio, Streamable HTTP and legacy SSE); `time` is PyPI's mcp-server-time. */
const everythingRoutes = ROUTES.filter(([, what]) => what.startsWith("server-everything"));

test("envoy.yaml as shipped: an SDK client lists and calls tools on every route, under the allowTools policy", async (t) => {
  const { url } = await startShipped(t);
  assert.deepEqual(
    everythingRoutes.map(([name]) => name),
    ["everything", "remote", "legacy"],
  );
  for (const [name] of everythingRoutes) {
    const c = await connectClient(t, url, {}, `/mcp/${name}`);
    const names = (await c.listTools()).tools.map((tool) => tool.name);
    assert.ok(names.includes("echo") && names.includes("trigger-long-running-operation"), `${name}: ${names}`);
    // The demo policy: nothing that reaches the internet or dumps the environment.
    assert.ok(!names.includes("get-env") && !names.includes("gzip-file-as-resource"), `${name}: ${names}`);
    const echo = await c.callTool({ name: "echo", arguments: { message: `via ${name}` } });
    assert.match(JSON.stringify(echo.content), new RegExp(`via ${name}`));
    const sum = await c.callTool({ name: "get-sum", arguments: { a: 2, b: 3 } });
    assert.match(JSON.stringify(sum.content), /5/);
    await assert.rejects(
      c.callTool({ name: "get-env", arguments: {} }),
      /not allowed/i,
      `${name}: get-env must be refused`,
    );
  }
  const time = await connectClient(t, url, {}, "/mcp/time");
  assert.deepEqual((await time.listTools()).tools.map((tool) => tool.name).sort(), [
    "convert_time",
    "get_current_time",
  ]);
  const now = await time.callTool({ name: "get_current_time", arguments: { timezone: "UTC" } });
  assert.equal((now.structuredContent as { timezone: string }).timezone, "UTC", JSON.stringify(now));
});

test("a 16 s tool call completes on every route: longer than Envoy's 15 s route timeout and the filter's 5 s call timeout", async (t) => {
  const { url } = await startShipped(t);
  // Legacy SSE: the GET goes through the router, so the route timeout runs; stdio and Streamable HTTP: the call is
  // the filter's own, bounded by the server's `timeout`. All three at once, to keep the test at 16 s.
  await Promise.all(
    everythingRoutes.map(async ([name]) => {
      const c = await connectClient(t, url, {}, `/mcp/${name}`);
      const result = await c.callTool({
        name: "trigger-long-running-operation",
        arguments: { duration: 16, steps: 2 },
      });
      assert.match(JSON.stringify(result.content), /completed/i, `${name}: ${JSON.stringify(result)}`);
    }),
  );
});

test("the legacy server's SSE URL is reachable only through the filter's rewrite", async (t) => {
  const { url } = await startShipped(t);
  // The route /mcp/legacy/sse -> legacy:/sse lies under the filter's /mcp/legacy prefix: a client's GET is refused.
  const reply = await send(url, { method: "GET", path: "/mcp/legacy/sse", headers: [["accept", "text/event-stream"]] });
  assert.equal(reply.status, 405, reply.body);
});
