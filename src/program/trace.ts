/**
 * The trace decoder: every step result and every raw completion the executor recorded
 * (native/WIRE.md, Trace). Completions are never summarised away.
 */
import { Rec, RECORD_HEADER, StepResultFlag, TRACE_HEADER, TRACE_MAGIC, TraceStatus, WIRE_VERSION } from './wire';
import type { StepRef } from './builder';

/** A CQE as recorded (16 bytes, or 32 with CQE32). */
export interface Cqe {
  userData: bigint;
  res: number;
  flags: number;
  /** The extra 16 bytes of a CQE32 ring. */
  big?: [bigint, bigint];
}

/** An io_event as recorded. */
export interface IoEvent {
  data: bigint;
  obj: bigint;
  res: bigint;
  res2: bigint;
}

/** Ring words recorded by URING_STATE. */
export interface RingState {
  sqHead: number;
  sqTail: number;
  cqHead: number;
  cqTail: number;
  sqFlags: number;
  cqFlags: number;
  cqOverflow: number;
  sqDropped: number;
  sqEntries: number;
  cqEntries: number;
}

/** What a KCOV step's task ran (native/WIRE.md, KCOV): distinct kernel PCs (low 32 bits) and edges, sorted. */
export interface KcovCoverage {
  pcs: Uint32Array;
  /** Hashes of consecutive PC pairs (prev, pc). */
  edges: Uint32Array;
  /** PCs the kernel recorded, repeats included. */
  raw: number;
  /** The area filled up: later PCs were not recorded. */
  overflow: boolean;
}

/** What one step did. */
export interface StepResult {
  seq: number;
  step: number;
  proc: number;
  /** The result: >= 0, or -errno. */
  ret: bigint;
  errno: number;
  /** The step hit its deadline (a blocking call was interrupted). */
  deadline: boolean;
  refused: boolean;
  t0Ns: bigint;
  t1Ns: bigint;
  /** A second result: the wait status for WAIT. */
  ret2: bigint;
  cqes: Cqe[];
  events: IoEvent[];
  digest?: bigint;
  dump?: Buffer;
  verify?: { mismatches: number; first: number };
  ring?: RingState;
  error?: string;
  kcov?: KcovCoverage;
}

/** Decoded trace. */
export interface Trace {
  status: 'ok' | 'error' | 'deadline' | 'runner-died';
  /** Wait status of the runner process (child front door), or -1. */
  exitStatus: number;
  message: string;
  /** Every step result in record order (steps of threads and children interleave). */
  steps: StepResult[];
}

const STATUS: Record<number, Trace['status']> = {
  [TraceStatus.OK]: 'ok',
  [TraceStatus.ERROR]: 'error',
  [TraceStatus.DEADLINE]: 'deadline',
  [TraceStatus.RUNNER_DIED]: 'runner-died',
};

/** A trace that cannot be decoded: the executor or the transport is broken. */
export class TraceFormatError extends Error {}

// Most 64-bit fields hold small values (results, user_data, times): going through a double when the
// value fits in 53 bits is several times faster than readBig*64LE, which made decoding the bottleneck.
// Small values (results, counts, user_data) come from a table: no BigInt made per field.
const SMALL = Array.from({ length: 1024 }, (_, i) => BigInt(i));

function u64(b: Buffer, o: number): bigint {
  const hi = b.readUInt32LE(o + 4);
  if (hi === 0) {
    const lo = b.readUInt32LE(o);
    return lo < 1024 ? SMALL[lo] : BigInt(lo);
  }
  return hi < 0x200000 ? BigInt(hi * 0x100000000 + b.readUInt32LE(o)) : b.readBigUInt64LE(o);
}

function i64(b: Buffer, o: number): bigint {
  const hi = b.readInt32LE(o + 4);
  if (hi === 0) {
    const lo = b.readUInt32LE(o);
    return lo < 1024 ? SMALL[lo] : BigInt(lo);
  }
  return hi >= -0x200000 && hi < 0x200000 ? BigInt(hi * 0x100000000 + b.readUInt32LE(o)) : b.readBigInt64LE(o);
}

/**
 * A StepResult with every field present (the optional ones undefined), always in the same order: one
 * hidden class for all of them keeps the oracle's property loads monomorphic (fields added later in
 * whatever order a trace's records came made a shape per combination).
 */
