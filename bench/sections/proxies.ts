// 1. The rows of the issue, in real Envoy: the client against the backend directly, through Envoy's plain router,
// through this filter (mode "higress" and mode "passthrough"), through Envoy's native mcp + mcp_router pair, and
// through Envoy AI Gateway's MCP proxy (aigw, both session-key settings), every request kind on every row that
// serves it. Load: wrk, a fixed time per turn at fixed concurrency, MCP sessions opened before.
// Each turn reads the serving process's CPU counters before and after (Envoy's; aigw's own too) and the backend's
// request counters (upstream requests per request). Rows run interleaved, in an order rotated every round, for
// several rounds; every figure is the median over the rounds, with its range.
import { loadavg } from "node:os";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { startAigw, type RunningAigw } from "../lib/aigw.ts";
import { cpuMs } from "../lib/cpu.ts";
import { CONCURRENCY as ENVOY_WORKERS, startBenchEnvoy, type BenchEnvoy, type EnvoyKind } from "../lib/envoys.ts";
import { wrk } from "../lib/wrk.ts";
import { allowList, CALL_1K, expectedTools, KINDS, request, type Kind } from "../lib/kinds.ts";
import { closedLoop } from "../lib/load.ts";
import { McpSession, newAgent, PROTOCOL_VERSION } from "../lib/mcp-http.ts";
import { countAt, startBackend, type Backend } from "../lib/services.ts";
import type { Aigw } from "../lib/setup.ts";
import { spread, type Spread } from "../lib/stats.ts";

export interface ProxySettings {
  rounds: number;
  /** Connections of the load generator, one request in flight on each. */
  concurrency: number;
  /** How long each turn of each row runs (whole seconds: wrk's unit). */
  turnSeconds: number;
  /** MCP SDK clients of the reference row, and how long each of its turns runs. */
  sdkClients: number;
}

export type TargetId = "direct" | "router" | "higress" | "passthrough" | "native" | "aigw-100000" | "aigw-1";

export const TARGET_LABELS: Record<TargetId, string> = {
  direct: "client → backend (direct)",
  router: "client → Envoy, plain router → backend",
  higress: "client → Envoy + this filter, mode higress → backend",
  passthrough: "client → Envoy + this filter, mode passthrough → backend",
  native: "client → Envoy + native mcp + mcp_router → backend",
  "aigw-100000": "client → Envoy AI Gateway (aigw, 100,000 PBKDF2 iterations: default) → backend",
  "aigw-1": "client → Envoy AI Gateway (aigw, --mcp-session-encryption-iterations 1) → backend",
};

/** One turn of one row. */
export interface Turn {
  round: number;
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  failed: number;
  /** Envoy's CPU, ms per 1,000 requests (= µs per request). */
  envoyCpu: number;
  /** aigw's own process (its MCP proxy), ms per 1,000 requests. */
  aigwCpu?: number;
  /** Requests the backend received per request sent. */
  upstream: number;
}

export interface Cell {
  target: TargetId;
  kind: string;
  /** Requests served per turn (median). */
  requests: number;
  /** What the check request got back before the runs (tools listed, result size). */
  check: string;
  turns: Turn[];
  rps: Spread;
  p50: Spread;
  p99: Spread;
  envoyCpu: Spread;
  aigwCpu?: Spread;
  upstream: Spread;
  failed: number;
}

export interface SdkReference {
  clients: number;
  seconds: number;
  rps: Spread;
  p50: Spread;
  p99: Spread;
  errors: number;
  routerCpu: Spread;
}

export interface ProxyResult {
  settings: ProxySettings;
  envoyVersion: string;
  aigw?: { version: string; envoyVersion: string; startSeconds: number[] } | { skipped: string };
  kinds: { id: string; label: string; path: string; replyBytes: number }[];
  cells: Cell[];
  sdk?: SdkReference;
  /** Per round, the quantities the goals compare (same round on both sides), for their medians and spread. */
  perRound: Record<string, number[]>;
}

interface Row {
  id: TargetId;
  kinds: Kind[];
  url(kind: Kind): string;
  toolPrefix: string;
  filtered: boolean;
  cpu(): { envoy: number; aigw?: number };
}

const AIGW_ITERATIONS = [100_000, 1];

