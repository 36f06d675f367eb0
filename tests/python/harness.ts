// The Python side of the tests: the project-local environment (scripts/python.mjs: PyPI's reference servers and the
// Python MCP SDK, pinned), catalog entries that run those servers under the sidecar, and the Python SDK client
// script (mcp_client.py) run against a URL with a bounded wait.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
// @ts-expect-error: a plain ES module without types
import { ensurePythonVenv, venvBin, venvPython } from "../../scripts/python.mjs";

const clientScript = join(fileURLToPath(new URL(".", import.meta.url)), "mcp_client.py");
let ready = false;

/** Creates or updates .venv-mcp/ (a minute or two the first time on a fresh clone, instant after). */
export function pythonReady(): void {
  if (!ready) ensurePythonVenv();
  ready = true;
}

/** A sidecar catalog entry for one of the environment's servers, e.g. `pythonServer("mcp-server-time")`. */
export function pythonServer(
  command: string,
  args: string[] = [],
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  pythonReady();
  return { command: join(venvBin as string, command), args, ...extra };
}

export interface ClientSpec {
  url: string;
  /** The SDK's Client(mode=...): "auto" (its default), "legacy", or a modern version pin ("2026-07-28"). */
  mode?: string;
  headers?: Record<string, string>;
  calls?: { name: string; arguments?: Record<string, unknown> }[];
}

export interface ToolCallReport {
  result?: { content: any[]; structuredContent?: any; isError?: boolean; [key: string]: unknown };
  error?: { code: number; message: string };
}

export interface ClientReport {
  mode: string;
  url: string;
  /** Set when the connection failed outside a tool call (connecting, listing); the fields below are then partial. */
  failure?: string;
  protocolVersion: string;
  serverInfo: { name: string; version: string } | null;
  tools: { name: string; description?: string; inputSchema: any; [key: string]: unknown }[];
  calls: ToolCallReport[];
  /** The client's context exited cleanly (after its DELETE, for a connection that held a session). */
  closed: boolean;
}

/**
 * Runs mcp_client.py over `specs`, one connection after the other in one Python process; resolves with a report per
 * spec. Rejects if the script itself fails or is still running after `timeoutMs`.
 */
export function runPythonClient(specs: ClientSpec[], timeoutMs = 120_000): Promise<ClientReport[]> {
  pythonReady();
  return new Promise((resolve, reject) => {
    const child = spawn(venvPython as string, [clientScript, JSON.stringify(specs)], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      if (signal)
        reject(new Error(`the Python client was still running after ${timeoutMs} ms:\n${stderr.slice(-2000)}`));
      else if (code !== 0) reject(new Error(`the Python client exited ${code}:\n${stderr.slice(-2000)}`));
      else resolve(JSON.parse(stdout));
    });
  });
}

/** A report with no failure (else the assertion shows it). */
export function connected(report: ClientReport): ClientReport {
  if (report.failure) throw new Error(`${report.mode} on ${report.url}: ${report.failure}`);
  return report;
}