function stepResult(
  seq: number,
  step: number,
  proc: number,
  ret: bigint,
  errno: number,
  deadline: boolean,
  refused: boolean,
  t0Ns: bigint,
  t1Ns: bigint,
  ret2: bigint,
): StepResult {
  return {
    seq,
    step,
    proc,
    ret,
    errno,
    deadline,
    refused,
    t0Ns,
    t1Ns,
    ret2,
    cqes: [],
    events: [],
    digest: undefined,
    dump: undefined,
    verify: undefined,
    ring: undefined,
    error: undefined,
    kcov: undefined,
  };
}

/** Decode trace bytes. */
export function decodeTrace(b: Buffer): Trace {
  if (b.length < TRACE_HEADER) throw new TraceFormatError(`trace of ${b.length} bytes is shorter than its header`);
  if (b.readUInt32LE(0) !== TRACE_MAGIC) throw new TraceFormatError('trace has a bad magic');
  if (b.readUInt16LE(4) !== WIRE_VERSION) throw new TraceFormatError(`trace version ${b.readUInt16LE(4)}`);
  const status = STATUS[b.readUInt16LE(6)];
  if (!status) throw new TraceFormatError(`trace status ${b.readUInt16LE(6)}`);
  const length = b.readUInt32LE(8);
  if (length > b.length) throw new TraceFormatError(`trace says ${length} bytes, got ${b.length}`);
  const nrecords = b.readUInt32LE(12);
  const exitStatus = b.readInt32LE(16);
  const msglen = b.readUInt32LE(20);
  let o = TRACE_HEADER;
  const message = b.toString('utf8', o, o + msglen).replace(/\0+$/, '');
  o += (msglen + 7) & ~7;
  const steps: StepResult[] = [];
  // completion and data records may come before or after the STEP record of their step
  const byKey = new Map<number, StepResult>();
  const pending = new Map<number, StepResult>();
  // a number key (proc, seq, step: 16 bits each) keeps decoding of 10,000-CQE traces cheap
  const keyOf = (seq: number, step: number, proc: number) => proc * 2 ** 32 + seq * 2 ** 16 + step;
  const acc = (k: number) => {
    let a = pending.get(k);
    if (!a) pending.set(k, (a = stepResult(0, 0, 0, -1n, 0, false, false, 0n, 0n, 0n)));
    return a;
  };
  for (let r = 0; r < nrecords; r++) {
    if (o + RECORD_HEADER > length) throw new TraceFormatError(`record ${r} runs past the trace`);
    const type = b.readUInt16LE(o);
    const seq = b.readUInt16LE(o + 2);
    const step = b.readUInt16LE(o + 4);
    const proc = b.readUInt16LE(o + 6);
    const len = b.readUInt32LE(o + 8);
    const p = o + RECORD_HEADER;
    if (p + len > length) throw new TraceFormatError(`record ${r} payload runs past the trace`);
    const k = keyOf(seq, step, proc);
    switch (type) {
      case Rec.STEP: {
        const flags = b.readUInt32LE(p + 12);
        const st = stepResult(
          seq,
          step,
          proc,
          i64(b, p),
          b.readInt32LE(p + 8),
          (flags & StepResultFlag.DEADLINE) !== 0,
          (flags & StepResultFlag.REFUSED) !== 0,
          u64(b, p + 16),
          u64(b, p + 24),
          i64(b, p + 32),
        );
        steps.push(st);
        byKey.set(k, st);
        break;
      }
      case Rec.CQE: {
        // u32 n, u32 size, then n CQEs of that size (one record per run of CQEs a reap took)
        const n = b.readUInt32LE(p);
        const size = b.readUInt32LE(p + 4);
        if ((size !== 16 && size !== 32) || 8 + n * size > len) throw new TraceFormatError(`record ${r}: ${n} CQEs of ${size} bytes`);
        const into = acc(k).cqes;
        for (let c = p + 8; c < p + 8 + n * size; c += size)
          into.push({
            userData: u64(b, c),
            res: b.readInt32LE(c + 8),
            flags: b.readUInt32LE(c + 12),
            big: size === 32 ? [u64(b, c + 16), u64(b, c + 24)] : undefined,
          });
        break;
      }
      case Rec.AIO_EVENT: {
        // one or more 32-byte io_events
        const into = acc(k).events;
        for (let e = p; e + 32 <= p + len; e += 32)
          into.push({ data: u64(b, e), obj: u64(b, e + 8), res: i64(b, e + 16), res2: i64(b, e + 24) });
        break;
      }
      case Rec.DIGEST:
        acc(k).digest = u64(b, p);
        break;
      case Rec.DUMP: {
        const n = b.readUInt32LE(p);
        acc(k).dump = Buffer.from(b.subarray(p + 8, p + 8 + n));
        break;
      }
      case Rec.VERIFY:
        acc(k).verify = { mismatches: b.readUInt32LE(p), first: b.readUInt32LE(p + 4) };
        break;
      case Rec.RING_STATE: {
        const w = (i: number) => b.readUInt32LE(p + 4 * i);
        acc(k).ring = {
          sqHead: w(0),
          sqTail: w(1),
          cqHead: w(2),
          cqTail: w(3),
          sqFlags: w(4),
          cqFlags: w(5),
          cqOverflow: w(6),
          sqDropped: w(7),
          sqEntries: w(8),
          cqEntries: w(9),
        };
        break;
      }
      case Rec.KCOV: {
        // u32 npcs, u32 nedges, u32 raw, u32 overflow, then the PCs and the edges (u32 each)
        const np = b.readUInt32LE(p);
        const ne = b.readUInt32LE(p + 4);
        if (16 + 4 * (np + ne) > len)
          throw new TraceFormatError(`record ${r}: ${np} PCs and ${ne} edges do not fit`);
        const words = new Uint32Array(np + ne);
        for (let i = 0; i < np + ne; i++) words[i] = b.readUInt32LE(p + 16 + 4 * i);
        acc(k).kcov = {
          pcs: words.subarray(0, np),
          edges: words.subarray(np),
          raw: b.readUInt32LE(p + 8),
          overflow: b.readUInt32LE(p + 12) !== 0,
        };
        break;
      }
      case Rec.ERROR: {
        const n = b.readUInt32LE(p);
        acc(k).error = b.toString('utf8', p + 8, p + 8 + n);
        break;
      }
      default:
        throw new TraceFormatError(`record ${r} has unknown type ${type}`);
    }
    o = p + len;
  }
  for (const [k, a] of pending) {
    const st = byKey.get(k);
    if (st) {
      // field by field (not Object.assign): every StepResult keeps the one shape stepResult gave it
      st.cqes = a.cqes;
      st.events = a.events;
      st.digest = a.digest;
      st.dump = a.dump;
      st.verify = a.verify;
      st.ring = a.ring;
      st.error = a.error;
      st.kcov = a.kcov;
      continue;
    }
    // a step that could not run (ERROR) has no STEP record
    a.proc = Math.floor(k / 2 ** 32);
    a.seq = Math.floor(k / 2 ** 16) % 2 ** 16;
    a.step = k % 2 ** 16;
    steps.push(a);
  }
  return { status, exitStatus, message, steps };
}

