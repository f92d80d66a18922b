/**
 * Program decoder: wire bytes back to steps. Used to print, replay and turn programs into C
 * reproducers, and to check that encoding loses nothing.
 */
import { programChecksum } from './pattern';
import { LibcFn, LIMITS, Op, PROGRAM_HEADER, PROGRAM_MAGIC, STEP_HEADER, WIRE_VERSION } from './wire';

/** A decoded step: its op, flags and payload (raw, little-endian as on the wire). */
export interface DecodedStep {
  op: number;
  opName: string;
  flags: number;
  payload: Buffer;
  /** LIBC steps: the function's name (`fn<n>` for an index outside the table). */
  libcFn?: string;
}

/** A decoded program. */
export interface DecodedProgram {
  deadlineMs: number;
  traceCap: number;
  bufs: { size: number; align: number }[];
  seqs: DecodedStep[][];
}

/** A program the executor would reject. */
export class ProgramFormatError extends Error {}

const OP_NAMES = Object.fromEntries(Object.entries(Op).map(([k, v]) => [v, k])) as Record<number, string>;
const LIBC_NAMES = Object.fromEntries(Object.entries(LibcFn).map(([k, v]) => [v, k])) as Record<number, string>;

/** Decode (and check the framing of) wire bytes. */
export function decodeProgram(b: Buffer): DecodedProgram {
  const fail = (m: string): never => {
    throw new ProgramFormatError(m);
  };
  if (b.length < PROGRAM_HEADER) fail(`program of ${b.length} bytes is shorter than its header`);
  if (b.readUInt32LE(0) !== PROGRAM_MAGIC) fail('bad magic: not a kasync program');
  if (b.readUInt16LE(4) !== WIRE_VERSION) fail(`wire version ${b.readUInt16LE(4)}, expected ${WIRE_VERSION}`);
  const nseq = b.readUInt16LE(6);
  const length = b.readUInt32LE(8);
  if (length !== b.length) fail(`header says ${length} bytes, got ${b.length}`);
  if (b.readUInt32LE(24) !== programChecksum(b.subarray(PROGRAM_HEADER))) fail('checksum mismatch');
  const deadlineMs = b.readUInt32LE(12);
  const nbufs = b.readUInt32LE(16);
  if (nseq < 1 || nseq > LIMITS.seqs) fail(`${nseq} sequences`);
  if (nbufs > LIMITS.bufs) fail(`${nbufs} buffers`);
  let o = PROGRAM_HEADER;
  if (o + 8 * (nbufs + nseq) > length) fail('tables run past the end');
  const bufs = [];
  for (let i = 0; i < nbufs; i++, o += 8) bufs.push({ size: b.readUInt32LE(o), align: b.readUInt32LE(o + 4) });
  const seqs: DecodedStep[][] = [];
  const table = o;
  for (let s = 0; s < nseq; s++) {
    let p = b.readUInt32LE(table + 8 * s);
    const n = b.readUInt32LE(table + 8 * s + 4);
    const steps: DecodedStep[] = [];
    for (let i = 0; i < n; i++) {
      if (p + STEP_HEADER > length) fail(`step ${i} of sequence ${s} runs past the end`);
      const op = b.readUInt16LE(p);
      const len = b.readUInt32LE(p + 4);
      if (len % 8 || p + STEP_HEADER + len > length) fail(`step ${i} of sequence ${s} has length ${len}`);
      const step: DecodedStep = { op, opName: OP_NAMES[op] ?? `op${op}`, flags: b.readUInt16LE(p + 2), payload: b.subarray(p + 8, p + 8 + len) };
      if (op === Op.LIBC && len >= 4) {
        const fn = step.payload.readUInt32LE(0);
        step.libcFn = LIBC_NAMES[fn] ?? `fn${fn}`;
      }
      steps.push(step);
      p += STEP_HEADER + len;
    }
    seqs.push(steps);
  }
  return { deadlineMs, traceCap: b.readUInt32LE(20), bufs, seqs };
}
