// A/B of two builds of the filter in real Envoy, for deciding whether an optimisation earns its code:
//   node --import tsx bench/ab.ts A.wasm B.wasm [kind,kind...] [rounds]
// (kinds: the ids of lib/kinds.ts, default all). Envoy's plain router and each build in both modes run as separate
// Envoys in front of the same backend; wrk drives each in turn, in an order rotated every round; per round, the
// Envoy CPU each build adds over the router's turn of that round. Prints, per kind and mode, the medians and B's
// added CPU as a share of A's, with its range over the rounds.
import { startBenchEnvoy, type BenchEnvoy } from "./lib/envoys.ts";
import { allowList, KINDS, request, type Kind } from "./lib/kinds.ts";
import { McpSession, newAgent, PROTOCOL_VERSION } from "./lib/mcp-http.ts";
import { installCleanup, killAll } from "./lib/procs.ts";
import { startBackend } from "./lib/services.ts";
import { spread } from "./lib/stats.ts";
import { wrk } from "./lib/wrk.ts";

const [a, b, kindList, roundsArg] = process.argv.slice(2);
if (!a || !b) {
  console.error("usage: node --import tsx bench/ab.ts A.wasm B.wasm [kind,kind...] [rounds]");
  process.exit(2);
}
const kinds = kindList ? KINDS.filter((k) => kindList.split(",").includes(k.id)) : KINDS;
const rounds = Number(roundsArg ?? 6);
const TURN_SECONDS = 2;

installCleanup();

interface Row {
  name: string;
  envoy: BenchEnvoy;
}

async function headers(row: Row, kind: Kind): Promise<Record<string, string>> {
  const agent = newAgent(1);
  const session = await new McpSession(new URL(row.envoy.url(kind.path)), agent).open();
  agent.destroy();
  return {
    "mcp-protocol-version": PROTOCOL_VERSION,
    ...(session.sessionId ? { "mcp-session-id": session.sessionId } : {}),
  };
}

/** Envoy CPU per 1,000 requests over one turn. */
async function turn(row: Row, kind: Kind, h: Record<string, string>, seconds: number): Promise<number> {
  const before = row.envoy.envoy.cpuMs();
  const run = await wrk({ url: row.envoy.url(kind.path), request: request(kind), headers: h, seconds, concurrency: 8 });
  if (run.failed > 0) throw new Error(`${row.name} ${kind.id}: ${run.failed} requests failed`);
  return ((row.envoy.envoy.cpuMs() - before) / run.requests) * 1000;
}

try {
  const backend = await startBackend();
  const paths = [...new Set(kinds.map((k) => k.path))].map((path) => ({ path, allowTools: allowList() }));
  const rows: Row[] = [{ name: "router", envoy: await startBenchEnvoy("router", paths, backend.port) }];
  for (const mode of ["higress", "passthrough"] as const) {
    for (const [name, wasm] of [
      ["A", a],
      ["B", b],
    ])
      rows.push({ name: `${name} ${mode}`, envoy: await startBenchEnvoy(mode, paths, backend.port, wasm) });
  }
  for (const kind of kinds) {
    const h = new Map<string, Record<string, string>>();
    for (const row of rows) {
      h.set(row.name, await headers(row, kind));
      await turn(row, kind, h.get(row.name)!, 1);
    }
    const cpu = new Map<string, number[]>(rows.map((r) => [r.name, []]));
    for (let round = 0; round < rounds; round++) {
      const order = [...rows.slice(round % rows.length), ...rows.slice(0, round % rows.length)];
      const measured = new Map<string, number>();
      for (const row of order) measured.set(row.name, await turn(row, kind, h.get(row.name)!, TURN_SECONDS));
      for (const row of rows)
        if (row.name !== "router") cpu.get(row.name)!.push(measured.get(row.name)! - measured.get("router")!);
    }
    for (const mode of ["higress", "passthrough"]) {
      const addedA = cpu.get(`A ${mode}`)!;
      const addedB = cpu.get(`B ${mode}`)!;
      const share = spread(addedB.map((v, i) => v / addedA[i]));
      console.log(
        `${kind.label}, mode ${mode}: Envoy CPU added over the router, ms per 1,000: A ${spread(addedA).median.toFixed(0)}, ` +
          `B ${spread(addedB).median.toFixed(0)}; B / A ${share.median.toFixed(2)} (${share.min.toFixed(2)}–${share.max.toFixed(2)} over ${rounds} rounds)`,
      );
    }
  }
  await Promise.all(rows.map((r) => r.envoy.envoy.close()));
  await backend.close();
} finally {
  killAll();
}
process.exit(0);
