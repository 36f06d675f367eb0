// The chart: (a) every goal as a bar of its score on a log axis (left of the line = met); (b, c) Envoy's CPU per
// 1,000 warm tools/call and per 1,000 tools/list of 1,000 tools, row by row; (d) tools/call throughput and p50 row
// by row; (e) the stdio bridges' throughput beside their two baselines. Plain SVG, no external assets.
import { TARGET_LABELS, type ProxyResult, type TargetId } from "../sections/proxies.ts";
import { cell, fmt, type Goal, type Results } from "./goals.ts";
import { CALL_1K, LIST_1000 } from "./kinds.ts";

const W = 1080;
const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const text = (x: number, y: number, s: string, extra = "") => `<text x="${x}" y="${y}" ${extra}>${esc(s)}</text>`;
const rect = (x: number, y: number, w: number, h: number, fill: string) =>
  `<rect x="${x}" y="${y}" width="${Math.max(0, w)}" height="${h}" fill="${fill}"/>`;
const GREEN = "#2e9d5b";
const RED = "#d0453a";
const COLORS: Record<string, string> = {
  direct: "#8aa1c1",
  router: "#7a7a7a",
  higress: "#d0453a",
  passthrough: "#e07b39",
  native: "#2e6fd0",
  "aigw-100000": "#7b4fb0",
  "aigw-1": "#a57fd6",
};

interface Panel {
  svg: string;
  height: number;
}

/** (a) log10 axis from 1/100 to 100; the goal line is at 1. */
function goalsPanel(goals: Goal[], top: number): Panel {
  const x0 = 470,
    width = 420,
    row = 18;
  const pos = (score: number) =>
    x0 + ((Math.log10(Math.min(100, Math.max(0.01, Number.isFinite(score) ? score : 100))) + 2) / 4) * width;
  const parts = [
    text(
      10,
      top + 16,
      "Goals: score = measured / target (left of the black line = met; log scale)",
      'font-weight="bold"',
    ),
  ];
  goals.forEach((g, i) => {
    const y = top + 30 + i * row;
    parts.push(text(10, y + 12, `${g.section}. ${g.figure}`.slice(0, 84), 'font-size="10"'));
    parts.push(rect(x0, y + 3, pos(g.score) - x0, row - 6, g.met ? GREEN : RED));
    parts.push(
      text(Math.min(pos(g.score) + 4, W - 110), y + 12, g.measured.slice(0, 30), 'font-size="9.5" fill="#333"'),
    );
  });
  const bottom = top + 30 + goals.length * row;
  for (const tick of [0.01, 0.1, 1, 10, 100]) {
    parts.push(
      `<line x1="${pos(tick)}" y1="${top + 26}" x2="${pos(tick)}" y2="${bottom}" stroke="${tick === 1 ? "#000" : "#ccc"}" stroke-width="${tick === 1 ? 1.5 : 1}"/>`,
    );
    parts.push(text(pos(tick) - 8, bottom + 14, String(tick), 'font-size="10"'));
  }
  return { svg: parts.join("\n"), height: bottom + 30 - top };
}

interface Bar {
  label: string;
  value: number;
  color: string;
  note?: string;
}

function barsPanel(title: string, bars: Bar[], unit: string, top: number): Panel {
  const shown = bars.filter((b) => Number.isFinite(b.value));
  if (shown.length === 0) return { svg: "", height: 0 };
  const x0 = 420,
    width = 400,
    row = 20;
  // An outlier (aigw's default PBKDF2, the native router's long lists) would flatten every other bar: bars beyond
  // 5× the median are drawn to the edge, broken, with their value written out.
  const sorted = shown.map((b) => b.value).sort((p, q) => p - q);
  const max = Math.min(sorted[sorted.length - 1], 5 * sorted[Math.floor(sorted.length / 2)]);
  const parts = [text(10, top + 16, title, 'font-weight="bold"')];
  shown.forEach((b, i) => {
    const y = top + 28 + i * row;
    const off = b.value > max;
    const w = (Math.min(b.value, max) / max) * width;
    parts.push(text(10, y + 13, b.label.slice(0, 72), 'font-size="10.5"'));
    parts.push(rect(x0, y + 2, w, row - 5, b.color));
    if (off)
      parts.push(
        `<line x1="${x0 + w - 14}" y1="${y + row - 2}" x2="${x0 + w - 6}" y2="${y}" stroke="#fff" stroke-width="3"/>`,
      );
    parts.push(
      text(
        x0 + w + 4,
        y + 13,
        `${fmt(b.value, b.value < 10 ? 2 : 0)} ${unit}${off ? " (off scale)" : ""}${b.note ? ` ${b.note}` : ""}`,
        'font-size="10"',
      ),
    );
  });
  return { svg: parts.join("\n"), height: 28 + shown.length * row + 10 };
}

