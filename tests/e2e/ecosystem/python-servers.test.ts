// The reference Python MCP servers from PyPI (mcp-server-time, mcp-server-git, mcp-server-fetch; pinned and installed
// into .venv-mcp/ by scripts/python.mjs, as a user's `uvx`/`pip` would run them) behind the sidecar, reached through
// Envoy + filter. Each server's tools are listed and called under an allowTools policy, and each runs a child per
// session (the sidecar's default "session" mode). The time and git servers take part of their child's environment
// from the calling user's header (envFromHeaders, with that header in the filter's forwardHeaders so the filter keeps
// a backend session per user): each user sees only what their own child was started with. One Envoy worker, so the
// children can be counted.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { own } from "../../helpers/harness.ts";
import { closedPort, listenUntilEnd } from "../../helpers/upstream.ts";
import { startTestSidecar } from "../../sidecar/helpers.ts";
import { connected, pythonServer, runPythonClient } from "../../python/harness.ts";
import { connectClient, startGateway } from "../../helpers/gateway.ts";

const USER = "x-mcp-user";
const TIMEZONE = "x-user-timezone";
// Each forwarded header that is not trace context is part of the identity the filter keys backend sessions by.
const forwardHeaders = ["traceparent", "tracestate", "baggage", "x-request-id", USER, TIMEZONE];

interface PythonServer {
  name: string;
  entry: Record<string, unknown>;
  allowTools: string[];
}

/** The sidecar running `servers`, and Envoy + filter serving each at /mcp/NAME (stdio transport, one worker). */
async function pythonGateway(t: TestContext, servers: PythonServer[]) {
  const sidecar = await own(
    t,
    startTestSidecar({ mcpServers: Object.fromEntries(servers.map((s) => [s.name, s.entry])) }),
  );
  // A Python child takes seconds to start on a loaded machine: well above the default 5 s per call.
  const filterServers = servers.map(({ name, allowTools }) => ({
    name,
    pathPrefix: `/mcp/${name}`,
    cluster: "sidecar",
    transport: "stdio",
    timeout: 60_000,
    allowTools,
  }));
  const { url } = await startGateway(t, {
    concurrency: 1,
    pluginConfig: { forwardHeaders, servers: filterServers },
    clusters: { sidecar: sidecar.port },
  });
  return { url, sidecar };
}

async function spawnsOf(sidecar: { url: string }, server: string): Promise<number> {
  const stats = (await (await fetch(`${sidecar.url}/stats`)).json()) as Record<string, { spawns: number }>;
  return stats[server].spawns;
}

const text = (result: unknown) => (result as { content: { text: string }[] }).content.map((c) => c.text).join("\n");
const toolNames = async (client: Client) => (await client.listTools()).tools.map((tool) => tool.name).sort();

test(
  "mcp-server-time: listed and called under allowTools; each user's child runs in that user's TZ (envFromHeaders)",
  { timeout: 300_000 },
  async (t) => {
    const { url, sidecar } = await pythonGateway(t, [
      {
        name: "time",
        allowTools: ["get_current_time"],
        entry: pythonServer("mcp-server-time", [], { envFromHeaders: { TZ: TIMEZONE } }),
      },
    ]);
    const users = { alice: "Asia/Tokyo", bob: "America/New_York" };
    for (const round of [1, 2]) {
      for (const [user, zone] of Object.entries(users)) {
        const client = await connectClient(t, url, { [USER]: user, [TIMEZONE]: zone }, "/mcp/time");
        const { tools } = await client.listTools();
        assert.deepEqual(
          tools.map((tool) => tool.name),
          ["get_current_time"],
          "convert_time is not in allowTools",
        );
        // The server names its local timezone (tzlocal reads TZ) in the argument's description.
        const { timezone } = tools[0].inputSchema.properties as Record<string, { description: string }>;
        assert.match(timezone.description, new RegExp(`Use '${zone}' as local timezone`), `${user}, round ${round}`);
        const now = await client.callTool({ name: "get_current_time", arguments: { timezone: zone } });
        assert.equal(now.isError, false, text(now));
        assert.equal((now.structuredContent as { timezone: string }).timezone, zone);
        // The server's own error path, through the gateway: a tool error, not a protocol error.
        const bad = await client.callTool({ name: "get_current_time", arguments: { timezone: "Mars/Olympus_Mons" } });
        assert.equal(bad.isError, true);
        assert.match(text(bad), /Invalid timezone/);
        await assert.rejects(
          client.callTool({
            name: "convert_time",
            arguments: { source_timezone: zone, time: "12:00", target_timezone: "UTC" },
          }),
          /Tool not allowed: convert_time/,
        );
      }
    }
    // One warm child per user, kept across their connections (not one per request, not one shared by both).
    assert.equal(await spawnsOf(sidecar, "time"), 2);
  },
);

function git(repo: string, ...args: string[]): string {
  return execFileSync("git", ["-C", repo, ...args], {
    encoding: "utf8",
    env: { ...process.env, GIT_CONFIG_GLOBAL: "/dev/null", GIT_CONFIG_NOSYSTEM: "1" },
  }).trim();
}

/** A repository with one commit by its owner and two new files for the users to commit. */
function gitRepository(t: TestContext): string {
  const repo = mkdtempSync(join(tmpdir(), "mcp-git-"));
  t.after(() => rmSync(repo, { recursive: true, force: true }));
  git(repo, "init", "--quiet", "--initial-branch=main");
  git(repo, "config", "user.name", "Repo Owner");
  git(repo, "config", "user.email", "owner@example.com");
  writeFileSync(join(repo, "README.md"), "test repository\n");
  git(repo, "add", "README.md");
  git(repo, "commit", "--quiet", "-m", "initial");
  writeFileSync(join(repo, "alice.txt"), "from alice\n");
  writeFileSync(join(repo, "bob.txt"), "from bob\n");
  return repo;
}

