// Host services Envoy offers a plugin outside the request path, which the filter's session pool and metrics rely
// on: shared data with CAS, shared queues with on_queue_ready on a root context, the tick timer, metrics (defined,
// incremented, recorded, read back, shown by the admin API under "wasmcustom.") and log levels. Each worker runs its
// own VM (and the main thread more), each with its own root context; shared data, queues and metrics are
// process-wide.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { parse, stringify } from "yaml";
import { bootstrapYaml } from "../../helpers/bootstrap.ts";
import { ownEnvoy, type EnvoyOptions } from "../../helpers/envoy.ts";
import { buildTestFilter } from "../../helpers/sdk-build.ts";
import { echoUpstream } from "../../helpers/upstream.ts";
import { own, send, startWith, waitForLog } from "../../helpers/harness.ts";

async function withFilter(t: TestContext, filter: string, options: Omit<EnvoyOptions, "yaml"> = {}) {
  const upstream = await own(t, echoUpstream());
  return startWith(
    t,
    filter,
    { routes: [{ prefix: "/", cluster: "echo" }], clusters: { echo: upstream.port } },
    options,
  );
}

test("Envoy shared data: get of a missing key is NotFound; set then get returns value and cas; a stale cas is CasMismatch; the right cas is Ok; values outlive the stream (shared data is process-wide)", async (t) => {
  const { envoy, url } = await withFilter(t, "shared");
  assert.equal((await send(url)).status, 200);
  await waitForLog(envoy, "enqueue result=");
  assert.equal((await send(url)).status, 200);
  await waitForLog(envoy, "enqueue result=", 2);
  const lines = envoy.pluginLogs();
  const got = (label: string) => lines.filter((l) => l.startsWith(`${label} `));
  assert.deepEqual(got("get-first")[0], "get-first result=1 value= cas=0", lines.join("\n"));
  assert.equal(got("set-v1")[0], "set-v1 result=0");
  assert.match(got("get-v1")[0], /^get-v1 result=0 value=v1 cas=[1-9]\d*$/);
  assert.equal(got("set-stale-cas")[0], "set-stale-cas result=8");
  assert.equal(got("set-cas")[0], "set-cas result=0");
  assert.match(got("get-v2")[0], /^get-v2 result=0 value=v2 cas=\d+$/);
  assert.match(
    got("get-first")[1],
    /^get-first result=0 value=v2 cas=\d+$/,
    "the second stream sees the first one's value",
  );
});

test("Envoy shared queues: every VM's root registers the same queue (one token); resolve finds it; enqueue wakes on_queue_ready on a root context, later; dequeue returns the item then Empty", async (t) => {
  const { envoy, url } = await withFilter(t, "shared");
  assert.equal((await send(url)).status, 200);
  await waitForLog(envoy, "dequeue-again");
  const lines = envoy.pluginLogs();
  assert.ok(
    lines.filter((l) => l.startsWith("register ")).every((l) => l === "register result=0"),
    lines.join("\n"),
  );
  // "during-enqueue=0": on_queue_ready does not run inside enqueue (it may run on another worker's VM, whose log line
  // can come before the enqueuing worker's, so the flag is checked rather than the order of the lines).
  for (const expected of [
    "resolve result=0 same-token=1",
    "enqueue result=0",
    "on_queue_ready ctx=1 same-token=1 during-enqueue=0",
    "dequeue result=0 data=hello",
    "dequeue-again result=7 data=",
  ]) {
    assert.ok(lines.includes(expected), `${expected}\n${lines.join("\n")}`);
  }
});

const TICKS = [1, 2, 3].map((n) => `tick n=${n} ctx=1`);

test("Envoy tick timer: on_tick comes to each VM's root context every period, and period 0 stops it", async (t) => {
  const workers = 2;
  const { envoy } = await withFilter(t, "timer", { concurrency: workers });
  // Every worker's VM, at least, ticks three times.
  await waitForLog(envoy, TICKS[2], workers);
  // The filter sets period 0 at its third tick: a fourth would come 20 ms later. Waiting ten periods can only miss
  // a fault on a slow machine, never invent one.
  await new Promise((r) => setTimeout(r, 200));
  const lines = envoy.pluginLogs("tick ");
  assert.ok(
    lines.every((l) => TICKS.includes(l)),
    lines.join("\n"),
  );
  // VMs tick on several threads: in every prefix of the log a VM's tick n follows its tick n-1.
  const counts = [0, 0, 0];
  for (const line of lines) {
    const n = TICKS.indexOf(line);
    counts[n]++;
    assert.ok(n === 0 || counts[n] <= counts[n - 1], `${line} before its VM's previous tick`);
  }
  assert.ok(counts[2] >= workers, `only ${counts[2]} VMs ticked three times`);
});

