// What the benchmark backend returns: tool lists of a given length and tool results of a given size.
import { generatedTools } from "../../tests/fixtures/tool-list.ts";

const toolLists = new Map<number, string>();
const blobs = new Map<number, string>();

export function toolList(n: number): string {
  let cached = toolLists.get(n);
  if (cached === undefined) {
    cached = JSON.stringify({ tools: generatedTools(n) });
    toolLists.set(n, cached);
  }
  return cached;
}

export function blob(bytes: number): string {
  let cached = blobs.get(bytes);
  if (cached === undefined) {
    const unit = '{"id":42,"name":"widget","tags":["a","b"],"note":"line\\nbreak"}\n';
    const text = unit.repeat(Math.ceil(bytes / unit.length)).slice(0, bytes);
    cached = JSON.stringify({ content: [{ type: "text", text }] });
    blobs.set(bytes, cached);
  }
  return cached;
}

/** A JSON-RPC reply body as the backend frames it: bare JSON, or one SSE `message` event. */
export function frame(id: unknown, resultJson: string, sse: boolean): string {
  const json = `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":${resultJson}}`;
  return sse ? `event: message\ndata: ${json}\n\n` : json;
}
