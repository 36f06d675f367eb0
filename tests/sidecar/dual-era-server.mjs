#!/usr/bin/env node
// A stdio MCP server on the 2.x SDK for the sidecar's protocol tests: `dual-era-server.mjs [--era dual|2026]`.
// "dual" serves whichever era the connection opens with (the sidecar opens with `initialize`, so it gets a 2025
// server); "2026" refuses a 2025 opening, as a server that speaks only 2026-07-28 does.
// Tools that need the client (elicitation, sampling, roots) return `inputRequired(...)`: on 2026-07-28 that is the
// multi-round-trip result, on a 2025 connection the SDK sends real requests to the client and re-enters the tool.
import { watch, writeFileSync } from "node:fs";
import { access } from "node:fs/promises";
import { basename, dirname } from "node:path";
import { parseArgs } from "node:util";
import { McpServer, fromJsonSchema, inputRequired, inputResponse } from "@modelcontextprotocol/server";
import { serveStdio } from "@modelcontextprotocol/server/stdio";

const { values } = parseArgs({ options: { era: { type: "string", default: "dual" } } });
const WATCHED = "fixture://watched";
const text = (value) => ({
  content: [{ type: "text", text: typeof value === "string" ? value : JSON.stringify(value) }],
});
const schema = (properties = {}, required = []) => fromJsonSchema({ type: "object", properties, required });

/** Resolves once `path` exists: the test creates it when it has seen what the tool sent before. */
async function fileAppears(path) {
  let done;
  const appeared = new Promise((resolve) => {
    done = resolve;
  });
  const watcher = watch(dirname(path), (_event, name) => {
    if (name === basename(path)) done();
  });
  try {
    // Created before the watcher started: no event will come for it.
    await access(path).then(done, () => {});
    await appeared;
  } finally {
    watcher.close();
  }
}

