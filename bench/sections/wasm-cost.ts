// 1. Time inside the wasm per request kind (the emulator's per-export timings, deltas over a run of sequential
// requests), against the same parsing and serialising done in plain Node.
import { frame, blob, toolList } from "../lib/payloads.ts";
import { McpSession, newAgent, PROTOCOL_VERSION } from "../lib/mcp-http.ts";
import { allowList, serverName, startGateway, startMinimalGateway, type MinimalFilter } from "../lib/gateway.ts";
import { perRequest, splitBetween, startBackend, type EmulatorService, type WasmSplit } from "../lib/services.ts";
import * as node from "../lib/node-baseline.ts";
import type { NodeScenario } from "../lib/node-baseline.ts";
import type { TimingOverhead } from "../../emulator/api.ts";
import { median, ratio } from "../lib/stats.ts";

export interface WasmCostRow {
  scenario: string;
  /** Bytes of the backend reply the filter handled (0 for initialize). */
  replyBytes: number;
  requests: number;
  /** Rounds of ROUND_REQUESTS requests; the wasm and Node figures and the ratios are medians over them. */
  rounds: number;
  /** Time inside the exports (the emulator's measure), µs per request. */
  exportUs: number;
  /** Of which host functions (the emulator's JavaScript), µs per request. */
  hostUs: number;
  hostCalls: number;
  /** The module's own code, µs per request, as the emulator's stopwatch charged it. */
  wasmUs: number;
  /** Of wasmUs: the stopwatch's own share (its per-call charge, measured in the same run, times the calls). */
  stopwatchUs: number;
  /** The stopwatch's charge per export call and per host call, measured in the emulator's process before the rows. */
  overhead: TimingOverhead;
  /** wasmUs less the stopwatch's share: the figure compared with Node. */
  wasmNetUs: number;
  /**
   * The goal's baseline: Node doing the filter's whole per-request work (header checks and stripping, JSON,
   * properties, counters, the backend exchange's bookkeeping) once per request in the emulator's process, between
   * its requests, as the wasm runs.
   */
  nodeUs: number;
  /** The same work in a hot loop (caches warm, nothing in between). */
  nodeHotUs: number;
  /** The JSON parsing and serialising alone, hot loop (the baseline before the header work was counted). */
  nodeJsonUs: number;
  /** Node per request less the stopwatch's share of one timed call. */
  nodeNetUs: number;
  /** wasmNetUs / nodeNetUs: the goal. */
  ratio: number;
  /** wasmUs / nodeUs, both as charged. */
  rawRatio: number;
  /** wasmNetUs / nodeHotUs. */
  hotRatio: number;
  /** Reply bytes per second of net wasm time (tools/list only). */
  wasmMBps?: number;
  nodeMBps?: number;
  /** A minimal filter (bench/fixtures/minimal-*.ts): the harness's floor, not a goal. */
  floor?: boolean;
}

interface Scenario {
  name: string;
  prefix: string;
  /** The client request body (id 5) */
  body: string;
  /** What the backend returns for it, framed as sent; undefined when answered locally. */
  backend?: string;
  sse?: boolean;
  isList?: boolean;
}

const FLOOR_ANSWERING = "floor: minimal filter answering initialize (1 header read, 1 body read, 1 local reply)";
/** Proxies the 10-tool list verbatim: the least any filter proxying it can cost here, filtering aside. */
const FLOOR_PROXYING = "floor: minimal filter proxying tools/list 10 tools verbatim (1 header read, 1 body read, 1 dispatched call, 1 reply read, 1 local reply)";

const INIT = JSON.stringify({ jsonrpc: "2.0", id: 5, method: "initialize", params: { protocolVersion: PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: "bench", version: "1" } } });
const call = (bytes: number) => JSON.stringify({ jsonrpc: "2.0", id: 5, method: "tools/call", params: { name: "blob", arguments: { bytes } } });
const LIST = JSON.stringify({ jsonrpc: "2.0", id: 5, method: "tools/list", params: {} });