export async function runProxies(
  s: ProxySettings,
  aigwTool: Aigw,
  log: (l: string) => void,
  afterRound: () => void = () => undefined,
): Promise<ProxyResult> {
  const backend = await startBackend();
  const envoys: BenchEnvoy[] = [];
  try {
    const paths = [...new Set(KINDS.map((k) => k.path))].map((path) => ({ path, allowTools: allowList() }));
    for (const kind of ["router", "higress", "passthrough", "native"] as EnvoyKind[])
      envoys.push(await startBenchEnvoy(kind, paths, backend.port));
    const rows: Row[] = [
      {
        id: "direct",
        kinds: KINDS,
        url: (k) => `http://127.0.0.1:${backend.port}${k.path}`,
        toolPrefix: "",
        filtered: false,
        cpu: () => ({ envoy: NaN }),
      },
      ...envoys.map((e): Row => ({
        id: e.kind,
        kinds: KINDS,
        url: (k) => e.url(k.path),
        toolPrefix: "",
        filtered: e.kind === "higress" || e.kind === "passthrough",
        cpu: () => ({ envoy: e.envoy.cpuMs() }),
      })),
    ];
    const bench = new Bench(s, backend, log);
    log(`  Envoy ${envoys[0].envoy.version}, --concurrency ${ENVOY_WORKERS}; backend on port ${backend.port}`);
    for (const kind of KINDS)
      await bench.prepare(
        kind,
        rows.filter((r) => r.kinds.includes(kind)),
      );
    const sdk = await SdkClients.open(envoys[0].url(CALL_1K.path), s.sdkClients);
    const aigw = aigwTool.problem ? undefined : new AigwRows(aigwTool, backend, bench, log);
    try {
      for (let round = 0; round < s.rounds; round++) {
        for (const kind of KINDS) {
          const here = rotate(
            rows.filter((r) => r.kinds.includes(kind)),
            round,
          );
          for (const row of here) await bench.turn(row, kind, round);
        }
        if (aigw) await aigw.round(round);
        await sdk.turn(envoys[0], s);
        afterRound();
        log(`  round ${round + 1}/${s.rounds} done (load average ${loadAverage()})`);
      }
    } finally {
      await sdk.close();
    }
    return {
      settings: s,
      envoyVersion: envoys[0].envoy.version,
      aigw: aigwTool.problem
        ? { skipped: aigwTool.problem }
        : { version: aigwTool.version!, envoyVersion: aigwTool.envoyVersion!, startSeconds: aigw!.startSeconds },
      kinds: KINDS.map((k) => ({ id: k.id, label: k.label, path: k.path, replyBytes: k.replyBytes })),
      cells: bench.cells(),
      sdk: sdk.result(s),
      perRound: bench.perRound(),
    };
  } finally {
    await Promise.all(envoys.map((e) => e.envoy.close()));
    await backend.close();
  }
}

const loadAverage = () =>
  loadavg()
    .map((v) => v.toFixed(1))
    .join(" ");

function rotate<T>(list: T[], by: number): T[] {
  const k = by % list.length;
  return [...list.slice(k), ...list.slice(0, k)];
}

/** The turns so far, by row and kind, and the request count of each kind. */
class Bench {
  private readonly turns = new Map<string, Turn[]>();
  private readonly checks = new Map<string, string>();
  private readonly sessions = new Map<string, Record<string, string>>();

  constructor(
    readonly s: ProxySettings,
    readonly backend: Backend,
    readonly log: (l: string) => void,
  ) {}

  /** Opens each row's session for the kind, checks one reply, and warms the row up (both Envoy workers included). */
  async prepare(kind: Kind, rows: Row[]): Promise<void> {
    for (const row of rows) await this.warm(row, kind);
    this.log(
      `  ${kind.label}: checked ${rows.map((r) => `${r.id} ${this.checks.get(`${r.id} ${kind.id}`)}`).join(", ")}`,
    );
  }

