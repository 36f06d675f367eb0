#!/usr/bin/env node
// The Node.js releases besides the machine's own that the project is tested on (tests/e2e/ecosystem/node-versions.test.ts):
// the npm registry's `node` package at a pinned version per major line, which brings that release's official binary
// (its install step adds the matching node-<os>-<arch> package). Each is installed with npm into a cache outside the
// clone, ~/.cache/mcp-proxy-wasm/node/VERSION/ ($XDG_CACHE_HOME is honoured), never into the project's
// node_modules, and nothing on the machine's PATH changes. A directory is complete once renamed into place, so an
// interrupted install is redone next time.
//   node scripts/node-versions.mjs           installs what is missing; prints each release's binary and version
//   node scripts/node-versions.mjs --path 22 prints the binary of major line 22 (installs it first)
import { spawnSync } from "node:child_process";
import { NPM } from "./npm.mjs";
import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { cacheDir } from "./cache.mjs";

/**
 * Node 20 reached its end of life on 2026-04-30; users run 22 or 24. The newest release of each line the npm registry
 * served when pinned (2026-12). The machine's own Node (20 on the project's machines) is the third one tested.
 */
export const NODE_VERSIONS = { 22: "22.23.3", 24: "24.21.0" };

const nodeDir = (version) => join(cacheDir, "node", version);
const binaryIn = (dir) => join(dir, "node_modules", "node", "bin", "node");

/** `node --version` of a binary, without the "v". */
export function versionOf(binary) {
  const run = spawnSync(binary, ["--version"], { encoding: "utf8" });
  return run.status === 0 ? run.stdout.trim().replace(/^v/, "") : null;
}

/** Installs node@VERSION of major line `major` into the cache unless there; returns its binary. */
export function nodeBinary(major) {
  const version = NODE_VERSIONS[major];
  if (!version) throw new Error(`no pinned Node ${major}: one of ${Object.keys(NODE_VERSIONS).join(", ")}`);
  const dir = nodeDir(version);
  if (versionOf(binaryIn(dir)) === version) return binaryIn(dir);
  const partial = `${dir}.partial`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  // The package's install script fetches the platform binary: scripts must run, whatever the user's npm config says.
  const args = [
    "install",
    "--prefix",
    partial,
    "--ignore-scripts=false",
    "--no-audit",
    "--no-fund",
    "--loglevel=error",
    `node@${version}`,
  ];
  const run = spawnSync(NPM, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  const installed = versionOf(binaryIn(partial));
  if (run.status !== 0 || installed !== version) {
    throw new Error(
      `npm ${args.join(" ")} did not give Node ${version} (exit ${run.status}, got ${installed ?? "no binary"}):\n` +
        `${(run.stderr || run.stdout || run.error?.message || "").trim()}`,
    );
  }
  rmSync(dir, { recursive: true, force: true });
  renameSync(partial, dir);
  return binaryIn(dir);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  try {
    const at = process.argv.indexOf("--path");
    if (at >= 0) {
      console.log(nodeBinary(process.argv[at + 1]));
    } else {
      for (const major of Object.keys(NODE_VERSIONS)) {
        const binary = nodeBinary(major);
        console.log(`Node ${major}: ${versionOf(binary)} at ${binary}`);
      }
    }
  } catch (error) {
    console.error(`scripts/node-versions.mjs: ${error.message}`);
    process.exit(1);
  }
}