function scenarios(): Scenario[] {
  const callScenario = (bytes: number, sse: boolean): Scenario => ({
    name: `tools/call ${bytes >= 1024 ? `${bytes / 1024} KB` : `${bytes} B`} result${sse ? " (SSE reply parse)" : ""}`,
    prefix: sse ? "/sse/10" : "/json/10", body: call(bytes), backend: frame(7, blob(bytes), sse), sse,
  });
  const listScenario = (n: number): Scenario => ({
    name: `tools/list ${n.toLocaleString("en")} tools, allowTools`, prefix: `/json/${n}`, body: LIST, backend: frame(7, toolList(n), false), isList: true,
  });
  return [
    { name: "initialize (answered by the filter)", prefix: "/json/10", body: INIT },
    callScenario(1024, false), callScenario(100 * 1024, false),
    listScenario(10), listScenario(100), listScenario(1000),
    callScenario(1024, true), callScenario(100 * 1024, true),
  ];
}

function nodeScenario(s: Scenario, allow: string[]): NodeScenario {
  return { prefix: s.prefix, server: serverName(s.prefix), body: s.body, backend: s.backend, sse: s.sse, allow };
}

/** Requests per round: a row's figures are medians over its rounds, so a burst of other load moves one round only. */
const ROUND_REQUESTS = 40;

interface Round {
  split: WasmSplit;
  nodeNs: number;
}

/**
 * Rounds of sequential requests for up to `maxMs` (at most `maxRequests`) after unmeasured warm-up ones. After
 * each request, the emulator's process runs the Node baseline once: both are timed per request, between the same
 * requests, and each round yields both figures under the same conditions.
 */
async function measureInFlow(emu: EmulatorService, s: Scenario, allow: string[], maxRequests: number, maxMs: number,
  warmUp: number): Promise<Round[]> {
  const session = new McpSession(new URL(emu.url + s.prefix), newAgent(1));
  await emu.setNodeWork(nodeScenario(s, allow));
  const send = async () => {
    const message = await session.request(JSON.parse(s.body).method, JSON.parse(s.body).params);
    if (message === undefined) throw new Error(`${s.name}: no result`);
    return emu.nodeOnce();
  };
  for (let i = 0; i < warmUp; i++) await send();
  const deadline = Date.now() + maxMs;
  const rounds: Round[] = [];
  while ((rounds.length + 1) * ROUND_REQUESTS <= maxRequests && Date.now() < deadline) {
    const before = await emu.timings();
    let nodeNs = 0;
    for (let i = 0; i < ROUND_REQUESTS; i++) nodeNs += await send();
    rounds.push({ split: perRequest(splitBetween(before, await emu.timings()), ROUND_REQUESTS), nodeNs: nodeNs / ROUND_REQUESTS });
  }
  session.agent && session.agent.destroy();
  return rounds;
}

/** Sends a request kind `requests` times, unmeasured, so V8 has optimised the code both sides run for it. */
async function warmUp(emu: EmulatorService, s: Scenario, allow: string[], requests: number): Promise<void> {
  await measureInFlow(emu, s, allow, 0, 0, requests);
}

/** The rounds' mean of each split field (the informational columns). */
function meanSplit(rounds: Round[]): WasmSplit {
  const total = rounds.map((r) => r.split).reduce((sum, split) =>
    Object.fromEntries(Object.entries(sum).map(([k, v]) => [k, v + split[k as keyof WasmSplit]])) as unknown as WasmSplit);
  return perRequest(total, rounds.length);
}

