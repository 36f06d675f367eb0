// Which tools a request may see and call: Higress's allowTools semantics combined with the per-consumer
// `x-envoy-allow-mcp-tools` header that an auth filter in front sets. The header can only narrow the list.
import { ByteWriter } from "./bytes";
import { Elements, Kind, Scanner, Span } from "./json";
import { ReplyId, resultReply, writeHead } from "./jsonrpc";

export const ALLOW_TOOLS_HEADER = "x-envoy-allow-mcp-tools";

export class ToolFilter {
  /** False means every tool is allowed. */
  restricted: bool;
  names: Set<string>;

  constructor(restricted: bool, names: Set<string>) {
    this.restricted = restricted;
    this.names = names;
  }

  /** The shared unrestricted filter (never mutated). */
  static open(): ToolFilter {
    return OPEN_FILTER;
  }

  allows(name: string): bool {
    return !this.restricted || this.names.has(name);
  }
}

const OPEN_FILTER = new ToolFilter(false, new Set<string>());

/**
 * The effective filter. `configured` is the `allowTools` list (null when the key is absent: no restriction; an
 * empty list denies all). `header` is the header's value ("" when absent): empty or blank means no restriction
 * from the header; only commas/whitespace denies all; otherwise the named tools, intersected with the config.
 */
export function effectiveFilter(configured: Set<string> | null, header: string): ToolFilter {
  if (header.trim().length == 0) return configured === null ? ToolFilter.open() : new ToolFilter(true, configured);
  const fromHeader = splitNames(header);
  if (configured === null) return new ToolFilter(true, fromHeader);
  const both = new Set<string>();
  const names = fromHeader.values();
  for (let i = 0; i < names.length; i++) if (configured.has(names[i])) both.add(names[i]);
  return new ToolFilter(true, both);
}

/** Comma-separated names, trimmed, empty entries dropped. */
export function splitNames(list: string): Set<string> {
  const out = new Set<string>();
  const parts = list.split(",");
  for (let i = 0; i < parts.length; i++) {
    const name = parts[i].trim();
    if (name.length > 0) out.add(name);
  }
  return out;
}

/**
 * The tools/list reply with only the allowed entries of `result.tools`; every other byte is copied as the backend
 * sent it (nextCursor, _meta, each tool's schema).
 */
export function filteredToolsResult(id: ReplyId, s: Scanner, result: Span, filter: ToolFilter): ArrayBuffer {
  const tools = new Span();
  if (!s.member(result, "tools", tools) || tools.kind != Kind.Array) return resultReply(id, s.bytes, result.start, result.end);
  const w = writeHead(new ByteWriter(result.end - result.start + 64), id, "result");
  w.span(s.bytes, result.start, tools.start + 1);
  const it = new Elements(s, tools.start);
  const name = new Span();
  let kept = 0;
  while (it.next()) {
    if (!s.member(it.value, "name", name) || name.kind != Kind.String || !filter.allows(s.decodeSpan(name))) continue;
    if (kept++ > 0) w.byte(0x2c);
    w.span(s.bytes, it.value.start, it.value.end);
  }
  return w.span(s.bytes, tools.end - 1, result.end).byte(0x7d).take();
}
