// Which tools a request may see and call: Higress's allowTools semantics combined with the per-consumer
// `x-envoy-allow-mcp-tools` header that an auth filter in front sets. The header can only narrow the list.

export const ALLOW_TOOLS_HEADER = "x-envoy-allow-mcp-tools";

export class ToolFilter {
  /** False means every tool is allowed. */
  restricted: bool;
  names: Set<string>;

  constructor(restricted: bool, names: Set<string>) {
    this.restricted = restricted;
    this.names = names;
  }

  static open(): ToolFilter {
    return new ToolFilter(false, new Set<string>());
  }

  allows(name: string): bool {
    return !this.restricted || this.names.has(name);
  }
}

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
