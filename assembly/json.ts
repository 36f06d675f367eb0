// Hand-written JSON scanner over raw bytes. It validates strictly (RFC 8259 grammar) in one pass without building
// a tree and without recursion (a deep body cannot overflow the stack), and reports values as byte spans, so
// replies can copy the client's bytes verbatim. It never throws and never reads outside [0, len).
import { ByteWriter, HIGH_BITS, bytesEqual, bytesMatching, firstFlagged, hexValue } from "./bytes";

export const enum Kind {
  None = 0,
  Object = 1,
  Array = 2,
  String = 3,
  Number = 4,
  True = 5,
  False = 6,
  Null = 7,
}

/** Nesting limit (containers inside containers): deeper input is rejected as malformed. */
export const MAX_DEPTH = 128;
const IN_OBJECT: u8 = 1;
const IN_ARRAY: u8 = 2;
const stack = new StaticArray<u8>(MAX_DEPTH);
/** Index slots of the containers open while a document is being indexed, by depth. */
const slots = new StaticArray<i32>(MAX_DEPTH);

/** Bytes that end the fast run inside a string: '"', '\\' and the control characters (1 = stop). */
const STRING_STOP = memory.data<u8>([
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
]);

const QUOTES: u64 = 0x2222222222222222;
const BACKSLASHES: u64 = 0x5c5c5c5c5c5c5c5c;
const SPACES: u64 = 0x2020202020202020;

/** Containers smaller than this are rescanned rather than indexed (keeps the index under len/64 entries). */
const INDEXED_MIN_BYTES = 64;

/**
 * Where the large containers of a validated document end, in document order. Walking a document again (finding
 * `tools`, then each tool's `name`) jumps over indexed containers instead of rescanning them, so filtering a
 * tools/list costs about one pass over the bytes instead of four.
 */
class ContainerIndex {
  /** (start, end) pairs, ordered by start; an open container's end is 0. */
  private spans: StaticArray<i32> = new StaticArray<i32>(0);
  private count: i32 = 0;

  open(start: i32): i32 {
    const k = this.count;
    if (k << 1 >= this.spans.length) this.grow();
    unchecked((this.spans[k << 1] = start));
    unchecked((this.spans[(k << 1) + 1] = 0));
    this.count = k + 1;
    return k;
  }

  private grow(): void {
    const bigger = new StaticArray<i32>(max(64, this.spans.length << 1));
    memory.copy(changetype<usize>(bigger), changetype<usize>(this.spans), (<usize>this.count) << 3);
    this.spans = bigger;
  }

  /** A small container is dropped again: its descendants were smaller still, so its slot is the last one. */
  close(slot: i32, end: i32): void {
    if (slot < 0 || slot >= this.count) return;
    if (slot == this.count - 1 && end - unchecked(this.spans[slot << 1]) < INDEXED_MIN_BYTES) this.count = slot;
    else unchecked((this.spans[(slot << 1) + 1] = end));
  }

  /** End of the indexed container starting at `start`, or -1. */
  endOf(start: i32): i32 {
    let lo = 0,
      hi = this.count - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const at = unchecked(this.spans[mid << 1]);
      if (at == start) return unchecked(this.spans[(mid << 1) + 1]);
      if (at < start) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }
}

/** The index of a scanner that has none: every lookup misses. */
const NO_INDEX = new ContainerIndex();

/** A value's raw bytes [start, end) (a string span includes its quotes). */
export class Span {
  start: i32 = 0;
  end: i32 = 0;
  kind: Kind = Kind.None;

  set(start: i32, end: i32, kind: Kind): void {
    this.start = start;
    this.end = end;
    this.kind = kind;
  }

  get present(): bool {
    return this.kind != Kind.None;
  }
}

