// The HTTP headers a 2026-07-28 request mirrors from its body (SEP-2243): MCP-Protocol-Version, Mcp-Method,
// Mcp-Name, and Mcp-Param-{Name} for tool arguments whose schema carries `x-mcp-header`. Whatever routes or
// decides on a header (a gateway, a load balancer) must see what runs: a server that reads the body refuses a
// request whose headers are missing or disagree with it (HTTP 400, -32020 HeaderMismatch).
import type { IncomingHttpHeaders } from "node:http";
import { header } from "./http.ts";
import { HEADER } from "./protocol.ts";

/** Which field of the body the Mcp-Name header mirrors, per method. */
const NAME_FIELD: Record<string, string> = { "tools/call": "name", "prompts/get": "name", "resources/read": "uri" };
const BASE64_FORM = /^=\?base64\?(.*)\?=$/;
const CANONICAL_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const DECIMAL = /^-?\d+(\.\d+)?$/;
/** What `x-mcp-header` may mark: primitive arguments only. */
const HEADER_TYPES = new Set(["string", "integer", "boolean"]);

/** An argument a tool wants mirrored into a header: where it is in `arguments`, and the header's name part. */
export interface HeaderDeclaration {
  path: string[];
  name: string;
  type: string;
}

/** A header value as sent, or decoded from the `=?base64?...?=` form; undefined when that form is broken. */
function decodeHeaderValue(value: string): string | undefined {
  const encoded = BASE64_FORM.exec(value)?.[1];
  if (encoded === undefined) return value;
  if (!CANONICAL_BASE64.test(encoded)) return undefined;
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(Buffer.from(encoded, "base64"));
  } catch {
    return undefined;
  }
}

/** What is wrong with the standard headers of a 2026-07-28 request, if anything. */
export function standardHeaderMismatch(
  headers: IncomingHttpHeaders,
  method: string,
  params: Record<string, unknown>,
): string | undefined {
  if (header(headers, HEADER.protocolVersion) === undefined)
    return "the required MCP-Protocol-Version header is absent";
  if (header(headers, HEADER.method) === undefined) return "the required Mcp-Method header is absent";
  const field = NAME_FIELD[method];
  const body = field === undefined ? undefined : params[field];
  if (typeof body !== "string") return undefined;
  const given = header(headers, HEADER.name);
  if (given === undefined) return `the body has ${field} "${body}" but the required Mcp-Name header is absent`;
  const decoded = decodeHeaderValue(given.trim());
  if (decoded === undefined) return "the Mcp-Name header has an invalid base64 value";
  if (decoded !== body) return `the Mcp-Name header names "${decoded}" but the body has ${field} "${body}"`;
  return undefined;
}

/**
 * The `x-mcp-header` marks of a tool's inputSchema, reachable through `properties` alone (the only place the
 * specification allows them; a tool with marks elsewhere is one clients leave out, so nothing is checked for it).
 */
export function headerDeclarations(inputSchema: unknown): HeaderDeclaration[] {
  const found: HeaderDeclaration[] = [];
  const visit = (schema: unknown, path: string[]) => {
    if (typeof schema !== "object" || schema === null) return;
    const node = schema as Record<string, unknown>;
    if (typeof node["x-mcp-header"] === "string" && typeof node.type === "string" && HEADER_TYPES.has(node.type)) {
      found.push({ path, name: node["x-mcp-header"], type: node.type });
    }
    const properties = node.properties;
    if (typeof properties !== "object" || properties === null) return;
    for (const [key, child] of Object.entries(properties)) visit(child, [...path, key]);
  };
  visit(inputSchema, []);
  return found;
}

/**
 * Whether the Mcp-Param-* headers of a tools/call agree with its arguments: each marked argument that has a
 * value needs its header, decoding to the same value (integers compared as numbers). Absent values need none.
 */
export function paramHeaderMismatch(
  declarations: HeaderDeclaration[],
  args: unknown,
  headers: IncomingHttpHeaders,
): string | undefined {
  for (const declaration of declarations) {
    const value = declaration.path.reduce<unknown>(
      (node, key) => (typeof node === "object" && node !== null ? (node as Record<string, unknown>)[key] : undefined),
      args,
    );
    if (value === undefined || value === null) continue;
    const name = `${HEADER.paramPrefix}${declaration.name.toLowerCase()}`;
    const given = header(headers, name);
    if (given === undefined)
      return `the argument ${declaration.path.join(".")} has a value but the ${name} header is absent`;
    const decoded = decodeHeaderValue(given.trim());
    if (decoded === undefined) return `the ${name} header has an invalid base64 value`;
    const same =
      typeof value === "number" && DECIMAL.test(decoded) ? Number(decoded) === value : decoded === String(value);
    if (!same)
      return `the ${name} header says ${JSON.stringify(decoded)} but the argument ${declaration.path.join(".")} is ${JSON.stringify(value)}`;
  }
  return undefined;
}
