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

/** Encode `values` (by field name) over a zeroed structure of the layout's size (or `size`). */
export function encodeStruct<F extends string>(l: Layout<F>, values: Partial<Record<F, FieldValue>>, size = l.size): RawStruct {
  const bytes = Buffer.alloc(size);
  const relocs: RawStruct['relocs'] = [];
  for (const [name, v] of Object.entries(values) as [F, FieldValue | undefined][]) {
    if (v === undefined) continue;
    const f = l.fields[name];
    if (!f) throw new Error(`${l.id} has no field ${name}`);
    const width = f.size as 1 | 2 | 4 | 8;
    if (typeof v === 'object') {
      relocs.push({ off: f.offset, width, value: v });
      continue;
    }
    const big = BigInt.asUintN(width * 8, BigInt(v));
    if (width === 8) bytes.writeBigUInt64LE(big, f.offset);
    else if (width === 4) bytes.writeUInt32LE(Number(big), f.offset);
    else if (width === 2) bytes.writeUInt16LE(Number(big), f.offset);
    else if (width === 1) bytes.writeUInt8(Number(big), f.offset);
    else throw new Error(`${l.id}.${name}: ${f.size}-byte field is not a scalar`);
  }
  return { bytes, relocs };
}

/** Write a raw structure into a program buffer at `off`: literal bytes, then its relocations. */
export function place(seq: Sequence, b: Buf, off: number, s: RawStruct): void {
  seq.bytes(b, off, s.bytes);
  for (const r of s.relocs) seq.patch(b, off + r.off, r.width, r.value);
}

/** Several structures back to back in one buffer (an SQE batch, an iocb array). */
export function placeAll(seq: Sequence, b: Buf, off: number, all: RawStruct[]): void {
  if (all.length === 0) return;
  seq.bytes(b, off, Buffer.concat(all.map((s) => s.bytes)));
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