const ROWS: TargetId[] = ["direct", "router", "higress", "passthrough", "native", "aigw-1", "aigw-100000"];

function cpuBars(p: ProxyResult, kind: string): Bar[] {
  return ROWS.filter((t) => t !== "direct").map((t) => {
    const c = cell(p, t, kind);
    const aigw = c?.aigwCpu?.median;
    return {
      label: TARGET_LABELS[t],
      value: c ? c.envoyCpu.median + (aigw ?? 0) : NaN,
      color: COLORS[t],
      note: aigw !== undefined ? `(Envoy ${fmt(c!.envoyCpu.median, 0)} + aigw ${fmt(aigw, 0)})` : "",
    };
  });
}

function proxyPanels(p: ProxyResult | undefined, top: number): Panel[] {
  if (!p) return [];
  const panels: Panel[] = [];
  let y = top;
  const add = (panel: Panel) => {
    panels.push(panel);
    y += panel.height + 8;
  };
  add(
    barsPanel(
      `Envoy CPU per 1,000 warm ${CALL_1K.label} (lower is better; aigw: its Envoy + aigw itself)`,
      cpuBars(p, CALL_1K.id),
      "ms",
      y,
    ),
  );
  add(barsPanel(`Envoy CPU per 1,000 ${LIST_1000.label} (lower is better)`, cpuBars(p, LIST_1000.id), "ms", y));
  add(
    barsPanel(
      `${CALL_1K.label}: throughput at concurrency ${p.settings.concurrency} (wrk; higher is better)`,
      ROWS.map((t) => {
        const c = cell(p, t, CALL_1K.id);
        return {
          label: TARGET_LABELS[t],
          value: c?.rps.median ?? NaN,
          color: COLORS[t],
          note: c ? `p50 ${fmt(c.p50.median)} ms` : "",
        };
      }),
      "req/s",
      y,
    ),
  );
  return panels;
}

function bridgesPanel(r: Results, top: number): Panel {
  const b = r.bridges;
  if (!b) return { svg: "", height: 0 };
  const bars: Bar[] = [
    { label: b.sdkServer.name, value: b.sdkServer.rps.median, color: "#8aa1c1" },
    { label: b.pipes.name, value: b.pipes.rps.median, color: "#b9b9b9" },
    ...b.rows.map((row) => ({
      label: `${row.bridge} (${row.model})`,
      value: row.rps.median,
      color: row.bridge.startsWith("mcp-sidecar") ? RED : "#7a7a7a",
      note: `p99 ${fmt(row.p99.median)} ms, ${fmt(row.cpu.median, 0)} ms CPU per 1,000`,
    })),
  ];
  return barsPanel("Stdio bridges, tools/call echo: throughput (higher is better)", bars, "req/s", top);
}

export function chart(results: Results, goals: Goal[], caption: string): string {
  let y = 10;
  const panels: string[] = [];
  const push = (panel: Panel) => {
    if (panel.height > 0) {
      panels.push(panel.svg);
      y += panel.height + 8;
    }
  };
  push(goalsPanel(goals, y));
  for (const panel of proxyPanels(results.proxies, y)) push(panel);
  push(bridgesPanel(results, y));
  panels.push(text(10, y + 4, caption, 'font-size="10" fill="#555"'));
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${y + 16}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="#fff"/>
${panels.join("\n")}
</svg>
`;
}
