// The emulator's measure of time inside the module (not Envoy behaviour: Envoy has no such clock; the bench relies
// on it): each export's time is net of the host functions it calls, every export and the host functions' total are
// reported, and the stopwatch's own share per call is measured so that a benchmark can state it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { HOST_FUNCTIONS } from "../../emulator/api.ts";
import { Stopwatch, timingOverhead } from "../../emulator/wasm/stopwatch.ts";
import { echoUpstream } from "../helpers/upstream.ts";
import { own, send, startWith } from "../helpers/harness.ts";

function busyWaitMs(ms: number): void {
  const until = process.hrtime.bigint() + BigInt(ms * 1e6);
  while (process.hrtime.bigint() < until);
}

test("an export is charged its own time, not that of the host functions it calls", () => {
  const watch = new Stopwatch();
  const host = watch.hostFunctions({ slow: () => busyWaitMs(20) });
  watch.time("export", () => { host.slow(); busyWaitMs(5); });
  const exported = Number(watch.timings.get("export")!.ns) / 1e6;
  const hosted = Number(watch.timings.get(HOST_FUNCTIONS)!.ns) / 1e6;
  assert.ok(hosted >= 20, `host functions ${hosted} ms`);
  assert.ok(exported >= 5 && exported < 15, `export charged ${exported} ms`);
});

test("wasmTime reports every export called and the host functions' total; timingOverhead measures the stopwatch's share", async (t) => {
  const upstream = await own(t, echoUpstream());
  const { emu, url } = await startWith(t, "body", { routes: [{ prefix: "/", cluster: "echo" }], clusters: { echo: upstream.port } });
  const reply = await send(url, { method: "POST", path: "/", body: "hello" });
  assert.equal(reply.status, 200);
  const times = emu.wasmTime();
  for (const name of ["proxy_on_context_create", "proxy_on_request_headers", "proxy_on_request_body", "proxy_on_log", "proxy_on_delete", HOST_FUNCTIONS]) {
    assert.ok((times.get(name)?.calls ?? 0) > 0, `${name} was called`);
    assert.ok((times.get(name)?.ns ?? 0n) > 0n, `${name} took time`);
  }
  const overhead = emu.timingOverhead();
  // A clock reading costs tens of nanoseconds: some of it must land in the guest's window, and far less than 10 µs.
  for (const [what, ns] of Object.entries(overhead)) assert.ok(ns > 0 && ns < 10_000, `${what} ${ns} ns`);
  assert.deepEqual(Object.keys(timingOverhead()).sort(), ["exportCallNs", "hostCallNs"]);
});
