// The issue's goals, each as "measured vs target" with a normalised score (<= 1 means met), for the table and the
// chart. Comparisons between rows use figures of the same round on both sides; the goal takes their median over the
// rounds and the report shows the range.
import type { BridgesResult } from "../sections/bridges.ts";
import type { Cell, ProxyResult, TargetId } from "../sections/proxies.ts";
import type { UpstreamCountRow } from "../sections/upstream-count.ts";
import { CALL_1K, LIST_1000 } from "./kinds.ts";
import { spread, type Spread } from "./stats.ts";

export interface Results {
  proxies?: ProxyResult;
  upstream?: UpstreamCountRow[];
  bridges?: BridgesResult;
}

export interface Goal {
  section: number;
  figure: string;
  measured: string;
  target: string;
  /** measured / target oriented so that <= 1 is met; NaN when it could not be measured. */
  score: number;
  met: boolean;
}

export const fmt = (v: number, digits = 2) => (Number.isFinite(v) ? v.toFixed(digits) : "n/a");
export const range = (s: Spread, digits = 2) => (s.n > 1 ? ` (${fmt(s.min, digits)}–${fmt(s.max, digits)})` : "");

function goal(section: number, figure: string, measured: string, target: string, score: number): Goal {
  return { section, figure, measured, target, score, met: Number.isFinite(score) && score <= 1 };
}

/** Per-round values of `what` ("cpuAdded", "p50Added", "rpsRatio") for a row and request kind. */
export function perRound(p: ProxyResult, what: string, target: TargetId, kind: string): number[] {
  return p.perRound[`${what} ${target} ${kind}`] ?? [];
}

/** Per-round a / b of two rows' series, round by round. */
function ratios(a: number[], b: number[]): Spread {
  return spread(a.map((v, i) => v / b[i]).filter((_, i) => i < b.length));
}

export function cell(p: ProxyResult, target: TargetId, kind: string): Cell | undefined {
  return p.cells.find((c) => c.target === target && c.kind === kind);
}

function proxyGoals(p: ProxyResult): Goal[] {
  const goals: Goal[] = [];
  const call = CALL_1K.id;
  const nativeCpu = perRound(p, "cpuAdded", "native", call);
  const nativeP50 = spread(perRound(p, "p50Added", "native", call));
  const aigwP50 = spread(perRound(p, "p50Added", "aigw-1", call));
  for (const mode of ["higress", "passthrough"] as const) {
    const cpu = perRound(p, "cpuAdded", mode, call);
    const x = ratios(cpu, nativeCpu);
    goals.push(
      goal(
        1,
        `mode ${mode}: Envoy CPU added per warm tools/call over the plain router / the native pair's`,
        `${fmt(spread(cpu).median, 0)} vs ${fmt(spread(nativeCpu).median, 0)} ms per 1,000 = ${fmt(x.median)}×${range(x)}`,
        "≤ 1×",
        x.median,
      ),
    );
    const p50 = spread(perRound(p, "p50Added", mode, call));
    goals.push(
      goal(
        1,
        `mode ${mode}: p50 added over the plain router / the native pair's`,
        `${fmt(p50.median)} vs ${fmt(nativeP50.median)} ms${range(p50)}`,
        "≤ 1×",
        p50.median <= 0 ? 0 : p50.median / nativeP50.median,
      ),
    );
    if (aigwP50.n > 0) {
      goals.push(
        goal(
          1,
          `mode ${mode}: p50 added / AI Gateway's at its fastest (1 PBKDF2 iteration)`,
          `${fmt(p50.median)} vs ${fmt(aigwP50.median)} ms`,
          "≤ 0.5×",
          p50.median <= 0 ? 0 : p50.median / aigwP50.median / 0.5,
        ),
      );
    }
    const rps = spread(perRound(p, "rpsRatio", mode, call));
    goals.push(
      goal(
        1,
        `mode ${mode}: tools/call throughput / the plain router's`,
        `${fmt(rps.median)}×${range(rps)}`,
        "≥ 0.8×",
        0.8 / rps.median,
      ),
    );
    const list = perRound(p, "cpuAdded", mode, LIST_1000.id);
    const nativeList = perRound(p, "cpuAdded", "native", LIST_1000.id);
    const bytesPerCpu = (cpuUs: number) => LIST_1000.replyBytes / cpuUs; // bytes per µs = MB/s of added CPU
    const lx = ratios(nativeList, list);
    goals.push(
      goal(
        1,
        `mode ${mode}: tools/list of 1,000 tools, reply bytes / Envoy CPU added, vs the native pair's`,
        `${fmt(bytesPerCpu(spread(list).median), 0)} vs ${fmt(bytesPerCpu(spread(nativeList).median), 0)} MB/s = ${fmt(lx.median)}×${range(lx)}`,
        "≥ 1×",
        1 / lx.median,
      ),
    );
  }
  const router = cell(p, "router", call);
  if (p.sdk && router) {
    const x = router.rps.median / p.sdk.rps.median;
    goals.push(
      goal(
        1,
        "load generator: plain router's tools/call throughput under wrk / under the MCP SDK client",
        `${fmt(router.rps.median, 0)} vs ${fmt(p.sdk.rps.median, 0)} req/s = ${fmt(x)}×`,
        "≥ 2×",
        2 / x,
      ),
    );
  }
  return goals;
}