export class Scanner {
  ptr: usize;
  len: i32;
  /** Keeps the scanned bytes alive for as long as the scanner is. */
  bytes: Uint8Array;
  /** Set by startIndex(); while `indexing`, valueEnd records containers instead of looking them up. */
  private index: ContainerIndex = NO_INDEX;
  private lookup: Members | null = null;
  private indexing: bool = false;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.ptr = bytes.dataStart;
    this.len = bytes.length;
  }

  static of(buf: ArrayBuffer): Scanner {
    return new Scanner(Uint8Array.wrap(buf));
  }

  @inline at(i: i32): u32 {
    return <u32>load<u8>(this.ptr + <usize>i);
  }

  kindAt(i: i32): Kind {
    if (i < 0 || i >= this.len) return Kind.None;
    const c = this.at(i);
    if (c == 0x7b) return Kind.Object;
    if (c == 0x5b) return Kind.Array;
    if (c == 0x22) return Kind.String;
    if (c == 0x74) return Kind.True;
    if (c == 0x66) return Kind.False;
    if (c == 0x6e) return Kind.Null;
    return Kind.Number;
  }

  /** Index of the first non-whitespace byte at or after i (len if none). */
  @inline ws(i: i32): i32 {
    // Fields copied to locals: the hot loops then keep them in registers.
    const ptr = this.ptr,
      len = this.len;
    while (i < len) {
      const c = <u32>load<u8>(ptr + <usize>i);
      if (c > 0x20 || (c != 0x20 && c != 0x0a && c != 0x0d && c != 0x09)) break;
      i++;
    }
    return i;
  }

  /** i is at an opening quote; returns the index past the closing quote, or -1. */
  stringEnd(i: i32): i32 {
    const ptr = this.ptr,
      len = this.len;
    i++;
    while (i < len) {
      // Eight bytes at a time up to the first '"', '\\' or control character (SWAR byte tests).
      while (i + 8 <= len) {
        const x = load<u64>(ptr + <usize>i);
        const stops = bytesMatching(x, QUOTES) | bytesMatching(x, BACKSLASHES) | ((x - SPACES) & ~x & HIGH_BITS);
        if (stops != 0) {
          i += firstFlagged(stops);
          break;
        }
        i += 8;
      }
      if (i >= len) break;
      const c = <u32>load<u8>(ptr + <usize>i);
      if (load<u8>(STRING_STOP + <usize>c) == 0) {
        i++;
        continue;
      }
      if (c == 0x22) return i + 1;
      if (c != 0x5c || i + 1 >= len) return -1;
      const e = <u32>load<u8>(ptr + <usize>i + 1);
      if (e == 0x75) {
        if (i + 5 >= len) return -1;
        for (let k = 2; k < 6; k++) if (hexValue(this.at(i + k)) < 0) return -1;
        i += 6;
        continue;
      }
      if (e != 0x22 && e != 0x5c && e != 0x2f && e != 0x62 && e != 0x66 && e != 0x6e && e != 0x72 && e != 0x74)
        return -1;
      i += 2;
    }
    return -1;
  }

  private digitsEnd(i: i32): i32 {
    const ptr = this.ptr,
      len = this.len;
    while (i < len && <u32>load<u8>(ptr + <usize>i) - 0x30 < 10) i++;
    return i;
  }

  /** Returns the index past the number starting at i, or -1. */
  numberEnd(i: i32): i32 {
    if (i < this.len && this.at(i) == 0x2d) i++;
    if (i >= this.len) return -1;
    const first = this.at(i);
    if (first == 0x30) i++;
    else if (first - 0x31 < 9) i = this.digitsEnd(i + 1);
    else return -1;
    if (i < this.len && this.at(i) == 0x2e) {
      const j = this.digitsEnd(i + 1);
      if (j == i + 1) return -1;
      i = j;
    }
    if (i < this.len && (this.at(i) | 0x20) == 0x65) {
      i++;
      if (i < this.len && (this.at(i) == 0x2b || this.at(i) == 0x2d)) i++;
      const j = this.digitsEnd(i);
      if (j == i) return -1;
      i = j;
    }
    return i;
  }

  private literalEnd(i: i32, lit: string): i32 {
    const end = i + lit.length;
    return end <= this.len && bytesEqual(this.ptr, i, end, lit) ? end : -1;
  }

  private scalarEnd(i: i32, c: u32): i32 {
    if (c == 0x22) return this.stringEnd(i);
    if (c == 0x74) return this.literalEnd(i, "true");
    if (c == 0x66) return this.literalEnd(i, "false");
    if (c == 0x6e) return this.literalEnd(i, "null");
    return this.numberEnd(i);
  }

  /** i is at a member's key (after whitespace); returns the index past the ':' or -1. */
  private keyEnd(i: i32): i32 {
    if (i >= this.len || this.at(i) != 0x22) return -1;
    i = this.ws(this.stringEnd(i));
    if (i < 0 || i >= this.len || this.at(i) != 0x3a) return -1;
    return i + 1;
  }

  /** Validates one value starting at or after i; returns the index past it, or -1 when malformed. */
  valueEnd(i: i32): i32 {
    const len = this.len;
    const index = this.index;
    const recording = this.indexing;
    let depth = 0;
    while (true) {
      i = this.ws(i);
      if (i >= len) return -1;
      const c = this.at(i);
      if (c == 0x7b || c == 0x5b) {
        const known = recording ? -1 : index.endOf(i);
        if (known > 0) {
          i = known;
        } else {
          if (depth == MAX_DEPTH) return -1;
          const open = i;
          const close: u32 = c == 0x7b ? 0x7d : 0x5d;
          i = this.ws(i + 1);
          if (i >= len) return -1;
          if (this.at(i) != close) {
            if (recording) unchecked((slots[depth] = index.open(open)));
            unchecked((stack[depth++] = c == 0x7b ? IN_OBJECT : IN_ARRAY));
            if (c == 0x7b && (i = this.keyEnd(i)) < 0) return -1;
            continue;
          }
          i++;
        }
      } else if ((i = this.scalarEnd(i, c)) < 0) {
        return -1;
      }
      // A value is complete: close every container that ends here, or move to the next member/element.
      while (true) {
        if (depth == 0) return i;
        i = this.ws(i);
        if (i >= len) return -1;
        const d = this.at(i);
        const inObject = unchecked(stack[depth - 1]) == IN_OBJECT;
        if (d == 0x2c) {
          i++;
          if (inObject && (i = this.keyEnd(this.ws(i))) < 0) return -1;
          break;
        }
        if (d != (inObject ? 0x7d : 0x5d)) return -1;
        i++;
        depth--;
        if (recording) index.close(unchecked(slots[depth]), i);
      }
    }
  }

  /** Fills `out` with the value starting at or after i; returns the index past it, or -1. */
  value(i: i32, out: Span): i32 {
    const start = this.ws(i);
    const end = this.valueEnd(start);
    if (end < 0) return -1;
    out.set(start, end, this.kindAt(start));
    return end;
  }

  /** Starts recording large containers while the document is validated (see ContainerIndex). */
  startIndex(): void {
    this.index = new ContainerIndex();
    this.indexing = true;
  }

  /** Ends recording; a document that failed validation keeps no index (its walks fail as before). */
  endIndex(valid: bool): void {
    this.indexing = false;
    if (!valid) this.index = NO_INDEX;
  }

  /** True when the whole input is exactly one valid JSON value (surrounding whitespace allowed). */
  isDocument(out: Span): bool {
    const end = this.value(0, out);
    return end >= 0 && this.ws(end) == this.len;
  }

  /** Raw key bytes (without quotes) equal `lit`; keys with escapes are decoded first. */
  keyIs(keyStart: i32, keyEnd: i32, lit: string): bool {
    const s = keyStart + 1,
      e = keyEnd - 1;
    if (!this.hasEscape(s, e)) return bytesEqual(this.ptr, s, e, lit);
    return this.decode(keyStart, keyEnd) == lit;
  }

  spanIs(span: Span, lit: string): bool {
    return span.kind == Kind.String && this.keyIs(span.start, span.end, lit);
  }

  private hasEscape(s: i32, e: i32): bool {
    for (let i = s; i < e; i++) if (this.at(i) == 0x5c) return true;
    return false;
  }

  /** Decodes the string literal at [start, end) (quotes included). Invalid escapes were ruled out by stringEnd. */
  decode(start: i32, end: i32): string {
    const s = start + 1,
      e = end - 1;
    if (!this.hasEscape(s, e)) return String.UTF8.decodeUnsafe(this.ptr + s, e - s);
    const w = new ByteWriter(e - s);
    let i = s;
    while (i < e) {
      const c = this.at(i);
      if (c != 0x5c) {
        w.byte(<u8>c);
        i++;
        continue;
      }
      const x = this.at(i + 1);
      if (x == 0x75) {
        let cp = this.hex4(i + 2);
        i += 6;
        // A high surrogate followed by an escaped low surrogate forms one code point.
        if (cp >= 0xd800 && cp < 0xdc00 && i + 5 < e && this.at(i) == 0x5c && this.at(i + 1) == 0x75) {
          const lo = this.hex4(i + 2);
          if (lo >= 0xdc00 && lo < 0xe000) {
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            i += 6;
          }
        }
        utf8(w, cp);
        continue;
      }
      w.byte(<u8>unescapeChar(x));
      i += 2;
    }
    return w.toString();
  }

  decodeSpan(span: Span): string {
    return span.kind == Kind.String ? this.decode(span.start, span.end) : "";
  }

  private hex4(i: i32): u32 {
    let v: u32 = 0;
    for (let k = 0; k < 4; k++) v = (v << 4) | (<u32>hexValue(this.at(i + k)));
    return v;
  }

  /** Looks up member `key` of the object `obj` (already validated); fills `out` and returns true when found. */
  member(obj: Span, key: string, out: Span): bool {
    if (obj.kind != Kind.Object) return false;
    // One iterator reused for every lookup: filtering a tools/list looks up each tool's name.
    let it = this.lookup;
    if (it === null) this.lookup = it = new Members(this, obj.start);
    else it.restart(obj.start);
    let found = false;
    while (it.next()) {
      if (this.keyIs(it.keyStart, it.keyEnd, key)) {
        out.set(it.value.start, it.value.end, it.value.kind);
        found = true;
      }
    }
    return found;
  }
}

