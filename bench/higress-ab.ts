// The Higress-compatible mode of two builds beside Envoy's plain router and the native mcp + mcp_router pair, for
// the goals of issue 20 (Envoy CPU added per request against the native pair's, p50 added, throughput against the
// router), interleaved and compared round by round:
//   node --import tsx bench/higress-ab.ts A.wasm B.wasm [kind,kind...] [rounds]
// B in mode passthrough runs beside them for reference. Prints per kind, for each row: Envoy CPU added over the router (ms per 1,000 requests), as a share of the native
// pair's added CPU, p50 added over the router against the native pair's, and throughput as a share of the router's,
// each a median with its range over the rounds.
import { startBenchEnvoy, type BenchEnvoy } from "./lib/envoys.ts";
import { allowList, KINDS, request, type Kind } from "./lib/kinds.ts";
import { McpSession, newAgent, PROTOCOL_VERSION } from "./lib/mcp-http.ts";
import { installCleanup, killAll } from "./lib/procs.ts";
import { startBackend } from "./lib/services.ts";
import { spread } from "./lib/stats.ts";
import { wrk } from "./lib/wrk.ts";

const [a, b, kindList, roundsArg] = process.argv.slice(2);
if (!a || !b) {
  console.error("usage: node --import tsx bench/higress-ab.ts A.wasm B.wasm [kind,kind...] [rounds]");
  process.exit(2);
}
const kinds = kindList ? KINDS.filter((k) => kindList.split(",").includes(k.id)) : KINDS;
const rounds = Number(roundsArg ?? 5);
const TURN_SECONDS = 2;

installCleanup();

interface Row { name: string; envoy: BenchEnvoy }
interface Turn { cpu: number; p50: number; rps: number }

async function headers(row: Row, kind: Kind): Promise<Record<string, string>> {
  const agent = newAgent(1);
  const session = await new McpSession(new URL(row.envoy.url(kind.path)), agent).open();
  agent.destroy();
  return { "mcp-protocol-version": PROTOCOL_VERSION, ...(session.sessionId ? { "mcp-session-id": session.sessionId } : {}) };
}

async function turn(row: Row, kind: Kind, h: Record<string, string>, seconds: number): Promise<Turn> {
  const before = row.envoy.envoy.cpuMs();
  const run = await wrk({ url: row.envoy.url(kind.path), request: request(kind), headers: h, seconds, concurrency: 8 });
  if (run.failed > 0) throw new Error(`${row.name} ${kind.id}: ${run.failed} requests failed`);
  return { cpu: (row.envoy.envoy.cpuMs() - before) / run.requests * 1000, p50: run.p50, rps: run.rps };
}

const fmt = (values: number[], digits: number) => {
  const s = spread(values);
  return `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})`;
};

try {
  const backend = await startBackend();
  const paths = [...new Set(kinds.map((k) => k.path))].map((path) => ({ path, allowTools: allowList() }));
  const rows: Row[] = [
    { name: "router", envoy: await startBenchEnvoy("router", paths, backend.port) },
    { name: "native", envoy: await startBenchEnvoy("native", paths, backend.port) },
    { name: "A", envoy: await startBenchEnvoy("higress", paths, backend.port, a) },
    { name: "B", envoy: await startBenchEnvoy("higress", paths, backend.port, b) },
    { name: "B passthrough", envoy: await startBenchEnvoy("passthrough", paths, backend.port, b) },
  ];
  for (const kind of kinds) {
    const h = new Map<string, Record<string, string>>();
    for (const row of rows) { h.set(row.name, await headers(row, kind)); await turn(row, kind, h.get(row.name)!, 1); }
    const turns = new Map<string, Turn[]>(rows.map((r) => [r.name, []]));
    for (let round = 0; round < rounds; round++) {
      const order = [...rows.slice(round % rows.length), ...rows.slice(0, round % rows.length)];
      for (const row of order) turns.get(row.name)!.push(await turn(row, kind, h.get(row.name)!, TURN_SECONDS));
    }
    const router = turns.get("router")!;
    const native = turns.get("native")!;
    const nativeAdded = native.map((t, i) => t.cpu - router[i].cpu);
    const nativeP50 = native.map((t, i) => t.p50 - router[i].p50);
    console.log(`${kind.label}: router ${fmt(router.map((t) => t.cpu), 0)} ms CPU per 1,000, native adds ${fmt(nativeAdded, 0)}, ` +
      `p50 +${fmt(nativeP50, 2)} ms, throughput ${fmt(native.map((t, i) => t.rps / router[i].rps), 2)}x router`);
    for (const name of ["A", "B", "B passthrough"]) {
      const mine = turns.get(name)!;
      const added = mine.map((t, i) => t.cpu - router[i].cpu);
      console.log(`  ${name.includes(" ") ? name : `${name} higress`}: adds ${fmt(added, 0)} (${fmt(added.map((v, i) => v / nativeAdded[i]), 2)}x native's), ` +
        `p50 +${fmt(mine.map((t, i) => t.p50 - router[i].p50), 2)} ms, throughput ${fmt(mine.map((t, i) => t.rps / router[i].rps), 2)}x router`);
    }
  }
  await Promise.all(rows.map((r) => r.envoy.envoy.close()));
  await backend.close();
} finally {
  killAll();
}
process.exit(0);
