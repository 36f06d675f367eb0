// SHA-256 (FIPS 180-4), for keys derived from credentials: backend sessions are keyed by a digest of the values
// that make up a client's identity, so the raw values are never kept as map keys, and no crafted value can be made
// to collide with another user's (a plain hash could be, and would hand its holder the other user's session).

const K: StaticArray<u32> = [
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

const H0: StaticArray<u32> = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

/** The message schedule of one block, reused (the module runs one call at a time). */
const W = new StaticArray<u32>(64);

@inline function big32(ptr: usize): u32 {
  return bswap<u32>(load<u32>(ptr));
}

/** Folds the 64-byte block at `ptr` into `h`. */
function block(h: StaticArray<u32>, ptr: usize): void {
  for (let i = 0; i < 16; i++) unchecked(W[i] = big32(ptr + <usize>(i << 2)));
  for (let i = 16; i < 64; i++) {
    const w15 = unchecked(W[i - 15]), w2 = unchecked(W[i - 2]);
    const s0 = rotr<u32>(w15, 7) ^ rotr<u32>(w15, 18) ^ (w15 >>> 3);
    const s1 = rotr<u32>(w2, 17) ^ rotr<u32>(w2, 19) ^ (w2 >>> 10);
    unchecked(W[i] = unchecked(W[i - 16]) + s0 + unchecked(W[i - 7]) + s1);
  }
  let a = unchecked(h[0]), b = unchecked(h[1]), c = unchecked(h[2]), d = unchecked(h[3]);
  let e = unchecked(h[4]), f = unchecked(h[5]), g = unchecked(h[6]), k = unchecked(h[7]);
  for (let i = 0; i < 64; i++) {
    const t1 = k + (rotr<u32>(e, 6) ^ rotr<u32>(e, 11) ^ rotr<u32>(e, 25)) + ((e & f) ^ (~e & g)) + unchecked(K[i]) + unchecked(W[i]);
    const t2 = (rotr<u32>(a, 2) ^ rotr<u32>(a, 13) ^ rotr<u32>(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    k = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
  }
  unchecked(h[0] += a); unchecked(h[1] += b); unchecked(h[2] += c); unchecked(h[3] += d);
  unchecked(h[4] += e); unchecked(h[5] += f); unchecked(h[6] += g); unchecked(h[7] += k);
}

/** The SHA-256 digest of `data` as 64 lowercase hex digits. */
export function sha256Hex(data: ArrayBuffer): string {
  const h = new StaticArray<u32>(8);
  for (let i = 0; i < 8; i++) unchecked(h[i] = H0[i]);
  const length = data.byteLength;
  const whole = length & ~63;
  const base = changetype<usize>(data);
  for (let at = 0; at < whole; at += 64) block(h, base + <usize>at);
  // The tail, the 0x80 marker, zeros, and the bit length (big-endian) in one or two final blocks.
  const rest = length - whole;
  const tailSize = rest < 56 ? 64 : 128;
  const tail = new ArrayBuffer(tailSize);
  const t = changetype<usize>(tail);
  memory.copy(t, base + <usize>whole, <usize>rest);
  store<u8>(t + <usize>rest, 0x80);
  store<u64>(t + <usize>tailSize - 8, bswap<u64>(<u64>length << 3));
  for (let at = 0; at < tailSize; at += 64) block(h, t + <usize>at);
  let out = "";
  for (let i = 0; i < 8; i++) out += unchecked(h[i]).toString(16).padStart(8, "0");
  return out;
}