test("Envoy metrics: counter, gauge and histogram defined by the plugin; get_metric reads them back; admin /stats shows them as wasmcustom.NAME, the histogram once stats are flushed", async (t) => {
  const upstream = await own(t, echoUpstream());
  // Histograms reach the admin API at each stats flush (every 5 s by default).
  const bootstrap = parse(
    bootstrapYaml({
      wasm: await buildTestFilter("metrics"),
      rootId: "metrics",
      pluginName: "metrics",
      routes: [{ prefix: "/", cluster: "echo" }],
      clusters: { echo: upstream.port },
    }),
  );
  bootstrap.stats_flush_interval = "0.1s";
  const envoy = await ownEnvoy(t, { yaml: stringify(bootstrap) });
  for (let i = 0; i < 3; i++) assert.equal((await send(envoy.url)).status, 200);
  await waitForLog(envoy, "get_metric gauge", 3);
  const lines = envoy.pluginLogs();
  for (const name of ["emutest_requests", "emutest_level", "emutest_sizes"])
    assert.ok(lines.includes(`define ${name} result=0`), name);
  // Metrics are process-wide: whichever worker served a request, its counter read counts every request so far.
  assert.deepEqual(
    lines.filter((l) => l.startsWith("get_metric counter")),
    [1, 2, 3].map((n) => `get_metric counter result=0 value=${n}`),
  );
  assert.ok(lines.includes("get_metric gauge result=0 value=42"));
  assert.equal(await envoy.stat("wasmcustom.emutest_requests"), 3);
  assert.equal(await envoy.stat("emutest_level"), 42);
  const histogram = await statsText(envoy.adminUrl, "emutest_sizes", /P50\(7(\.\d+)?,7(\.\d+)?\)/);
  assert.match(histogram, /^wasmcustom\.emutest_sizes: /m);
});

/** Polls admin /stats?filter=FILTER until its text matches `pattern`; fails after 10 s. */
async function statsText(adminUrl: string, filter: string, pattern: RegExp): Promise<string> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const text = await (await fetch(`${adminUrl}/stats?filter=${filter}`)).text();
    if (pattern.test(text)) return text;
    if (Date.now() > deadline) throw new Error(`admin /stats?filter=${filter} never matched ${pattern}: ${text}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const LEVELS = ["trace", "debug", "info", "warn", "error", "critical"];

/** The level Envoy logged each "level NAME" line at, as [Envoy level, message]. */
function levelLines(envoy: { logs: { level: string; logger: string; message: string }[] }): [string, string][] {
  return envoy.logs
    .filter((l) => l.logger === "wasm" && / level \w+$/.test(l.message))
    .map((l) => [l.level, l.message.slice(l.message.lastIndexOf("level "))]);
}

test("Envoy proxy_log keeps the plugin's level for each line (trace .. critical) when its wasm logger lets them all through", async (t) => {
  const { envoy } = await withFilter(t, "loglevels", { concurrency: 1, args: ["--component-log-level", "wasm:trace"] });
  await waitForLog(envoy, "level critical");
  // Envoy names warn "warning"; the first VM's six lines.
  assert.deepEqual(
    levelLines(envoy).slice(0, 6),
    LEVELS.map((n) => [n === "warn" ? "warning" : n, `level ${n}`]),
  );
});

test("Envoy drops plugin log lines below its wasm logger's level (info by default): trace and debug never appear", async (t) => {
  const { envoy } = await withFilter(t, "loglevels", { concurrency: 1 });
  await waitForLog(envoy, "level critical");
  const seen = new Set(levelLines(envoy).map(([, message]) => message));
  assert.deepEqual([...seen].sort(), ["level critical", "level error", "level info", "level warn"]);
});
