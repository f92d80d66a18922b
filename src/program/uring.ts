/**
 * io_uring steps for programs: ring setup, raw SQEs (every field settable, any value), submit and
 * reap. Only bytes and relocations: the kernel's reading of them is what tests judge.
 */
import { ENTER, IO_URING_PARAMS_LAYOUT, SETUP, SQE_LAYOUT, SYSCALLS, URING_OP, UringOpName } from '../abi';
import { arg, ArgLike, Buf, Fd, Program, Ring, Sequence, StepRef } from './builder';
import { encodeStruct, fdField, FieldValue, place, placeAll, RawStruct, setField, zeroed } from './struct';

/** Ring creation options (io_uring_params fields). */
export interface RingOptions {
  entries?: number;
  /** IORING_SETUP_* bits. */
  flags?: number;
  cqEntries?: number;
  sqThreadIdle?: number;
  sqThreadCpu?: number;
  /** A ring whose io-wq to share (IORING_SETUP_ATTACH_WQ). */
  wq?: Ring;
}

/** A ring in a program. */
export interface RingHandle {
  ring: Ring;
  /** The io_uring_params buffer, filled by the kernel at setup. */
  params: Buf;
  setup: StepRef;
  /** DUMP of the params after setup (features, sq/cq entries, offsets). */
  paramsDump: StepRef;
  sqeSize: 64 | 128;
  /** The IORING_SETUP_* flags it was set up with. */
  flags: number;
}

/** Create a ring: io_uring_setup and the mappings. */
export function setupRing(seq: Sequence, opts: RingOptions = {}): RingHandle {
  const p = seq.program;
  const flags = opts.flags ?? 0;
  const params = p.buf(IO_URING_PARAMS_LAYOUT.size);
  place(
    seq,
    params,
    0,
    encodeStruct(IO_URING_PARAMS_LAYOUT, {
      flags,
      cq_entries: opts.cqEntries ?? 0,
      sq_thread_idle: opts.sqThreadIdle ?? 0,
      sq_thread_cpu: opts.sqThreadCpu ?? 0,
      wq_fd: opts.wq ? arg.ring(opts.wq) : 0,
    }),
  );
  const ring = p.ring();
  const setup = seq.uringSetup(ring, opts.entries ?? 32, params);
  const paramsDump = seq.dump(params);
  return { ring, params, setup, paramsDump, sqeSize: flags & SETUP.SQE128.value ? 128 : 64, flags };
}

/** SQE fields, by their names in struct io_uring_sqe; `opcode` may be a name. */
export type SqeSpec = Omit<Partial<Record<keyof typeof SQE_LAYOUT.fields, FieldValue>>, 'opcode' | 'fd'> & {
  opcode: UringOpName | number;
  fd?: FieldValue | Fd;
};

/** Raw SQE bytes (64 or 128) with relocations. */
export function sqe(spec: SqeSpec, size: 64 | 128 = 64): RawStruct {
  const opcode = typeof spec.opcode === 'number' ? spec.opcode : URING_OP[spec.opcode].value;
  const fd = fdField(spec.fd) ?? 0;
  // as encodeStruct(SQE_LAYOUT, { ...rest, opcode, fd }, size), without the spread: the fields in
  // spec order, then opcode and fd (so they win over any alias)
  const l = SQE_LAYOUT;
  const s: RawStruct = { bytes: zeroed(size), relocs: [] };
  const fields = spec as Record<SqeField, FieldValue | undefined>;
  for (const name of Object.keys(spec) as SqeField[]) {
    if (name !== 'opcode' && name !== 'fd') setField(l, s, name, fields[name]);
  }
  setField(l, s, 'opcode', opcode);
  setField(l, s, 'fd', fd);
  return s;
}

type SqeField = keyof typeof SQE_LAYOUT.fields;

/** io_uring_enter(ring, toSubmit, minComplete, flags, argp, argsz) as a raw step. */
export function enter(seq: Sequence, h: RingHandle, toSubmit: number, minComplete: number, flags = 0, argp: ArgLike = 0, argsz = 0): StepRef {
  return seq.syscall(SYSCALLS.io_uring_enter, [arg.ring(h.ring), toSubmit, minComplete, flags, argp, argsz]);
}

/** Steps of one submission. */
export interface Submission {
  /** URING_QUEUE: how many SQEs went into the SQ. */
  queue: StepRef;
  /** io_uring_enter: how many the kernel consumed. */
  enter: StepRef;
  /** The buffer holding the SQEs (to resubmit the same batch). */
  sqes: Buf;
}

/** Write SQEs to a buffer, queue them and call io_uring_enter (waiting for `wait` completions if > 0). */
export function submit(seq: Sequence, h: RingHandle, sqes: RawStruct[], wait = 0): Submission {
  const b = seq.program.buf(Math.max(1, sqes.length) * h.sqeSize);
  placeAll(seq, b, 0, sqes);
  const queue = seq.uringQueue(h.ring, b, 0, sqes.length);
  // an SQPOLL thread may already sleep (IORING_SQ_NEED_WAKEUP): always wake it, or the SQEs just sit
  // in the SQ (seen on 6.18; docs/KERNEL-NOTES.md)
  const wake = h.flags & SETUP.SQPOLL.value ? ENTER.SQ_WAKEUP.value : 0;
  const sub = { queue, enter: enter(seq, h, sqes.length, wait, (wait > 0 ? ENTER.GETEVENTS.value : 0) | wake), sqes: b };
  recordUringSubmit(seq.program, { queue, enter: sub.enter, sqes });
  return sub;
}

/** What the completion ledger (src/oracle/ledger.ts) needs of a `submit()`: its steps and SQE bytes. */
export interface UringSubmitRecord {
  queue: StepRef;
  enter: StepRef;
  sqes: RawStruct[];
}

const URING_SUBMITS = new WeakMap<Program, UringSubmitRecord[]>();

function recordUringSubmit(p: Program, r: UringSubmitRecord): void {
  const list = URING_SUBMITS.get(p);
  if (list) list.push(r);
  else URING_SUBMITS.set(p, [r]);
}

/** The `submit()`s of a program, in order. */
export function uringSubmitsOf(p: Program): readonly UringSubmitRecord[] {
  return URING_SUBMITS.get(p) ?? [];
}

/** Take CQEs: at least `min` within `waitMs`, at most `max`. */
export function reap(seq: Sequence, h: RingHandle, min: number, max = Math.max(min, 1), waitMs = 5000): StepRef {
  return seq.uringReap(h.ring, min, max, waitMs);
}
