// mode "shared": one child for every session, ids remapped so replies never cross, restarted
// with backoff after a crash while /readyz tells the truth.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connect, echoServer, isAlive, leftovers, startTestSidecar, toolText, waitFor, type TestSidecar } from './helpers.ts';

let sidecar: TestSidecar;
const clients: Client[] = [];

before(async () => {
  sidecar = await startTestSidecar({
    mcpServers: { shared: echoServer({ mode: 'shared', restart: { initialDelayMs: 300, maxDelayMs: 2_000 } }) },
    sidecar: { gracePeriodMs: 500 },
  });
});

after(async () => {
  await Promise.allSettled(clients.map((client) => client.close()));
  await sidecar.close();
  assert.deepEqual(leftovers(process.pid), [], 'children left after close');
});

async function open(transport: 'streamable' | 'sse' = 'streamable'): Promise<Client> {
  const client = await connect(`${sidecar.url}/servers/shared/${transport === 'sse' ? 'sse' : 'mcp'}`, { transport });
  clients.push(client);
  return client;
}

const whoami = async (client: Client) => JSON.parse(toolText(await client.callTool({ name: 'whoami', arguments: {} }))).pid as number;

test('concurrent calls from three sessions (same JSON-RPC ids) each get their own replies and progress', async () => {
  const sessions = await Promise.all([open(), open(), open('sse')]);
  const pids = await Promise.all(sessions.map(whoami));
  assert.equal(new Set(pids).size, 1, 'one child serves every session');
  const progressSeen = [0, 0, 0];
  const calls = sessions.flatMap((client, s) => Array.from({ length: 15 }, async (_, i) => {
    const text = `session ${s} call ${i}`;
    const progress: number[] = [];
    const reply = i % 3 === 0
      ? await client.callTool({ name: 'progress', arguments: { steps: 3 } }, undefined, { onprogress: (p) => progress.push(p.progress) })
      : await client.callTool({ name: 'sleep', arguments: { ms: ((i * 7 + s * 13) % 10) * 10, text } });
    if (i % 3 === 0) {
      assert.equal(toolText(reply), 'done');
      // A crossed token would show as a repeat or a foreign value.
      assert.deepEqual(progress, [1, 2, 3].slice(0, progress.length), `progress of ${text}`);
      progressSeen[s] += progress.length;
    } else {
      assert.equal(toolText(reply), text);
    }
  }));
  await Promise.all(calls);
  // The SDK client drops progress notifications read together with the reply (it handles notifications a tick
  // late), which a loaded machine makes likely for any one call; a session whose notifications were not routed
  // to it would see none in all five of its progress calls.
  progressSeen.forEach((seen, s) => assert.ok(seen >= 1, `no progress reached session ${s} in any of its calls`));
});

test('a crash fails in-flight calls of every session at once; /readyz is 503 until the restarted child is up', async () => {
  const [alice, bob] = await Promise.all([open(), open()]);
  const oldPid = await whoami(alice);
  const pending = assert.rejects(bob.callTool({ name: 'sleep', arguments: { ms: 30_000, text: 'never' } }), /exited.*restarting/);
  const started = Date.now();
  await assert.rejects(alice.callTool({ name: 'crash', arguments: {} }), /exited \(code 3.*restarting/);
  await pending;
  assert.ok(Date.now() - started < 1_000, 'in-flight calls failed at once');
  const notReady = await fetch(`${sidecar.url}/readyz`);
  assert.equal(notReady.status, 503);
  assert.deepEqual(await notReady.json(), { ready: false, servers: { shared: 'restarting' } });
  await assert.rejects(bob.callTool({ name: 'echo', arguments: { text: 'too early' } }), /restarting/);
  await waitFor(async () => (await fetch(`${sidecar.url}/readyz`)).status === 200, 5_000, 'the shared child to be back');
  assert.ok(!isAlive(oldPid));
  const newPid = await whoami(bob);
  assert.notEqual(newPid, oldPid);
  assert.equal(toolText(await alice.callTool({ name: 'echo', arguments: { text: 'after restart' } })), 'after restart');
  const metrics = await (await fetch(`${sidecar.url}/metrics`)).text();
  assert.match(metrics, /mcp_sidecar_child_restarts_total\{server="shared"\} 1/);
  assert.match(metrics, /mcp_sidecar_child_exits_total\{server="shared",reason="crashed"\} 1/);
});

test('repeated crashes back off exponentially', async () => {
  const client = await open();
  const readyAt: number[] = [];
  for (let i = 0; i < 3; i++) {
    await assert.rejects(client.callTool({ name: 'crash', arguments: {} }));
    const crashed = Date.now();
    await waitFor(async () => (await fetch(`${sidecar.url}/readyz`)).status === 200, 5_000, 'restart');
    readyAt.push(Date.now() - crashed);
  }
  // Delays 600, 1200, 2000 ms (the previous crash used 300): each wait is longer than the one before.
  assert.ok(readyAt[0] >= 550 && readyAt[1] >= 1_150 && readyAt[2] >= 1_950, `restart delays ${readyAt}`);
});
