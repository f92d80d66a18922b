/**
 * Data patterns and digests shared with the executor (native/WIRE.md): every byte a test writes is
 * traceable to the write (seed) and stream position that produced it.
 */

/** Bytes `[pos, pos + n)` of pattern stream `seed`: byte k is byte k%8 (LE) of the u64 `(seed << 32) | (k / 8)`. */
export function patternBytes(seed: number, pos: number, n: number): Buffer {
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i++) {
    const k = pos + i;
    const word = Math.floor(k / 8);
    const b = k % 8;
    // low 4 bytes hold the word index, high 4 the seed
    out[i] = b < 4 ? (word >>> (8 * b)) & 0xff : (seed >>> (8 * (b - 4))) & 0xff;
  }
  return out;
}

/** Which write produced these 8 bytes, if they are an aligned pattern word: `{seed, pos}`. */
export function tracePatternWord(word: Buffer): { seed: number; pos: number } {
  return { seed: word.readUInt32LE(4), pos: word.readUInt32LE(0) * 8 };
}

const FNV64_BASIS = 0xcbf29ce484222325n;
const FNV64_PRIME = 0x100000001b3n;
const MASK64 = (1n << 64n) - 1n;

/** FNV-1a 64 of `data`, as the executor's DIGEST step computes it. */
export function fnv1a64(data: Uint8Array): bigint {
  // Two 32-bit halves keep this fast without BigInt per byte.
  let lo = 0x84222325;
  let hi = 0xcbf29ce4;
  for (let i = 0; i < data.length; i++) {
    lo ^= data[i];
    // (hi:lo) * (2^40 + 0x1b3) mod 2^64: the 2^40 term adds lo << 8 to the high half
    const l16 = lo & 0xffff;
    const h16 = lo >>> 16;
    const a = l16 * 0x1b3;
    const b = h16 * 0x1b3 + (a >>> 16);
    const newLo = ((b & 0xffff) << 16) | (a & 0xffff);
    const carry = Math.floor(b / 0x10000);
    hi = (Math.imul(hi, 0x1b3) + carry + ((lo << 8) >>> 0)) >>> 0;
    lo = newLo >>> 0;
  }
  return ((BigInt(hi) << 32n) | BigInt(lo)) & MASK64;
}

/** Reference FNV-1a 64 (slow, BigInt), for tests of the fast one. */
export function fnv1a64Reference(data: Uint8Array): bigint {
  let h = FNV64_BASIS;
  for (const byte of data) h = ((h ^ BigInt(byte)) * FNV64_PRIME) & MASK64;
  return h;
}

/** FNV-1a 32 over bytes. */
export function fnv1a32(data: Uint8Array): number {
  return fnv1a32Tail(0x811c9dc5, data, 0);
}

function fnv1a32Tail(h: number, data: Uint8Array, from: number): number {
  for (let i = from; i < data.length; i++) h = Math.imul(h ^ data[i], 0x01000193) >>> 0;
  return h >>> 0;
}

/** The program checksum (native/WIRE.md): FNV-1a 32 over little-endian u32 words, then any tail bytes. */
export function programChecksum(data: Uint8Array): number {
  const words = data.length >>> 2;
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let h = 0x811c9dc5;
  for (let i = 0; i < words; i++) h = Math.imul(h ^ dv.getUint32(4 * i, true), 0x01000193);
  return fnv1a32Tail(h >>> 0, data, 4 * words);
}

/** mulberry32: a small seeded PRNG, the same numbers on every platform. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
