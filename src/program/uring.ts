/**
 * io_uring steps for programs: ring setup, raw SQEs (every field settable, any value), submit and
 * reap. Only bytes and relocations: the kernel's reading of them is what tests judge.
 */
import { ENTER, IO_URING_PARAMS_LAYOUT, REGISTER, REGISTER_FLAG, RSRC_UPDATE_LAYOUT, SETUP, SQE_LAYOUT, SYSCALLS, URING_OP, UringOpName } from '../abi';
import { Arg, arg, ArgLike, Buf, Fd, Program, Ring, Sequence, StepRef } from './builder';
import { encodeStruct, fdField, FieldValue, place, placeAll, RawStruct, setField, zeroed } from './struct';

/** Ring creation options (io_uring_params fields). */
export interface RingOptions {
  entries?: number;
  /** IORING_SETUP_* bits. */
  flags?: number;
  cqEntries?: number;
  sqThreadIdle?: number;
  sqThreadCpu?: number;
  /** A ring whose io-wq to share (IORING_SETUP_ATTACH_WQ), or a raw `wq_fd` value. */
  wq?: Ring | ArgLike;
  /** IORING_SETUP_NO_MMAP: the memory for the SQEs (`sq_off.user_addr`), e.g. `arg.buf(p.buf(4096, 4096))`. */
  sqMem?: ArgLike;
  /** IORING_SETUP_NO_MMAP: the memory for the SQ and CQ rings (`cq_off.user_addr`). */
  cqMem?: ArgLike;
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
      wq_fd: isRing(opts.wq) ? arg.ring(opts.wq) : (opts.wq ?? 0),
      'sq_off.user_addr': opts.sqMem ?? 0,
      'cq_off.user_addr': opts.cqMem ?? 0,
    }),
  );
  const ring = p.ring();
  const setup = seq.uringSetup(ring, opts.entries ?? 32, params);
  const paramsDump = seq.dump(params);
  return { ring, params, setup, paramsDump, sqeSize: flags & SETUP.SQE128.value ? 128 : 64, flags };
}

const isRing = (v: unknown): v is Ring => typeof v === 'object' && v !== null && (v as Ring).kind === 'ring';

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

/**
 * Write SQEs to a buffer, queue them and call io_uring_enter (waiting for `wait` completions if > 0).
 * `via`: enter through this registered ring index (IORING_REGISTER_RING_FDS) instead of the ring fd.
 */
export function submit(seq: Sequence, h: RingHandle, sqes: RawStruct[], wait = 0, via?: ArgLike): Submission {
  const b = seq.program.buf(Math.max(1, sqes.length) * h.sqeSize);
  placeAll(seq, b, 0, sqes);
  const queue = seq.uringQueue(h.ring, b, 0, sqes.length);
  // an SQPOLL thread may already sleep (IORING_SQ_NEED_WAKEUP): always wake it, or the SQEs just sit
  // in the SQ (seen on 6.18; docs/KERNEL-NOTES.md)
  const wake = h.flags & SETUP.SQPOLL.value ? ENTER.SQ_WAKEUP.value : 0;
  // a REGISTERED_FD_ONLY ring has no fd: its slot holds the registered index
  const registered = via !== undefined || h.flags & SETUP.REGISTERED_FD_ONLY.value ? ENTER.REGISTERED_RING.value : 0;
  const flags = (wait > 0 ? ENTER.GETEVENTS.value : 0) | wake | registered;
  const e =
    via === undefined
      ? enter(seq, h, sqes.length, wait, flags)
      : seq.syscall(SYSCALLS.io_uring_enter, [via, sqes.length, wait, flags, 0, 0]);
  const sub = { queue, enter: e, sqes: b };
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

/**
 * Take CQEs until `total` were reaped from the ring since its setup, waiting up to `waitMs`, at most `max` (raised to
 * what is still owed): a final drain that also takes what an earlier reap ran out of time for.
 */
export function reapUntilTotal(seq: Sequence, h: RingHandle, total: number, max: number, waitMs = 5000): StepRef {
  return seq.uringReap(h.ring, total, max, waitMs, true);
}

/** IORING_REGISTER_RING_FDS / UNREGISTER_RING_FDS with one `struct io_uring_rsrc_update`. */
export interface RingFdRegistration {
  /** io_uring_register's result: how many were (un)registered, or -errno. */
  step: StepRef;
  /** The io_uring_rsrc_update the kernel read (and, registering at offset -1, wrote the index into). */
  upd: Buf;
  /** The `offset` field after the call: the registered index to enter through. */
  index: Arg;
}

/**
 * Register `ringFd` (default: this ring's fd) as a registered ring at `offset` (-1: the kernel picks one
 * and writes it back), or with `unregister` drop registered index `offset`. Man io_uring_register(2).
 */
export function ringFds(
  seq: Sequence,
  h: RingHandle,
  offset: ArgLike,
  opts: { unregister?: boolean; ringFd?: ArgLike } = {},
): RingFdRegistration {
  const upd = seq.program.buf(RSRC_UPDATE_LAYOUT.size);
  const f = RSRC_UPDATE_LAYOUT.fields;
  seq.patch(upd, f.offset.offset, 4, typeof offset === 'number' ? offset >>> 0 : offset);
  if (!opts.unregister) seq.patch(upd, f.data.offset, 8, opts.ringFd ?? arg.ring(h.ring));
  const op = opts.unregister ? REGISTER.UNREGISTER_RING_FDS : REGISTER.RING_FDS;
  // a REGISTERED_FD_ONLY ring has no fd to name: register through its registered index
  const use = h.flags & SETUP.REGISTERED_FD_ONLY.value ? REGISTER_FLAG.USE_REGISTERED_RING.value : 0;
  const step = seq.syscall(SYSCALLS.io_uring_register, [arg.ring(h.ring), (op.value | use) >>> 0, arg.buf(upd), 1]);
  return { step, upd, index: arg.load32(upd, f.offset.offset) };
}

/** `n` NOP SQEs with user_data base, base+1, … */
export function nopSqes(n: number, base = 1): RawStruct[] {
  return Array.from({ length: n }, (_, i) => sqe({ opcode: 'NOP', user_data: base + i }));
}
