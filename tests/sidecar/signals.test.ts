// The mcp-sidecar command as a process: it reports its port in a log line, and SIGTERM ends it
// with exit code 0 within the grace period, leaving no child or grandchild behind.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, test } from "node:test";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { connect, echoServer, FIXTURES, groupMembers, isAlive, processes, ROOT, toolText, waitFor } from "./helpers.ts";

const GRACE_MS = 1_000;
const TEST = { timeout: 60_000 };
const marker = `sidecar-test-${randomUUID()}`;
const workDir = mkdtempSync(join(tmpdir(), "sidecar-signals-"));
let sidecar: ChildProcess | undefined;
const clients: Client[] = [];

after(
  async () => {
    await Promise.allSettled(clients.map((client) => client.close()));
    if (sidecar?.exitCode === null) sidecar.kill("SIGKILL");
    rmSync(workDir, { recursive: true, force: true });
  },
  { timeout: 30_000 },
);

/** Processes whose command line carries this test's marker, wherever they were re-parented to. */
function markedProcesses(): number[] {
  return processes()
    .filter((p) => p.cmdline.includes(marker))
    .map((p) => p.pid);
}

/** Starts the bin with --port 0 and reads the port from its "listening" log line. */
async function startBin(catalog: object): Promise<{ process: ChildProcess; url: string; logs: string[] }> {
  const file = join(workDir, "catalog.json");
  writeFileSync(file, JSON.stringify(catalog));
  const child = spawn(process.execPath, [join(ROOT, "sidecar", "bin.mjs"), "--config", file, "--port", "0"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const logs: string[] = [];
  const lines = createInterface({ input: child.stdout! });
  return new Promise((resolve, reject) => {
    lines.on("line", (line) => {
      logs.push(line);
      const record = JSON.parse(line);
      if (record.msg === "listening") resolve({ process: child, url: record.url, logs });
    });
    child.once("exit", (code) => reject(new Error(`sidecar exited (${code}) before listening`)));
  });
}

test("SIGTERM: exit 0, every child and grandchild gone", TEST, async () => {
  const server = (extra: object = {}) => echoServer({ args: [join(FIXTURES, "echo-server.mjs"), marker], ...extra });
  const started = await startBin({
    mcpServers: {
      echo: server(),
      shared: server({ mode: "shared" }),
      hang: { command: process.execPath, args: [join(FIXTURES, "hang.mjs"), marker] },
    },
    sidecar: { gracePeriodMs: GRACE_MS },
  });
  sidecar = started.process;
  const open = async (path: string, transport?: "sse") => {
    const client = await connect(`${started.url}/servers/${path}`, { transport });
    clients.push(client);
    return client;
  };
  const sessions = await Promise.all([open("echo/mcp"), open("echo/sse", "sse"), open("shared/mcp")]);
  const groups = await Promise.all(
    sessions.map(
      async (client) => JSON.parse(toolText(await client.callTool({ name: "whoami", arguments: {} }))).pgid as number,
    ),
  );
  const grandchild = JSON.parse(toolText(await sessions[0].callTool({ name: "grandchild", arguments: {} })))
    .pid as number;
  // A child stuck in initialize, ignoring SIGTERM: shutdown has to SIGKILL it.
  const stuck = connect(`${started.url}/servers/hang/mcp`).catch(() => undefined);
  await waitFor(() => markedProcesses().length === 4, 30_000, "three echo children and the hanging one");
  assert.ok(isAlive(grandchild));

  const exited = new Promise<{ code: number | null; ms: number }>((resolve) => {
    const t0 = Date.now();
    sidecar!.once("exit", (code) => resolve({ code, ms: Date.now() - t0 }));
  });
  sidecar.kill("SIGTERM");
  const { code, ms } = await exited;
  await stuck;
  // How soon is the bin's own deadline (it exits at gracePeriodMs whatever happens); as seen from here it
  // depends on the machine's load, so it is reported, not asserted.
  console.log(`sidecar exited with ${code} ${ms} ms after SIGTERM (grace ${GRACE_MS} ms)`);
  assert.equal(code, 0, `log:\n${started.logs.slice(-15).join("\n")}`);
  assert.deepEqual(groupMembers(groups), []);
  assert.ok(!isAlive(grandchild), "the grandchild survived");
  assert.deepEqual(markedProcesses(), [], "processes of this test still alive");
});
