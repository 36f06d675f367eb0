// 3. The sidecar against the other stdio bridges — supergateway (stateful Streamable HTTP), npm mcp-proxy and the
// Python mcp-proxy — each a process of its own in front of the same stdio server (server-everything), and against
// two baselines doing the same work without a bridge: the same server code served over Streamable HTTP by the Node
// SDK directly (bench/workers/sdk-server.ts), and the stdio child driven over its own pipes from this process.
// Throughput: wrk, tools/call `echo` on one MCP session per bridge, a fixed time per turn, interleaved rounds,
// medians; the CPU of each bridge's process tree per request. Then session set-up time, memory per idle
// session (RSS of the tree, from /proc), and processes left after connect/abrupt-disconnect cycles (found through
// /proc, not asked of the bridge).
import { join } from "node:path";
import { loadavg } from "node:os";
import { bridges, EVERYTHING, marked, SH_SERVER, type BridgeKind, type RunningBridge } from "../lib/bridges.ts";
import { cpuMs } from "../lib/cpu.ts";
import { wrk, type LoadRun } from "../lib/wrk.ts";
import { closedLoop } from "../lib/load.ts";
import { abandonedInitialize, McpSession, newAgent, PROTOCOL_VERSION } from "../lib/mcp-http.ts";
import { repoRoot } from "../lib/paths.ts";
import { firstJsonLine, offspring, processTree, rssKb, spawnNodeTs, spawnTracked, stop } from "../lib/procs.ts";
import { median, spread, type Spread } from "../lib/stats.ts";
import { StdioConnection } from "../lib/stdio-client.ts";

export interface BridgeSettings {
  rounds: number;
  concurrency: number;
  /** How long each turn of each row runs (whole seconds). */
  turnSeconds: number;
  /** Sessions opened one after another for the set-up time and the memory figure. */
  idleSessions: number;
  cycles: number;
  cycleConcurrency: number;
  /** Idle session timeout configured on every bridge for the cycles. */
  cycleIdleMs: number;
}

export interface Throughput {
  /** Requests served per turn (median). */
  requests: number;
  rps: Spread;
  p50: Spread;
  p99: Spread;
  /** CPU of the serving process tree (bridge + stdio child), ms per 1,000 calls. */
  cpu: Spread;
  failed: number;
}

export interface BridgeRow extends Throughput {
  bridge: string;
  version: string;
  model: string;
  setupMsP50: number;
  idleSessions: number;
  rssPerSessionMb: number;
  cycles: number;
  /** Processes beyond the bridge's own start-up set right after the cycles, and after the idle timeout + grace. */
  liveAfterCycles: number;
  leftAfterTimeout: number;
  cycleErrors: number;
  /** The bridge has no idle timeout: "left" is counted at the same moment, not after one. */
  noIdleTimeout?: boolean;
}

export interface BaselineRow extends Throughput {
  name: string;
}

export interface BridgesResult {
  settings: BridgeSettings;
  rows: BridgeRow[];
  sdkServer: BaselineRow;
  pipes: BaselineRow;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const treeKb = (b: RunningBridge) => rssKb(offspring(b.child.pid!, b.marker, true));
const treeCpu = (pid: number) => processTree(pid).reduce((sum, p) => sum + (cpuMs(p.pid) || 0), 0);
const ECHO = { method: "tools/call", params: { name: "echo", arguments: { message: "hello" } } };

interface Opened {
  session: McpSession;
  setupMsP50: number;
  rssPerSessionMb: number;
}

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
  return {
    session: sessions[0],
    setupMsP50: median(setup.slice(1)),
    rssPerSessionMb: (treeKb(bridge) - baseKb) / n / 1024,
  };
}

/** A row measured by wrk: its URL, session headers and the process tree whose CPU it costs. */
interface HttpRow {
  name: string;
  url: string;
  headers: Record<string, string>;
  pid: number;
  turns: (LoadRun & { cpu: number })[];
}

