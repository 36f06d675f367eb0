// Incremental text/event-stream parser (WHATWG HTML "server-sent events" interpretation). Feed it chunks as
// they come; it keeps only the unfinished line between chunks and never rescans bytes it has consumed. Lines end
// with LF, CRLF or CR (a CR at the end of one chunk and an LF at the start of the next are one line end).
import { ByteWriter, bytesEqual, bytesMatching, firstFlagged } from "./bytes";

const LFS: u64 = 0x0a0a0a0a0a0a0a0a;
const CRS: u64 = 0x0d0d0d0d0d0d0d0d;

export class SseEvent {
  /** A copy, or a view into the body given to pushBody(). */
  constructor(
    public type: string,
    public data: Uint8Array,
    public id: string,
  ) {}

  get text(): string {
    return String.UTF8.decodeUnsafe(this.data.dataStart, this.data.length);
  }
}

export class SseParser {
  /** Dispatched events not yet taken by the caller. */
  events: SseEvent[] = [];
  /** The last event id seen (kept across events, as the spec says). */
  lastId: string = "";
  /** The last valid `retry` value in ms, or -1. */
  retry: i64 = -1;
  private line: ByteWriter = new ByteWriter(128);
  private data: ByteWriter = new ByteWriter(256);
  private type: string = "";
  private hasData: bool = false;
  private afterCR: bool = false;
  /** While pushBody() runs: the body, whose single-line event data is borrowed instead of copied. */
  private body: ArrayBuffer | null = null;
  /** The borrowed data line of the current event ([start, start + length) of `body`); length -1 when none. */
  private borrowedStart: i32 = 0;
  private borrowedLength: i32 = -1;

  /** Consumes `len` bytes at `ptr`; complete events are appended to `events`. */
  push(ptr: usize, len: i32): void {
    let i = 0;
    if (this.afterCR && len > 0 && load<u8>(ptr) == 0x0a) i = 1;
    this.afterCR = false;
    let lineStart = i;
    while (i < len) {
      // Eight bytes at a time up to the next CR or LF (a data line can be a whole 100 KB JSON message).
      while (i + 8 <= len) {
        const x = load<u64>(ptr + i);
        const ends = bytesMatching(x, LFS) | bytesMatching(x, CRS);
        if (ends != 0) {
          i += firstFlagged(ends);
          break;
        }
        i += 8;
      }
      if (i >= len) break;
      const c = load<u8>(ptr + i);
      if (c != 0x0a && c != 0x0d) {
        i++;
        continue;
      }
      this.endLine(ptr + lineStart, i - lineStart);
      i++;
      if (c == 0x0d) {
        if (i == len) this.afterCR = true;
        else if (load<u8>(ptr + i) == 0x0a) i++;
      }
      lineStart = i;
    }
    this.line.raw(ptr + lineStart, len - lineStart);
  }

  /** Bytes held for the line and the event still being received: what a caller bounds. */
  get pending(): i32 {
    return this.line.len + this.data.len;
  }

  pushBytes(b: Uint8Array): void {
    this.push(b.dataStart, b.length);
  }

  /**
   * Consumes a whole body the caller keeps alive as long as the events: an event with one data line (the usual
   * JSON-RPC message) is a view into it, not a copy.
   */
  pushBody(body: ArrayBuffer): void {
    this.body = body;
    this.push(changetype<usize>(body), body.byteLength);
    this.keepBorrowed();
    this.body = null;
  }

  /** Ends the stream: a final event without its blank line is discarded, per the spec. */
  finish(): void {
    this.line.len = 0;
    this.resetEvent();
  }

  private endLine(ptr: usize, n: i32): void {
    // Complete the line with the carried-over prefix only when there is one (the common case copies nothing).
    if (this.line.len > 0) {
      this.line.raw(ptr, n);
      this.field(changetype<usize>(this.line.buf), this.line.len);
      this.line.len = 0;
    } else {
      this.field(ptr, n);
    }
  }

  private field(ptr: usize, n: i32): void {
    if (n == 0) {
      this.dispatch();
      return;
    }
    if (load<u8>(ptr) == 0x3a) return; // comment
    let colon = 0;
    while (colon < n && load<u8>(ptr + colon) != 0x3a) colon++;
    let v = colon + 1;
    if (v < n && load<u8>(ptr + v) == 0x20) v++;
    const vptr = ptr + min(v, n);
    const vlen = max(n - v, 0);
    if (bytesEqual(ptr, 0, colon, "data")) {
      this.dataLine(vptr, vlen);
    } else if (bytesEqual(ptr, 0, colon, "event")) {
      this.type = String.UTF8.decodeUnsafe(vptr, vlen);
    } else if (bytesEqual(ptr, 0, colon, "id")) {
      if (!containsNul(vptr, vlen)) this.lastId = String.UTF8.decodeUnsafe(vptr, vlen);
    } else if (bytesEqual(ptr, 0, colon, "retry")) {
      this.retry = digits(vptr, vlen, this.retry);
    }
  }

  private dataLine(ptr: usize, n: i32): void {
    const body = this.body;
    // A line inside the body (not pieced together in `line`) can be borrowed while it is the event's only one.
    if (
      !this.hasData &&
      body !== null &&
      ptr >= changetype<usize>(body) &&
      ptr + n <= changetype<usize>(body) + body.byteLength
    ) {
      this.borrowedStart = <i32>(ptr - changetype<usize>(body));
      this.borrowedLength = n;
      this.hasData = true;
      return;
    }
    this.keepBorrowed();
    if (this.hasData) this.data.byte(0x0a);
    this.data.raw(ptr, n);
    this.hasData = true;
  }

  /** Copies a borrowed line into `data`: a second data line follows, or the body is about to go. */
  private keepBorrowed(): void {
    if (this.borrowedLength < 0) return;
    this.data.raw(changetype<usize>(this.body) + <usize>this.borrowedStart, this.borrowedLength);
    this.borrowedLength = -1;
  }

  private dispatch(): void {
    // An event with no data line (e.g. a priming event carrying only an id) is not dispatched.
    if (this.hasData) {
      const type = this.type.length > 0 ? this.type : "message";
      const data =
        this.borrowedLength >= 0
          ? Uint8Array.wrap(changetype<ArrayBuffer>(this.body), this.borrowedStart, this.borrowedLength)
          : Uint8Array.wrap(this.data.buf.slice(0, this.data.len));
      this.events.push(new SseEvent(type, data, this.lastId));
    }
    this.resetEvent();
  }

  private resetEvent(): void {
    this.data.len = 0;
    this.borrowedLength = -1;
    this.hasData = false;
    this.type = "";
  }
}

function containsNul(ptr: usize, n: i32): bool {
  for (let i = 0; i < n; i++) if (load<u8>(ptr + i) == 0) return true;
  return false;
}

/** The value when all bytes are ASCII digits (and it fits), else `previous`. */
function digits(ptr: usize, n: i32, previous: i64): i64 {
  if (n == 0 || n > 15) return previous;
  let v: i64 = 0;
  for (let i = 0; i < n; i++) {
    const d = <i32>load<u8>(ptr + i) - 0x30;
    if (d < 0 || d > 9) return previous;
    v = v * 10 + d;
  }
  return v;
}
