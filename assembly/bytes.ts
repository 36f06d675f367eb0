// Byte helpers shared by the scanner, the reply builders and the SSE parser: a growable output buffer and
// comparisons of raw bytes against ASCII literals (no string allocation on the hot path).

/** Growable byte buffer; `take()` hands the bytes over as an ArrayBuffer (never a copy). */
export class ByteWriter {
  buf: ArrayBuffer;
  len: i32 = 0;

  constructor(capacity: i32 = 256) {
    this.buf = new ArrayBuffer(max(capacity, 16));
  }

  private reserve(extra: i32): usize {
    const need = this.len + extra;
    if (need > this.buf.byteLength) {
      let cap = this.buf.byteLength << 1;
      while (cap < need) cap <<= 1;
      const grown = new ArrayBuffer(cap);
      memory.copy(changetype<usize>(grown), changetype<usize>(this.buf), this.len);
      this.buf = grown;
    }
    return changetype<usize>(this.buf) + this.len;
  }

  /** Appends `n` bytes from raw memory. */
  raw(ptr: usize, n: i32): ByteWriter {
    if (n <= 0) return this;
    memory.copy(this.reserve(n), ptr, n);
    this.len += n;
    return this;
  }

  /** Appends bytes [start, end) of `src`. */
  span(src: Uint8Array, start: i32, end: i32): ByteWriter {
    return this.raw(src.dataStart + start, end - start);
  }

  all(src: ArrayBuffer): ByteWriter {
    return this.raw(changetype<usize>(src), src.byteLength);
  }

  byte(b: u8): ByteWriter {
    store<u8>(this.reserve(1), b);
    this.len++;
    return this;
  }

  /** Appends a string as UTF-8. */
  str(s: string): ByteWriter {
    const n = String.UTF8.byteLength(s);
    String.UTF8.encodeUnsafe(changetype<usize>(s), s.length, this.reserve(n));
    this.len += n;
    return this;
  }

  /** Appends a string as a JSON string literal, quotes included. */
  jsonString(s: string): ByteWriter {
    this.byte(0x22);
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c == 0x22 || c == 0x5c) this.byte(0x5c).byte(<u8>c);
      else if (c < 0x20) this.str("\\u00").byte(hexDigit(c >> 4)).byte(hexDigit(c & 15));
      else if (c < 0x80) this.byte(<u8>c);
      else {
        // Non-ASCII: copy the run as UTF-8 in one go (surrogate pairs stay together).
        let j = i + 1;
        while (j < s.length && s.charCodeAt(j) >= 0x80) j++;
        this.str(s.substring(i, j));
        i = j - 1;
      }
    }
    return this.byte(0x22);
  }

  int(n: i64): ByteWriter {
    return this.str(n.toString());
  }

  take(): ArrayBuffer {
    // Shrunk in place (the runtime keeps the block): no second allocation, no copy.
    const buf = this.buf;
    return buf.byteLength == this.len ? buf : changetype<ArrayBuffer>(__renew(changetype<usize>(buf), <usize>this.len));
  }

  toString(): string {
    return String.UTF8.decodeUnsafe(changetype<usize>(this.buf), this.len);
  }
}

// SWAR: eight bytes tested at once in a u64 (little-endian, so the lowest flagged byte comes first in memory).
const LOW_BITS: u64 = 0x0101010101010101;
export const HIGH_BITS: u64 = 0x8080808080808080;

/**
 * The high bit of each byte of `x` that equals the byte repeated in `pattern` (e.g. 0x2222222222222222 for '"').
 * The lowest flagged byte is always a true match; bytes above it may be flagged falsely, so only use the first.
 */
// @ts-ignore: decorator
@inline export function bytesMatching(x: u64, pattern: u64): u64 {
  const y = x ^ pattern;
  return (y - LOW_BITS) & ~y & HIGH_BITS;
}

/** Offset (0-7) of the first flagged byte of a non-zero bytesMatching result. */
// @ts-ignore: decorator
@inline export function firstFlagged(flags: u64): i32 {
  return <i32>(ctz(flags) >> 3);
}

function hexDigit(n: i32): u8 {
  return <u8>(n < 10 ? 0x30 + n : 0x57 + n);
}

/** True when bytes [start, end) at `ptr` equal the ASCII string `lit`. */
export function bytesEqual(ptr: usize, start: i32, end: i32, lit: string): bool {
  if (end - start != lit.length) return false;
  for (let i = 0; i < lit.length; i++) {
    if (<u32>load<u8>(ptr + start + i) != <u32>lit.charCodeAt(i)) return false;
  }
  return true;
}

/** Case-insensitive search of the ASCII string `needle` (lowercase) in bytes [0, len) at `ptr`. */
export function containsAsciiCI(ptr: usize, len: i32, needle: string): bool {
  const n = needle.length;
  for (let i = 0; i + n <= len; i++) {
    let j = 0;
    while (j < n && ((<u32>load<u8>(ptr + i + j)) | 0x20) == <u32>needle.charCodeAt(j)) j++;
    if (j == n) return true;
  }
  return false;
}

/** Value of an ASCII hex digit, or -1. */
export function hexValue(c: u32): i32 {
  if (c - 0x30 < 10) return <i32>(c - 0x30);
  const l = c | 0x20;
  if (l - 0x61 < 6) return <i32>(l - 0x57);
  return -1;
}