  async warm(row: Row, kind: Kind): Promise<void> {
    const key = `${row.id} ${kind.id}`;
    const headers = await this.session(row, kind);
    this.checks.set(key, await checkReply(row.url(kind), headers, kind, row.toolPrefix, row.filtered));
    const warm = await wrk({
      url: row.url(kind),
      request: request(kind, row.toolPrefix),
      headers,
      seconds: 1,
      concurrency: this.s.concurrency,
    });
    if (warm.failed > 0 || warm.requests === 0)
      throw new Error(`${key}: ${warm.failed} of the warm-up's ${warm.requests} requests failed`);
  }

  /** Session headers for a row's kind: its MCP session (none for the filter in mode higress, which keeps none). */
  async session(row: Row, kind: Kind): Promise<Record<string, string>> {
    const key = `${row.id} ${kind.path}`;
    let headers = this.sessions.get(key);
    if (!headers) {
      const agent = newAgent(1);
      const session = await new McpSession(new URL(row.url(kind)), agent).open();
      agent.destroy();
      headers = {
        "mcp-protocol-version": PROTOCOL_VERSION,
        ...(session.sessionId ? { "mcp-session-id": session.sessionId } : {}),
      };
      this.sessions.set(key, headers);
    }
    return headers;
  }

  forget(row: TargetId): void {
    for (const key of [...this.sessions.keys()]) if (key.startsWith(`${row} `)) this.sessions.delete(key);
  }

  async turn(row: Row, kind: Kind, round: number): Promise<Turn> {
    const headers = await this.session(row, kind);
    const before = { cpu: row.cpu(), counts: await this.backend.counts() };
    const run = await wrk({
      url: row.url(kind),
      request: request(kind, row.toolPrefix),
      headers,
      seconds: this.s.turnSeconds,
      concurrency: this.s.concurrency,
    });
    const after = { cpu: row.cpu(), counts: await this.backend.counts() };
    const requests = run.requests;
    const perThousand = (a: number, b: number) => ((b - a) / requests) * 1000;
    const turn: Turn = {
      round,
      requests,
      rps: run.rps,
      p50: run.p50,
      p99: run.p99,
      failed: run.failed,
      envoyCpu: perThousand(before.cpu.envoy, after.cpu.envoy),
      ...(before.cpu.aigw !== undefined ? { aigwCpu: perThousand(before.cpu.aigw, after.cpu.aigw!) } : {}),
      upstream: (countAt(after.counts, kind.path) - countAt(before.counts, kind.path)) / requests,
    };
    const key = `${row.id} ${kind.id}`;
    this.turns.set(key, [...(this.turns.get(key) ?? []), turn]);
    return turn;
  }

  cells(): Cell[] {
    return [...this.turns.entries()].map(([key, turns]) => {
      const [target, kind] = key.split(" ") as [TargetId, string];
      const of = (f: (t: Turn) => number) => spread(turns.map(f));
      return {
        target,
        kind,
        requests: of((t) => t.requests).median,
        check: this.checks.get(key) ?? "",
        turns,
        rps: of((t) => t.rps),
        p50: of((t) => t.p50),
        p99: of((t) => t.p99),
        envoyCpu: of((t) => t.envoyCpu),
        ...(turns[0].aigwCpu !== undefined ? { aigwCpu: of((t) => t.aigwCpu!) } : {}),
        upstream: of((t) => t.upstream),
        failed: turns.reduce((sum, t) => sum + t.failed, 0),
      };
    });
  }

  /** Differences and ratios against the plain router, per round (both sides from the same round). */
  perRound(): Record<string, number[]> {
    const out: Record<string, number[]> = {};
    for (const [key, turns] of this.turns) {
      const [target, kind] = key.split(" ");
      const router = this.turns.get(`router ${kind}`);
      if (!router || target === "router") continue;
      for (const t of turns) {
        const base = router.find((r) => r.round === t.round);
        if (!base) continue;
        (out[`cpuAdded ${key}`] ??= []).push(t.envoyCpu - base.envoyCpu);
        (out[`p50Added ${key}`] ??= []).push(t.p50 - base.p50);
        (out[`rpsRatio ${key}`] ??= []).push(t.rps / base.rps);
      }
    }
    return out;
  }
}

