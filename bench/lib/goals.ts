// The goals, each as "measured vs target" with a normalised score (<= 1 means met), for the table and chart.
import type { WasmCostRow } from "../sections/wasm-cost.ts";
import type { UpstreamCountRow } from "../sections/upstream-count.ts";
import type { EndToEndResult } from "../sections/end-to-end.ts";
import type { BridgeRow } from "../sections/bridges.ts";

export interface Results {
  wasmCost?: WasmCostRow[];
  upstream?: UpstreamCountRow[];
  endToEnd?: EndToEndResult;
  bridges?: BridgeRow[];
}

export interface Goal {
  section: number;
  figure: string;
  measured: string;
  target: string;
  /** measured / target oriented so that <= 1 is met. */
  score: number;
  met: boolean;
}

const fmt = (v: number, digits = 2) => (Number.isFinite(v) ? v.toFixed(digits) : "n/a");

function goal(section: number, figure: string, measured: string, target: string, score: number): Goal {
  return { section, figure, measured, target, score, met: score <= 1 };
}

function wasmGoals(all: WasmCostRow[]): Goal[] {
  const rows = all.filter((r) => !r.floor);
  const ratios = rows.map((r) => goal(1, `wasm / Node per request, net of the stopwatch: ${r.scenario}`,
    `${fmt(r.wasmNetUs, 1)} µs vs ${fmt(r.nodeNetUs, 1)} µs = ${fmt(r.ratio)} (as charged: ${fmt(r.wasmUs, 1)} vs ${fmt(r.nodeUs, 1)} µs = ${fmt(r.rawRatio)}; hot loop: ${fmt(r.nodeHotUs, 1)} µs, ${fmt(r.hotRatio)})`, "≤ 1.0", r.ratio));
  // The proxying floor bounds the throughput of the list it proxies: shown beside that row's figure.
  const floor = all.find((r) => r.floor && r.wasmMBps !== undefined);
  const ceiling = (r: WasmCostRow) => floor && floor.replyBytes === r.replyBytes
    ? ` (a filter doing nothing but proxying it: ${fmt(floor.wasmNetUs, 1)} µs, ${fmt(floor.wasmMBps!, 0)} MB/s)` : "";
  const lists = rows.filter((r) => r.wasmMBps !== undefined).map((r) =>
    goal(1, `tools/list filtering throughput: ${r.scenario}`, `${fmt(r.wasmMBps!, 0)} MB/s${ceiling(r)}`, "> 100 MB/s", 100 / r.wasmMBps!));
  return [...ratios, ...lists];
}

function upstreamGoals(rows: UpstreamCountRow[]): Goal[] {
  return rows.flatMap((r) => [
    goal(2, `upstream requests, cold tools/call (${r.framing} replies)`, `${r.cold} (Higress ${r.higress})`, "3", r.cold / 3),
    goal(2, `upstream requests, warm tools/call (${r.framing} replies)`, `${fmt(r.warmMean)} over ${r.warmCalls} calls (Higress ${r.higress})`, "exactly 1", r.warm === 1 && r.warmMean === 1 ? 1 : Math.max(r.warmMean, 1.01)),
  ]);
}

function endToEndGoals(e: EndToEndResult): Goal[] {
  const share = e.split.wasmShareOfDirect;
  return [goal(3, "filter's own time per warm tools/call / direct p50", `${fmt(e.split.wasmMs, 3)} ms / ${fmt(e.http[0].p50)} ms = ${fmt(share * 100, 1)}%`, "< 5%", share / 0.05)];
}

function bridgeGoals(rows: BridgeRow[]): Goal[] {
  const ours = rows.find((r) => r.bridge === "mcp-sidecar");
  const sg = rows.find((r) => r.bridge === "supergateway");
  if (!ours || !sg) return [];
  const x = ours.throughput.rps / sg.throughput.rps;
  return [
    goal(4, "sidecar throughput / supergateway", `${fmt(ours.throughput.rps, 0)} vs ${fmt(sg.throughput.rps, 0)} req/s = ${fmt(x)}x`, "≥ 1.5x", 1.5 / x),
    goal(4, "sidecar p99 / supergateway p99", `${fmt(ours.throughput.p99)} vs ${fmt(sg.throughput.p99)} ms`, "≤ 1.0", ours.throughput.p99 / sg.throughput.p99),
    goal(4, "sidecar memory per idle session / supergateway", `${fmt(ours.rssPerSessionMb, 1)} vs ${fmt(sg.rssPerSessionMb, 1)} MB`, "≤ 1.0", ours.rssPerSessionMb / sg.rssPerSessionMb),
    goal(4, `sidecar processes left after ${ours.cycles} connect/abrupt-disconnect cycles`, `${ours.leftAfterTimeout} (supergateway ${sg.leftAfterTimeout})`, "0",
      ours.leftAfterTimeout === 0 ? 0.01 : 1 + ours.leftAfterTimeout),
  ];
}

export function goals(r: Results): Goal[] {
  return [
    ...(r.wasmCost ? wasmGoals(r.wasmCost) : []),
    ...(r.upstream ? upstreamGoals(r.upstream) : []),
    ...(r.endToEnd ? endToEndGoals(r.endToEnd) : []),
    ...(r.bridges ? bridgeGoals(r.bridges) : []),
  ];
}
