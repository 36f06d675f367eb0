// What clients are told in the Higress-compatible mode, where the filter answers initialize itself: the backend's
// own capabilities (from its initialize result on the session the filter keeps), less what this mode cannot carry.
// The backend session is shared by every client and its replies arrive whole, so nothing that needs a stream of
// its own or per-client state is advertised: list-changed notifications, resource subscriptions, logging levels.
import { ByteWriter } from "./bytes";
import { Kind, Members, Scanner, Span } from "./json";
import { LEGACY_VERSIONS, MODERN_VERSION } from "./era";
import { Message } from "./jsonrpc";

const SERVER_VERSION = "0.1.0";
/** Capabilities carried as the backend declared them, less the members in DROPPED. */
const CARRIED = ["tools", "resources", "prompts", "completions"];
/** Members of a carried capability that promise notifications or per-client state. */
const DROPPED = ["listChanged", "subscribe"];

/** A backend's own description from its initialize result. */
export class BackendInfo {
  constructor(
    public protocolVersion: string,
    /** The `capabilities` object as the backend sent it ("{}" when absent). */
    public capabilities: ArrayBuffer,
    /** The `instructions` string literal, quotes included; null when absent. */
    public instructions: ArrayBuffer | null,
  ) {}

  /** From an initialize response (its result was checked to be present). */
  static of(m: Message, protocolVersion: string): BackendInfo {
    const s = m.s;
    const caps = new Span();
    const capabilities =
      s.member(m.result, "capabilities", caps) && caps.kind == Kind.Object
        ? s.bytes.buffer.slice(s.bytes.byteOffset + caps.start, s.bytes.byteOffset + caps.end)
        : String.UTF8.encode("{}");
    const text = new Span();
    const instructions =
      s.member(m.result, "instructions", text) && text.kind == Kind.String
        ? s.bytes.buffer.slice(s.bytes.byteOffset + text.start, s.bytes.byteOffset + text.end)
        : null;
    return new BackendInfo(protocolVersion, capabilities, instructions);
  }
}

/** The initialize result for a client: `version` negotiated with it, the server's configured name, `info` carried. */
export function initializeResult(info: BackendInfo, version: string, serverName: string): ArrayBuffer {
  const w = new ByteWriter(160 + serverName.length + info.capabilities.byteLength);
  w.str('{"protocolVersion":"').str(version).str('","capabilities":');
  carriedCapabilities(w, Scanner.of(info.capabilities));
  w.str(',"serverInfo":{"name":').jsonString(serverName).str(',"version":"').str(SERVER_VERSION).str('"}');
  const instructions = info.instructions;
  if (instructions !== null) w.str(',"instructions":').all(instructions);
  return w.byte(0x7d).take();
}

/**
 * The server/discover result for a 2026-07-28 client: the versions the gateway speaks, the backend's capabilities
 * as carried, its instructions; not cacheable beyond this request ("private", 0 ms): it describes the backend as
 * this identity's session found it.
 */
export function discoverResult(info: BackendInfo, serverName: string): ArrayBuffer {
  const w = new ByteWriter(256 + serverName.length + info.capabilities.byteLength);
  w.str('{"resultType":"complete","supportedVersions":["').str(MODERN_VERSION);
  for (let i = LEGACY_VERSIONS.length - 1; i >= 0; i--) w.str('","').str(LEGACY_VERSIONS[i]);
  w.str('"],"capabilities":');
  carriedCapabilities(w, Scanner.of(info.capabilities));
  const instructions = info.instructions;
  if (instructions !== null) w.str(',"instructions":').all(instructions);
  w.str(',"ttlMs":0,"cacheScope":"private","_meta":{"io.modelcontextprotocol/serverInfo":{"name":').jsonString(
    serverName,
  );
  return w.str(',"version":"').str(SERVER_VERSION).str('"}}}').take();
}

function carriedCapabilities(w: ByteWriter, s: Scanner): void {
  w.byte(0x7b);
  const doc = new Span();
  if (s.isDocument(doc) && doc.kind == Kind.Object) {
    const it = new Members(s, doc.start);
    let first = true;
    while (it.next()) {
      const name = s.decode(it.keyStart, it.keyEnd);
      if (!CARRIED.includes(name) || it.value.kind != Kind.Object) continue;
      if (!first) w.byte(0x2c);
      first = false;
      w.span(s.bytes, it.keyStart, it.keyEnd).byte(0x3a);
      withoutDropped(w, s, it.value);
    }
  }
  w.byte(0x7d);
}

/** The object `obj` without its DROPPED members. */
function withoutDropped(w: ByteWriter, s: Scanner, obj: Span): void {
  w.byte(0x7b);
  const it = new Members(s, obj.start);
  let first = true;
  while (it.next()) {
    if (DROPPED.includes(s.decode(it.keyStart, it.keyEnd))) continue;
    if (!first) w.byte(0x2c);
    first = false;
    w.span(s.bytes, it.keyStart, it.keyEnd).byte(0x3a).span(s.bytes, it.value.start, it.value.end);
  }
  w.byte(0x7d);
}
