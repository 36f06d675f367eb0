// Where an Envoy row's CPU goes, for reading the benchmark's rows: `perf record` on the Envoy process while wrk
// drives one request kind, then the samples by binary: Envoy's own C++ ("envoy"), the Wasm code V8 compiled
// ("[JIT]"), the kernel (sockets), libc. The release build is stripped, so this splits by binary, not by function.
//   node --import tsx bench/profile.ts [row,row...] [kind,kind...]
// (rows: router, higress, passthrough, native; kinds: the ids of lib/kinds.ts). Needs perf (Debian: linux-perf).
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startBenchEnvoy, type EnvoyKind } from "./lib/envoys.ts";
import { allowList, KINDS, request } from "./lib/kinds.ts";
import { McpSession, newAgent, PROTOCOL_VERSION } from "./lib/mcp-http.ts";
import { installCleanup, killAll } from "./lib/procs.ts";
import { startBackend } from "./lib/services.ts";
import { wrk } from "./lib/wrk.ts";

const rows = (process.argv[2] ?? "router,higress,passthrough,native").split(",") as EnvoyKind[];
const kinds = KINDS.filter((k) => (process.argv[3] ?? "call-1k,call-100k,list-1000").split(",").includes(k.id));
const SECONDS = 4;

installCleanup();
const dir = mkdtempSync(join(tmpdir(), "mcp-bench-perf-"));
try {
  const backend = await startBackend();
  const paths = [...new Set(KINDS.map((k) => k.path))].map((path) => ({ path, allowTools: allowList() }));
  for (const row of rows) {
    const envoy = await startBenchEnvoy(row, paths, backend.port);
    for (const kind of kinds) {
      const agent = newAgent(1);
      const session = await new McpSession(new URL(envoy.url(kind.path)), agent).open();
      agent.destroy();
      const headers = {
        "mcp-protocol-version": PROTOCOL_VERSION,
        ...(session.sessionId ? { "mcp-session-id": session.sessionId } : {}),
      };
      await wrk({ url: envoy.url(kind.path), request: request(kind), headers, seconds: 1, concurrency: 8 });
      const file = join(dir, `${row}-${kind.id}.data`);
      const cpu0 = envoy.envoy.cpuMs();
      const perf = spawn(
        "perf",
        ["record", "-q", "-F", "999", "-o", file, "-p", String(envoy.envoy.pid), "--", "sleep", String(SECONDS)],
        { stdio: "ignore" },
      );
      const run = await wrk({
        url: envoy.url(kind.path),
        request: request(kind),
        headers,
        seconds: SECONDS + 1,
        concurrency: 8,
      });
      const perRequest = ((envoy.envoy.cpuMs() - cpu0) / run.requests) * 1000;
      await new Promise((resolve) => perf.once("exit", resolve));
      const report = execFileSync("perf", ["report", "-q", "-i", file, "--sort", "dso", "--stdio"], {
        encoding: "utf8",
        maxBuffer: 1 << 26,
      });
      const shares = report
        .split("\n")
        .map((l) => /^\s*([\d.]+)%\s+(.+?)\s*$/.exec(l))
        .filter((m): m is RegExpExecArray => m !== null)
        .map(
          (m) =>
            `${m[2].replace(/^\[JIT\].*/, "[JIT] (Wasm)")} ${m[1]}% = ${((Number(m[1]) / 100) * perRequest).toFixed(0)}`,
        )
        .slice(0, 5);
      console.log(
        `${row} ${kind.id}: ${run.rps.toFixed(0)} req/s, Envoy ${perRequest.toFixed(0)} ms CPU per 1,000: ${shares.join(", ")}`,
      );
    }
    await envoy.envoy.close();
  }
  await backend.close();
} finally {
  killAll();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
