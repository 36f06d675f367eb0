// The project on Node 22 and 24 (Node 20 reached its end of life on 2026-04-30; the rest of the suite runs on the
// machine's own Node). Each release comes from the npm registry's `node` package, installed by
// scripts/node-versions.mjs into a cache outside the clone, and is put first on PATH as a user's own Node would be.
// Under it: the scripts' quick paths, then `npm start`'s back half as scripts/start.ts runs it (loaded through tsx;
// the sidecar on envoy/sidecar.json and both server-everything backends, on free ports), behind Envoy + filter with
// the shipped filter configuration and routes of envoy/envoy.yaml; the Python SDK's client lists and calls a tool on
// every route, the Python server through the sidecar included. /proc shows that every Node process of it ran the release
// under test, and a SIGTERM stops them all.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { parse } from "yaml";
// @ts-expect-error: a plain ES module without types
import { NODE_VERSIONS, nodeBinary } from "../../../scripts/node-versions.mjs";
import type { Ports } from "../../../scripts/start.ts";
import { waitFor } from "../../helpers/harness.ts";
import { processes, type ProcessInfo } from "../../helpers/procfs.ts";
import { closedPort } from "../../helpers/upstream.ts";
import { connected, pythonReady, runPythonClient } from "../../python/harness.ts";
import { repoRoot, startGateway } from "../../helpers/gateway.ts";

type Json = Record<string, any>;
const shipped: Json = parse(readFileSync(join(repoRoot, "envoy/envoy.yaml"), "utf8"));
const hcm = shipped.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
/** The routes of envoy/envoy.yaml, as the test bootstrap takes them. */
const ROUTES = hcm.route_config.virtual_hosts[0].routes.map(({ name, match, route }: Json) => ({
  name,
  prefix: match.prefix,
  path: match.path,
  cluster: route.cluster,
  prefixRewrite: route.prefix_rewrite,
  timeout: route.timeout,
  idleTimeout: route.idle_timeout,
}));
const FILTER_CONFIG = JSON.parse(hcm.http_filters[0].typed_config.config.configuration.value);

/** A tool call per shipped server that shows it answered: server-everything's echo, the time server's clock. */
const CALLS: Record<string, { name: string; arguments: Record<string, unknown>; shows: RegExp }> = {
  everything: { name: "echo", arguments: { message: "on this Node" }, shows: /on this Node/ },
  remote: { name: "echo", arguments: { message: "on this Node" }, shows: /on this Node/ },
  legacy: { name: "echo", arguments: { message: "on this Node" }, shows: /on this Node/ },
  time: { name: "get_current_time", arguments: { timezone: "UTC" }, shows: /"timezone": "UTC"/ },
};

/** What the driver runs under the Node being tested: scripts/start.ts's startBackends, stopped by SIGTERM as npm start is. */
const DRIVER = `
import { startBackends, stopAll } from "./scripts/start.ts";
const procs = await startBackends(JSON.parse(process.env.TEST_PORTS));
process.once("SIGTERM", () => stopAll(procs).then(() => process.exit(0)));
console.log("backends up: " + procs.map((p) => p.name).join(", "));
`;

/** Every live process descending from `pid` (by parent links), `pid` included. */
function tree(pid: number): ProcessInfo[] {
  const all = processes().filter((p) => p.state !== "Z");
  const found = all.filter((p) => p.pid === pid);
  for (let i = 0; i < found.length; i++) found.push(...all.filter((p) => p.ppid === found[i].pid));
  return found;
}

/** A file as device:inode: the npm package's Node binary is hard-linked under two names. */
function fileId(path: string): string | undefined {
  try {
    const { dev, ino } = statSync(path);
    return `${dev}:${ino}`;
  } catch {
    return undefined; // a process that exited while we looked
  }
}

/** Runs `args` with `node`; its output on failure. */
function run(node: string, env: NodeJS.ProcessEnv, args: string[]): void {
  const result = spawnSync(node, args, { cwd: repoRoot, env, encoding: "utf8", timeout: 300_000 });
  assert.equal(
    result.status,
    0,
    `${args.join(" ")} on ${node}: ${result.error?.message ?? ""}\n${result.stdout}${result.stderr}`,
  );
}

