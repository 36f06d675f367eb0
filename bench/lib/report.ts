// bench/results/latest.md: every figure with its baseline and ratio, the goals, the machine, the command.
import type { Goal, Results } from "./goals.ts";
import type { Machine } from "./machine.ts";

const f = (v: number | undefined, d = 2) => (v === undefined || !Number.isFinite(v) ? "n/a" : v.toFixed(d));

function table(head: string[], rows: (string | number)[][]): string {
  return [`| ${head.join(" | ")} |`, `| ${head.map(() => "---").join(" | ")} |`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");
}

function wasmSection(r: Results): string {
  if (!r.wasmCost) return "";
  const overhead = r.wasmCost[0].overhead;
  return `## 1. Filter cost inside the wasm, per request

Time in the module's exports per request, from the emulator's \`wasmTime()\` deltas over sequential requests after a
warm-up, in rounds of 40 requests (up to 10 per row): the wasm and Node figures are medians over a row's rounds and
each ratio is the median of the rounds' ratios, so a burst of other load on the machine moves one round, not the
row (the other columns are means over all requests). The time is split into the module's own code (**wasm**) and the host functions it called (the emulator's JavaScript,
which Envoy implements in C++); allocation inside the module (the host's calls of its malloc) and the garbage
collections on the way out of exports and on ticks count as wasm.
Baseline, timed in the same run: plain Node doing the same per-request work: the header checks, captures and
removals on an array of header pairs, the JSON parsing and serialising (JSON.parse / JSON.stringify), the
access-log properties and the request counter, and for a proxied request the backend exchange's bookkeeping (the
session lookup, the upstream request's headers, the upstream counter, the call tracked until its reply, its
latency, the reply's status and content-type checks). **Node per request** (the goal's baseline) runs that work once after
each request in the emulator's process, timed with the same clock as an export, so both meet the same cold caches
between the emulator's requests; **Node hot loop** is the same work repeated back to back in the bench process, and
the JSON work alone is shown too. The last two rows (not goals) are the harness's floors, measured the same way as
the real filter: a minimal filter that only reads a header and the body and sends a fixed local reply, and one that
only passes the 10-tool tools/list request to the backend through a dispatched call and answers with the reply's
bytes verbatim (no checks, sessions or JSON): no proxying filter can cost less here.

**Net of the stopwatch.** Timing a call costs time, and part of each clock reading and wrapper lands inside the
window charged to the module. The emulator measures that share in the same process just before the rows
(\`timingOverhead()\`, on a probe module through the same code): ${f(overhead.exportCallNs, 0)} ns per export call and
${f(overhead.hostCallNs, 0)} ns per host call in this run. Envoy spends neither (it times nothing), so **wasm net** is
the charged time less calls × share, and Node per request is net of one timed call likewise; the goal compares the
net figures, and the charged ones are shown beside them. Section 3 uses the charged figures.

${table(["request", "backend reply", "requests", "wasm µs, charged", "stopwatch's share µs", "wasm net µs", "host calls µs (n)", "Node per request µs (net)", "wasm / Node, net", "charged", "Node hot loop µs", "wasm / hot loop", "JSON alone (hot) µs", "wasm MB/s", "Node MB/s"],
    r.wasmCost.map((w) => [w.scenario, `${w.replyBytes} B`, `${w.requests} (${w.rounds} rounds)`, f(w.wasmUs, 1), f(w.stopwatchUs, 1), f(w.wasmNetUs, 1), `${f(w.hostUs, 1)} (${f(w.hostCalls, 0)})`, `${f(w.nodeUs, 1)} (${f(w.nodeNetUs, 1)})`, f(w.ratio), f(w.rawRatio), f(w.nodeHotUs, 1), f(w.hotRatio), f(w.nodeJsonUs, 1), f(w.wasmMBps, 0), f(w.nodeMBps, 0)]))}
`;
}

function upstreamSection(r: Results): string {
  if (!r.upstream) return "";
  return `## 2. Upstream requests per client tools/call (counted by the backend)

${table(["backend replies", "cold (first call)", "warm (next)", "warm, mean", "new client, warm gateway", "Higress (from its source)"],
    r.upstream.map((u) => [u.framing, u.cold, u.warm, `${f(u.warmMean)} over ${u.warmCalls}`, u.newClientWarm, u.higress]))}

Higress makes 3 upstream requests for every tools/call with \`transport: http\` and 4 with its legacy
\`transport: sse\` (GET + 3 POSTs). This filter's legacy-SSE path makes the same 4, because a legacy session lives
only as long as its GET; that count is asserted by tests/e2e/filter-sse-backends.test.ts, not measured here.
`;
}

function endToEndSection(r: Results): string {
  const e = r.endToEnd;
  if (!e) return "";
  const rows = (list: typeof e.http) => list.map((p) => [p.path, f(p.rps, 0), f(p.p50), f(p.p99), p.errors,
    p.baseline ? f(p.rps / list[0].rps) : "baseline", p.baseline ? f(p.p50 / list[0].p50) : "baseline"]);
  const s = e.split;
  const head = ["path", "req/s", "p50 ms", "p99 ms", "errors", "req/s ratio", "p50 ratio"];
  return `## 3. End to end: tools/call at concurrency ${e.settings.concurrency}, ${e.settings.durationMs / 1000} s per path (${e.settings.rounds} interleaved rounds)

Streamable HTTP backend (1 KB result; one client session per loop):

${table(head, rows(e.http))}

Stdio server (server-everything \`echo\`):

${table(head, rows(e.stdio))}

Added latency through the gateway at p50: **${f(s.addedMs)} ms** = extra network hop ${f(s.hopMs)} ms (bare
forwarder minus direct) + emulator host code outside the module ${f(s.emulatorOtherMs)} ms + host functions called by
the module ${f(s.hostCallsMs, 3)} ms (${f(s.split.hostCalls, 0)} calls) + **the module's own code ${f(s.wasmMs, 3)} ms**
per request. The filter's own time is ${f(s.wasmShareOfDirect * 100, 1)}% of the direct call's p50 (goal < 5%).
`;
}

function bridgesSection(r: Results): string {
  if (!r.bridges) return "";
  const sg = r.bridges.find((b) => b.bridge === "supergateway");
  return `## 4. Stdio bridges: the sidecar vs supergateway and npm mcp-proxy

Same stdio server (server-everything), same load (tools/call \`echo\`, ${r.bridges[0].throughput.seconds} s per bridge
in interleaved rounds); set-up = initialize + notifications/initialized on a new session; memory = RSS growth of the
bridge process and all its descendants (/proc) over ${r.bridges[0].idleSessions} idle sessions; cycles = half of them drop
the connection in the middle of initialize, half finish it and vanish without DELETE (a shell-builtins stdio server,
so that only process handling is measured); processes counted through /proc (descendants + re-parented orphans
carrying the bridge's marker), beyond those the bridge had before the cycles, after every bridge's idle timeout
(the same on all) plus 4 s.

${table(["bridge", "children", "req/s", "vs supergateway", "p50 ms", "p99 ms", "errors", "set-up p50 ms", "MB / idle session", "live after cycles", "left after timeout"],
    r.bridges.map((b) => [b.bridge, b.model, f(b.throughput.rps, 0), sg ? f(b.throughput.rps / sg.throughput.rps) + "x" : "", f(b.throughput.p50), f(b.throughput.p99),
      b.throughput.errors, f(b.setupMsP50, 1), f(b.rssPerSessionMb, 1), b.liveAfterCycles, b.leftAfterTimeout]))}
`;
}

export function markdown(results: Results, goals: Goal[], machine: Machine, meta: { command: string; seconds: number; notes: string[] }): string {
  const met = goals.filter((g) => g.met).length;
  return `# Benchmark results

![chart](latest.svg)

Reproduce: \`${meta.command}\` (took ${f(meta.seconds, 0)} s). Machine: ${machine.cores} cores, ${machine.cpuModel},
${machine.memoryGb} GB, Node ${machine.node}, ${machine.os}; load average ${machine.loadAvgAtStart.join(" / ")} at start,
${machine.loadAvgAtEnd?.join(" / ")} at the end (anything above ${machine.cores} means other work shared the CPUs:
compare ratios, not absolute times). Code: ${machine.gitHead}${machine.filterDirty ? " with uncommitted changes under assembly/" : ""},
build/mcp-proxy.wasm sha256 ${machine.wasmSha256}.
${meta.notes.map((n) => `\nNote: ${n}`).join("")}

## Goals: ${met} of ${goals.length} met

${table(["", "figure", "measured", "goal", "met"], goals.map((g) => [g.section, g.figure, g.measured, g.target, g.met ? "yes" : "**no**"]))}

${wasmSection(results)}
${upstreamSection(results)}
${endToEndSection(results)}
${bridgesSection(results)}`;
}
