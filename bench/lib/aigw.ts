// Envoy AI Gateway's MCP proxy as a new user runs it: `aigw run --mcp-config FILE` with a Claude-Desktop-style
// file naming one Streamable HTTP server "b" (its tools come back as b__<tool>). aigw runs Envoy (the release under
// AIGW_DATA_HOME, so nothing is downloaded) and, in its own process, the external processor that holds the MCP
// proxy. Its listener is aigw's fixed port 1975 (MCP at /mcp); the proxy itself listens on its fixed 9856, and
// both bind every interface: only 127.0.0.1 is ever sent to. The CPU of aigw and of its Envoy are read apart.
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cpuMs } from "./cpu.ts";
import { freePort } from "./net.ts";
import { McpSession, newAgent } from "./mcp-http.ts";
import { processTree, spawnTracked, stop } from "./procs.ts";
import type { Aigw } from "./setup.ts";

export const AIGW_LISTENER = "http://127.0.0.1:1975/mcp";
const START_TIMEOUT_MS = 180_000;

export interface RunningAigw {
  url: string;
  /** PBKDF2 iterations deriving the session key (aigw's default 100,000). */
  iterations: number;
  aigwPid: number;
  envoyPid: number;
  /** CPU ms so far of aigw's own process (the MCP proxy) and of its Envoy. */
  cpu(): { aigw: number; envoy: number };
  close(): Promise<void>;
}

export async function startAigw(tool: Aigw, backendUrl: string, iterations: number): Promise<RunningAigw> {
  const dir = mkdtempSync(join(tmpdir(), "mcp-bench-aigw-"));
  const config = join(dir, "mcp.json");
  writeFileSync(config, JSON.stringify({ mcpServers: { b: { type: "http", url: backendUrl } } }));
  const env = {
    ...process.env,
    ENVOY_VERSION: tool.envoyVersion!,
    AIGW_DATA_HOME: tool.dataHome!,
    AIGW_CONFIG_HOME: join(dir, "config"),
    AIGW_STATE_HOME: join(dir, "state"),
    AIGW_RUNTIME_DIR: join(dir, "run"),
  };
  const args = [
    "run",
    "--mcp-config",
    config,
    "--admin-port",
    String(await freePort()),
    "--mcp-session-encryption-iterations",
    String(iterations),
  ];
  const child = spawnTracked(tool.path!, args, { env, cwd: dir });
  let output = "";
  const keep = (c: Buffer) => {
    output = (output + c.toString()).slice(-4000);
  };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  const close = async () => {
    await stop(child, 10_000);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitUntilServing(child, () => output);
    const envoyPid = findEnvoy(child.pid!);
    return {
      url: AIGW_LISTENER,
      iterations,
      aigwPid: child.pid!,
      envoyPid,
      cpu: () => ({ aigw: cpuMs(child.pid!), envoy: cpuMs(envoyPid) }),
      close,
    };
  } catch (error) {
    await close();
    throw new Error(`aigw did not start: ${(error as Error).message}\n${output.slice(-1500)}`);
  }
}

/** Until an MCP initialize through aigw's listener succeeds (Envoy Gateway's translation and Envoy's start first). */
async function waitUntilServing(child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let last = "";
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`exited (${child.exitCode})`);
    try {
      const agent = newAgent(1);
      await new McpSession(new URL(AIGW_LISTENER), agent).open();
      agent.destroy();
      return;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`not serving MCP within ${START_TIMEOUT_MS} ms (last: ${last}; ${output().length} bytes of output)`);
}

function findEnvoy(aigwPid: number): number {
  const envoy = processTree(aigwPid).find((p) => p.pid !== aigwPid && /(^|\/)envoy( |$)/.test(p.cmdline.split(" ")[0]));
  if (!envoy) throw new Error("aigw's Envoy process was not found among its descendants");
  return envoy.pid;
}
