// JSON-RPC 2.0 envelopes: reading one message's top-level members as spans, and writing replies that carry the
// client's id bytes verbatim (a string id stays a string, 1.0 stays 1.0).
import { ByteWriter, bytesEqual } from "./bytes";
import { Kind, Members, Scanner, Span } from "./json";

export const PARSE_ERROR = -32700;
export const INVALID_REQUEST = -32600;
export const METHOD_NOT_FOUND = -32601;
export const INVALID_PARAMS = -32602;
export const INTERNAL_ERROR = -32603;
/** The SDK's code for a request timeout. */
export const REQUEST_TIMEOUT = -32001;

export const enum Shape {
  /** Not JSON at all. */
  Malformed = 0,
  /** JSON, but not a JSON-RPC 2.0 message. */
  Invalid = 1,
  Request = 2,
  Notification = 3,
  Response = 4,
}

/** What every absent member is (kind None): one shared span, never written to. */
const ABSENT = new Span();

/** The top-level members of one JSON-RPC message; absent members have kind None. Only present ones get a Span. */
export class Message {
  s: Scanner;
  shape: Shape = Shape.Malformed;
  jsonrpc: Span = ABSENT;
  id: Span = ABSENT;
  method: Span = ABSENT;
  params: Span = ABSENT;
  result: Span = ABSENT;
  error: Span = ABSENT;

  constructor(s: Scanner) {
    this.s = s;
  }

  /** Decoded method name ("" when absent). */
  methodName(): string {
    return this.s.decodeSpan(this.method);
  }

  idIs(n: i64): bool {
    return this.id.kind == Kind.Number && bytesEqual(this.s.ptr, this.id.start, this.id.end, n.toString());
  }
}

const INDEXED_MESSAGE_BYTES = 1024;

/** Parses and classifies a whole body as one JSON-RPC message (one pass; the body must be a single object). */
export function parseMessage(s: Scanner): Message {
  const m = new Message(s);
  const start = s.ws(0);
  if (start >= s.len) return m;
  if (s.at(start) != 0x7b) {
    const whole = new Span();
    m.shape = s.isDocument(whole) ? Shape.Invalid : Shape.Malformed;
    return m;
  }
  const it = new Members(s, start);
  // The one validating pass also indexes the large containers, for later walks (tools/list filtering); a small
  // message is cheaper to walk again than to index.
  if (s.len >= INDEXED_MESSAGE_BYTES) s.startIndex();
  while (it.next()) {
    const member = pick(m, it);
    if (member != Member.Other) record(m, member, it.value);
  }
  const valid = it.ok && s.ws(it.end) == s.len;
  s.endIndex(valid);
  if (!valid) return m;
  m.shape = classify(m);
  return m;
}

const enum Member {
  Other,
  Jsonrpc,
  Id,
  Method,
  Params,
  Result,
  Error,
}

function pick(m: Message, it: Members): Member {
  const s = m.s;
  const k0 = it.keyStart,
    k1 = it.keyEnd;
  const n = k1 - k0 - 2;
  // Dispatch on length first: only one key is compared per member.
  if (n == 2) return s.keyIs(k0, k1, "id") ? Member.Id : Member.Other;
  if (n == 5) return s.keyIs(k0, k1, "error") ? Member.Error : Member.Other;
  if (n == 6) {
    if (s.keyIs(k0, k1, "method")) return Member.Method;
    if (s.keyIs(k0, k1, "params")) return Member.Params;
    if (s.keyIs(k0, k1, "result")) return Member.Result;
    return Member.Other;
  }
  if (n == 7) return s.keyIs(k0, k1, "jsonrpc") ? Member.Jsonrpc : Member.Other;
  // A key with escapes has a longer raw form; fall back to comparing decoded names.
  if (n > 7) {
    const name = s.decode(k0, k1);
    if (name == "id") return Member.Id;
    if (name == "error") return Member.Error;
    if (name == "method") return Member.Method;
    if (name == "params") return Member.Params;
    if (name == "result") return Member.Result;
    if (name == "jsonrpc") return Member.Jsonrpc;
  }
  return Member.Other;
}

