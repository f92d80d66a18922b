/**
 * Legacy AIO steps for programs: io_setup, raw iocbs (every field settable), io_submit,
 * io_getevents/io_pgetevents with every io_event recorded, io_destroy.
 */
import { AIO_OP, AioOpName, IO_EVENT_LAYOUT, IOCB_LAYOUT, SYSCALLS } from '../abi';
import { Arg, arg, ArgLike, Buf, Ctx, Fd, Program, Sequence, StepRef } from './builder';
import { fdField, FieldValue, fixedU64, placeAll, RawStruct, setField, zeroed } from './struct';
import { timespec } from './sys';

/**
 * io_setup(nr, &ctx) into a fresh context slot. A failed io_setup ends the sequence: the steps after it
 * would otherwise run on context 0. Tests of io_setup's own errors call the syscall directly.
 */
export function aioSetup(seq: Sequence, nrEvents: number): { ctx: Ctx; setup: StepRef; id: Arg } {
  const p = seq.program;
  const idBuf = p.buf(8);
  const ctx = p.ctx();
  const setup = seq.syscall(SYSCALLS.io_setup, [nrEvents, arg.buf(idBuf)], { stopOnError: true });
  seq.setSlot(ctx, arg.load64(idBuf, 0));
  // the raw id too: the executor empties the slot once the program destroys the context itself
  return { ctx, setup, id: arg.load64(idBuf, 0) };
}

/** iocb fields by name; `opcode` may be a name, `fd`/`resfd` an fd slot. */
export type IocbSpec = Omit<Partial<Record<keyof typeof IOCB_LAYOUT.fields, FieldValue>>, 'aio_lio_opcode' | 'aio_fildes' | 'aio_resfd'> & {
  opcode: AioOpName | number;
  fd: Fd | FieldValue;
  resfd?: Fd | FieldValue;
};

/** Raw iocb bytes with relocations. */
export function iocb(spec: IocbSpec): RawStruct {
  const opcode = typeof spec.opcode === 'number' ? spec.opcode : AIO_OP[spec.opcode].value;
  // as encodeStruct(IOCB_LAYOUT, { ...rest, aio_lio_opcode, aio_fildes, aio_resfd }), without the spread
  const l = IOCB_LAYOUT;
  const s: RawStruct = { bytes: zeroed(l.size), relocs: [] };
  const fields = spec as unknown as Record<string, FieldValue | undefined>;
  for (const name of Object.keys(spec)) {
    if (name !== 'opcode' && name !== 'fd' && name !== 'resfd') setField(l, s, name as IocbField, fields[name]);
  }
  setField(l, s, 'aio_lio_opcode', opcode);
  setField(l, s, 'aio_fildes', fdField(spec.fd));
  setField(l, s, 'aio_resfd', fdField(spec.resfd));
  return s;
}

type IocbField = keyof typeof IOCB_LAYOUT.fields;

/**
 * What the ledger (src/oracle/ledger.ts) needs to know of a program's io_submits: each submit step
 * and the aio_data of its iocbs (undefined when a relocation sets it at run time).
 */
export interface AioSubmitRecord {
  submit: StepRef;
  data: (bigint | undefined)[];
}

/**
 * How the ledger judges a program. `'exactly-once'` (default): every iocb io_submit accepted has one
 * io_event among those the program reaped, and no event is unaccounted for. `'at-most-once'`: for
 * programs that leave requests in flight on purpose (exit, io_destroy, fork tests): no duplicates,
 * no strangers. `'off'`: programs that forge events or contexts.
 */
export type LedgerMode = 'exactly-once' | 'at-most-once' | 'off';

const SUBMITS = new WeakMap<Program, AioSubmitRecord[]>();
const MODES = new WeakMap<Program, LedgerMode>();

/** The io_submits aioSubmit added to a program, in order. */
export function aioSubmitsOf(p: Program): AioSubmitRecord[] {
  return SUBMITS.get(p) ?? [];
}

/** Set how the ledger judges this program. */
export function setLedgerMode(p: Program, mode: LedgerMode): void {
  MODES.set(p, mode);
}

/** How the ledger judges this program. */
export function ledgerModeOf(p: Program): LedgerMode {
  return MODES.get(p) ?? 'exactly-once';
}

const AIO_DATA = IOCB_LAYOUT.fields.aio_data;

/** Steps and buffers of one io_submit. */
export interface AioSubmission {
  submit: StepRef;
  /** The iocb array (the kernel writes aio_key back into it). */
  iocbs: Buf;
}

