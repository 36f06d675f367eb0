// bench/results/latest.md: every figure with its baseline and ratio, the goals, the versions, the machine, the
// command.
import type { BridgesResult, Throughput } from "../sections/bridges.ts";
import { TARGET_LABELS, type ProxyResult } from "../sections/proxies.ts";
import type { UpstreamCountRow } from "../sections/upstream-count.ts";
import { cell, fmt, perRound, range, type Goal, type Results } from "./goals.ts";
import type { Machine } from "./machine.ts";
import { spread } from "./stats.ts";

export interface Meta {
  command: string;
  seconds: number;
  notes: string[];
  versions: Record<string, string>;
  /** One-off builds and installs this run did (not counted in `seconds`). */
  builds: string[];
}

function table(head: string[], rows: (string | number)[][]): string {
  return [
    `| ${head.join(" | ")} |`,
    `| ${head.map(() => "---").join(" | ")} |`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ].join("\n");
}

const withRange = (s: { median: number; min: number; max: number; n: number }, d = 2) =>
  `${fmt(s.median, d)}${range(s, d)}`;

function kindTable(p: ProxyResult, kind: ProxyResult["kinds"][number]): string {
  const cells = p.cells.filter((c) => c.kind === kind.id);
  const native = spread(perRound(p, "cpuAdded", "native", kind.id));
  const rows = cells.map((c) => {
    const added = spread(perRound(p, "cpuAdded", c.target, kind.id));
    const p50Added = spread(perRound(p, "p50Added", c.target, kind.id));
    const rpsRatio = spread(perRound(p, "rpsRatio", c.target, kind.id));
    const isRouter = c.target === "router";
    const envoyCpu = c.target === "direct" ? "no Envoy" : withRange(c.envoyCpu, 0);
    return [
      TARGET_LABELS[c.target],
      withRange(c.rps, 0),
      isRouter ? "baseline" : fmt(rpsRatio.median),
      withRange(c.p50),
      isRouter ? "baseline" : fmt(p50Added.median),
      fmt(c.p99.median),
      envoyCpu,
      isRouter || c.target === "direct" ? (isRouter ? "baseline" : "") : withRange(added, 0),
      ["higress", "passthrough"].includes(c.target) && native.n > 0 ? fmt(added.median / native.median) : "",
      c.aigwCpu ? withRange(c.aigwCpu, 0) : "",
      fmt(c.upstream.median),
      c.failed,
      c.check,
    ];
  });
  return `#### ${kind.label} (backend reply ${kind.replyBytes.toLocaleString("en")} B, \`${kind.path}\`)

${table(["row", "req/s", "vs router", "p50 ms", "p50 added over router, ms", "p99 ms", "Envoy CPU, ms per 1,000", "added over router", "added / native's added", "aigw's own CPU, ms per 1,000", "upstream per request", "failed", "reply checked"], rows)}
`;
}

