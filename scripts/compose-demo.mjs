#!/usr/bin/env node
// The compose demo for real: docker-compose.yml as shipped, up in a container engine on this machine, driven from the
// host with the MCP SDK client, then torn down. Run as root on a Debian-like Linux (`npm run compose-demo`; CI runs
// it from .ci/run). No image registry is reachable, so the public images the shipped files name are replaced by
// local stand-ins with the same names (scripts/compose/images.mjs); everything else is the user's path:
// `npm run build && docker compose up` in the repository root.
//
// Steps: build the filter if needed; install Debian's docker.io, docker-compose (and debootstrap) if missing; make
// the Debian base image unless cached (~/.cache/mcp-proxy-wasm/compose/); start a dockerd of our own
// (scripts/compose/engine.mjs); build the stand-ins; `docker-compose up -d` (which builds sidecar/Dockerfile); wait
// until every route answers; then the checks below; then `docker-compose down`, stop the daemon, remove its
// directory and bridge and put back what it changed on the host. Ctrl-C tears down too. Every command's output goes
// to build/compose-demo.log.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { cleanUpInterruptedRun, ensureEngine, RUN_DIR, startEngine, stopEngine } from "./compose/engine.mjs";
import { baseCached, buildStandIns, ensureBaseTarball, shippedImages } from "./compose/images.mjs";
import { appendLog, capture, killRunning, logTo, runLogged, say } from "./compose/run.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const PROJECT = "mcp-proxy-wasm-demo";
/** Where docker-compose.yml publishes Envoy's listener, as its header tells users. */
const GATEWAY = { host: "127.0.0.1", port: 10000 };
const WASM_IMAGE = "mcp-proxy-wasm/filter:compose-demo";

/** The MCP servers envoy/envoy.yaml serves: the filter's configuration, as the compose file mounts it. */
function servers() {
  const envoy = parse(readFileSync(join(root, "envoy/envoy.yaml"), "utf8"));
  const filter = envoy.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.http_filters.find(
    (f) => f.name === "envoy.filters.http.wasm",
  );
  return JSON.parse(filter.typed_config.config.configuration.value).servers;
}

let env = null;
let compose = null;
const timings = [];

async function step(what, action) {
  const started = Date.now();
  say(`${what}...`);
  const result = await action();
  const seconds = Math.round((Date.now() - started) / 1000);
  timings.push(`${what}: ${seconds} s`);
  say(`${what}: done in ${seconds} s`);
  return result;
}

