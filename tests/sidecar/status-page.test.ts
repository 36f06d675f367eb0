// The status page in a real browser: Debian's chromium (installed by scripts/ensure-chromium.mjs,
// never downloaded) driven by playwright-core. With API keys on, the page asks for the key, then
// shows the servers and a live WebSocket session, lists server-everything's tools and calls one.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { chromium } from "playwright-core";
import type { WebSocket } from "ws";
import {
  EVERYTHING,
  initializeRequest,
  leftovers,
  openSocket,
  rpc,
  startTestSidecar,
  wsUrl,
  type TestSidecar,
} from "./helpers.ts";

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const API_KEY = "status-page-key-0123456789";
const HOOK = { timeout: 30_000 };
const TEST = { timeout: 120_000 };
let sidecar: TestSidecar;
let socket: WebSocket | undefined;

before(async () => {
  sidecar = await startTestSidecar({
    mcpServers: { everything: { command: EVERYTHING } },
    sidecar: { apiKeys: [API_KEY], gracePeriodMs: 500 },
  });
}, HOOK);

after(async () => {
  socket?.terminate();
  await sidecar.close();
  assert.deepEqual(leftovers(process.pid), [], "children left after close");
}, HOOK);

test(
  "the page is self-contained: no external assets, a strict Content-Security-Policy, served without a key",
  TEST,
  async () => {
    const response = await fetch(`${sidecar.url}/`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type")!, /text\/html/);
    assert.match(response.headers.get("content-security-policy")!, /default-src 'none'.*script-src 'sha256-/);
    const html = await response.text();
    assert.doesNotMatch(html, /\b(src|href)\s*=|@import|url\(/, "the page loads nothing else");
    assert.equal((await fetch(`${sidecar.url}/status`)).status, 401, "its data needs the key");
  },
);

test("in headless Chromium: asks for the key, shows a live session, lists tools and calls one", TEST, async (t) => {
  assert.ok(
    existsSync(CHROMIUM),
    `${CHROMIUM} is missing: run \`node scripts/ensure-chromium.mjs\` (apt-get install chromium) first`,
  );
  socket = await openSocket(wsUrl(sidecar, "/servers/everything/ws"), {
    headers: { authorization: `Bearer ${API_KEY}` },
  });
  assert.equal((await rpc(socket, initializeRequest(1))).error, undefined);
  // playwright refuses --user-data-dir among the args; a persistent context is how it takes a fresh one.
  const profile = mkdtempSync(join(tmpdir(), "sidecar-chromium-"));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
    timeout: 30_000,
  });
  t.after(async () => {
    await browser.close();
    rmSync(profile, { recursive: true, force: true });
  });
  const page = await browser.newPage();
  page.setDefaultTimeout(15_000);
  const problems: string[] = [];
  const elsewhere: string[] = [];
  page.on("pageerror", (error) => problems.push(error.message));
  page.on("console", (message) => {
    if (message.type() === "error" && !/favicon|401/.test(message.text())) problems.push(message.text());
  });
  page.on("request", (request) => {
    if (!request.url().startsWith(sidecar.url)) elsewhere.push(request.url());
  });

  await page.goto(`${sidecar.url}/`);
  await page.locator("#status-line", { hasText: "needs an API key" }).waitFor();
  await page.fill("#api-key", API_KEY);
  await page.click("#use-key");

  const liveSession = page.locator("#sessions tr", { hasText: "everything" }).filter({ hasText: "ws" });
  await liveSession.waitFor();
  await page.locator("#servers tr", { hasText: "everything" }).filter({ hasText: "session" }).waitFor();

  await page.click("#list-tools");
  await page.waitForSelector('#tool option[value="echo"]', { state: "attached" });
  await page.selectOption("#tool", "echo");
  await page.fill("#arguments", JSON.stringify({ message: "hello from Chromium" }));
  await page.click("#call");
  await page.locator("#result", { hasText: "Echo: hello from Chromium" }).waitFor();
  assert.match((await page.textContent("#result")) ?? "", /^HTTP 200/);
  // The call went through the REST API's pooled session, which the page now lists too.
  await page.locator("#sessions tr", { hasText: "rest" }).waitFor();

  assert.deepEqual(problems, [], "errors in the page");
  assert.deepEqual(elsewhere, [], "requests to anywhere but the sidecar");
});
