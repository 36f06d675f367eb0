#!/usr/bin/env node
// The Python side of the project: the reference MCP servers that users run with `uvx`/`pip` (mcp-server-time,
// mcp-server-git, mcp-server-fetch), which the sidecar runs in `npm start` and the tests, and the Python MCP SDK
// (PyPI `mcp` 2.x) whose client the tests drive the gateway with. All pinned, in one project-local virtual
// environment, .venv-mcp/ (ignored by git, as is the .venv-mcp.lock it holds while installing): the servers require `mcp` >= 2.3 < 3 themselves, so one environment
// holds them and the client. A stamp file records what was installed, so a second run returns at once.
//   node scripts/python.mjs         installs what is missing, prints the environment's bin directory and versions
//   node scripts/python.mjs --bin   prints the bin directory (installs first)
import { spawnSync } from "node:child_process";
import { NPM } from "./npm.mjs";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

/** What the environment holds: exact versions, as PyPI served them when they were pinned (2026-11). */
export const PYTHON_PACKAGES = {
  mcp: "2.3.0",
  "mcp-server-time": "2026.10.19",
  "mcp-server-git": "2026.10.19",
  "mcp-server-fetch": "2026.10.24",
};
/** The packages' own floor (Requires-Python of every one of them). */
const MIN_PYTHON = [3, 10];

export const venvDir = join(root, ".venv-mcp");
export const venvBin = join(venvDir, "bin");
export const venvPython = join(venvBin, "python");
const stamp = join(venvDir, "mcp-proxy-wasm.json");
/**
 * mcp-server-fetch extracts pages with readabilipy, whose JavaScript part (Readability.js on jsdom, run with `node`)
 * has no lockfile: on first use it runs `npm install`, which takes the newest jsdom. jsdom 31 needs Node 22, so on Node
 * 20 every HTML fetch then fails ("Error executing tool fetch"). Installed here, pinned, before any server runs.
 */
const READABILIPY_NODE_PACKAGES = { jsdom: "29.1.1", "@mozilla/readability": "0.6.0", minimist: "1.2.8" };
const READABILIPY_NODE_MODULES = `
import os, subprocess, sys, readabilipy
js = os.path.join(os.path.dirname(readabilipy.__file__), "javascript")
subprocess.run([sys.argv[1], "install", "--no-audit", "--no-fund", *sys.argv[2:]], cwd=js, check=True, stdout=subprocess.DEVNULL)
`;
/** What the stamp records once everything below is in place. */
const INSTALLED = { packages: PYTHON_PACKAGES, readabilipyNodePackages: READABILIPY_NODE_PACKAGES };

const pins = () => Object.entries(PYTHON_PACKAGES).map(([name, version]) => `${name}==${version}`);

/**
 * A Python 3.10 or later to create the environment with: $MCP_PYTHON, else the first of python3, python3.13 ...
 * python3.10, python that is recent enough (a machine's python3 may be older than its python3.12).
 */
function basePython() {
  const wanted = `import sys; sys.exit(0 if sys.version_info[:2] >= (${MIN_PYTHON.join(", ")}) else 1)`;
  const candidates = process.env.MCP_PYTHON
    ? [process.env.MCP_PYTHON]
    : ["python3", "python3.13", "python3.12", "python3.11", "python3.10", "python"];
  const found = candidates.find((candidate) => spawnSync(candidate, ["-c", wanted], { stdio: "ignore" }).status === 0);
  if (!found) {
    throw new Error(
      `Python ${MIN_PYTHON.join(".")} or later is needed for the Python MCP servers and SDK (tried ${candidates.join(", ")}); ` +
        "install one, or set MCP_PYTHON to its path",
    );
  }
  return found;
}

/** Whether .venv-mcp/ holds the pinned packages already (ensurePythonVenv() then returns at once). */
export function pythonVenvReady() {
  if (!existsSync(stamp) || !existsSync(venvPython)) return false;
  try {
    return JSON.stringify(JSON.parse(readFileSync(stamp, "utf8"))) === JSON.stringify(INSTALLED);
  } catch {
    return false;
  }
}

function run(command, args) {
  const result = spawnSync(command, args, { encoding: "utf8" });
  if (result.status !== 0) {
    throw new Error(
      `${command} ${args.join(" ")} failed (${result.error?.message ?? result.signal ?? `exit ${result.status}`}):\n` +
        `${(result.stderr || result.stdout || "").trim().split("\n").slice(-20).join("\n")}`,
    );
  }
}

/**
 * Creates or updates .venv-mcp/ with the pinned packages unless it already holds them; returns its bin directory.
 * A changed pin reinstalls into the same environment (pip replaces what differs); one that cannot be repaired (its
 * Python gone) is made anew. The stamp is written last, so an interrupted install is redone next time. Test files
 * running in parallel on a fresh clone may all ask at once: one installs, the others wait for it (withLock).
 */
export function ensurePythonVenv() {
  if (pythonVenvReady()) return venvBin;
  return withLock(() => {
    if (pythonVenvReady()) return venvBin; // another process installed it while we waited
    rmSync(stamp, { force: true });
    const python = basePython();
    if (!existsSync(venvPython) || spawnSync(venvPython, ["--version"], { stdio: "ignore" }).status !== 0) {
      rmSync(venvDir, { recursive: true, force: true });
      run(python, ["-m", "venv", venvDir]);
    }
    run(venvPython, ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", ...pins()]);
    run(venvPython, [
      "-c",
      READABILIPY_NODE_MODULES,
      NPM,
      ...Object.entries(READABILIPY_NODE_PACKAGES).map(([name, version]) => `${name}@${version}`),
    ]);
    writeFileSync(stamp, JSON.stringify(INSTALLED, null, 2) + "\n");
    return venvBin;
  });
}

const lockDir = `${venvDir}.lock`;
/** Longer than any install takes: a lock this old was left by a process that died, and is taken over. */
const STALE_LOCK_MS = 20 * 60_000;

/** Runs `work` holding .venv-mcp.lock (an atomic mkdir), waiting for another holder to finish first. */
function withLock(work) {
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    try {
      mkdirSync(lockDir);
      break;
    } catch (error) {
      if (error.code !== "EEXIST") throw error;
      const age = Date.now() - (statSync(lockDir, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > STALE_LOCK_MS) rmSync(lockDir, { recursive: true, force: true });
      else Atomics.wait(sleeper, 0, 0, 500); // a synchronous sleep: callers expect the environment on return
    }
  }
  try {
    return work();
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
}

/** The installed version of each pinned package, as pip reports it (to show what actually runs). */
export function installedVersions() {
  const script =
    "import importlib.metadata as m, json, sys; print(json.dumps({n: m.version(n) for n in sys.argv[1:]}))";
  const result = spawnSync(venvPython, ["-c", script, ...Object.keys(PYTHON_PACKAGES)], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`cannot read the versions in ${venvDir}: ${result.stderr}`);
  return JSON.parse(result.stdout);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  try {
    const started = Date.now();
    const bin = ensurePythonVenv();
    if (process.argv.includes("--bin")) {
      console.log(bin);
    } else {
      const python = spawnSync(venvPython, ["--version"], { encoding: "utf8" }).stdout.trim();
      console.log(`${venvDir} (${python}, ready in ${((Date.now() - started) / 1000).toFixed(1)} s):`);
      for (const [name, version] of Object.entries(installedVersions())) console.log(`  ${name} ${version}`);
    }
  } catch (error) {
    console.error(`scripts/python.mjs: ${error.message}`);
    process.exit(1);
  }
}