/** The driver under `node`, on free ports; resolves once every backend listens. Stopped (group-wide) after the test. */
async function startDriver(
  t: TestContext,
  node: string,
  env: NodeJS.ProcessEnv,
): Promise<{ pid: number; ports: Ports; stopped: Promise<number | string | null> }> {
  const ports: Ports = {
    listener: 0,
    admin: 0,
    sidecar: await closedPort(),
    remote: await closedPort(),
    legacy: await closedPort(),
  };
  const driver = spawn(node, ["--import", "tsx", "--input-type=module", "-e", DRIVER], {
    cwd: repoRoot,
    env: { ...env, TEST_PORTS: JSON.stringify(ports) },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const stopped = new Promise<number | string | null>((resolve) =>
    driver.once("exit", (code, signal) => resolve(signal ?? code)),
  );
  let output = "";
  driver.stdout.on("data", (d) => (output += d));
  driver.stderr.on("data", (d) => (output += d));
  const pid = driver.pid!;
  t.after(() => {
    for (const p of tree(pid))
      try {
        process.kill(-p.pgid, "SIGKILL");
      } catch {
        /* gone */
      }
  });
  await waitFor(
    `the backends under ${node}`,
    () => {
      if (driver.exitCode !== null) throw new Error(`the driver exited (${driver.exitCode}):\n${output}`);
      return output.includes("backends up: sidecar, remote, legacy");
    },
    120_000,
  );
  return { pid, ports, stopped };
}

for (const [major, version] of Object.entries(NODE_VERSIONS as Record<string, string>)) {
  test(
    `Node ${version}: the scripts, and npm start's sidecar and backends behind Envoy + filter, every route answering`,
    { timeout: 600_000 },
    async (t) => {
      const node: string = nodeBinary(major);
      pythonReady();
      const env = { ...process.env, PATH: `${dirname(node)}:${process.env.PATH ?? ""}` };
      assert.equal(
        spawnSync("node", ["--version"], { env, encoding: "utf8" }).stdout.trim(),
        `v${version}`,
        "first on PATH",
      );
      // Each script's path that needs nothing new (everything is installed by now).
      for (const args of [
        ["scripts/envoy.mjs", "--path", "newest"],
        ["scripts/python.mjs", "--bin"],
        ["scripts/node-versions.mjs", "--path", major],
        ["scripts/build.mjs", "--if-needed", "--filter-only"],
      ])
        run(node, env, args);

      const driver = await startDriver(t, node, env);
      const { url } = await startGateway(t, {
        pluginConfig: FILTER_CONFIG,
        routes: ROUTES,
        clusters: { sidecar: driver.ports.sidecar, remote: driver.ports.remote, legacy: driver.ports.legacy },
      });
      // The Python SDK's client in its default mode, on every shipped route (one process: its imports cost seconds).
      const servers: { name: string; pathPrefix: string }[] = FILTER_CONFIG.servers;
      const reports = await runPythonClient(
        servers.map((server) => {
          const call = CALLS[server.name];
          assert.ok(call, `a call for the shipped server ${server.name}`);
          return { url: `${url}${server.pathPrefix}`, calls: [{ name: call.name, arguments: call.arguments }] };
        }),
      );
      servers.forEach((server, i) => {
        const report = connected(reports[i]);
        assert.ok(
          report.tools.some((tool) => tool.name === CALLS[server.name].name),
          server.name,
        );
        const result = report.calls[0].result;
        assert.equal(result?.isError, false, `${server.name}: ${JSON.stringify(report.calls[0])}`);
        assert.match(
          result!.content.map((c: { text?: string }) => c.text).join("\n"),
          CALLS[server.name].shows,
          server.name,
        );
      });

      // Every Node process of it ran this release: the driver, the sidecar, both backends and the sidecar's own child.
      const expected = fileId(node);
      const nodes = tree(driver.pid).filter(
        (p) => /(^|\/)node /.test(`${p.cmdline} `) || p.cmdline.includes("mcp-server-everything"),
      );
      assert.ok(nodes.length >= 5, `driver, sidecar, two backends, a stdio child: ${JSON.stringify(nodes)}`);
      for (const p of nodes) assert.equal(fileId(`/proc/${p.pid}/exe`), expected, `${p.pid} ${p.cmdline}`);
      assert.ok(
        tree(driver.pid).some((p) => p.cmdline.includes("mcp-server-time")),
        "the Python server runs under the sidecar",
      );

      // npm start's stop: SIGTERM reaches the script, which stops every group it started.
      const started = tree(driver.pid);
      process.kill(driver.pid, "SIGTERM");
      assert.equal(await driver.stopped, 0);
      await waitFor(
        "every process it started to end",
        () => started.every((p) => !processes().some((q) => q.pid === p.pid && q.state !== "Z")),
        15_000,
      );
    },
  );
}