/** What the object and array iterators share: the separators between items and the closing byte. */
class ListItems {
  s: Scanner;
  i: i32;
  first: bool = true;
  done: bool = false;
  /** False after a syntax error. */
  ok: bool = true;
  value: Span = new Span();
  /** Index past the closing byte once `next()` returned false with ok. */
  end: i32 = -1;

  constructor(s: Scanner, open: i32) {
    this.s = s;
    this.i = open + 1;
  }

  /** Walks the container opening at `open` (of the same scanner) from its start. */
  restart(open: i32): void {
    this.i = open + 1;
    this.first = true;
    this.done = false;
    this.ok = true;
    this.end = -1;
  }

  protected stop(): bool {
    this.ok = false;
    this.done = true;
    return false;
  }

  /** Where the next item starts (past a separating comma), or -1 at the closing byte or on a syntax error. */
  protected nextItem(close: u8): i32 {
    if (this.done) return -1;
    const s = this.s;
    let i = s.ws(this.i);
    if (i >= s.len) {
      this.stop();
      return -1;
    }
    if (s.at(i) == close) {
      this.done = true;
      this.end = i + 1;
      return -1;
    }
    if (!this.first) {
      if (s.at(i) != 0x2c) {
        this.stop();
        return -1;
      }
      i = s.ws(i + 1);
      if (i >= s.len) {
        this.stop();
        return -1;
      }
    }
    this.first = false;
    return i;
  }
}

