// The requests every row is measured with, each on the benchmark backend's path that serves it (bench/workers/
// backend.ts): warm tools/call with a 1 KB and a 100 KB result, answered as JSON or as one SSE event, and tools/list
// of 10, 100 and 1,000 tools, which the filter filters by allowTools (every 4th tool allowed).
import { blob, frame, toolList } from "./payloads.ts";

export interface Kind {
  id: string;
  label: string;
  /** The backend path, which clients use on every row too. */
  path: string;
  method: "tools/call" | "tools/list";
  params: Record<string, unknown>;
  /** Bytes of the backend's reply body. */
  replyBytes: number;
  /** tools/list: how many tools the backend lists. */
  tools?: number;
  /** tools/call: the text's length in the result. */
  bytes?: number;
}

const call = (bytes: number, framing: "json" | "sse"): Kind => ({
  id: `call-${bytes / 1024}k${framing === "sse" ? "-sse" : ""}`,
  label: `tools/call, ${bytes / 1024} KB result${framing === "sse" ? ", SSE reply" : ""}`,
  path: `/${framing}/10/mcp`,
  method: "tools/call",
  params: { name: "blob", arguments: { bytes } },
  bytes,
  replyBytes: Buffer.byteLength(frame(1, blob(bytes), framing === "sse")),
});

const list = (tools: number): Kind => ({
  id: `list-${tools}`,
  label: `tools/list of ${tools.toLocaleString("en")} tools, allowTools`,
  path: `/json/${tools}/mcp`,
  method: "tools/list",
  params: {},
  tools,
  replyBytes: Buffer.byteLength(frame(1, toolList(tools), false)),
});

export const CALL_1K = call(1024, "json");
export const LIST_1000 = list(1000);
export const KINDS: Kind[] = [
  CALL_1K,
  call(100 * 1024, "json"),
  call(1024, "sse"),
  call(100 * 1024, "sse"),
  list(10),
  list(100),
  LIST_1000,
];

/** Every 4th of the backend's tools (tool_0, tool_4, ...) plus the two the benchmark calls. */
export function allowList(maxTools = 1000): string[] {
  return [...Array.from({ length: Math.ceil(maxTools / 4) }, (_, i) => `tool_${i * 4}`), "blob", "echo"];
}

/** The JSON-RPC request a row sends; `toolPrefix` for gateways that rename tools (aigw: "b__"). */
export function request(kind: Kind, toolPrefix = ""): { method: string; params: Record<string, unknown> } {
  const params =
    kind.method === "tools/call" ? { ...kind.params, name: `${toolPrefix}${kind.params.name}` } : kind.params;
  return { method: kind.method, params };
}

/** Tools a tools/list of `kind` should return: all of them, or those allowTools lets through. */
export function expectedTools(kind: Kind, filtered: boolean): number {
  if (kind.tools === undefined) return 0;
  return filtered
    ? allowList().filter((name) => /^tool_(\d+)$/.test(name) && Number(name.slice(5)) < kind.tools!).length
    : kind.tools;
}