function proxySection(p: ProxyResult): string {
  const s = p.settings;
  const aigw =
    p.aigw && "skipped" in p.aigw
      ? `Envoy AI Gateway was not measured: ${p.aigw.skipped}.`
      : p.aigw
        ? `Envoy AI Gateway: \`aigw run --mcp-config FILE\` (aigw ${p.aigw.version}, its Envoy ${p.aigw.envoyVersion}), config
\`{"mcpServers":{"b":{"type":"http","url":"http://127.0.0.1:PORT/json/10/mcp"}}}\`, tools called as \`b__blob\`, at its default
100,000 PBKDF2 iterations for the session key and with \`--mcp-session-encryption-iterations 1\`. aigw listens on fixed ports
(1975, 9856), so one runs at a time: each round starts each setting, warms it, measures it and stops it (start-up ${p.aigw.startSeconds.map((v) => v.toFixed(0)).join(", ")} s).
Its Envoy's CPU and aigw's own (the MCP proxy runs in aigw's process) are read apart.`
        : "";
  const sdk = p.sdk
    ? `**Load generator check.** ${p.sdk.clients} MCP SDK clients (\`@modelcontextprotocol/sdk\` Client, Streamable HTTP, one session each,
closed loop, ${s.turnSeconds} s per round) through the plain router reached ${withRange(p.sdk.rps, 0)} req/s (p50 ${fmt(p.sdk.p50.median)} ms, p99
${fmt(p.sdk.p99.median)} ms, ${p.sdk.errors} errors; the router's Envoy spent ${fmt(p.sdk.routerCpu.median, 0)} ms CPU per 1,000 calls); wrk reached
${fmt(cell(p, "router", "call-1k")?.rps.median ?? NaN, 0)} req/s on the same row.`
    : "";
  return `## 1. The rows in real Envoy

Envoy ${p.envoyVersion} (the pinned official build), \`--concurrency 2\` (two workers, two Wasm VMs), log level info, one
Envoy process per row so that its CPU counters (\`/proc/PID/stat\` utime + stime) are that row's alone. The same backend
(\`bench/workers/backend.ts\`, Node, Streamable HTTP, JSON or SSE replies) behind every row; clients use its paths on
every row. Load: wrk, ${s.concurrency} keep-alive connections on one thread, one request in flight on each, every request
with a JSON-RPC id of its own; MCP sessions initialised before the runs (mode higress keeps none: its clients send
none). Each row is first checked with one request (its reply's result compared with the backend's: the text's
length, the tools listed after allowTools) and warmed for 1 s (both workers, backend sessions: the figures are
warm). Then ${s.rounds} rounds; in each, every row runs ${s.turnSeconds} s per request kind, rows in an order rotated every round.
Every figure is the median over the rounds, with the rounds' range in brackets; "added over router" and the ratios
compare each round with the plain router's turn of the same round. Envoy CPU per request = CPU over the turn ÷
replies served in it (ms per 1,000 requests = µs per request). Upstream per request = requests the backend
counted on that path during the turn ÷ replies (wrk stops with up to ${s.concurrency} requests in flight: a hair over 1).

Rows: the backend directly (the floor); Envoy's plain router (what any Envoy hop costs); this filter in mode
**higress** (the filter answers the client, dispatched calls on reused backend sessions) and in mode **passthrough**
(the client's request goes through Envoy's router with the policy applied in line); Envoy's native
\`envoy.filters.http.mcp\` (PASS_THROUGH) + \`envoy.filters.http.mcp_router\` with one backend (tools unprefixed; it does
not filter tool lists, so its tools/list replies are the backend's whole list); and Envoy AI Gateway.
The filter's servers list \`allowTools\` (every 4th tool, plus the tools called), so its tools/list replies are
filtered: 3 of 10, 25 of 100, 250 of 1,000 tools.

${aigw}

${sdk}

${p.kinds.map((k) => kindTable(p, k)).join("\n")}`;
}

function upstreamSection(rows: UpstreamCountRow[]): string {
  return `## 2. Upstream requests per client tools/call, mode higress (counted by the backend)

Real Envoy, two workers (two Wasm VMs, each keeping its own backend session per identity). One keep-alive
connection (one worker): the first call on the cold gateway, the next, the mean of more, then a client's initialize
and a new client's first call on the warm worker. Then calls each on a new connection (both workers): at most one
handshake (initialize + notifications/initialized) per worker.

${table(
  [
    "backend replies",
    "first call, cold worker",
    "next call",
    "warm, mean",
    "client initialize (warm)",
    "new client's call (warm)",
    "calls on new connections: upstream (initializes)",
    "Higress (from its source)",
  ],
  rows.map((u) => [
    u.framing,
    u.cold,
    u.warm,
    `${fmt(u.warmMean)} over ${u.warmCalls}`,
    u.clientInitialize,
    u.newClientWarm,
    `${u.spreadCalls} calls: ${u.spreadUpstream} (${u.spreadInitializes})`,
    u.higress,
  ]),
)}

Higress makes 3 upstream requests for every tools/call with \`transport: http\` (initialize, initialized, call), and 4
with its legacy \`transport: sse\`; those are read from its source, not run here.
`;
}

const throughputCells = (t: Throughput) => [
  withRange(t.rps, 0),
  fmt(t.p50.median),
  fmt(t.p99.median),
  withRange(t.cpu, 0),
  t.failed,
];