/** Iterates the members of an object (i at '{'), validating each value. */
export class Members extends ListItems {
  keyStart: i32 = 0;
  keyEnd: i32 = 0;

  next(): bool {
    let i = this.nextItem(0x7d);
    if (i < 0) return false;
    const s = this.s;
    if (s.at(i) != 0x22) return this.stop();
    this.keyStart = i;
    i = s.stringEnd(i);
    if (i < 0) return this.stop();
    this.keyEnd = i;
    i = s.ws(i);
    if (i >= s.len || s.at(i) != 0x3a) return this.stop();
    i = s.value(i + 1, this.value);
    if (i < 0) return this.stop();
    this.i = i;
    return true;
  }
}

/** Iterates the elements of an array (i at '['), validating each. */
export class Elements extends ListItems {
  next(): bool {
    const start = this.nextItem(0x5d);
    if (start < 0) return false;
    const i = this.s.value(start, this.value);
    if (i < 0) return this.stop();
    this.i = i;
    return true;
  }
}

function unescapeChar(x: u32): u32 {
  if (x == 0x62) return 0x08;
  if (x == 0x66) return 0x0c;
  if (x == 0x6e) return 0x0a;
  if (x == 0x72) return 0x0d;
  if (x == 0x74) return 0x09;
  return x; // " \ /
}

function utf8(w: ByteWriter, cp: u32): void {
  if (cp < 0x80) {
    w.byte(<u8>cp);
    return;
  }
  if (cp < 0x800) {
    w.byte(<u8>(0xc0 | (cp >> 6))).byte(<u8>(0x80 | (cp & 63)));
    return;
  }
  if (cp < 0x10000) {
    w.byte(<u8>(0xe0 | (cp >> 12)))
      .byte(<u8>(0x80 | ((cp >> 6) & 63)))
      .byte(<u8>(0x80 | (cp & 63)));
    return;
  }
  w.byte(<u8>(0xf0 | (cp >> 18))).byte(<u8>(0x80 | ((cp >> 12) & 63)));
  w.byte(<u8>(0x80 | ((cp >> 6) & 63))).byte(<u8>(0x80 | (cp & 63)));
}
