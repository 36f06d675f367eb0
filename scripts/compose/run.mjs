// Running the commands of the compose demo: long ones (apt-get, debootstrap, docker build, docker-compose) write
// their whole output to one log file and fail with its last lines; short ones return what they print.
import { spawn, spawnSync } from "node:child_process";
import { createWriteStream, mkdirSync } from "node:fs";
import { dirname } from "node:path";

// dockerd, iptables, ip and debootstrap live in sbin, which the PATH of a non-login root shell may lack.
for (const dir of ["/usr/local/sbin", "/usr/sbin", "/sbin"]) {
  if (!(process.env.PATH ?? "").split(":").includes(dir)) process.env.PATH = `${process.env.PATH ?? ""}:${dir}`;
}

let log = null;

/** Sends every command's output from now on to `path` (appended: one log holds a whole run). */
export function logTo(path) {
  mkdirSync(dirname(path), { recursive: true });
  log = createWriteStream(path, { flags: "a" });
  return path;
}

/** Adds `text` to the log as it is. */
export function appendLog(text) {
  log?.write(text);
}

/** One line of progress on stderr (and in the log), with the seconds since the run began. */
const started = Date.now();
export function say(text) {
  const line = `compose-demo [${Math.round((Date.now() - started) / 1000)} s] ${text}`;
  console.error(line);
  appendLog(`${line}\n`);
}

/** The long commands running now, each the leader of its own process group. */
const running = new Set();

/** Ends every long command still running, children included (a teardown after Ctrl-C or a failure). */
export function killRunning() {
  for (const child of running) {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      /* already gone */
    }
  }
}

/** Runs a long command, its output to the log; rejects with the last lines of it on failure or after `timeoutMs`. */
export function runLogged(command, args, { env = process.env, cwd, timeoutMs }) {
  return new Promise((resolve, reject) => {
    const shown = `${command} ${args.join(" ")}`;
    appendLog(`\n$ ${shown}\n`);
    // Its own process group, so a timeout ends the command's children too.
    const child = spawn(command, args, { env, cwd, stdio: ["ignore", "pipe", "pipe"], detached: true });
    running.add(child);
    let tail = "";
    const keep = (chunk) => {
      appendLog(chunk);
      tail = (tail + chunk).slice(-6000);
    };
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        /* already gone */
      }
    }, timeoutMs);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(new Error(`${shown}: ${error.message}`));
    });
    child.once("close", (code, signal) => {
      running.delete(child);
      clearTimeout(timer);
      if (code === 0) return resolve(tail);
      const why = timedOut ? `still running after ${timeoutMs / 1000} s` : (signal ?? `exit ${code}`);
      reject(new Error(`${shown} failed (${why}); its last output:\n${tail}`));
    });
  });
}

/** Runs a short command and returns its stdout; throws with its stderr when it fails. */
export function capture(command, args, { env = process.env, cwd, allowFailure = false } = {}) {
  const run = spawnSync(command, args, { env, cwd, encoding: "utf8", timeout: 120_000, maxBuffer: 64 * 1024 * 1024 });
  if (run.status !== 0 && !allowFailure) {
    throw new Error(
      `${command} ${args.join(" ")} failed (${run.error?.message ?? run.signal ?? `exit ${run.status}`}): ${run.stderr || run.stdout}`,
    );
  }
  return run.stdout ?? "";
}

/** Runs a short command; whether it succeeded. */
export function succeeds(command, args, env = process.env) {
  return spawnSync(command, args, { env, stdio: "ignore", timeout: 120_000 }).status === 0;
}

/** Whether `command` is on PATH. */
export function onPath(command) {
  return spawnSync("sh", ["-c", `command -v "$0"`, command], { stdio: "ignore" }).status === 0;
}