function bridgesSection(b: BridgesResult): string {
  const sg = b.rows.find((r) => r.bridge === "supergateway");
  const s = b.settings;
  return `## 3. Stdio bridges: the sidecar, supergateway, npm mcp-proxy, Python mcp-proxy

The same stdio server (server-everything), tools/call \`echo\`, wrk with ${s.concurrency} connections on one MCP session per
bridge, ${s.turnSeconds} s per turn, ${s.rounds} interleaved rounds (medians, range in brackets). CPU = the serving process tree (bridge and
its stdio children; for the baselines, the server process) per 1,000 calls. Baselines in the same run: the same
server code (server-everything's \`createServer\`) served over Streamable HTTP by the Node SDK directly
(\`bench/workers/sdk-server.ts\`: no bridge, the ceiling an HTTP bridge would reach by being free), and the stdio child
driven over its own stdin/stdout from the benchmark's process (no HTTP at all: the same-shaped limit).

${table(
  ["server", "req/s", "p50 ms", "p99 ms", "CPU, ms per 1,000", "failed"],
  [
    [b.sdkServer.name, ...throughputCells(b.sdkServer)],
    [b.pipes.name, ...throughputCells(b.pipes)],
  ],
)}

Set-up = initialize + notifications/initialized on a new session; memory = RSS growth of the bridge and all its
descendants (/proc) over ${b.rows[0]?.idleSessions} idle sessions; cycles = half of them drop the connection in the middle of
initialize, half finish it and vanish without DELETE (with a shell-builtins stdio server, so that only process
handling is measured), processes counted through /proc (descendants + re-parented orphans carrying the bridge's
marker) beyond those the bridge had before, after every bridge's idle timeout (${s.cycleIdleMs / 1000} s on all that have one) plus 4 s.

${table(
  [
    "bridge",
    "version",
    "children",
    "req/s",
    "vs SDK server",
    "vs supergateway",
    "p50 ms",
    "p99 ms",
    "CPU, ms per 1,000",
    "failed",
    "set-up p50 ms",
    "MB / idle session",
    "live after cycles",
    "left after timeout",
  ],
  b.rows.map((r) => [
    r.bridge,
    r.version,
    r.model,
    withRange(r.rps, 0),
    fmt(r.rps.median / b.sdkServer.rps.median),
    sg ? fmt(r.rps.median / sg.rps.median) : "",
    fmt(r.p50.median),
    fmt(r.p99.median),
    withRange(r.cpu, 0),
    r.failed,
    fmt(r.setupMsP50, 1),
    fmt(r.rssPerSessionMb, 1),
    r.liveAfterCycles,
    `${r.leftAfterTimeout}${r.noIdleTimeout ? " (no idle timeout)" : ""}`,
  ]),
)}
`;
}

export function markdown(results: Results, goals: Goal[], machine: Machine, meta: Meta): string {
  const met = goals.filter((g) => g.met).length;
  const load = machine.loadSamples.length > 0 ? machine.loadSamples.map((v) => v.toFixed(1)).join(", ") : "n/a";
  return `# Benchmark results

![chart](latest.svg)

Reproduce: \`${meta.command}\` (took ${fmt(meta.seconds, 0)} s${meta.builds.length > 0 ? `; one-off builds, not counted: ${meta.builds.join("; ")}` : ""}).
Loopback only. Machine: ${machine.cores} cores, ${machine.cpuModel}, ${machine.memoryGb} GB, ${machine.os}. **Load**: the machine
is shared with other work; 1-minute load average ${machine.loadAvgAtStart[0]} at the start, ${load} after each round of
section 1, ${machine.loadAvgAtEnd?.[0]} at the end (${machine.cores} would mean both cores busy): absolute figures move with it, so the
goals compare rows measured in the same round. Code: ${machine.gitHead}${machine.filterDirty ? " with uncommitted changes under assembly/" : ""},
build/mcp-proxy.wasm sha256 ${machine.wasmSha256}.
Versions: ${Object.entries(meta.versions)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ")}.
${meta.notes.map((n) => `\nNote: ${n}`).join("")}

## Goals: ${met} of ${goals.length} met

${table(
  ["", "figure", "measured (median, range over rounds)", "goal", "met"],
  goals.map((g) => [g.section, g.figure, g.measured, g.target, g.met ? "yes" : "**no**"]),
)}

${results.proxies ? proxySection(results.proxies) : ""}
${results.upstream ? upstreamSection(results.upstream) : ""}
${results.bridges ? bridgesSection(results.bridges) : ""}`;
}
