// Shared plumbing for the legacy SSE backend tests: the gateway config and routes such a backend needs.
import type { TestContext } from "node:test";
import type { RouteSpec } from "./bootstrap.ts";
import type { LegacyBackend } from "../fixtures/backends/legacy-sse-backend.ts";
import { startGateway } from "./gateway.ts";

/** Higress's single-server form for a legacy SSE backend; the SSE URL's path must route to the backend's cluster. */
export function sseServer(
  url = "http://backend/sse",
  extra: Record<string, unknown> = {},
  top: Record<string, unknown> = {},
) {
  return { server: { name: "legacy", type: "mcp-proxy", transport: "sse", mcpServerURL: url, ...extra }, ...top };
}

/** The SSE URL's path routed to the backend's cluster (required: Envoy re-matches the route after the rewrite). */
export const SSE_ROUTES: RouteSpec[] = [
  { path: "/sse", cluster: "backend" },
  { prefix: "/", cluster: "backend" },
];

/** The gateway in front of `backend`; by default /sse routes to it (as the SSE URL must) and so does everything else. */
export async function legacyGateway(
  t: TestContext,
  backend: LegacyBackend,
  pluginConfig: unknown = sseServer(),
  routes?: RouteSpec[],
) {
  return startGateway(t, { pluginConfig, clusters: { backend: backend.port }, routes: routes ?? SSE_ROUTES });
}

export const call = (id: unknown, name: string, args: unknown = {}) => ({
  jsonrpc: "2.0",
  id,
  method: "tools/call",
  params: { name, arguments: args },
});