/** A copy of `value` (the iterator reuses its span) as `member` of `m`; a repeated key's last value wins. */
function record(m: Message, member: Member, value: Span): void {
  const span = new Span();
  span.set(value.start, value.end, value.kind);
  if (member == Member.Jsonrpc) m.jsonrpc = span;
  else if (member == Member.Id) m.id = span;
  else if (member == Member.Method) m.method = span;
  else if (member == Member.Params) m.params = span;
  else if (member == Member.Result) m.result = span;
  else m.error = span;
}

function classify(m: Message): Shape {
  if (!m.s.spanIs(m.jsonrpc, "2.0")) return Shape.Invalid;
  const idKind = m.id.kind;
  const idValid = idKind == Kind.String || idKind == Kind.Number;
  if (idKind != Kind.None && !idValid) return Shape.Invalid;
  if (m.method.present) {
    if (m.method.kind != Kind.String) return Shape.Invalid;
    if (m.params.present && m.params.kind != Kind.Object && m.params.kind != Kind.Array) return Shape.Invalid;
    return idValid ? Shape.Request : Shape.Notification;
  }
  if (idValid && m.result.present != m.error.present) return Shape.Response;
  return Shape.Invalid;
}

const HEAD = '{"jsonrpc":"2.0","id":';
const NULL_ID = "null";

/** The id to echo: the request's raw bytes, or null when the message had none. */
export class ReplyId {
  constructor(
    public bytes: Uint8Array | null,
    public start: i32 = 0,
    public end: i32 = 0,
  ) {}

  /** The message's id when it is a valid one (string or number), else null. */
  static of(m: Message): ReplyId {
    const k = m.id.kind;
    return k == Kind.String || k == Kind.Number ? new ReplyId(m.s.bytes, m.id.start, m.id.end) : new ReplyId(null);
  }

  /** The shared "null" id (never mutated). */
  static none(): ReplyId {
    return NULL_REPLY_ID;
  }

  write(w: ByteWriter): void {
    const b = this.bytes;
    if (b === null) w.str(NULL_ID);
    else w.span(b, this.start, this.end);
  }

  get length(): i32 {
    return this.bytes === null ? NULL_ID.length : this.end - this.start;
  }
}

const NULL_REPLY_ID = new ReplyId(null);

/** A message of nothing (Malformed), shared as the placeholder before a body is read. */
export const NO_MESSAGE = new Message(Scanner.of(new ArrayBuffer(0)));

/** Writes `{"jsonrpc":"2.0","id":ID,"<member>":`; the caller writes the value and the closing brace. */
export function writeHead(w: ByteWriter, id: ReplyId, member: string): ByteWriter {
  w.str(HEAD);
  id.write(w);
  return w.str(',"').str(member).str('":');
}

function headLength(id: ReplyId, member: string): i32 {
  return HEAD.length + id.length + member.length + 4;
}

/** `{"jsonrpc":"2.0","id":ID,"result":<bytes [start,end) of src>}` in one exactly-sized allocation. */
export function resultReply(id: ReplyId, src: Uint8Array, start: i32, end: i32): ArrayBuffer {
  const w = new ByteWriter(headLength(id, "result") + (end - start) + 1);
  return writeHead(w, id, "result").span(src, start, end).byte(0x7d).take();
}

/** A reply whose result is the given literal JSON text. */
export function literalResultReply(id: ReplyId, json: string): ArrayBuffer {
  const w = new ByteWriter(headLength(id, "result") + json.length + 1);
  return writeHead(w, id, "result").str(json).byte(0x7d).take();
}

/** A reply whose error object is copied verbatim from src (a backend's error passes through untouched). */
export function errorObjectReply(id: ReplyId, src: Uint8Array, start: i32, end: i32): ArrayBuffer {
  const w = new ByteWriter(headLength(id, "error") + (end - start) + 1);
  return writeHead(w, id, "error").span(src, start, end).byte(0x7d).take();
}

export function errorReply(id: ReplyId, code: i32, message: string): ArrayBuffer {
  const w = new ByteWriter(headLength(id, "error") + 40 + message.length);
  writeHead(w, id, "error").str('{"code":').int(code).str(',"message":').jsonString(message);
  return w.str("}}").take();
}
