// The load generator: wrk (Debian's package), HTTP/1.1, `concurrency` keep-alive connections on one thread, one
// request in flight on each (a closed loop), for a fixed time. A Lua script gives every request a JSON-RPC id of its
// own (MCP servers route replies by id within a session, so one body repeated in parallel would not do) and
// reports the requests served, the failures and the percentiles. It is C on an event loop: on our 2-core
// machines it drives Envoy's plain router far past what the MCP SDK client can (the report shows both).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnTracked } from "./procs.ts";

export interface LoadSpec {
  url: string;
  /** A JSON-RPC request; its id is replaced by a counter. */
  request: { method: string; params: unknown };
  headers: Record<string, string>;
  /** Whole seconds (wrk's unit). */
  seconds: number;
  concurrency: number;
}

export interface LoadRun {
  /** Replies received. */
  requests: number;
  /** Replies with a status of 400 or more, and connection errors and timeouts. */
  failed: number;
  seconds: number;
  /** Good replies per second. */
  rps: number;
  /** Latency of every reply, ms. */
  p50: number;
  p99: number;
}

const MCP_HEADERS = { "content-type": "application/json", accept: "application/json, text/event-stream" };
const ID = "\u0000id\u0000";

/** Lua long strings: no escaping needed as long as the level's closing bracket does not occur in the text. */
const lua = (s: string) => `[==[${s}]==]`;

function script(spec: LoadSpec): string {
  const [before, after] = JSON.stringify({
    jsonrpc: "2.0",
    id: ID,
    method: spec.request.method,
    params: spec.request.params,
  }).split(JSON.stringify(ID));
  const headers = Object.entries({ ...MCP_HEADERS, ...spec.headers })
    .map(([k, v]) => `wrk.headers[ ${lua(k)} ] = ${lua(v)}`)
    .join("\n");
  return `wrk.method = "POST"
${headers}
local before, after = ${lua(before)}, ${lua(after)}
local id = 0
request = function()
  id = id + 1
  return wrk.format(nil, nil, nil, before .. id .. after)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("\\nRESULT %d %d %d %d %d %d %d %d %d\\n", summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
`;
}

/** Runs wrk once; rejects if it cannot run or overruns its time by far. */
export async function wrk(spec: LoadSpec): Promise<LoadRun> {
  const dir = mkdtempSync(join(tmpdir(), "mcp-bench-wrk-"));
  try {
    const file = join(dir, "mcp.lua");
    writeFileSync(file, script(spec));
    const output = await run(
      ["-t", "1", "-c", String(spec.concurrency), "-d", `${spec.seconds}s`, "--timeout", "10s", "-s", file, spec.url],
      (spec.seconds + 30) * 1000,
    );
    return parse(output);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function run(args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawnTracked("wrk", args);
    let out = "";
    child.stdout!.on("data", (c: Buffer) => {
      out += c.toString();
    });
    child.stderr!.on("data", (c: Buffer) => {
      out += c.toString();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else
        reject(
          new Error(
            `wrk ${signal ? `killed (${signal}) after ${timeoutMs} ms` : `exited ${code}`}: ${out.slice(-600)}`,
          ),
        );
    });
  });
}

function parse(output: string): LoadRun {
  const line = /RESULT ([\d ]+)/.exec(output);
  if (!line) throw new Error(`cannot read wrk's output: ${output.slice(-600)}`);
  const [requests, durationUs, connect, read, write, status, timeout, p50, p99] = line[1].trim().split(" ").map(Number);
  const failed = connect + read + write + status + timeout;
  const seconds = durationUs / 1e6;
  return { requests, failed, seconds, rps: (requests - status) / seconds, p50: p50 / 1000, p99: p99 / 1000 };
}