function portFree({ host, port }) {
  return new Promise((resolve) => {
    const server = net.createServer().once("error", () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

async function connect(path, options = {}) {
  const client = new Client({ name: "compose-demo", version: "1.0.0" });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`http://${GATEWAY.host}:${GATEWAY.port}${path}`)),
    options,
  );
  return client;
}

/**
 * Until every route lists tools (the sidecar and backends start after Envoy), or fails with the last error. Each try
 * is bounded by 10 s: a request sent in the instant Envoy starts listening can be lost between Docker's userland
 * proxy and Envoy (Envoy shows no such request), and would otherwise wait for the SDK's 60 s default.
 */
async function waitForRoutes(timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  const tryFor = { timeout: 10_000 };
  for (const { pathPrefix } of servers()) {
    for (;;) {
      try {
        const client = await connect(pathPrefix, tryFor);
        await client.listTools(undefined, tryFor);
        await client.close();
        break;
      } catch (error) {
        if (Date.now() > deadline)
          throw new Error(`${pathPrefix} did not answer within ${timeoutMs / 1000} s: ${error.message}`);
        appendLog(`${new Date().toISOString()} ${pathPrefix} not ready: ${error.message}\n`);
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  }
}

let tornDown = null;
/** Once, whether from `after` or a signal: compose down, the daemon stopped, the host's state put back. */
function tearDown() {
  tornDown ??= (async () => {
    killRunning();
    try {
      if (compose) {
        await step("docker-compose down", () =>
          compose(["down", "--remove-orphans", "--volumes", "--timeout", "10"], 5 * 60_000),
        );
        const ofProject = ["--filter", `label=com.docker.compose.project=${PROJECT}`];
        const containers = capture("docker", ["ps", "--all", "--quiet", ...ofProject], { env }).trim();
        const networks = capture("docker", ["network", "ls", "--quiet", ...ofProject], { env }).trim();
        assert.equal(containers, "", "containers left after docker-compose down");
        assert.equal(networks, "", "networks left after docker-compose down");
      }
    } finally {
      if (env) {
        const report = await step("stopping the daemon, putting the host back", stopEngine);
        say(`undone: ${report.undone.join("; ")}`);
        if (report.left.length > 0) say(`left: ${report.left.join("; ")}`);
      }
      say(`timings: ${timings.join(", ")}`);
    }
  })();
  return tornDown;
}

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.once(signal, () => {
    say(`${signal}: tearing down`);
    tearDown()
      .catch((error) => console.error(error))
      .finally(() => process.exit(130));
  });
}

before(
  async () => {
    assert.equal(process.platform, "linux", "the compose demo runs Linux containers on Linux");
    assert.equal(process.getuid(), 0, "the compose demo starts dockerd: run it as root");
    const log = logTo(join(root, "build/compose-demo.log"));
    say(`every command's output: ${log}`);
    const images = shippedImages();
    await cleanUpInterruptedRun();
    assert.ok(
      await portFree(GATEWAY),
      `docker-compose.yml publishes ${GATEWAY.host}:${GATEWAY.port} but something listens there (npm start?): stop it`,
    );
    await step("filter (node scripts/build.mjs --if-needed --filter-only)", () =>
      runLogged("node", ["scripts/build.mjs", "--if-needed", "--filter-only"], { cwd: root, timeoutMs: 10 * 60_000 }),
    );
    await step("engine", () => ensureEngine({ needDebootstrap: !baseCached() }));
    await step("Debian base image", ensureBaseTarball);
    env = await step("dockerd", startEngine);
    await step(`stand-ins for ${images.envoy} and ${images.node}`, () => buildStandIns(env, images));
    compose = (args, timeoutMs) =>
      runLogged("docker-compose", ["--project-name", PROJECT, "--file", "docker-compose.yml", ...args], {
        env,
        cwd: root,
        timeoutMs,
      });
    // Builds sidecar/Dockerfile (npm ci from the registry inside the build) for the three services that run it.
    await step("docker-compose up -d", () => compose(["up", "--detach"], 30 * 60_000));
    await step("routes answering", () =>
      waitForRoutes(180_000).catch(async (error) => {
        const logs = await compose(["logs", "--no-color", "--tail", "30"], 60_000).catch((e) => e.message);
        throw new Error(`${error.message}\nThe containers' last output:\n${logs}`);
      }),
    );
  },
  { timeout: 60 * 60_000 },
);

after(tearDown, { timeout: 10 * 60_000 });

/**
 * The calls the demo makes on a route whose allowTools has the tool: its arguments and what the answer must show.
 * Every route must have at least one, so a server added to envoy.yaml gets a call here too.
 */
const CALLS = {
  echo: { arguments: { message: "through the compose demo" }, expect: /through the compose demo/ },
  "get-sum": { arguments: { a: 19, b: 23 }, expect: /42/ },
  get_current_time: { arguments: { timezone: "UTC" }, expect: /UTC/ },
};
/** A real server-everything tool that every route's allowTools leaves out (it dumps the server's environment). */
const REFUSED = "get-env";

for (const server of servers()) {
  test(`${server.pathPrefix}: an SDK client from the host lists and calls tools, under the allowTools policy`, async () => {
    const calls = server.allowTools.filter((name) => name in CALLS);
    assert.ok(calls.length > 0, `no call for ${server.pathPrefix} (allowTools ${server.allowTools}): add one to CALLS`);
    assert.ok(!server.allowTools.includes(REFUSED));
    const client = await connect(server.pathPrefix);
    try {
      const names = (await client.listTools()).tools.map((tool) => tool.name).sort();
      say(`${server.pathPrefix} lists ${names.join(", ")}`);
      assert.deepEqual(names, [...server.allowTools].sort());
      for (const name of calls) {
        const result = await client.callTool({ name, arguments: CALLS[name].arguments });
        const text = JSON.stringify(result.content);
        say(`${server.pathPrefix} ${name}(${JSON.stringify(CALLS[name].arguments)}) -> ${text.slice(0, 200)}`);
        assert.ok(!result.isError, `${name}: ${text}`);
        assert.match(text, CALLS[name].expect, name);
      }
      // The filter, not only Envoy, is in the path: a tool outside allowTools is refused.
      await assert.rejects(client.callTool({ name: REFUSED, arguments: {} }), /not allowed/i);
    } finally {
      await client.close();
    }
  });
}

test("a 16 s tool call completes on every route that offers one (Envoy's 15 s default route timeout is raised in envoy.yaml)", async () => {
  const long = servers().filter((s) => s.allowTools.includes("trigger-long-running-operation"));
  assert.ok(long.length > 0, "no route offers trigger-long-running-operation");
  await Promise.all(
    long.map(async ({ pathPrefix }) => {
      const client = await connect(pathPrefix);
      try {
        const result = await client.callTool({
          name: "trigger-long-running-operation",
          arguments: { duration: 16, steps: 2 },
        });
        assert.match(JSON.stringify(result.content), /completed/i, `${pathPrefix}: ${JSON.stringify(result)}`);
      } finally {
        await client.close();
      }
    }),
  );
});

test(`the listener is published on ${GATEWAY.host}:${GATEWAY.port} only, not on every interface`, () => {
  // /proc/net/tcp{,6}: local address and port in hex, state 0A = listening.
  const hexPort = GATEWAY.port.toString(16).toUpperCase().padStart(4, "0");
  const listening = ["/proc/net/tcp", "/proc/net/tcp6"]
    .flatMap((file) => readFileSync(file, "utf8").split("\n").slice(1))
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f[3] === "0A" && f[1]?.endsWith(`:${hexPort}`))
    .map((f) => f[1].split(":")[0]);
  assert.deepEqual(listening, ["0100007F"], `listeners on port ${GATEWAY.port}: ${listening}`);
});

test("envoy/wasm-image/Dockerfile builds an image whose single layer holds the filter as plugin.wasm", async () => {
  await runLogged("docker", ["build", "--file", "envoy/wasm-image/Dockerfile", "--tag", WASM_IMAGE, "."], {
    env,
    cwd: root,
    timeoutMs: 5 * 60_000,
  });
  const saved = join(RUN_DIR, "wasm-image");
  mkdirSync(saved, { recursive: true });
  await runLogged("docker", ["save", "--output", `${saved}.tar`, WASM_IMAGE], { env, timeoutMs: 5 * 60_000 });
  capture("tar", ["-xf", `${saved}.tar`, "-C", saved]);
  const [manifest] = JSON.parse(readFileSync(join(saved, "manifest.json"), "utf8"));
  assert.deepEqual(manifest.RepoTags, [WASM_IMAGE]);
  // Istio's fetcher reads the last layer of a Docker-format image and takes its entry named plugin.wasm: ours has
  // one layer holding only that.
  assert.equal(manifest.Layers.length, 1, `layers: ${manifest.Layers}`);
  const layer = join(saved, manifest.Layers[0]);
  assert.deepEqual(capture("tar", ["-tf", layer]).split("\n").filter(Boolean), ["plugin.wasm"]);
  capture("tar", ["-xf", layer, "-C", saved, "plugin.wasm"]);
  const sha256 = (path) => createHash("sha256").update(readFileSync(path)).digest("hex");
  const digest = sha256(join(saved, "plugin.wasm"));
  assert.equal(digest, sha256(join(root, "build/mcp-proxy.wasm")), "plugin.wasm differs from build/mcp-proxy.wasm");
  say(
    `${WASM_IMAGE}: one layer holding plugin.wasm, identical to build/mcp-proxy.wasm (sha256 ${digest.slice(0, 12)})`,
  );
});
