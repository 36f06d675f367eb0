// Base64 (RFC 4648, standard alphabet, padded): Basic credentials are encoded with it, and MCP 2026-07-28 carries
// header values that are not plain ASCII as `=?base64?...?=`. Decoding never traps: bad input gives null.

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

export function base64(buf: ArrayBuffer): string {
  const b = Uint8Array.wrap(buf);
  let out = "";
  for (let i = 0; i < b.length; i += 3) {
    const n = b.length - i;
    const v = ((<u32>b[i]) << 16) | (n > 1 ? (<u32>b[i + 1]) << 8 : 0) | (n > 2 ? <u32>b[i + 2] : 0);
    out += ALPHABET.charAt((v >> 18) & 63) + ALPHABET.charAt((v >> 12) & 63);
    out += n > 1 ? ALPHABET.charAt((v >> 6) & 63) : "=";
    out += n > 2 ? ALPHABET.charAt(v & 63) : "=";
  }
  return out;
}

function sextet(c: i32): i32 {
  if (c >= 0x41 && c <= 0x5a) return c - 0x41;
  if (c >= 0x61 && c <= 0x7a) return c - 0x61 + 26;
  if (c >= 0x30 && c <= 0x39) return c - 0x30 + 52;
  if (c == 0x2b) return 62;
  if (c == 0x2f) return 63;
  return -1;
}

/** The bytes of padded base64 `text`, or null when it is not valid base64. */
export function unbase64(text: string): ArrayBuffer | null {
  const n = text.length;
  if (n % 4 != 0) return null;
  const padding = n == 0 ? 0 : text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0;
  const out = new ArrayBuffer((n / 4) * 3 - padding);
  const bytes = Uint8Array.wrap(out);
  let at = 0;
  for (let i = 0; i < n; i += 4) {
    let v: u32 = 0;
    for (let j = 0; j < 4; j++) {
      const c = text.charCodeAt(i + j);
      const s = c == 0x3d && i + j >= n - padding ? 0 : sextet(c);
      if (s < 0) return null;
      v = (v << 6) | (<u32>s);
    }
    if (at < bytes.length) bytes[at++] = <u8>(v >> 16);
    if (at < bytes.length) bytes[at++] = <u8>(v >> 8);
    if (at < bytes.length) bytes[at++] = <u8>v;
  }
  return out;
}