/** Look-ups of a decoded trace by the steps a builder returned. */
export class TraceView {
  constructor(readonly trace: Trace) {}

  /** The result of a step (proc 0, or the given proc for steps of a forked child or thread). */
  step(ref: StepRef, proc?: number): StepResult {
    const s = this.trace.steps.find((x) => x.seq === ref.seq && x.step === ref.index && (proc === undefined || x.proc === proc));
    if (!s) throw new Error(`step ${ref.index} of sequence ${ref.seq} did not run (trace ${this.trace.status}: ${this.trace.message || 'no message'})`);
    return s;
  }

  /** The step's result, or undefined if it never ran. */
  maybe(ref: StepRef): StepResult | undefined {
    return this.trace.steps.find((x) => x.seq === ref.seq && x.step === ref.index);
  }

  /** Result as a number (ret >= 0 or -errno). */
  ret(ref: StepRef): number {
    return Number(this.step(ref).ret);
  }

  /** Every CQE recorded anywhere in the trace, in order. */
  allCqes(): Cqe[] {
    return this.trace.steps.flatMap((s) => s.cqes);
  }

  /** Every io_event recorded anywhere in the trace, in order. */
  allEvents(): IoEvent[] {
    return this.trace.steps.flatMap((s) => s.events);
  }
}
