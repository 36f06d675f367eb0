// The container engine the compose demo runs on: Debian's docker.io (20.10) and docker-compose (1.29), installed
// with apt-get when missing, and a dockerd of the demo's own. That daemon has its own data root, exec root, socket,
// configuration file, containerd namespace and default bridge (mcpdemo0, made here), all under RUN_DIR, so it uses
// and changes none of a developer's Docker. What it changes on the host outside them (iptables rules and chains, the
// FORWARD policy, net.ipv4.ip_forward, /run/docker and /run/containerd) is recorded before it starts and put back
// after it stops.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { appendLog, capture, onPath, runLogged, say, succeeds } from "./run.mjs";

/** Everything of the daemon's: removed when it stops. Short, for the socket path's 108-byte limit. */
export const RUN_DIR = join(tmpdir(), "mcp-proxy-wasm-compose");
const SOCKET = join(RUN_DIR, "docker.sock");
const PIDFILE = join(RUN_DIR, "dockerd.pid");
/** The process that started the daemon: while it lives, another run is refused; once gone, its leftovers are cleaned. */
const OWNER = join(RUN_DIR, "owner.json");
/** What the host looked like before the daemon started, kept on disk so a run killed midway can still undo it. */
const STATE = join(RUN_DIR, "host-before.json");
/**
 * The daemon's default bridge (builds and plain `docker run` use it). dockerd makes docker0 itself but takes a bridge
 * of another name only if it exists; ours is made and removed here, so a developer's docker0 is never touched.
 */
const BRIDGE = { name: "mcpdemo0", address: "172.31.254.1/24" };
const DOCKER_CHAIN = /^DOCKER(-|$)/;
/**
 * Directories the engine makes whatever its roots: dockerd's plugin sockets (/run/docker/plugins) and the container
 * shims' sockets (/run/containerd/s). Removed after the run if it made them and they are empty again.
 */
const RUNTIME_DIRS = ["/run/docker", "/run/containerd"];

/** The commands the demo runs and the Debian package of each. */
const PACKAGES = { dockerd: "docker.io", "docker-compose": "docker-compose", iptables: "iptables", ip: "iproute2" };

/** Installs whatever of the engine (and debootstrap, when `needDebootstrap`) is missing; returns the packages. */
export async function ensureEngine({ needDebootstrap }) {
  const wanted = needDebootstrap ? { ...PACKAGES, debootstrap: "debootstrap" } : PACKAGES;
  const missing = Object.entries(wanted)
    .filter(([command]) => !onPath(command))
    .map(([, pkg]) => pkg);
  if (missing.length === 0) return [];
  if (!onPath("apt-get")) {
    throw new Error(
      `missing ${missing.join(", ")} and no apt-get to install them: the compose demo needs a Debian-like machine`,
    );
  }
  say(`installing ${missing.join(" ")} with apt-get`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  await runLogged("apt-get", ["update"], { env, timeoutMs: 10 * 60_000 });
  await runLogged("apt-get", ["install", "-y", "--no-install-recommends", ...missing], { env, timeoutMs: 15 * 60_000 });
  return missing;
}

// --- The host's network state -------------------------------------------------------------------------------------

/**
 * The iptables tables that exist, as iptables-save shows them: { name: { policies, rules } }. The whole save, not
 * `-t NAME`, which shows a table that does not exist as if it did, with empty built-in chains.
 */
function tables() {
  const found = {};
  let current = null;
  for (const line of capture("iptables-save", [], { allowFailure: true }).split("\n")) {
    if (line.startsWith("*")) found[line.slice(1)] = current = { policies: {}, rules: [] };
    else if (line.startsWith(":")) current.policies[line.slice(1).split(" ")[0]] = line.split(" ")[1];
    else if (line.startsWith("-A ")) current.rules.push(line);
  }
  return found;
}

/** The names of the host's network interfaces. */
function links() {
  return capture("ip", ["-o", "link", "show"])
    .split("\n")
    .map((line) => line.split(": ")[1]?.split("@")[0])
    .filter(Boolean);
}

/** The bridges of Docker's user-defined networks (br- and 12 hex digits of the network's id). */
const NETWORK_BRIDGE = /^br-[0-9a-f]{12}$/;

function snapshotHost() {
  return {
    bridges: links().filter((name) => NETWORK_BRIDGE.test(name)),
    ipForward: readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8").trim(),
    iptables: tables(),
    runtimeDirs: Object.fromEntries(RUNTIME_DIRS.map((dir) => [dir, existsSync(dir)])),
  };
}

/** Other dockerd processes on the machine (a developer's): while one runs, the shared iptables chains are its too. */
function otherDaemons(ours) {
  return readdirSync("/proc")
    .filter((pid) => /^\d+$/.test(pid) && Number(pid) !== ours)
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "dockerd";
      } catch {
        return false;
      }
    })
    .map(Number);
}

