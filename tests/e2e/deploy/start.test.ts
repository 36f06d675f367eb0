// `npm start` as a new user runs it: it comes up on its fixed ports with real Envoy (the newest pinned version, or
// ENVOY_BIN), prints the MCP URLs, a curl command and the Envoy version, a tools/list through each printed URL works,
// and a Ctrl-C (SIGINT to the terminal's foreground process group) stops everything it started, Envoy and
// grandchildren included, which /proc confirms.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { DEMO_PORTS, connects } from "../../../scripts/start.ts";
import { NPM } from "../../../scripts/npm.mjs";
import { envoyRelease } from "../../helpers/envoy.ts";
import { processes } from "../../sidecar/helpers.ts";
import { repoRoot } from "../../helpers/gateway.ts";

/** The JSON-RPC reply in a JSON body, or in the last `data:` line of an SSE body (a backend may answer either). */
function rpcReply(contentType: string, body: string) {
  if (!contentType.startsWith("text/event-stream")) return JSON.parse(body);
  const data = body.split("\n").filter((line) => line.startsWith("data:"));
  return JSON.parse(data[data.length - 1].slice("data:".length));
}

/** Every live process descending from `pid` (by parent links in /proc), `pid` included. */
function tree(pid: number) {
  const all = processes().filter((p) => p.state !== "Z");
  const found = all.filter((p) => p.pid === pid);
  for (let i = 0; i < found.length; i++) found.push(...all.filter((p) => p.ppid === found[i].pid));
  return found;
}

test("npm start comes up, serves tools/list at a printed URL, and stops everything on Ctrl-C", async (t) => {
  for (const [what, port] of Object.entries(DEMO_PORTS)) {
    assert.equal(
      await connects(port),
      false,
      `npm start needs port ${port} (${what}) but something listens there: stop it and rerun`,
    );
  }
  // detached: npm leads a process group of its own, as a shell's foreground job does.
  const npm = spawn(NPM, ["start"], { cwd: repoRoot, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  npm.stdout.on("data", (d) => (output += d));
  npm.stderr.on("data", (d) => (output += d));
  const exited = new Promise<number | string | null>((resolve) =>
    npm.once("exit", (code, signal) => resolve(signal ?? code)),
  );
  const groups = new Set<number>();
  t.after(() => {
    // Whatever happened, nothing stays: the npm job's group and every group it made.
    for (const group of [npm.pid!, ...groups])
      try {
        process.kill(-group, "SIGKILL");
      } catch {
        /* gone */
      }
  });

  const deadline = Date.now() + 90_000;
  while (!output.includes("Ctrl-C stops everything")) {
    assert.ok(npm.exitCode === null && npm.signalCode === null, `npm start exited early:\n${output}`);
    assert.ok(Date.now() < deadline, `npm start did not come up within 90 s:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const envoy = envoyRelease("newest");
  assert.ok(output.includes(`is up: Envoy ${envoy.version} (2 workers)`), output);
  const urls = [...output.matchAll(/^\s+(http:\/\/127\.0\.0\.1:\d+\/mcp\/\w+)/gm)].map((m) => m[1]);
  assert.deepEqual(
    urls.map((u) => new URL(u).pathname),
    ["/mcp/everything", "/mcp/remote", "/mcp/legacy", "/mcp/time"],
    output,
  );
  const curl = output.split("\n").filter((line) => line.trim().startsWith("curl "));
  assert.equal(curl.length, 1, `one copy-paste command:\n${output}`);
  assert.ok(curl[0].includes(urls[0]) && curl[0].includes('"method":"tools/list"'), curl[0]);

  // server-everything's tools have echo; PyPI's mcp-server-time has get_current_time.
  const expectedTool = (url: string) => (url.endsWith("/mcp/time") ? "get_current_time" : "echo");
  for (const url of urls) {
    const reply = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    const body = await reply.text();
    assert.equal(reply.status, 200, `${url}: ${body}`);
    const tools = rpcReply(reply.headers.get("content-type") ?? "", body).result.tools as { name: string }[];
    assert.ok(
      tools.some((tool) => tool.name === expectedTool(url)),
      `${url}: ${body}`,
    );
  }

  // After the calls, so the sidecar's stdio child (spawned on demand) is counted too.
  const started = tree(npm.pid!);
  started.forEach((p) => groups.add(p.pgid));
  assert.ok(
    groups.size >= 5,
    `npm's group plus sidecar, two backends, Envoy, stdio children: ${JSON.stringify(started)}`,
  );
  // Envoy itself, the pinned binary on the shipped file, not a wrapper or a leftover from elsewhere.
  const envoys = started.filter((p) => p.cmdline.startsWith(`${envoy.path} `));
  assert.equal(envoys.length, 1, JSON.stringify(started));
  assert.match(envoys[0].cmdline, /-c envoy\/envoy\.yaml --concurrency 2 /);

  process.kill(-npm.pid!, "SIGINT");
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise((resolve) => (timer = setTimeout(() => resolve("still running after 15 s"), 15_000)));
  const how = await Promise.race([exited, timeout]);
  clearTimeout(timer);
  assert.ok(how === 0 || how === "SIGINT", `npm start after SIGINT: ${how}\n${output}`);
  // The sidecar may still be reaping its child when npm returns; give the groups a moment to empty.
  const left = () =>
    processes().filter((p) => p.state !== "Z" && (groups.has(p.pgid) || started.some((s) => s.pid === p.pid)));
  for (let i = 0; i < 50 && left().length > 0; i++) await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(left(), [], "processes left behind");
  for (const [what, port] of Object.entries(DEMO_PORTS))
    assert.equal(await connects(port), false, `port ${port} (${what}) still open`);
});