async function measureRow(emu: EmulatorService, overhead: TimingOverhead, s: Scenario, allow: string[],
  log: (line: string) => void): Promise<WasmCostRow> {
  const rounds = await measureInFlow(emu, s, allow, 400, 3000, 50);
  const split = meanSplit(rounds);
  // What the emulator's stopwatch charged the module for timing its calls (see TimingOverhead).
  const stopwatchShare = (calls: WasmSplit) => calls.exportCalls * overhead.exportCallNs + calls.hostCalls * overhead.hostCallNs;
  const stopwatchNs = stopwatchShare(split);
  const netOf = (r: Round) => r.split.wasmNs - stopwatchShare(r.split);
  const nodeNetOf = (r: Round) => r.nodeNs - overhead.exportCallNs;
  const ns = median(rounds.map(netOf));
  const nodeNetNs = median(rounds.map(nodeNetOf));
  const work = nodeScenario(s, allow);
  const hotNs = node.timeNs(node.fullWork(work));
  const jsonNs = node.timeNs(node.jsonWork(work));
  const replyBytes = s.backend ? Buffer.byteLength(s.backend) : 0;
  const row: WasmCostRow = { scenario: s.name, replyBytes, requests: rounds.length * ROUND_REQUESTS, rounds: rounds.length,
    exportUs: split.exportNs / 1000, hostUs: split.hostNs / 1000, hostCalls: split.hostCalls, wasmUs: median(rounds.map((r) => r.split.wasmNs)) / 1000,
    stopwatchUs: stopwatchNs / 1000, overhead, wasmNetUs: ns / 1000, nodeUs: median(rounds.map((r) => r.nodeNs)) / 1000, nodeNetUs: nodeNetNs / 1000,
    nodeHotUs: hotNs / 1000, nodeJsonUs: jsonNs / 1000,
    ratio: median(rounds.map((r) => ratio(netOf(r), nodeNetOf(r)))),
    rawRatio: median(rounds.map((r) => ratio(r.split.wasmNs, r.nodeNs))),
    hotRatio: ratio(ns, hotNs) };
  if (s.isList) { row.wasmMBps = replyBytes / ns * 1000; row.nodeMBps = replyBytes / nodeNetNs * 1000; }
  log(`  ${s.name}: exports ${row.exportUs.toFixed(1)} µs = wasm ${row.wasmUs.toFixed(1)} (net ${row.wasmNetUs.toFixed(1)}) + host ${row.hostUs.toFixed(1)} (${row.hostCalls.toFixed(0)} calls); node per request ${row.nodeUs.toFixed(1)} µs (net ${row.nodeNetUs.toFixed(1)}), hot loop ${row.nodeHotUs.toFixed(1)} (JSON alone ${row.nodeJsonUs.toFixed(1)}); ratio ${row.ratio.toFixed(2)} (as charged ${row.rawRatio.toFixed(2)}, hot ${row.hotRatio.toFixed(2)}) over ${rounds.length} rounds`);
  return row;
}

async function measureOverhead(emu: EmulatorService, log: (line: string) => void): Promise<TimingOverhead> {
  const overhead = await emu.timingOverhead();
  log(`  the emulator's stopwatch charges ${overhead.exportCallNs.toFixed(0)} ns per export call, ${overhead.hostCallNs.toFixed(0)} ns per host call`);
  return overhead;
}

export async function runWasmCost(log: (line: string) => void): Promise<WasmCostRow[]> {
  const backend = await startBackend();
  const allow = allowList();
  const list = scenarios();
  const prefixes = [...new Set(list.map((s) => s.prefix))];
  const rows: WasmCostRow[] = [];
  try {
    const emu = await startGateway(prefixes.map((prefix) => ({ prefix, backendPath: `${prefix}/mcp`, allowTools: allow })), { backend: backend.port });
    try {
      // Every request kind first, until V8 has optimised the module's and the Node baseline's code for all of them
      // (on 2 cores its background compiles would otherwise slow the first rows measured).
      for (const s of list) await warmUp(emu, s, allow, 200);
      const overhead = await measureOverhead(emu, log);
      for (const s of list) rows.push(await measureRow(emu, overhead, s, allow, log));
    } finally {
      await emu.close();
    }
    const floors: [MinimalFilter, Scenario][] = [
      ["minimal-filter", { ...list[0], name: FLOOR_ANSWERING }],
      ["minimal-proxy-filter", { ...list.find((s) => s.isList)!, name: FLOOR_PROXYING }],
    ];
    for (const [filter, scenario] of floors) {
      const minimal = await startMinimalGateway(filter, { backend: backend.port });
      try {
        await warmUp(minimal, scenario, allow, 200);
        rows.push({ ...(await measureRow(minimal, await measureOverhead(minimal, log), scenario, allow, log)), floor: true });
      } finally {
        await minimal.close();
      }
    }
    return rows;
  } finally {
    await backend.close();
  }
}
