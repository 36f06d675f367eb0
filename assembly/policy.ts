// What a request may see and use: Higress's allowTools (with the per-consumer `x-envoy-allow-mcp-tools` header that
// an auth filter in front sets, which can only narrow it) and its siblings allowResources and allowPrompts. The
// same rules apply to lists (filtered) and to calls, reads and gets (refused), in every mode and era.
import { ByteWriter } from "./bytes";
import { Elements, Kind, Scanner, Span } from "./json";
import { Message } from "./jsonrpc";

export const ALLOW_TOOLS_HEADER = "x-envoy-allow-mcp-tools";

/** Names allowed by a list: exact names, and prefixes for entries ending in `*` (`file:///data/*`). */
export class NameFilter {
  /** False means everything is allowed. */
  restricted: bool;
  names: Set<string>;
  prefixes: string[];

  constructor(restricted: bool, names: Set<string>, prefixes: string[] = []) {
    this.restricted = restricted;
    this.names = names;
    this.prefixes = prefixes;
  }

  /** The shared unrestricted filter (never mutated). */
  static open(): NameFilter {
    return OPEN_FILTER;
  }

  /** A configured list (null when its key is absent: no restriction); `*` at the end of an entry is a prefix match. */
  static of(list: string[] | null, wildcards: bool): NameFilter {
    if (list === null) return OPEN_FILTER;
    const names = new Set<string>();
    const prefixes: string[] = [];
    for (let i = 0; i < list.length; i++) {
      const entry = list[i];
      if (wildcards && entry.endsWith("*")) prefixes.push(entry.substring(0, entry.length - 1));
      else names.add(entry);
    }
    return new NameFilter(true, names, prefixes);
  }

  allows(name: string): bool {
    if (!this.restricted || this.names.has(name)) return true;
    for (let i = 0; i < this.prefixes.length; i++) if (name.startsWith(this.prefixes[i])) return true;
    return false;
  }
}

const OPEN_FILTER = new NameFilter(false, new Set<string>());

/**
 * The effective tool filter. `configured` is the `allowTools` filter (open when the key is absent; an empty list
 * denies all). `header` is the header's value ("" when absent): empty or blank means no restriction from the
 * header; only commas/whitespace denies all; otherwise the named tools, intersected with the config.
 */
export function effectiveToolFilter(configured: NameFilter, header: string): NameFilter {
  if (header.trim().length == 0) return configured;
  const fromHeader = splitNames(header);
  if (!configured.restricted) return new NameFilter(true, fromHeader);
  const both = new Set<string>();
  const names = fromHeader.values();
  for (let i = 0; i < names.length; i++) if (configured.allows(names[i])) both.add(names[i]);
  return new NameFilter(true, both);
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

/** What a method's policy looks at. */
export const enum Subject {
  None,
  Tool,
  Resource,
  Prompt,
}
/** How a refusal names the subject (indexes Subject). */
export const SUBJECT_NAMES = ["", "Tool", "Resource", "Prompt"];

/** The subject of tools/call, resources/read and prompts/get (the methods Mcp-Name names). */
export function subjectOf(method: string): Subject {
  if (method == "tools/call") return Subject.Tool;
  if (method == "resources/read") return Subject.Resource;
  if (method == "prompts/get") return Subject.Prompt;
  return Subject.None;
}

/** The allow-lists that apply to one request (the tool filter already narrowed by the header). */
export class Policy {
  constructor(
    public tools: NameFilter,
    public resources: NameFilter,
    public prompts: NameFilter,
  ) {}

  filterFor(subject: Subject): NameFilter {
    if (subject == Subject.Tool) return this.tools;
    if (subject == Subject.Resource) return this.resources;
    if (subject == Subject.Prompt) return this.prompts;
    return OPEN_FILTER;
  }
}

/** A list method's result: the array member and, in each entry, the member that names it. */
export class ListShape {
  constructor(
    public subject: Subject,
    public array: string,
    public key: string,
  ) {}
}

const TOOLS_LIST = new ListShape(Subject.Tool, "tools", "name");
const RESOURCES_LIST = new ListShape(Subject.Resource, "resources", "uri");
const TEMPLATES_LIST = new ListShape(Subject.Resource, "resourceTemplates", "uriTemplate");
const PROMPTS_LIST = new ListShape(Subject.Prompt, "prompts", "name");

/** The shape of a list method's result, or null for any other method. */
export function listShape(method: string): ListShape | null {
  if (method == "tools/list") return TOOLS_LIST;
  if (method == "resources/list") return RESOURCES_LIST;
  if (method == "resources/templates/list") return TEMPLATES_LIST;
  if (method == "prompts/list") return PROMPTS_LIST;
  return null;
}

/** What a single-item method names, for the policy: a tool, a resource URI, a prompt. */
export class Target {
  constructor(
    public subject: Subject,
    public name: string,
  ) {}
}

const NO_TARGET = new Target(Subject.None, "");

/**
 * The tool, resource or prompt a request uses (`params.name` of tools/call and prompts/get, `params.uri` of
 * resources/read and resources/(un)subscribe, `params.ref` of completion/complete); a Target with subject None
 * when the method names nothing; null when it should name something and does not (invalid params).
 */
export function targetOf(method: string, m: Message): Target | null {
  if (method == "tools/call") return stringParam(m, m.params, "name", Subject.Tool);
  if (method == "prompts/get") return stringParam(m, m.params, "name", Subject.Prompt);
  if (method == "resources/read" || method == "resources/subscribe" || method == "resources/unsubscribe") {
    return stringParam(m, m.params, "uri", Subject.Resource);
  }
  if (method == "completion/complete") return completionRef(m);
  return NO_TARGET;
}

function stringParam(m: Message, obj: Span, key: string, subject: Subject): Target | null {
  const v = new Span();
  if (obj.kind != Kind.Object || !m.s.member(obj, key, v) || v.kind != Kind.String || v.end - v.start <= 2) return null;
  return new Target(subject, m.s.decodeSpan(v));
}

function completionRef(m: Message): Target | null {
  const ref = new Span();
  const type = new Span();
  if (m.params.kind != Kind.Object || !m.s.member(m.params, "ref", ref) || ref.kind != Kind.Object) return null;
  if (!m.s.member(ref, "type", type)) return null;
  if (m.s.spanIs(type, "ref/prompt")) return stringParam(m, ref, "name", Subject.Prompt);
  if (m.s.spanIs(type, "ref/resource")) return stringParam(m, ref, "uri", Subject.Resource);
  return NO_TARGET;
}

/**
 * A list result with only the allowed entries of its list (`shape.array`); every other byte is copied as the
 * backend sent it (nextCursor, _meta, each entry's schema).
 */
export function filteredList(s: Scanner, result: Span, shape: ListShape, filter: NameFilter): ArrayBuffer {
  const list = new Span();
  const w = new ByteWriter(result.end - result.start + 16);
  if (!s.member(result, shape.array, list) || list.kind != Kind.Array)
    return w.span(s.bytes, result.start, result.end).take();
  w.span(s.bytes, result.start, list.start + 1);
  const it = new Elements(s, list.start);
  const name = new Span();
  let kept = 0;
  while (it.next()) {
    if (!s.member(it.value, shape.key, name) || name.kind != Kind.String || !filter.allows(s.decodeSpan(name)))
      continue;
    if (kept++ > 0) w.byte(0x2c);
    w.span(s.bytes, it.value.start, it.value.end);
  }
  return w.span(s.bytes, list.end - 1, result.end).take();
}