/**
 * Puts back what the daemon changed on the host: the rules that appeared during the run and belong to Docker (they
 * name a DOCKER chain or our bridge), the DOCKER chains that appeared, the built-in chains' policies (ACCEPT for a
 * table that did not exist) and net.ipv4.ip_forward; with another dockerd running, only the rules naming our bridge
 * (the rest is that daemon's too). Returns what was undone and what was left, each as a line of text.
 */
function restoreHost(before, ourPid) {
  const undone = [];
  const left = [];
  const others = otherDaemons(ourPid);
  const alone = others.length === 0;
  if (!alone)
    left.push(
      `another dockerd runs (pid ${others.join(", ")}): Docker's shared iptables chains, FORWARD policy and ip_forward are left to it`,
    );
  // Bridges of networks the daemon still had when it stopped (it crashed, or was killed): theirs are ours too.
  const bridges = alone ? links().filter((l) => NETWORK_BRIDGE.test(l) && !before.bridges.includes(l)) : [];
  const after = tables();
  for (const [name, now] of Object.entries(after).filter(([table]) => table === "nat" || table === "filter")) {
    const had = before.iptables[name] ?? { policies: {}, rules: [] };
    const ours = (rule) => {
      const words = rule.split(" ");
      const docker = DOCKER_CHAIN.test(words[1]) || DOCKER_CHAIN.test(words[words.indexOf("-j") + 1] ?? "");
      return words.some((w) => w === BRIDGE.name || bridges.includes(w)) || (alone && docker);
    };
    for (const rule of now.rules.filter((r) => !had.rules.includes(r) && ours(r)).reverse()) {
      // Docker's rules carry no quoted words, so the saved line splits back into iptables' arguments.
      if (/["']/.test(rule)) {
        left.push(`iptables -t ${name} ${rule} (quoted, not undone)`);
        continue;
      }
      const deleted = succeeds("iptables", ["-t", name, "-D", ...rule.split(" ").slice(1)]);
      (deleted ? undone : left).push(`iptables -t ${name} ${rule}`);
    }
    if (!alone) continue;
    for (const chain of Object.keys(now.policies).filter((c) => !(c in had.policies) && DOCKER_CHAIN.test(c))) {
      (succeeds("iptables", ["-t", name, "-X", chain]) ? undone : left).push(`iptables -t ${name} chain ${chain}`);
    }
    for (const [chain, policy] of Object.entries(now.policies)) {
      const was = had.policies[chain] ?? "ACCEPT";
      if (policy === "-" || policy === was) continue;
      capture("iptables", ["-t", name, "-P", chain, was]);
      undone.push(`iptables -t ${name} -P ${chain} ${was} (was ${policy})`);
    }
    if (!(name in before.iptables)) {
      left.push(
        `the iptables ${name} table, empty (it did not exist; iptables cannot delete a table, \`nft delete table ip ${name}\` can)`,
      );
    }
  }
  for (const bridge of bridges) (succeeds("ip", ["link", "del", bridge]) ? undone : left).push(`bridge ${bridge}`);
  const ipForward = readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8").trim();
  if (alone && ipForward !== before.ipForward) {
    writeFileSync("/proc/sys/net/ipv4/ip_forward", before.ipForward);
    undone.push(`net.ipv4.ip_forward=${before.ipForward} (was ${ipForward})`);
  }
  for (const dir of RUNTIME_DIRS.filter((d) => !before.runtimeDirs[d] && existsSync(d))) {
    try {
      removeEmptyTree(dir);
      undone.push(dir);
    } catch (error) {
      left.push(`${dir} (${error.code}: not empty)`);
    }
  }
  return { undone, left };
}

/** Removes `dir` if it holds nothing but empty directories; throws (ENOTEMPTY) at the first file. */
function removeEmptyTree(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) removeEmptyTree(join(dir, entry.name));
  }
  rmdirSync(dir);
}

// --- The daemon ---------------------------------------------------------------------------------------------------

