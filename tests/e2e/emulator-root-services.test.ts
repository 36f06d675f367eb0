// Host services Envoy offers a plugin outside the request path: shared data with CAS, shared queues with
// on_queue_ready on the root context, the tick timer, metrics (plugin-visible, emu.metrics() and admin /stats in
// Envoy's `name: value` text format) and log levels.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { echoUpstream } from "../helpers/upstream.ts";
import { own, pluginLogs, send, startWith, waitForLog } from "../helpers/harness.ts";

async function withFilter(t: TestContext, filter: string, admin = false) {
  const upstream = await own(t, echoUpstream());
  return startWith(t, filter, { routes: [{ prefix: "/", cluster: "echo" }], clusters: { echo: upstream.port }, admin });
}

test("Envoy shared data: get of a missing key is NotFound; set then get returns value and cas; a stale cas is CasMismatch; the right cas is Ok; values outlive the stream", async (t) => {
  const { emu, url } = await withFilter(t, "shared");
  assert.equal((await send(url)).status, 200);
  await waitForLog(emu, "dequeue-again");
  assert.equal((await send(url)).status, 200);
  const lines = pluginLogs(emu);
  const got = (label: string) => lines.filter((l) => l.startsWith(`${label} `));
  assert.deepEqual(got("get-first")[0], "get-first result=1 value= cas=0", lines.join("\n"));
  assert.equal(got("set-v1")[0], "set-v1 result=0");
  assert.match(got("get-v1")[0], /^get-v1 result=0 value=v1 cas=[1-9]\d*$/);
  assert.equal(got("set-stale-cas")[0], "set-stale-cas result=8");
  assert.equal(got("set-cas")[0], "set-cas result=0");
  assert.match(got("get-v2")[0], /^get-v2 result=0 value=v2 cas=\d+$/);
  assert.match(got("get-first")[1], /^get-first result=0 value=v2 cas=\d+$/, "the second stream sees the first one's value");
});

test("Envoy shared queues: resolve finds the root's registered queue, enqueue wakes on_queue_ready on the root context, dequeue returns the item then Empty", async (t) => {
  const { emu, url } = await withFilter(t, "shared");
  assert.equal((await send(url)).status, 200);
  await waitForLog(emu, "dequeue-again");
  const lines = pluginLogs(emu);
  for (const expected of ["register result=0", "resolve result=0 same-token=1", "enqueue result=0", "on_queue_ready ctx=1 same-token=1",
    "dequeue result=0 data=hello", "dequeue-again result=7 data="]) {
    assert.ok(lines.includes(expected), `${expected}\n${lines.join("\n")}`);
  }
  assert.ok(lines.indexOf("enqueue result=0") < lines.indexOf("on_queue_ready ctx=1 same-token=1"), "on_queue_ready is not synchronous");
});

test("Envoy tick timer: on_tick comes to the root context every period, and period 0 stops it", async (t) => {
  const { emu } = await withFilter(t, "timer");
  const ticks = await waitForLog(emu, "tick ", 3);
  assert.deepEqual(ticks.slice(0, 3), ["tick n=1 ctx=1", "tick n=2 ctx=1", "tick n=3 ctx=1"]);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(pluginLogs(emu, "tick ").length, 3, "no tick after the period was set to 0");
});

const statLine = (stats: string, name: string) => stats.split("\n").find((l) => new RegExp(`^(?:[\\w.]+\\.)?${name}: `).test(l));

test("Envoy metrics: counter, gauge and histogram defined by the plugin; get_metric reads them back; emu.metrics() and admin /stats (name: value) show them", async (t) => {
  const { emu, url } = await withFilter(t, "metrics", true);
  for (let i = 0; i < 3; i++) assert.equal((await send(url)).status, 200);
  const lines = pluginLogs(emu);
  for (const name of ["emutest_requests", "emutest_level", "emutest_sizes"]) assert.ok(lines.includes(`define ${name} result=0`), name);
  assert.deepEqual(lines.filter((l) => l.startsWith("get_metric counter")), [1, 2, 3].map((n) => `get_metric counter result=0 value=${n}`));
  assert.ok(lines.includes("get_metric gauge result=0 value=42"));
  const metrics = emu.metrics();
  const metric = (name: string) => [...metrics].find(([k]) => k === name || k.endsWith(`.${name}`))?.[1];
  assert.equal(metric("emutest_requests"), 3);
  assert.equal(metric("emutest_level"), 42);
  const stats = await (await fetch(`${emu.adminUrl}/stats`)).text();
  assert.match(statLine(stats, "emutest_requests") ?? "", /: 3$/, stats);
  assert.match(statLine(stats, "emutest_level") ?? "", /: 42$/, stats);
  assert.ok(statLine(stats, "emutest_sizes"), "the histogram is listed");
});

test("Envoy admin: GET /ready answers LIVE", async (t) => {
  const { emu } = await withFilter(t, "metrics", true);
  const reply = await fetch(`${emu.adminUrl}/ready`);
  assert.equal(reply.status, 200);
  assert.equal((await reply.text()).trim(), "LIVE");
});

test("Envoy proxy_log keeps the plugin's level for each line (trace .. critical), whatever the console level", async (t) => {
  const { emu } = await withFilter(t, "loglevels");
  const levels = emu.logs.filter((l) => l.source === "loglevels" && l.message.startsWith("level ")).map((l) => [l.level, l.message]);
  assert.deepEqual(levels, ["trace", "debug", "info", "warn", "error", "critical"].map((n) => [n, `level ${n}`]));
});