/** io_submit(ctx, nr, iocbpp): iocbs in one buffer, pointers to them in another. */
export function aioSubmit(
  seq: Sequence,
  ctx: Ctx | ArgLike,
  iocbs: RawStruct[],
  nr: number = iocbs.length,
  opts: { store?: Buf } = {},
): AioSubmission {
  const p = seq.program;
  const n = Math.max(1, iocbs.length);
  const ib = p.buf(64 * n);
  const ptrs = p.buf(8 * n);
  placeAll(seq, ib, 0, iocbs);
  for (let i = 0; i < iocbs.length; i++) seq.patch(ptrs, 8 * i, 8, arg.buf(ib, 64 * i));
  const c = typeof ctx === 'object' && 'kind' in ctx && ctx.kind === 'ctx' ? arg.ctx(ctx as Ctx) : (ctx as ArgLike);
  const submit = seq.syscall(SYSCALLS.io_submit, [c, nr, arg.buf(ptrs)], { store: opts.store });
  const data = iocbs.map((i) => fixedU64(i, AIO_DATA.offset));
  SUBMITS.set(p, [...aioSubmitsOf(p), { submit, data }]);
  return { submit, iocbs: ib };
}

/** A relative timeout for io_getevents: nanoseconds, or null for none (wait forever, under the deadline). */
export type AioTimeout = number | null;

/** io_getevents(ctx, min, nr, events, timeout), every returned io_event recorded. */
export function aioGetevents(seq: Sequence, ctx: Ctx, min: ArgLike, nr: number, timeoutNs: AioTimeout = 5e9): StepRef {
  const ev = seq.program.buf(IO_EVENT_LAYOUT.size * Math.max(1, nr));
  const ts = timeoutNs === null ? 0 : arg.buf(timespec(seq, timeoutNs));
  return seq.syscall(SYSCALLS.io_getevents, [arg.ctx(ctx), min, nr, arg.buf(ev), ts], { aioEvents: true });
}

/**
 * io_getevents(ctx, min, nr, events, timeout), made again for the rest when it ends early (-EINTR or
 * a short count before its timeout, as io_uring's task work makes it: man 2 io_getevents allows EINTR).
 */
export function aioWaitEvents(seq: Sequence, ctx: Ctx, min: number, nr: number, timeoutNs: AioTimeout = 5e9): StepRef {
  const ev = seq.program.buf(IO_EVENT_LAYOUT.size * Math.max(1, nr));
  const ts = timeoutNs === null ? 0 : arg.buf(timespec(seq, timeoutNs));
  return seq.syscall(SYSCALLS.io_getevents, [arg.ctx(ctx), min, nr, arg.buf(ev), ts], { aioWait: true });
}

/**
 * As aioWaitEvents, until `total` io_events were taken from the context since its setup (by this step and every
 * earlier getevents step on it), at most `nr` here: a final drain that also takes what an earlier wait ran out of
 * time for.
 */
export function aioWaitUntilTotal(seq: Sequence, ctx: Ctx, total: number, nr: number, timeoutNs: AioTimeout = 5e9): StepRef {
  const ev = seq.program.buf(IO_EVENT_LAYOUT.size * Math.max(1, nr));
  const ts = timeoutNs === null ? 0 : arg.buf(timespec(seq, timeoutNs));
  return seq.syscall(SYSCALLS.io_getevents, [arg.ctx(ctx), total, nr, arg.buf(ev), ts], { aioWaitTotal: true });
}

/** io_pgetevents(ctx, min, nr, events, timeout, usig) with a raw __aio_sigset buffer (or 0). */
export function aioPgetevents(seq: Sequence, ctx: Ctx, min: number, nr: number, timeoutNs: AioTimeout, usig: ArgLike = 0): StepRef {
  const ev = seq.program.buf(IO_EVENT_LAYOUT.size * Math.max(1, nr));
  const ts = timeoutNs === null ? 0 : arg.buf(timespec(seq, timeoutNs));
  return seq.syscall(SYSCALLS.io_pgetevents, [arg.ctx(ctx), min, nr, arg.buf(ev), ts, usig], { aioEvents: true });
}

/** io_destroy(ctx), of a slot or of a raw id (to destroy it twice). */
export function aioDestroy(seq: Sequence, ctx: Ctx | Arg): StepRef {
  return seq.syscall(SYSCALLS.io_destroy, ['kind' in ctx && ctx.kind === 'ctx' ? arg.ctx(ctx as Ctx) : (ctx as Arg)]);
}
