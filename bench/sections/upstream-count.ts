// 2. Upstream requests per client tools/call, counted by the backend itself: the first call through a cold
// gateway, the calls after it, and a new client on the warm gateway. JSON replies and SSE replies.
import { McpSession, newAgent } from "../lib/mcp-http.ts";
import { allowList, startGateway } from "../lib/gateway.ts";
import { startBackend, type Backend } from "../lib/services.ts";

export interface UpstreamCountRow {
  framing: "json" | "sse";
  cold: number;
  warm: number;
  /** Mean over `warmCalls` further calls. */
  warmMean: number;
  warmCalls: number;
  newClientWarm: number;
  /** Higress's mcp-proxy, from its source (not run here): 3 per call with transport http, whatever the reply framing. */
  higress: number;
}

const WARM_CALLS = 50;

async function upstreamRequests(backend: Backend, action: () => Promise<unknown>): Promise<number> {
  await backend.reset();
  await action();
  return Object.values(await backend.counts()).reduce((a, b) => a + b, 0);
}

export async function runUpstreamCount(log: (line: string) => void): Promise<UpstreamCountRow[]> {
  const backend = await startBackend();
  const gateway = await startGateway(["json", "sse"].map((f) => ({ prefix: `/${f}/10`, backendPath: `/${f}/10/mcp`, allowTools: allowList() })), { backend: backend.port });
  try {
    const rows: UpstreamCountRow[] = [];
    for (const framing of ["json", "sse"] as const) {
      const url = new URL(`${gateway.url}/${framing}/10`);
      const client = await new McpSession(url, newAgent(1)).open();
      const call = () => client.callTool("blob", { bytes: 1024 });
      const cold = await upstreamRequests(backend, call);
      const warm = await upstreamRequests(backend, call);
      const many = await upstreamRequests(backend, async () => { for (let i = 0; i < WARM_CALLS; i++) await call(); });
      const other = await new McpSession(url, newAgent(1)).open();
      const newClientWarm = await upstreamRequests(backend, () => other.callTool("blob", { bytes: 1024 }));
      rows.push({ framing, cold, warm, warmMean: many / WARM_CALLS, warmCalls: WARM_CALLS, newClientWarm, higress: 3 });
      log(`  ${framing}: cold ${cold}, warm ${warm}, mean of ${WARM_CALLS} warm ${many / WARM_CALLS}, new client ${newClientWarm}`);
    }
    return rows;
  } finally {
    await gateway.close();
    await backend.close();
  }
}