async function httpRow(
  name: string,
  url: string,
  sessionId: string | undefined,
  pid: number,
  s: BridgeSettings,
): Promise<HttpRow> {
  const headers = { "mcp-protocol-version": PROTOCOL_VERSION, ...(sessionId ? { "mcp-session-id": sessionId } : {}) };
  const agent = newAgent(1);
  const reply = await new McpSession(new URL(url), agent, headers).callTool("echo", { message: "hello" });
  agent.destroy();
  if (!JSON.stringify(reply).includes("hello"))
    throw new Error(`${name}: echo returned ${JSON.stringify(reply).slice(0, 200)}`);
  const warm = await wrk({ url, request: ECHO, headers, seconds: 1, concurrency: s.concurrency });
  if (warm.failed > 0 || warm.requests === 0)
    throw new Error(`${name}: ${warm.failed} of ${warm.requests} warm-up calls failed`);
  return { name, url, headers, pid, turns: [] };
}

async function httpTurn(row: HttpRow, s: BridgeSettings): Promise<void> {
  const before = treeCpu(row.pid);
  const run = await wrk({
    url: row.url,
    request: ECHO,
    headers: row.headers,
    seconds: s.turnSeconds,
    concurrency: s.concurrency,
  });
  row.turns.push({ ...run, cpu: ((treeCpu(row.pid) - before) / run.requests) * 1000 });
}

function throughput(row: HttpRow): Throughput {
  const of = (f: (t: HttpRow["turns"][number]) => number) => spread(row.turns.map(f));
  return {
    requests: of((t) => t.requests).median,
    rps: of((t) => t.rps),
    p50: of((t) => t.p50),
    p99: of((t) => t.p99),
    cpu: of((t) => t.cpu),
    failed: row.turns.reduce((sum, t) => sum + t.failed, 0),
  };
}

/** Half the cycles drop the connection in the middle of initialize; half finish it and vanish without DELETE. */
async function cycle(bridge: RunningBridge, i: number): Promise<void> {
  if (i % 2 === 0) {
    await abandonedInitialize(bridge.url, (i % 6) * 2, false);
    return;
  }
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
      try {
        await cycle(bridge, i);
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: s.cycleConcurrency }, worker));
  await sleep(500);
  const live = offspring(bridge.child.pid!, bridge.marker).length - before;
  log(`  ${kind.name}: ${s.cycles} cycles, ${live} processes live right after, ${errors} errors`);
  return { bridge, before, live, errors };
}

/** The stdio child over its own pipes, `concurrency` requests in flight, for about a turn's time per round. */
class Pipes {
  readonly turns: { rps: number; p50: number; p99: number; errors: number; cpu: number }[] = [];
  private constructor(
    readonly child: ReturnType<typeof spawnTracked>,
    readonly connection: StdioConnection,
  ) {}

  static async start(): Promise<Pipes> {
    const { server } = marked(EVERYTHING);
    const child = spawnTracked(server.command, server.args, { stdio: ["pipe", "pipe", "ignore"] });
    return new Pipes(child, await new StdioConnection(child).open());
  }

  async turn(s: BridgeSettings): Promise<void> {
    const before = cpuMs(this.child.pid!);
    const r = await closedLoop(
      async () => {
        await this.connection.request("tools/call", { name: "echo", arguments: { message: "hello" } });
      },
      s.concurrency,
      s.turnSeconds * 1000,
    );
    this.turns.push({
      rps: r.rps,
      p50: r.p50,
      p99: r.p99,
      errors: r.errors,
      cpu: ((cpuMs(this.child.pid!) - before) / r.count) * 1000,
    });
  }

  row(s: BridgeSettings): BaselineRow {
    const of = (f: (t: Pipes["turns"][number]) => number) => spread(this.turns.map(f));
    return {
      name: "stdio child over its own pipes (no HTTP; client in the benchmark's process)",
      requests: Math.round(of((t) => t.rps).median * s.turnSeconds),
      rps: of((t) => t.rps),
      p50: of((t) => t.p50),
      p99: of((t) => t.p99),
      cpu: of((t) => t.cpu),
      failed: this.turns.reduce((a, t) => a + t.errors, 0),
    };
  }
}

