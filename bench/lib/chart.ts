// The chart: (a) every goal as a bar of its score on a log axis (left of the line = met), (b) where the gateway's
// added latency goes, (c) the bridges side by side. Plain SVG, no external assets.
import type { Goal, Results } from "./goals.ts";
import type { BridgeRow } from "../sections/bridges.ts";

const W = 980;
const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const text = (x: number, y: number, s: string, extra = "") => `<text x="${x}" y="${y}" ${extra}>${esc(s)}</text>`;
const rect = (x: number, y: number, w: number, h: number, fill: string) => `<rect x="${x}" y="${y}" width="${Math.max(0, w)}" height="${h}" fill="${fill}"/>`;
const GREEN = "#2e9d5b";
const RED = "#d0453a";

/** (a) log10 axis from 1/100 to 100; the goal line is at 1. */
function goalsPanel(goals: Goal[], top: number): { svg: string; height: number } {
  const x0 = 430, width = 440, row = 18;
  const pos = (score: number) => x0 + ((Math.log10(Math.min(100, Math.max(0.01, score))) + 2) / 4) * width;
  const parts = [text(10, top + 16, "Goals: score = measured / target (left of the line = met; log scale)", 'font-weight="bold"')];
  goals.forEach((g, i) => {
    const y = top + 30 + i * row;
    parts.push(text(10, y + 12, `${g.section}. ${g.figure}`.slice(0, 70), 'font-size="11"'));
    parts.push(rect(x0, y + 3, pos(g.score) - x0, row - 6, g.met ? GREEN : RED));
    parts.push(text(pos(g.score) + 4, y + 12, g.measured.slice(0, 40), 'font-size="10" fill="#333"'));
  });
  const bottom = top + 30 + goals.length * row;
  for (const tick of [0.01, 0.1, 1, 10, 100]) {
    parts.push(`<line x1="${pos(tick)}" y1="${top + 26}" x2="${pos(tick)}" y2="${bottom}" stroke="${tick === 1 ? "#000" : "#ccc"}" stroke-width="${tick === 1 ? 1.5 : 1}"/>`);
    parts.push(text(pos(tick) - 8, bottom + 14, String(tick), 'font-size="10"'));
  }
  return { svg: parts.join("\n"), height: bottom + 30 - top };
}

interface Segment { label: string; ms: number; color: string }

/** (b) one stacked bar per path, in ms. */
function latencyPanel(r: Results, top: number): { svg: string; height: number } {
  const e = r.endToEnd;
  if (!e) return { svg: "", height: 0 };
  const s = e.split;
  const direct = e.http[0].p50;
  const bars: { name: string; segments: Segment[] }[] = [
    { name: "direct p50", segments: [{ label: "direct", ms: direct, color: "#8aa1c1" }] },
    { name: "extra hop only p50", segments: [{ label: "direct", ms: direct, color: "#8aa1c1" }, { label: "hop", ms: s.hopMs, color: "#e0b04a" }] },
    { name: "emulator + filter p50", segments: [{ label: "direct", ms: direct, color: "#8aa1c1" }, { label: "hop", ms: s.hopMs, color: "#e0b04a" },
      { label: "emulator host code", ms: s.emulatorOtherMs, color: "#b9b9b9" }, { label: "host calls", ms: s.hostCallsMs, color: "#9b6fc0" }, { label: "wasm", ms: s.wasmMs, color: RED }] },
  ];
  const total = Math.max(...bars.map((b) => b.segments.reduce((a, g) => a + Math.max(0, g.ms), 0)));
  const x0 = 200, width = 640, scale = width / total;
  const parts = [text(10, top + 16, `Where the gateway's added latency goes (tools/call 1 KB, concurrency ${e.settings.concurrency}; ms at p50)`, 'font-weight="bold"')];
  bars.forEach((b, i) => {
    const y = top + 30 + i * 26;
    parts.push(text(10, y + 14, b.name, 'font-size="11"'));
    let x = x0;
    for (const g of b.segments) { parts.push(rect(x, y, Math.max(0, g.ms) * scale, 18, g.color)); x += Math.max(0, g.ms) * scale; }
    parts.push(text(x + 4, y + 14, `${b.segments.reduce((a, g) => a + g.ms, 0).toFixed(2)} ms`, 'font-size="10"'));
  });
  const legendY = top + 30 + bars.length * 26 + 6;
  bars[2].segments.forEach((g, i) => { parts.push(rect(x0 + i * 130, legendY, 10, 10, g.color)); parts.push(text(x0 + i * 130 + 14, legendY + 9, `${g.label} ${g.ms.toFixed(3)}`, 'font-size="10"')); });
  return { svg: parts.join("\n"), height: legendY + 24 - top };
}

/** (c) three small bar groups: req/s, p99 ms, MB per idle session. */
function bridgesPanel(r: Results, top: number): { svg: string; height: number } {
  const rows = r.bridges;
  if (!rows) return { svg: "", height: 0 };
  const metrics: { title: string; value: (b: BridgeRow) => number }[] = [
    { title: "tools/call req/s (higher is better)", value: (b) => b.throughput.rps },
    { title: "p99 ms (lower is better)", value: (b) => b.throughput.p99 },
    { title: "MB per idle session (lower is better)", value: (b) => Math.max(0, b.rssPerSessionMb) },
    { title: `processes left after ${rows[0].cycles} cycles`, value: (b) => b.leftAfterTimeout },
  ];
  const colors = ["#2e6fd0", "#d08a2e", "#7a7a7a", "#5bb0a0"];
  const parts = [text(10, top + 16, "Stdio bridges, same server and load", 'font-weight="bold"')];
  const colW = W / metrics.length;
  metrics.forEach((m, j) => {
    const x0 = 10 + j * colW;
    const max = Math.max(...rows.map(m.value), 1e-9);
    parts.push(text(x0, top + 36, m.title, 'font-size="11"'));
    rows.forEach((b, i) => {
      const y = top + 46 + i * 22;
      const w = (m.value(b) / max) * (colW - 120);
      parts.push(rect(x0, y, w, 16, colors[i % colors.length]));
      parts.push(text(x0 + w + 4, y + 12, m.value(b).toFixed(m.value(b) < 10 ? 1 : 0), 'font-size="10"'));
    });
  });
  const legendY = top + 46 + rows.length * 22 + 8;
  rows.forEach((b, i) => { parts.push(rect(10 + i * 220, legendY, 10, 10, colors[i % colors.length])); parts.push(text(24 + i * 220, legendY + 9, b.bridge, 'font-size="10"')); });
  return { svg: parts.join("\n"), height: legendY + 24 - top };
}

export function chart(results: Results, goals: Goal[], caption: string): string {
  let y = 10;
  const panels: string[] = [];
  for (const panel of [(t: number) => goalsPanel(goals, t), (t: number) => latencyPanel(results, t), (t: number) => bridgesPanel(results, t)]) {
    const { svg, height } = panel(y);
    panels.push(svg);
    y += height + 10;
  }
  panels.push(text(10, y + 4, caption, 'font-size="10" fill="#555"'));
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${y + 16}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="#fff"/>
${panels.join("\n")}
</svg>
`;
}