function createServer({ era }) {
  const mcp = new McpServer(
    { name: "dual-era-fixture", version: "1.0.0" },
    {
      capabilities: { tools: { listChanged: true }, resources: { subscribe: true, listChanged: true }, logging: {} },
    },
  );
  mcp.registerTool(
    "echo",
    { description: "Echoes text", inputSchema: schema({ text: { type: "string" } }) },
    async ({ text: value }) => text(value),
  );
  mcp.registerTool("env", { description: "The process environment", inputSchema: schema() }, async () =>
    text(process.env),
  );
  mcp.registerTool("era", { description: "The era this server speaks", inputSchema: schema() }, async () => text(era));
  // Its argument is mirrored into the Mcp-Param-Region header by 2026-07-28 HTTP clients.
  mcp.registerTool(
    "region",
    {
      description: "Echoes a region",
      inputSchema: schema({ region: { type: "string", "x-mcp-header": "Region" } }),
    },
    async ({ region }) => text(`region ${region ?? "none"}`),
  );

  // Progress first, then the result only once the test says it has seen the progress (a file it creates).
  mcp.registerTool(
    "progress-then-wait",
    {
      description: "Reports progress, waits for a file, answers",
      inputSchema: schema({ releaseFile: { type: "string" } }, ["releaseFile"]),
    },
    async ({ releaseFile }, ctx) => {
      const progressToken = ctx.mcpReq._meta?.progressToken;
      if (progressToken !== undefined) {
        await ctx.mcpReq.notify({
          method: "notifications/progress",
          params: { progressToken, progress: 1, total: 2, message: "half way" },
        });
      }
      await fileAppears(releaseFile);
      return text("released");
    },
  );

  mcp.registerTool(
    "log",
    { description: "Logs one message at each level", inputSchema: schema() },
    async (_args, ctx) => {
      for (const level of ["debug", "info", "warning", "error"]) await ctx.mcpReq.log(level, `${level} message`);
      return text("logged");
    },
  );

  mcp.registerTool(
    "ask-name",
    { description: "Asks the user for a name", inputSchema: schema() },
    async (_args, ctx) => {
      const answer = inputResponse(ctx.mcpReq.inputResponses, "name");
      if (answer.kind === "missing") {
        return inputRequired({
          inputRequests: {
            name: inputRequired.elicit({
              message: "What is your name?",
              requestedSchema: { type: "object", properties: { name: { type: "string" } }, required: ["name"] },
            }),
          },
        });
      }
      return text(
        answer.kind === "elicit" && answer.action === "accept"
          ? `hello ${answer.content?.name}`
          : `no name (${answer.kind}/${answer.action})`,
      );
    },
  );

  mcp.registerTool(
    "sample",
    { description: "Asks the client's model", inputSchema: schema({ prompt: { type: "string" } }) },
    async ({ prompt }, ctx) => {
      const answer = inputResponse(ctx.mcpReq.inputResponses, "completion");
      if (answer.kind !== "sampling") {
        return inputRequired({
          inputRequests: {
            completion: inputRequired.createMessage({
              messages: [{ role: "user", content: { type: "text", text: prompt ?? "Say hi" } }],
              maxTokens: 20,
            }),
          },
        });
      }
      return text(`model said: ${answer.result.content.text}`);
    },
  );

  mcp.registerTool("roots", { description: "Lists the client's roots", inputSchema: schema() }, async (_args, ctx) => {
    const answer = inputResponse(ctx.mcpReq.inputResponses, "roots");
    if (answer.kind !== "roots") return inputRequired({ inputRequests: { roots: inputRequired.listRoots() } });
    return text(answer.roots.map((root) => root.uri).join(" "));
  });

  // Two questions in a row: the second is asked only once the first is answered, which travels in requestState.
  mcp.registerTool(
    "two-questions",
    { description: "Asks for a name, then a colour", inputSchema: schema() },
    async (_args, ctx) => {
      const question = (message) =>
        inputRequired.elicit({
          message,
          requestedSchema: { type: "object", properties: { value: { type: "string" } }, required: ["value"] },
        });
      const state = ctx.mcpReq.requestState();
      const name = typeof state === "string" ? state : undefined;
      const answer = inputResponse(ctx.mcpReq.inputResponses, name === undefined ? "name" : "colour");
      if (name === undefined) {
        if (answer.kind !== "elicit") return inputRequired({ inputRequests: { name: question("Your name?") } });
        return inputRequired({
          inputRequests: { colour: question("Your colour?") },
          requestState: String(answer.content?.value),
        });
      }
      if (answer.kind !== "elicit")
        return inputRequired({ inputRequests: { colour: question("Your colour?") }, requestState: name });
      return text(`${name} likes ${answer.content?.value}`);
    },
  );

  // A 2025 server's own request, sent whatever the client declared: what a gateway that cannot route it answers.
  mcp.registerTool(
    "ask-directly",
    { description: "Sends roots/list to the client as a request (2025 only)", inputSchema: schema() },
    async (_args, ctx) => {
      if (era === "modern") return text("2026-07-28 has no requests to the client");
      try {
        return text(`roots: ${JSON.stringify(await ctx.mcpReq.send({ method: "roots/list" }))}`);
      } catch (error) {
        return text(`refused: ${error.message}`);
      }
    },
  );

  // Runs until the client cancels it, then leaves a mark the test can see.
  mcp.registerTool(
    "wait-for-cancel",
    {
      description: "Waits to be cancelled",
      inputSchema: schema({ markerFile: { type: "string" } }, ["markerFile"]),
    },
    async ({ markerFile }, ctx) => {
      const { signal, _meta } = ctx.mcpReq;
      // Progress says "running": the test cancels only then, so the cancellation has something to stop.
      if (_meta?.progressToken !== undefined) {
        await ctx.mcpReq.notify({
          method: "notifications/progress",
          params: { progressToken: _meta.progressToken, progress: 0 },
        });
      }
      if (!signal.aborted) await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
      writeFileSync(markerFile, "cancelled");
      return text("cancelled");
    },
  );

  // Resource updates go only to those subscribed (a 2025 session's resources/subscribe, a 2026 listen filter).
  const subscribed = new Set();
  mcp.registerResource(
    "watched",
    WATCHED,
    { description: "A resource that changes on demand", mimeType: "text/plain" },
    async (uri) => ({ contents: [{ uri: uri.href, mimeType: "text/plain", text: "watched content" }] }),
  );
  if (era === "legacy") {
    mcp.server.setRequestHandler("resources/subscribe", async (request) => {
      subscribed.add(request.params.uri);
      return {};
    });
    mcp.server.setRequestHandler("resources/unsubscribe", async (request) => {
      subscribed.delete(request.params.uri);
      return {};
    });
  }
  mcp.registerTool(
    "touch",
    { description: "Announces a change of the watched resource", inputSchema: schema() },
    async () => {
      if (era === "modern" || subscribed.has(WATCHED)) await mcp.server.sendResourceUpdated({ uri: WATCHED });
      return text("touched");
    },
  );
  mcp.registerTool(
    "announce",
    { description: "Announces a change of the tool list", inputSchema: schema() },
    async () => {
      mcp.sendToolListChanged();
      return text("announced");
    },
  );
  return mcp;
}

serveStdio(createServer, {
  legacy: values.era === "2026" ? "reject" : "serve",
  onerror: (error) => process.stderr.write(`dual-era-server: ${error.message}\n`),
});
