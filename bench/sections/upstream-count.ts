// 2. Upstream requests per client tools/call in mode "higress", counted by the backend itself, through real Envoy
// with two workers (two Wasm VMs, each with its own backend sessions). On one keep-alive connection (so one worker):
// the first call through the cold gateway (clients need no session of the gateway's in this mode), the next call,
// the mean of many more, then a client's initialize on the warm worker and a new client's first call. Then calls
// each on a new connection, which reach both workers: the honest invariant there is one backend handshake per
// worker at most. JSON replies and SSE replies.
import { startBenchEnvoy } from "../lib/envoys.ts";
import { allowList } from "../lib/kinds.ts";
import { McpSession, newAgent } from "../lib/mcp-http.ts";
import { countAt, startBackend, type Backend } from "../lib/services.ts";

export interface UpstreamCountRow {
  framing: "json" | "sse";
  /** The first tools/call on a worker (cold), the next one, and the mean over `warmCalls` more. */
  cold: number;
  warm: number;
  warmMean: number;
  warmCalls: number;
  /** Backend requests for a client's initialize + notifications/initialized on the warm worker. */
  clientInitialize: number;
  /** A new client's session and first call on the warm worker. */
  newClientWarm: number;
  /** `spreadCalls` calls, each on a new connection (both workers), and the backend initializes among them. */
  spreadCalls: number;
  spreadUpstream: number;
  spreadInitializes: number;
  /** Higress's mcp-proxy, from its source (not run here): 3 per call with transport http. */
  higress: number;
}

const WARM_CALLS = 50;
const SPREAD_CALLS = 40;

async function upstream(
  backend: Backend,
  path: string,
  action: () => Promise<unknown>,
  method?: string,
): Promise<number> {
  await backend.reset();
  await action();
  return countAt(await backend.counts(), path, method);
}

export async function runUpstreamCount(log: (line: string) => void): Promise<UpstreamCountRow[]> {
  const backend = await startBackend();
  const paths = ["/json/10/mcp", "/sse/10/mcp"];
  const gateway = await startBenchEnvoy(
    "higress",
    paths.map((path) => ({ path, allowTools: allowList() })),
    backend.port,
  );
  try {
    const rows: UpstreamCountRow[] = [];
    for (const framing of ["json", "sse"] as const) {
      const path = `/${framing}/10/mcp`;
      const url = new URL(gateway.url(path));
      const agent = newAgent(1);
      const client = new McpSession(url, agent);
      const call = (c: McpSession) => c.callTool("blob", { bytes: 1024 });
      const cold = await upstream(backend, path, () => call(client));
      const warm = await upstream(backend, path, () => call(client));
      const many = await upstream(backend, path, async () => {
        for (let i = 0; i < WARM_CALLS; i++) await call(client);
      });
      const clientInitialize = await upstream(backend, path, () => client.open());
      const newClientWarm = await upstream(backend, path, async () => call(await new McpSession(url, agent).open()));
      agent.destroy();
      let spreadInitializes = 0;
      const spreadUpstream = await upstream(backend, path, async () => {
        for (let i = 0; i < SPREAD_CALLS; i++) {
          const fresh = newAgent(1);
          await call(new McpSession(url, fresh));
          fresh.destroy();
        }
        spreadInitializes = countAt(await backend.counts(), path, "initialize");
      });
      rows.push({
        framing,
        clientInitialize,
        cold,
        warm,
        warmMean: many / WARM_CALLS,
        warmCalls: WARM_CALLS,
        newClientWarm,
        spreadCalls: SPREAD_CALLS,
        spreadUpstream,
        spreadInitializes,
        higress: 3,
      });
      log(
        `  ${framing}: cold call ${cold}, warm ${warm}, mean of ${WARM_CALLS} warm ${many / WARM_CALLS}, client initialize ${clientInitialize}, ` +
          `new client ${newClientWarm}; ${SPREAD_CALLS} calls on new connections: ${spreadUpstream} upstream, ${spreadInitializes} initialize`,
      );
    }
    return rows;
  } finally {
    await gateway.envoy.close();
    await backend.close();
  }
}