function upstreamGoals(rows: UpstreamCountRow[]): Goal[] {
  return rows.flatMap((r) => [
    goal(
      2,
      `upstream requests, first tools/call on a cold worker (${r.framing} replies)`,
      `${r.cold} (Higress ${r.higress})`,
      "3",
      r.cold === 3 ? 1 : 1 + Math.abs(r.cold - 3),
    ),
    goal(
      2,
      `upstream requests per warm tools/call (${r.framing} replies)`,
      `${r.warm}, then ${fmt(r.warmMean)} over ${r.warmCalls} calls (Higress ${r.higress})`,
      "exactly 1",
      r.warm === 1 && r.warmMean === 1 ? 1 : Math.max(r.warmMean, 1.01),
    ),
  ]);
}

function bridgeGoals(b: BridgesResult): Goal[] {
  const ours = b.rows.find((r) => r.bridge === "mcp-sidecar");
  const sg = b.rows.find((r) => r.bridge === "supergateway");
  if (!ours) return [];
  const goals = [
    goal(
      3,
      "sidecar tools/call throughput / the same server over HTTP by the Node SDK directly",
      `${fmt(ours.rps.median, 0)} vs ${fmt(b.sdkServer.rps.median, 0)} req/s = ${fmt(ours.rps.median / b.sdkServer.rps.median)}×`,
      "≥ 0.5×",
      0.5 / (ours.rps.median / b.sdkServer.rps.median),
    ),
  ];
  if (sg) {
    const x = ours.rps.median / sg.rps.median;
    goals.push(
      goal(
        3,
        "sidecar tools/call throughput / supergateway's",
        `${fmt(ours.rps.median, 0)} vs ${fmt(sg.rps.median, 0)} req/s = ${fmt(x)}×`,
        "≥ 3×",
        3 / x,
      ),
    );
  }
  goals.push(
    goal(
      3,
      `sidecar processes left after ${ours.cycles} connect/abrupt-disconnect cycles`,
      `${ours.leftAfterTimeout}${sg ? ` (supergateway ${sg.leftAfterTimeout})` : ""}`,
      "0",
      ours.leftAfterTimeout === 0 ? 0.01 : 1 + ours.leftAfterTimeout,
    ),
  );
  return goals;
}

export function goals(r: Results): Goal[] {
  return [
    ...(r.proxies ? proxyGoals(r.proxies) : []),
    ...(r.upstream ? upstreamGoals(r.upstream) : []),
    ...(r.bridges ? bridgeGoals(r.bridges) : []),
  ];
}
