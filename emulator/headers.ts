// Header maps as Envoy keeps them: an ordered list of lowercased (name, value) pairs, duplicates kept, pseudo-headers
// first. Values are kept as latin1 strings so every byte round-trips between the socket and the wasm module.

export type HeaderList = [string, string][];

// Envoy's HTTP/1 codec drops connection-specific headers before any filter sees them.
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te"]);

export class HeaderMap {
  constructor(public entries: HeaderList = []) {}

  get(name: string): string | undefined {
    const key = name.toLowerCase();
    return this.entries.find(([k]) => k === key)?.[1];
  }

  add(name: string, value: string): void {
    this.entries.push([name.toLowerCase(), value]);
  }

  /** Replaces the first entry (and drops later duplicates), or appends: Envoy's setCopy. */
  set(name: string, value: string): void {
    const key = name.toLowerCase();
    const index = this.entries.findIndex(([k]) => k === key);
    if (index < 0) {
      this.entries.push([key, value]);
      return;
    }
    this.entries[index] = [key, value];
    this.entries = this.entries.filter(([k], i) => k !== key || i === index);
  }

  remove(name: string): void {
    const key = name.toLowerCase();
    this.entries = this.entries.filter(([k]) => k !== key);
  }

  /** Envoy's byteSize(): the sum of key and value lengths. */
  byteSize(): number {
    return this.entries.reduce((sum, [k, v]) => sum + Buffer.byteLength(k, "latin1") + Buffer.byteLength(v, "latin1"), 0);
  }

  clone(): HeaderMap {
    return new HeaderMap(this.entries.map(([k, v]) => [k, v]));
  }

  /** Regular headers only, in the flat [k, v, k, v] form node's writeHead/request accept. */
  toNodeFlat(): string[] {
    return this.entries.filter(([k]) => !k.startsWith(":")).flatMap(([k, v]) => [k, v]);
  }
}

/** Request headers as Envoy's HTTP/1 codec and connection manager hand them to filters. */
export function requestHeadersFromNode(method: string, url: string, rawHeaders: string[], requestId: string): HeaderMap {
  const map = new HeaderMap();
  let host = "";
  const regular: HeaderList = [];
  for (let n = 0; n < rawHeaders.length; n += 2) {
    const key = rawHeaders[n].toLowerCase();
    if (key === "host") host = rawHeaders[n + 1];
    else if (!HOP_BY_HOP.has(key)) regular.push([key, rawHeaders[n + 1]]);
  }
  map.add(":authority", host);
  map.add(":path", url);
  map.add(":method", method);
  map.add(":scheme", "http");
  map.entries.push(...regular);
  if (map.get("x-forwarded-proto") === undefined) map.add("x-forwarded-proto", "http");
  if (map.get("x-request-id") === undefined) map.add("x-request-id", requestId);
  return map;
}

/** Upstream response headers as the router passes them to encoder filters. */
export function responseHeadersFromNode(status: number, rawHeaders: string[], serviceTimeMs?: number): HeaderMap {
  const map = new HeaderMap([[":status", String(status)]]);
  for (let n = 0; n < rawHeaders.length; n += 2) {
    const key = rawHeaders[n].toLowerCase();
    if (!HOP_BY_HOP.has(key)) map.add(key, rawHeaders[n + 1]);
  }
  if (serviceTimeMs !== undefined) map.add("x-envoy-upstream-service-time", String(serviceTimeMs));
  return map;
}

// Proxy-wasm pairs format: u32 count; count x (u32 keyLen, u32 valueLen); then key\0value\0 for each pair.
export function serializePairs(entries: HeaderList): Buffer {
  if (entries.length === 0) return Buffer.alloc(0);
  const encoded = entries.map(([k, v]) => [Buffer.from(k, "latin1"), Buffer.from(v, "latin1")]);
  const size = 4 + encoded.reduce((sum, [k, v]) => sum + 10 + k.length + v.length, 0);
  const out = Buffer.alloc(size);
  out.writeUInt32LE(encoded.length, 0);
  let offset = 4;
  for (const [k, v] of encoded) {
    out.writeUInt32LE(k.length, offset);
    out.writeUInt32LE(v.length, offset + 4);
    offset += 8;
  }
  for (const [k, v] of encoded) {
    k.copy(out, offset);
    offset += k.length + 1;
    v.copy(out, offset);
    offset += v.length + 1;
  }
  return out;
}

const MAX_PAIRS = 1024;
const MAX_PAIRS_BYTES = 1 << 20;

/** Strict parse as cpp-host's pairs_util does: any defect yields an empty list, never an error. */
export function deserializePairs(data: Buffer): HeaderList {
  if (data.length < 4 || data.length > MAX_PAIRS_BYTES) return [];
  const count = data.readUInt32LE(0);
  if (count > MAX_PAIRS || 4 + count * 8 > data.length) return [];
  const result: HeaderList = [];
  let offset = 4 + count * 8;
  for (let n = 0; n < count; n++) {
    const keyLength = data.readUInt32LE(4 + n * 8);
    const valueLength = data.readUInt32LE(8 + n * 8);
    if (offset + keyLength + valueLength + 2 > data.length) return [];
    if (data[offset + keyLength] !== 0 || data[offset + keyLength + 1 + valueLength] !== 0) return [];
    const key = data.toString("latin1", offset, offset + keyLength);
    offset += keyLength + 1;
    const value = data.toString("latin1", offset, offset + valueLength);
    offset += valueLength + 1;
    result.push([key, value]);
  }
  return offset === data.length ? result : [];
}