function commandLine(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8");
  } catch {
    return null;
  }
}

function alive(pid) {
  try {
    return !readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].startsWith("Z");
  } catch {
    return false;
  }
}

/** The engine's programs that name their state directory: the daemon, its containerd, the containers' shims (whose
 * name /proc shortens to 15 characters). */
const ENGINE_PROGRAMS = new Set(["dockerd", "containerd", "containerd-shim"]);

/** The engine's processes whose command line names RUN_DIR: ours, not a developer's Docker. */
function runProcesses() {
  return readdirSync("/proc")
    .filter((pid) => /^\d+$/.test(pid))
    .filter((pid) => {
      try {
        return (
          ENGINE_PROGRAMS.has(readFileSync(`/proc/${pid}/comm`, "utf8").trim()) &&
          readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(RUN_DIR)
        );
      } catch {
        return false;
      }
    })
    .map(Number)
    .filter(alive);
}

async function until(check, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function ping() {
  return new Promise((resolve) => {
    const request = http.get({ socketPath: SOCKET, path: "/_ping", timeout: 2000 }, (reply) => {
      reply.resume();
      resolve(reply.statusCode === 200);
    });
    request.once("error", () => resolve(false));
    request.once("timeout", () => {
      request.destroy();
      resolve(false);
    });
  });
}

/** The environment in which docker and docker-compose talk to our daemon, with a client configuration of their own. */
function clientEnv() {
  return {
    ...process.env,
    DOCKER_HOST: `unix://${SOCKET}`,
    DOCKER_CONFIG: join(RUN_DIR, "client"),
    // The classic builder, as docker-compose 1.29 uses through the API: the same builder for every image.
    DOCKER_BUILDKIT: "0",
    COMPOSE_DOCKER_CLI_BUILD: "0",
  };
}

/**
 * Tears down what a run killed before its teardown left (its daemon may still run its containers and hold their
 * ports); refuses while the run that started it is still going.
 */
export async function cleanUpInterruptedRun() {
  if (!existsSync(RUN_DIR)) return;
  const owner = existsSync(OWNER) ? JSON.parse(readFileSync(OWNER, "utf8")) : null;
  if (owner && commandLine(owner.pid) === owner.cmdline)
    throw new Error(`another compose demo is running (pid ${owner.pid}, ${RUN_DIR})`);
  say(`cleaning up after an interrupted run (${RUN_DIR})`);
  const report = await stopEngine();
  say(`undone: ${report.undone.join("; ")}`);
  if (report.left.length > 0) say(`left: ${report.left.join("; ")}`);
}

/**
 * Starts the demo's dockerd and returns the environment for docker and docker-compose to reach it, after cleaning up
 * what an interrupted run left.
 */
export async function startEngine() {
  await cleanUpInterruptedRun();
  if (links().includes(BRIDGE.name)) {
    throw new Error(
      `a network interface named ${BRIDGE.name} exists but ${RUN_DIR} does not: remove it (ip link del ${BRIDGE.name}) if it is a leftover of this demo`,
    );
  }
  mkdirSync(join(RUN_DIR, "client"), { recursive: true });
  writeFileSync(OWNER, JSON.stringify({ pid: process.pid, cmdline: commandLine(process.pid) }));
  try {
    return await startDaemon();
  } catch (error) {
    // Nothing half-started stays behind: the caller tears down only an engine it got.
    await stopEngine();
    throw error;
  }
}

async function startDaemon() {
  writeFileSync(STATE, JSON.stringify(snapshotHost()));
  // Its own configuration file, so a developer's /etc/docker/daemon.json (data-root, bridge...) does not apply; and
  // its identity key beside it, not in /etc/docker (where dockerd 20.10 writes key.json by default).
  writeFileSync(
    join(RUN_DIR, "daemon.json"),
    `${JSON.stringify({ "deprecated-key-path": join(RUN_DIR, "key.json") })}\n`,
  );
  capture("ip", ["link", "add", BRIDGE.name, "type", "bridge"]);
  capture("ip", ["addr", "add", BRIDGE.address, "dev", BRIDGE.name]);
  capture("ip", ["link", "set", BRIDGE.name, "up"]);
  const output = openSync(join(RUN_DIR, "dockerd.log"), "a");
  const daemon = spawn(
    "dockerd",
    [
      "--config-file",
      join(RUN_DIR, "daemon.json"),
      "--data-root",
      join(RUN_DIR, "data"),
      "--exec-root",
      join(RUN_DIR, "exec"),
      "--pidfile",
      PIDFILE,
      "--host",
      `unix://${SOCKET}`,
      "--bridge",
      BRIDGE.name,
      // If the host runs a containerd of its own, dockerd uses it: namespaces of our own keep the two apart.
      "--containerd-namespace",
      "mcp-proxy-wasm-demo",
      "--containerd-plugins-namespace",
      "mcp-proxy-wasm-demo-plugins",
    ],
    { detached: true, stdio: ["ignore", output, output] },
  );
  daemon.unref();
  await until(
    async () => {
      if (!alive(daemon.pid))
        throw new Error(`dockerd exited at start:\n${readFileSync(join(RUN_DIR, "dockerd.log"), "utf8").slice(-3000)}`);
      return ping();
    },
    60_000,
    "dockerd to answer on its socket",
  );
  return clientEnv();
}

/**
 * Whatever containers and networks the daemon still has (a run interrupted before `docker-compose down`): removed
 * through it, so that it takes their bridges and iptables rules away; dockerd keeps both across a stop otherwise.
 */
async function removeWorkloads(report) {
  if (!(await ping())) return;
  const env = clientEnv();
  const containers = capture("docker", ["ps", "--all", "--quiet"], { env, allowFailure: true })
    .split("\n")
    .filter(Boolean);
  if (containers.length > 0 && succeeds("docker", ["rm", "--force", "--volumes", ...containers], env)) {
    report.undone.push(`${containers.length} container(s) left running`);
  }
  const networks = capture("docker", ["network", "ls", "--quiet", "--filter", "type=custom"], {
    env,
    allowFailure: true,
  })
    .split("\n")
    .filter(Boolean);
  if (networks.length > 0 && succeeds("docker", ["network", "rm", ...networks], env)) {
    report.undone.push(`${networks.length} network(s) left`);
  }
}

/** SIGTERM to dockerd (which stops its containerd), SIGKILL after 30 s; then any of the engine's processes left. */
async function stopDaemon(pid) {
  if (pid && alive(pid)) {
    process.kill(pid, "SIGTERM");
    await until(() => !alive(pid), 30_000, `dockerd (pid ${pid}) to stop`).catch(() => {
      appendLog(
        `dockerd did not stop within 30 s of SIGTERM; the engine's processes:\n${capture("ps", ["-o", "pid,ppid,stat,etime,args", "-p", runProcesses().join(",") || String(pid)], { allowFailure: true })}`,
      );
      process.kill(pid, "SIGKILL");
    });
  }
  // Normally nothing: after a crash of dockerd its containerd and shims may outlive it.
  for (const stray of runProcesses()) {
    try {
      process.kill(stray, "SIGKILL");
    } catch {
      /* gone */
    }
  }
  await until(() => runProcesses().length === 0, 30_000, "the engine's processes to end");
}

/**
 * Stops the daemon (and its containerd and shims), unmounts and removes RUN_DIR and the bridge, and puts the host's
 * network state back. Returns { undone, left }: lines saying what was put back and what remains.
 */
export async function stopEngine() {
  const report = { undone: [], left: [] };
  const pid = existsSync(PIDFILE) ? Number(readFileSync(PIDFILE, "utf8")) : 0;
  await removeWorkloads(report);
  await stopDaemon(pid);
  const mounts = readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[4])
    .filter((m) => m?.startsWith(RUN_DIR));
  for (const mount of mounts.reverse()) capture("umount", ["-l", mount], { allowFailure: true });
  if (links().includes(BRIDGE.name)) {
    capture("ip", ["link", "del", BRIDGE.name]);
    report.undone.push(`bridge ${BRIDGE.name}`);
  }
  if (existsSync(STATE)) {
    const restored = restoreHost(JSON.parse(readFileSync(STATE, "utf8")), pid);
    report.undone.push(...restored.undone);
    report.left.push(...restored.left);
  } else {
    report.left.push("no record of the host's state before the run: iptables and ip_forward left as they are");
  }
  if (existsSync(join(RUN_DIR, "dockerd.log")))
    appendLog(`\n--- dockerd's log ---\n${readFileSync(join(RUN_DIR, "dockerd.log"), "utf8")}`);
  rmSync(RUN_DIR, { recursive: true, force: true });
  report.undone.push(RUN_DIR);
  return report;
}
