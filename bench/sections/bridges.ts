// 4. The sidecar against supergateway (stateful Streamable HTTP) and npm mcp-proxy, each a process of its own in
// front of the same stdio server: session set-up time, memory per idle session (RSS of the bridge and all its
// descendants, from /proc), tools/call throughput and latency under the same load (interleaved rounds), and the
// processes left behind after connect/abrupt-disconnect cycles (found through /proc, not asked of the bridge).
import { abandonedInitialize, McpSession, newAgent } from "../lib/mcp-http.ts";
import { runInterleaved, type LoadSettings, type Request } from "../lib/load.ts";
import { BRIDGES, EVERYTHING, SH_SERVER, type BridgeKind, type RunningBridge } from "../lib/bridges.ts";
import { offspring, rssKb } from "../lib/procs.ts";
import { median, type Summary } from "../lib/stats.ts";

export interface BridgeRow {
  bridge: string;
  model: string;
  throughput: Summary;
  setupMsP50: number;
  idleSessions: number;
  rssPerSessionMb: number;
  cycles: number;
  /** Processes beyond the bridge's own start-up set right after the cycles, and after the idle timeout + grace. */
  liveAfterCycles: number;
  leftAfterTimeout: number;
  cycleErrors: number;
}

export interface BridgeSettings {
  load: LoadSettings;
  /** Sessions opened for the memory figure (the load uses the first `loadSessions`). */
  idleSessions: number;
  loadSessions: number;
  cycles: number;
  cycleConcurrency: number;
  /** Idle session timeout configured on every bridge for the cycles. */
  cycleIdleMs: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const treeKb = (b: RunningBridge) => rssKb(offspring(b.child.pid!, b.marker, true));

interface Opened { sessions: McpSession[]; setupMsP50: number; rssPerSessionMb: number }

/** Opens sessions one after another (set-up time each), then measures the tree's RSS growth once they idle. */
async function openSessions(bridge: RunningBridge, n: number): Promise<Opened> {
  await sleep(1000);
  const baseKb = treeKb(bridge);
  const agent = newAgent(16);
  const sessions: McpSession[] = [];
  const setup: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    sessions.push(await new McpSession(bridge.url, agent).open());
    setup.push(performance.now() - t0);
  }
  await sleep(1500);
  return { sessions, setupMsP50: median(setup.slice(1)), rssPerSessionMb: (treeKb(bridge) - baseKb) / n / 1024 };
}

/** Half the cycles drop the connection in the middle of initialize; half finish it and vanish without DELETE. */
async function cycle(bridge: RunningBridge, i: number): Promise<void> {
  if (i % 2 === 0) { await abandonedInitialize(bridge.url, (i % 6) * 2, false); return; }
  const agent = newAgent(1);
  await new McpSession(bridge.url, agent).open();
  agent.destroy();
}

async function runCycles(kind: BridgeKind, s: BridgeSettings, log: (l: string) => void) {
  const bridge = await kind.start(SH_SERVER, { idleTimeoutMs: s.cycleIdleMs });
  await sleep(500);
  const before = offspring(bridge.child.pid!, bridge.marker).length;
  let next = 0;
  let errors = 0;
  const worker = async () => {
    while (next < s.cycles) {
      const i = next++;
      try { await cycle(bridge, i); } catch { errors++; }
    }
  };
  await Promise.all(Array.from({ length: s.cycleConcurrency }, worker));
  await sleep(500);
  const live = offspring(bridge.child.pid!, bridge.marker).length - before;
  log(`  ${kind.name}: ${s.cycles} cycles, ${live} processes live right after, ${errors} errors`);
  return { bridge, before, live, errors };
}

export async function runBridges(s: BridgeSettings, log: (l: string) => void): Promise<BridgeRow[]> {
  const running: RunningBridge[] = [];
  try {
    for (const kind of BRIDGES) running.push(await kind.start(EVERYTHING, { idleTimeoutMs: 600_000 }));
    const opened: Opened[] = [];
    for (const bridge of running) {
      opened.push(await openSessions(bridge, s.idleSessions));
      log(`  ${bridge.name}: set-up p50 ${opened.at(-1)!.setupMsP50.toFixed(1)} ms, ${opened.at(-1)!.rssPerSessionMb.toFixed(1)} MB per idle session`);
    }
    const requests: Request[] = opened.map((o) => async (worker) => { await o.sessions[worker % s.loadSessions].callTool("echo", { message: "hello" }); });
    const throughput = await runInterleaved(requests, s.load);
    throughput.forEach((t, i) => log(`  ${running[i].name}: ${t.rps.toFixed(0)} req/s, p50 ${t.p50.toFixed(2)} ms, p99 ${t.p99.toFixed(2)} ms, errors ${t.errors}`));
    await Promise.all(running.splice(0).map((b) => b.close()));

    const cycles: Awaited<ReturnType<typeof runCycles>>[] = [];
    for (const kind of BRIDGES) { const c = await runCycles(kind, s, log); running.push(c.bridge); cycles.push(c); }
    await sleep(s.cycleIdleMs + 4000);
    return BRIDGES.map((kind, i) => {
      const left = offspring(cycles[i].bridge.child.pid!, cycles[i].bridge.marker).length - cycles[i].before;
      log(`  ${kind.name}: ${left} processes left after the idle timeout`);
      const { firstError: _unused, completed: _c, ...summary } = throughput[i];
      return { bridge: kind.name, model: kind.model, throughput: summary, setupMsP50: opened[i].setupMsP50, idleSessions: s.idleSessions,
        rssPerSessionMb: opened[i].rssPerSessionMb, cycles: s.cycles, liveAfterCycles: cycles[i].live, leftAfterTimeout: left, cycleErrors: cycles[i].errors };
    });
  } finally {
    await Promise.all(running.map((b) => b.close()));
  }
}
