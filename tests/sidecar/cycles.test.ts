// 200 connect/disconnect cycles, clean and abrupt, over both transports, must leave no child
// process behind: checked by process group in /proc, not by the sidecar's own counters.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, test } from 'node:test';
import {
  closeWithDelete, connect, echoServer, groupMembers, initializeRequest, leftovers, post, startTestSidecar, toolText, waitFor,
  type TestSidecar,
} from './helpers.ts';

const CYCLES = 200;
const LANES = 4;
const IDLE_TIMEOUT_MS = 300;
let sidecar: TestSidecar;

before(async () => {
  sidecar = await startTestSidecar({
    mcpServers: { echo: echoServer({ idleTimeoutMs: IDLE_TIMEOUT_MS }) },
    sidecar: { gracePeriodMs: 500, maxSessions: 50 },
  });
});

after(async () => {
  await sidecar.close();
});

const mcpUrl = () => `${sidecar.url}/servers/echo/mcp`;
const whoamiCall = (id: number) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'whoami', arguments: {} } });

/** Streamable HTTP, ended properly with DELETE. */
async function streamableClean(): Promise<number | undefined> {
  const client = await connect(mcpUrl());
  const { pgid } = JSON.parse(toolText(await client.callTool({ name: 'whoami', arguments: {} })));
  await closeWithDelete(client);
  return pgid;
}

/** Streamable HTTP, abandoned without DELETE after its GET stream is cut: the idle timeout must end it. */
async function streamableAbandoned(): Promise<number | undefined> {
  const client = await connect(mcpUrl());
  const { pgid } = JSON.parse(toolText(await client.callTool({ name: 'whoami', arguments: {} })));
  await client.close();
  return pgid;
}

/** Streamable HTTP, socket destroyed while initialize is still in flight: nobody will ever know the session id. */
function streamableCutDuringInitialize(): Promise<number | undefined> {
  return new Promise((resolve) => {
    const body = JSON.stringify(initializeRequest());
    const req = request(mcpUrl(), {
      method: 'POST', agent: false,
      headers: { 'content-type': 'application/json', accept: 'application/json', 'content-length': Buffer.byteLength(body) },
    });
    req.on('error', () => resolve(undefined));
    req.end(body, () => setTimeout(() => req.destroy(), 5));
  });
}

/** 2024-11-05 SSE through the SDK client, closed properly (the stream closes). */
async function legacyClean(): Promise<number | undefined> {
  const client = await connect(`${sidecar.url}/servers/echo/sse`, { transport: 'sse' });
  const { pgid } = JSON.parse(toolText(await client.callTool({ name: 'whoami', arguments: {} })));
  await client.close();
  return pgid;
}

/** 2024-11-05 SSE by hand, the stream dropped (connection aborted) right after a reply. */
async function legacyDropped(): Promise<number | undefined> {
  const controller = new AbortController();
  const response = await fetch(`${sidecar.url}/servers/echo/sse`, { headers: { accept: 'text/event-stream' }, signal: controller.signal });
  const events = sseData(response.body!);
  const endpoint = new URL((await events.next()).value!, response.url).href;
  await post(endpoint, initializeRequest());
  await events.next();
  await post(endpoint, whoamiCall(2));
  const reply = JSON.parse((await events.next()).value!);
  controller.abort();
  return JSON.parse(reply.result.content[0].text).pgid;
}

async function* sseData(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    let end;
    while ((end = buffer.indexOf('\n\n')) !== -1) {
      const data = buffer.slice(0, end).split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
      buffer = buffer.slice(end + 2);
      if (data) yield data;
    }
  }
}

const KINDS = [streamableClean, streamableAbandoned, streamableCutDuringInitialize, legacyClean, legacyDropped];

test(`${CYCLES} connect/disconnect cycles, clean and abrupt, leave zero child processes`, async () => {
  const groups = new Set<number>();
  const started = Date.now();
  let next = 0;
  const lane = async () => {
    while (next < CYCLES) {
      const kind = KINDS[next++ % KINDS.length];
      const pgid = await kind();
      if (pgid !== undefined) groups.add(pgid);
    }
  };
  await Promise.all(Array.from({ length: LANES }, lane));
  const cyclesMs = Date.now() - started;
  assert.ok(groups.size >= (CYCLES * 3) / KINDS.length, `only ${groups.size} distinct children were seen`);
  await waitFor(() => leftovers(process.pid, groups).length === 0, IDLE_TIMEOUT_MS + 5_000, 'every child to be gone');
  console.log(`${CYCLES} cycles in ${cyclesMs} ms, ${groups.size} children seen by their own pgid, ` +
    `all gone ${Date.now() - started - cyclesMs} ms later`);
  assert.deepEqual(groupMembers(groups), []);
  type Stats = { echo: { sessions: number; children: number; spawns: number } };
  const readStats = async () => await (await fetch(`${sidecar.url}/stats`)).json() as Stats;
  // A session is forgotten once its child's exit has been handled, which can trail the process's end by a moment:
  // wait for the books to close too, within the same bound (a leaked session never gets there).
  await waitFor(async () => { const s = (await readStats()).echo; return s.sessions === 0 && s.children === 0; },
    IDLE_TIMEOUT_MS + 5_000, "every session to be forgotten");
  const stats = await readStats();
  assert.equal(stats.echo.sessions, 0);
  assert.equal(stats.echo.children, 0);
  assert.ok(stats.echo.spawns >= CYCLES * 0.9, `spawns ${stats.echo.spawns}`);
});
