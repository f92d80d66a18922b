/**
 * Raw structure bytes from a layout (src/abi) plus relocations: fields given as numbers are written
 * now; fields given as run-time arguments (a buffer address, an fd slot) become PATCH steps.
 */
import type { Layout } from '../abi/layout';
import { arg, Arg, Buf, Fd, Sequence } from './builder';

/** A field value: written as is, or resolved by the executor when the program runs. */
export type FieldValue = number | bigint | Arg;

/** Bytes of a structure with the relocations still to apply. */
export interface RawStruct {
  bytes: Buffer;
  relocs: { off: number; width: 1 | 2 | 4 | 8; value: Arg }[];
}

const ZEROS = new Uint8Array(256);

/**
 * @internal A zeroed Buffer of `n` bytes. Small ones are carved from Node's shared pool, which
 * costs less than an ArrayBuffer of their own (a fuzz program makes dozens of 64-byte SQEs).
 */
export function zeroed(n: number): Buffer {
  if (!Number.isInteger(n) || n > ZEROS.length) return Buffer.alloc(n);
  const b = Buffer.allocUnsafe(n);
  b.set(ZEROS.subarray(0, n));
  return b;
}

/** Encode `values` (by field name) over a zeroed structure of the layout's size (or `size`). */
export function encodeStruct<F extends string>(l: Layout<F>, values: Partial<Record<F, FieldValue>>, size = l.size): RawStruct {
  const s: RawStruct = { bytes: zeroed(size), relocs: [] };
  for (const name of Object.keys(values) as F[]) setField(l, s, name, values[name]);
  return s;
}

/**
 * @internal Set one field of a structure being encoded (`undefined` leaves it alone): what
 * {@link encodeStruct} does for each entry, in order, for encoders that would otherwise build a
 * values object first (sqe, iocb).
 */
export function setField<F extends string>(l: Layout<F>, s: RawStruct, name: F, v: FieldValue | undefined): void {
  if (v === undefined) return;
  const f = l.fields[name];
  if (!f) throw new Error(`${l.id} has no field ${name}`);
  const width = f.size as 1 | 2 | 4 | 8;
  if (typeof v === 'object') {
    s.relocs.push({ off: f.offset, width, value: v });
    return;
  }
  const bytes = s.bytes;
  // a safe integer is written as BigInt.asUintN(width * 8, BigInt(v)) would be, without the BigInt
  if (typeof v === 'number' && Number.isSafeInteger(v)) {
    if (width === 8) {
      bytes.writeUInt32LE(v >>> 0, f.offset);
      bytes.writeUInt32LE(Math.floor(v / 0x100000000) >>> 0, f.offset + 4);
    } else if (width === 4) bytes.writeUInt32LE(v >>> 0, f.offset);
    else if (width === 2) bytes.writeUInt16LE(v & 0xffff, f.offset);
    else if (width === 1) bytes.writeUInt8(v & 0xff, f.offset);
    else throw new Error(`${l.id}.${name}: ${f.size}-byte field is not a scalar`);
    return;
  }
  const big = BigInt.asUintN(width * 8, BigInt(v));
  if (width === 8) bytes.writeBigUInt64LE(big, f.offset);
  else if (width === 4) bytes.writeUInt32LE(Number(big), f.offset);
  else if (width === 2) bytes.writeUInt16LE(Number(big), f.offset);
  else if (width === 1) bytes.writeUInt8(Number(big), f.offset);
  else throw new Error(`${l.id}.${name}: ${f.size}-byte field is not a scalar`);
}

/** The u64 at `off` as built, or undefined when a relocation sets any of its bytes at run time. */
export function fixedU64(s: RawStruct, off: number): bigint | undefined {
  return s.relocs.some((r) => r.off < off + 8 && r.off + r.width > off) ? undefined : s.bytes.readBigUInt64LE(off);
}

/** Write a raw structure into a program buffer at `off`: literal bytes, then its relocations. */
export function place(seq: Sequence, b: Buf, off: number, s: RawStruct): void {
  seq.bytes(b, off, s.bytes);
  for (const r of s.relocs) seq.patch(b, off + r.off, r.width, r.value);
}

/** Several structures back to back in one buffer (an SQE batch, an iocb array). */
export function placeAll(seq: Sequence, b: Buf, off: number, all: RawStruct[]): void {
  if (all.length === 0) return;
  let n = 0;
  const parts: Buffer[] = [];
  for (const s of all) {
    parts.push(s.bytes);
    n += s.bytes.length;
  }
  seq.bytesOf(b, off, parts, n);
  let o = off;
  for (const s of all) {
    for (const r of s.relocs) seq.patch(b, o + r.off, r.width, r.value);
    o += s.bytes.length;
  }
}

/** A field that holds an fd: an fd slot becomes a relocation, anything else is written as is. */
export function fdField(v: Fd | FieldValue | undefined): FieldValue | undefined {
  return v !== undefined && typeof v === 'object' && 'kind' in v && v.kind === 'fd' ? arg.fd(v) : (v as FieldValue | undefined);
}