/** One request with our own client: the reply must be the backend's result (filtered where the row filters). */
async function checkReply(
  url: string,
  headers: Record<string, string>,
  kind: Kind,
  toolPrefix: string,
  filtered: boolean,
): Promise<string> {
  const agent = newAgent(1);
  try {
    // An open session: its headers (session id, protocol version) go along as the load generator's do.
    const session = new McpSession(new URL(url), agent, headers);
    const result = await session.request(kind.method, request(kind, toolPrefix).params);
    if (kind.method === "tools/list") {
      const want = expectedTools(kind, filtered);
      if (result?.tools?.length !== want)
        throw new Error(`${url}: tools/list returned ${result?.tools?.length} tools, expected ${want}`);
      return `${want} tools`;
    }
    const text = result?.content?.[0]?.text;
    if (typeof text !== "string" || text.length !== kind.bytes)
      throw new Error(`${url}: tools/call returned ${JSON.stringify(result).slice(0, 200)}`);
    return `${text.length} B`;
  } finally {
    agent.destroy();
  }
}

/** aigw listens on fixed ports, so one runs at a time: each round starts each setting, measures it and stops it. */
class AigwRows {
  readonly startSeconds: number[] = [];

  constructor(
    readonly tool: Aigw,
    readonly backend: Backend,
    readonly bench: Bench,
    readonly log: (l: string) => void,
  ) {}

  async round(round: number): Promise<void> {
    for (const iterations of rotate(AIGW_ITERATIONS, round)) {
      const t0 = performance.now();
      const aigw = await startAigw(this.tool, `http://127.0.0.1:${this.backend.port}${CALL_1K.path}`, iterations);
      this.startSeconds.push((performance.now() - t0) / 1000);
      try {
        await this.measure(aigw, round);
      } finally {
        await aigw.close();
      }
    }
  }

  private async measure(aigw: RunningAigw, round: number): Promise<void> {
    const id = `aigw-${aigw.iterations}` as TargetId;
    const row: Row = {
      id,
      kinds: [CALL_1K],
      url: () => aigw.url,
      toolPrefix: "b__",
      filtered: false,
      cpu: () => ({ envoy: cpuMs(aigw.envoyPid), aigw: cpuMs(aigw.aigwPid) }),
    };
    this.bench.forget(id); // a new process: new sessions
    await this.bench.warm(row, CALL_1K);
    const turn = await this.bench.turn(row, CALL_1K, round);
    this.log(
      `  ${id}: ${turn.rps.toFixed(0)} req/s, p50 ${turn.p50.toFixed(2)} ms, Envoy ${turn.envoyCpu.toFixed(0)} + aigw ${turn.aigwCpu!.toFixed(0)} ms CPU per 1,000`,
    );
  }
}

/** The reference load: MCP SDK clients (one session each) through the plain router, closed loop. */
class SdkClients {
  private readonly turns: { rps: number; p50: number; p99: number; errors: number; cpu: number; seconds: number }[] =
    [];

  private constructor(readonly clients: Client[]) {}

  static async open(url: string, n: number): Promise<SdkClients> {
    const clients = await Promise.all(
      Array.from({ length: n }, async () => {
        const client = new Client({ name: "bench-sdk", version: "1" });
        await client.connect(new StreamableHTTPClientTransport(new URL(url)));
        return client;
      }),
    );
    return new SdkClients(clients);
  }

  async turn(router: BenchEnvoy, s: ProxySettings): Promise<void> {
    const before = router.envoy.cpuMs();
    const r = await closedLoop(
      (w) => this.clients[w].callTool({ name: "blob", arguments: { bytes: 1024 } }).then(() => undefined),
      this.clients.length,
      s.turnSeconds * 1000,
    );
    this.turns.push({
      rps: r.rps,
      p50: r.p50,
      p99: r.p99,
      errors: r.errors,
      cpu: ((router.envoy.cpuMs() - before) / r.count) * 1000,
      seconds: r.seconds,
    });
  }

  result(s: ProxySettings): SdkReference {
    return {
      clients: this.clients.length,
      seconds: s.turnSeconds,
      rps: spread(this.turns.map((t) => t.rps)),
      p50: spread(this.turns.map((t) => t.p50)),
      p99: spread(this.turns.map((t) => t.p99)),
      errors: this.turns.reduce((a, t) => a + t.errors, 0),
      routerCpu: spread(this.turns.map((t) => t.cpu)),
    };
  }

  async close(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.close().catch(() => undefined)));
  }
}
