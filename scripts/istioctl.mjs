#!/usr/bin/env node
// Finds or builds the istioctl that checks the Istio manifests (scripts/validate-manifests.mjs). Istio publishes
// its binaries outside the package registries this project may use, so it is built from its Go module with the Go
// toolchain: 8 to 13 minutes and 2.4 GB of memory on 2 cores, with 2.8 GB of Go caches. The binary is cached
// outside the clone, in ~/.cache/mcp-proxy-wasm/istioctl/VERSION/ ($XDG_CACHE_HOME is honoured), so a fresh clone
// on the same machine reuses it; the Go caches used for the build are removed once it succeeded. `ISTIOCTL` names
// an istioctl of your own instead (then its version, not ours, is what the checks ran with).
//   node scripts/istioctl.mjs           builds istioctl unless cached; prints its path
//   node scripts/istioctl.mjs --cached  prints the path if it is there already, else exits 1 without building
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { cacheDir } from "./cache.mjs";

/**
 * The Go module proxy serves no release of istio.io/istio (its tags have no "v"), only pseudo-versions of a few
 * branch heads, none at a release tag's commit. This one, what `@latest` resolves to, is the release-1.31 branch on
 * 2026-08-27, after 1.31.0-rc.0 (its VERSION file says 1.31; istio.io/api v1.31.0-rc.0). The release-1.30 branch
 * head it also lists (v0.0.0-20260826214018-9739e10eb9d7, after 1.30.3) does not build from it: the proxy lacks
 * that snapshot's istio.io/api, istio.io/client-go and go-control-plane versions.
 */
export const ISTIO = {
  module: "istio.io/istio",
  version: "v0.0.0-20260827124520-eed52ebb66ad",
  describe: "Istio 1.31 (release-1.31 branch at eed52ebb66ad, 2026-08-27, after 1.31.0-rc.0)",
};

const binDir = join(cacheDir, "istioctl", ISTIO.version);
const goDir = join(cacheDir, "go");

/** The istioctl to run: $ISTIOCTL, else the cached build; null when neither is there. */
export function cachedIstioctl() {
  if (process.env.ISTIOCTL) return process.env.ISTIOCTL;
  const binary = join(binDir, "istioctl");
  return existsSync(binary) ? binary : null;
}

/** Whether the Go toolchain is on PATH (without it istioctl cannot be built here). */
export function haveGo() {
  return spawnSync("go", ["version"], { stdio: "ignore" }).status === 0;
}

function go(args, env) {
  console.error(`istioctl: go ${args.join(" ")}`);
  const run = spawnSync("go", args, { stdio: ["ignore", "inherit", "inherit"], env: { ...process.env, ...env } });
  if (run.status !== 0)
    throw new Error(`go ${args.join(" ")} failed (${run.error?.message ?? run.signal ?? `exit ${run.status}`})`);
}

/**
 * Builds istioctl into the cache unless there, and returns its path. `go install` writes into a directory beside
 * the final one, renamed when complete, so an interrupted build never leaves a binary that looks cached.
 */
export function ensureIstioctl() {
  const found = cachedIstioctl();
  if (found) return found;
  if (!haveGo())
    throw new Error("istioctl is not cached and the Go toolchain (go) is not on PATH to build it; or set ISTIOCTL");
  const partial = `${binDir}.partial`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  // The build's own GOPATH and caches, so removing them afterwards touches nothing else of the user's; a failed
  // build keeps them, and a retry resumes from them.
  const env = {
    GOBIN: partial,
    GOPATH: goDir,
    GOMODCACHE: join(goDir, "mod"),
    GOCACHE: join(goDir, "build"),
    GOFLAGS: "-modcacherw -trimpath",
  };
  console.error(
    `istioctl: building ${ISTIO.describe} into ${binDir} (8 to 13 minutes on 2 cores; Go caches in ${goDir})`,
  );
  const started = Date.now();
  go(["install", `${ISTIO.module}/istioctl/cmd/istioctl@${ISTIO.version}`], env);
  rmSync(binDir, { recursive: true, force: true });
  renameSync(partial, binDir);
  console.error(
    `istioctl: built in ${Math.round((Date.now() - started) / 1000)} s; removing the Go caches in ${goDir}`,
  );
  rmSync(goDir, { recursive: true, force: true });
  return join(binDir, "istioctl");
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  try {
    if (process.argv.includes("--cached")) {
      const found = cachedIstioctl();
      if (!found) {
        console.error(`istioctl: not cached in ${binDir} (run node scripts/istioctl.mjs to build it)`);
        process.exit(1);
      }
      console.log(found);
    } else {
      console.log(ensureIstioctl());
    }
  } catch (error) {
    console.error(`scripts/istioctl.mjs: ${error.message}`);
    process.exit(1);
  }
}