test(
  "mcp-server-git on a repository the test made: status, add, commit and log through the gateway, each commit by its own user",
  { timeout: 300_000 },
  async (t) => {
    const repo = gitRepository(t);
    const { url, sidecar } = await pythonGateway(t, [
      {
        name: "git",
        allowTools: ["git_status", "git_add", "git_commit", "git_log"],
        entry: pythonServer("mcp-server-git", ["--repository", repo], {
          envFromHeaders: { GIT_AUTHOR_NAME: USER, GIT_COMMITTER_NAME: USER },
        }),
      },
    ]);
    const alice = await connectClient(t, url, { [USER]: "alice" }, "/mcp/git");
    const bob = await connectClient(t, url, { [USER]: "bob" }, "/mcp/git");
    assert.deepEqual(await toolNames(alice), ["git_add", "git_commit", "git_log", "git_status"]);

    const status = await alice.callTool({ name: "git_status", arguments: { repo_path: repo } });
    assert.match(text(status), /alice\.txt/);
    for (const [client, user] of [
      [alice, "alice"],
      [bob, "bob"],
    ] as const) {
      const added = await client.callTool({ name: "git_add", arguments: { repo_path: repo, files: [`${user}.txt`] } });
      assert.equal(added.isError, false, text(added));
      if (user === "bob") {
        // A tool outside allowTools never reaches the server: bob's staged file stays staged.
        await assert.rejects(
          alice.callTool({ name: "git_reset", arguments: { repo_path: repo } }),
          /Tool not allowed: git_reset/,
        );
      }
      const committed = await client.callTool({
        name: "git_commit",
        arguments: { repo_path: repo, message: `${user}'s change` },
      });
      assert.match(text(committed), /Changes committed successfully/);
    }
    // Each commit carries the name its committer's child got from that user's header; the owner's stays as it was.
    assert.deepEqual(
      git(repo, "log", "--format=%an|%cn|%s", "--name-only")
        .split("\n")
        .filter((l) => l),
      [
        "bob|bob|bob's change",
        "bob.txt",
        "alice|alice|alice's change",
        "alice.txt",
        "Repo Owner|Repo Owner|initial",
        "README.md",
      ],
    );
    const log = await bob.callTool({ name: "git_log", arguments: { repo_path: repo, max_count: 2 } });
    assert.match(text(log), /Author: bob[\s\S]*Author: alice/);
    // The server's own guard (--repository), through the gateway: a tool error naming the allowed repository.
    const outside = await alice.callTool({ name: "git_status", arguments: { repo_path: tmpdir() } });
    assert.equal(outside.isError, true);
    assert.match(text(outside), /outside the allowed repository/);
    assert.equal(await spawnsOf(sidecar, "git"), 2, "one child per user");
  },
);

/** An HTTP server on 127.0.0.1 with one page; records the paths asked for. */
async function loopbackSite(t: TestContext) {
  const paths: string[] = [];
  const server = createServer((req, res) => {
    paths.push(req.url ?? "");
    if (req.url !== "/page") return void res.writeHead(404).end();
    res
      .writeHead(200, { "content-type": "text/html" })
      .end(
        "<html><head><title>Loopback</title></head><body><article><h1>Served on loopback</h1>" +
          "<p>This page never left the machine: it is served to mcp-server-fetch from 127.0.0.1 during the test.</p></article></body></html>",
      );
  });
  const port = await listenUntilEnd(t, server);
  return { url: `http://127.0.0.1:${port}`, paths };
}

test(
  "mcp-server-fetch (no network here): private addresses refused by default; on loopback, a closed port is a tool error and a page is fetched",
  { timeout: 300_000 },
  async (t) => {
    const site = await loopbackSite(t);
    const { url } = await pythonGateway(t, [
      { name: "fetch", allowTools: ["fetch"], entry: pythonServer("mcp-server-fetch") },
      {
        name: "fetch-loopback",
        allowTools: ["fetch"],
        entry: pythonServer("mcp-server-fetch", ["--allow-private-ips", "--ignore-robots-txt"]),
      },
    ]);
    // The Python SDK client this time, in its default mode, for both servers in one process.
    const [guarded, loopback] = (
      await runPythonClient([
        { url: `${url}/mcp/fetch`, calls: [{ name: "fetch", arguments: { url: `${site.url}/page` } }] },
        {
          url: `${url}/mcp/fetch-loopback`,
          calls: [
            { name: "fetch", arguments: { url: `http://127.0.0.1:${await closedPort()}/page` } },
            { name: "fetch", arguments: { url: `${site.url}/page` } },
            { name: "fetch_everything", arguments: {} },
          ],
        },
      ])
    ).map(connected);
    assert.deepEqual(
      guarded.tools.map((tool) => tool.name),
      ["fetch"],
    );
    const refused = guarded.calls[0].result!;
    assert.equal(refused.isError, true);
    assert.match(refused.content[0].text, /--allow-private-ips/);
    const [closed, fetched, unknown] = loopback.calls;
    assert.equal(closed.result!.isError, true);
    assert.match(closed.result!.content[0].text, /Failed to fetch/);
    assert.equal(fetched.result!.isError, false, JSON.stringify(fetched));
    assert.match(fetched.result!.content[0].text, /This page never left the machine/);
    assert.deepEqual(unknown.error, { code: -32602, message: "Tool not allowed: fetch_everything" });
    // The refused fetch never reached the site: only the loopback server's one fetch did.
    assert.deepEqual(site.paths, ["/page"]);
  },
);