export async function runBridges(
  s: BridgeSettings,
  python: { path: string; version: string } | undefined,
  log: (l: string) => void,
): Promise<BridgesResult> {
  const kinds = bridges(python);
  const running: RunningBridge[] = [];
  const sdkServer = spawnNodeTs(join(repoRoot, "bench/workers/sdk-server.ts"));
  let pipes: Pipes | undefined;
  try {
    const sdkPort = await firstJsonLine(sdkServer, (v) =>
      typeof v?.port === "number" ? (v.port as number) : undefined,
    );
    for (const kind of kinds) running.push(await kind.start(EVERYTHING, { idleTimeoutMs: 600_000 }));
    const opened: Opened[] = [];
    for (const bridge of running) {
      opened.push(await openSessions(bridge, s.idleSessions));
      log(
        `  ${bridge.name}: set-up p50 ${opened.at(-1)!.setupMsP50.toFixed(1)} ms, ${opened.at(-1)!.rssPerSessionMb.toFixed(1)} MB per idle session`,
      );
    }
    const sdkUrl = `http://127.0.0.1:${sdkPort}/mcp`;
    const sdkAgent = newAgent(1);
    const sdkSession = await new McpSession(new URL(sdkUrl), sdkAgent).open();
    sdkAgent.destroy();
    const rows: HttpRow[] = [await httpRow("sdk", sdkUrl, sdkSession.sessionId, sdkServer.pid!, s)];
    for (const [i, bridge] of running.entries())
      rows.push(await httpRow(bridge.name, bridge.url.href, opened[i].session.sessionId, bridge.child.pid!, s));
    pipes = await Pipes.start();
    for (let round = 0; round < s.rounds; round++) {
      const order = [...rows.slice(round % rows.length), ...rows.slice(0, round % rows.length)];
      for (const row of order) await httpTurn(row, s);
      await pipes.turn(s);
      log(
        `  round ${round + 1}/${s.rounds}: ${rows.map((r) => `${r.name} ${r.turns.at(-1)!.rps.toFixed(0)}`).join(", ")} req/s; pipes ${pipes.turns.at(-1)!.rps.toFixed(0)} (load ${loadavg()[0].toFixed(1)})`,
      );
    }
    await Promise.all(running.splice(0).map((b) => b.close()));

    const cycles: Awaited<ReturnType<typeof runCycles>>[] = [];
    for (const kind of kinds) {
      const c = await runCycles(kind, s, log);
      running.push(c.bridge);
      cycles.push(c);
    }
    await sleep(s.cycleIdleMs + 4000);
    const bridgeRows = kinds.map((kind, i): BridgeRow => {
      const left = offspring(cycles[i].bridge.child.pid!, cycles[i].bridge.marker).length - cycles[i].before;
      log(`  ${kind.name}: ${left} processes left after the idle timeout`);
      return {
        bridge: kind.name,
        version: kind.version,
        model: kind.model,
        ...throughput(rows[i + 1]),
        setupMsP50: opened[i].setupMsP50,
        idleSessions: s.idleSessions,
        rssPerSessionMb: opened[i].rssPerSessionMb,
        cycles: s.cycles,
        liveAfterCycles: cycles[i].live,
        leftAfterTimeout: left,
        cycleErrors: cycles[i].errors,
        ...(kind.idleTimeout ? {} : { noIdleTimeout: true }),
      };
    });
    return {
      settings: s,
      rows: bridgeRows,
      pipes: pipes.row(s),
      sdkServer: {
        name: "the same server over Streamable HTTP, Node SDK directly (no bridge)",
        ...throughput(rows[0]),
      },
    };
  } finally {
    await Promise.all(running.map((b) => b.close()));
    if (pipes) await stop(pipes.child);
    await stop(sdkServer);
  }
}
