/**
 * glibc POSIX AIO for programs: aiocbs and sigevents as raw structures (src/abi/posix-aio.ts), lists of
 * them, notification counters, and the LIBC steps that call glibc. Every program that uses these is
 * process-level: it runs in the `child` target or a VM, never inside Node.
 */
import { AIOCB_LAYOUT, LIO_OP, SIGEV, SIGEVENT_LAYOUT } from '../abi';
import { arg, ArgLike, Buf, Fd, Sequence, StepRef } from './builder';
import { encodeStruct, fdField, FieldValue, place, RawStruct } from './struct';
import { pwrite, scratchFile, timespec } from './sys';
import type { TraceView } from './trace';

/** How a request (or a whole lio_listio) tells the program it is done. */
export type Notify =
  | { kind: 'none' }
  /** A queued real-time signal carrying `value` (count it with {@link Sequence.sigCount}). */
  | { kind: 'signal'; signo: number; value: FieldValue }
  /** A thread running the executor's notify function with `value`, which counts into that u32. */
  | { kind: 'thread'; value: FieldValue };

/** The sigevent fields of a notification, by sigevent field name. */
function sigevFields(n: Notify): Partial<Record<keyof typeof SIGEVENT_LAYOUT.fields, FieldValue>> {
  switch (n.kind) {
    case 'none':
      return { sigev_notify: SIGEV.NONE.value };
    case 'signal':
      return { sigev_notify: SIGEV.SIGNAL.value, sigev_signo: n.signo, sigev_value: n.value };
    case 'thread':
      return { sigev_notify: SIGEV.THREAD.value, sigev_value: n.value, sigev_notify_function: arg.notify() };
  }
}

/** A raw `struct sigevent`. */
export function sigevent(n: Notify): RawStruct {
  return encodeStruct(SIGEVENT_LAYOUT, sigevFields(n));
}

/** An aiocb: the file, the buffer, the range, and (for lio_listio) the opcode; notification SIGEV_NONE unless given. */
export interface AiocbSpec {
  fd: Fd | FieldValue;
  buf?: FieldValue;
  nbytes?: number;
  offset?: number | bigint;
  opcode?: Extract<keyof typeof LIO_OP, string>;
  reqprio?: number;
  notify?: Notify;
}

/** Raw `struct aiocb` bytes with relocations (the sigevent embedded at its offset). */
export function aiocb(spec: AiocbSpec): RawStruct {
  const s = encodeStruct(AIOCB_LAYOUT, {
    aio_fildes: fdField(spec.fd),
    aio_buf: spec.buf,
    aio_nbytes: spec.nbytes,
    aio_offset: spec.offset,
    aio_lio_opcode: spec.opcode === undefined ? undefined : LIO_OP[spec.opcode].value,
    aio_reqprio: spec.reqprio,
  });
  const ev = sigevent(spec.notify ?? { kind: 'none' });
  const at = AIOCB_LAYOUT.fields.aio_sigevent.offset;
  ev.bytes.copy(s.bytes, at);
  return { bytes: s.bytes, relocs: [...s.relocs, ...ev.relocs.map((r) => ({ ...r, off: r.off + at }))] };
}

/** An aiocb in a buffer of its own (glibc keeps its request state in it; it must not move). */
export function placeAiocb(seq: Sequence, spec: AiocbSpec): Buf {
  const b = seq.program.buf(AIOCB_LAYOUT.size);
  place(seq, b, 0, aiocb(spec));
  return b;
}

/** A sigevent in a buffer of its own. */
export function placeSigevent(seq: Sequence, n: Notify): Buf {
  const b = seq.program.buf(SIGEVENT_LAYOUT.size);
  place(seq, b, 0, sigevent(n));
  return b;
}

/** An array of aiocb pointers for aio_suspend and lio_listio; `null` entries stay NULL. */
export function aiocbList(seq: Sequence, cbs: (Buf | null)[]): Buf {
  const b = seq.program.buf(8 * Math.max(1, cbs.length));
  cbs.forEach((cb, i) => cb && seq.patch(b, 8 * i, 8, arg.buf(cb)));
  return b;
}

/** A zeroed u32 notification counter; pass `arg.buf(counter)` as a sigevent's value. */
export function counter(seq: Sequence): Buf {
  return seq.program.buf(4);
}

/** Wait (polling, under `waitMs`) until a counter reaches `want`; the step's result is the value last read. */
export function countWait(seq: Sequence, c: Buf, want: number, waitMs = 5000): StepRef {
  return seq.libc('count_wait', [arg.buf(c), want, waitMs]);
}

/** aio_read(cb). */
export const aioRead = (seq: Sequence, cb: Buf): StepRef => seq.libc('aio_read', [arg.buf(cb)]);
/** aio_write(cb). */
export const aioWrite = (seq: Sequence, cb: Buf): StepRef => seq.libc('aio_write', [arg.buf(cb)]);
/** aio_fsync(op, cb). */
export const aioFsync = (seq: Sequence, op: number, cb: Buf): StepRef => seq.libc('aio_fsync', [op, arg.buf(cb)]);
/** aio_error(cb). */
export const aioError = (seq: Sequence, cb: Buf): StepRef => seq.libc('aio_error', [arg.buf(cb)]);
/** aio_return(cb); POSIX allows one call per request. */
export const aioReturn = (seq: Sequence, cb: Buf): StepRef => seq.libc('aio_return', [arg.buf(cb)]);
/** aio_cancel(fd, cb), or every request on fd with `cb` null. */
export const aioCancel = (seq: Sequence, fd: Fd | ArgLike, cb: Buf | null): StepRef =>
  seq.libc('aio_cancel', [isFd(fd) ? arg.fd(fd) : fd, cb ? arg.buf(cb) : 0]);
/** aio_suspend(list, n, timeout): a relative timeout in ns, or null for none (still under the step deadline). */
export function aioSuspend(seq: Sequence, list: Buf, n: number, timeoutNs: number | null): StepRef {
  return seq.libc('aio_suspend', [arg.buf(list), n, timeoutNs === null ? 0 : arg.buf(timespec(seq, timeoutNs))]);
}
/** lio_listio(mode, list, n, sigevent or null). */
export function lioListio(seq: Sequence, mode: number, list: Buf, n: number, sev: Buf | null): StepRef {
  return seq.libc('lio_listio', [mode, arg.buf(list), n, sev ? arg.buf(sev) : 0]);
}

function isFd(v: Fd | ArgLike): v is Fd {
  return typeof v === 'object' && 'kind' in v && (v as Fd).kind === 'fd';
}

/** A fresh file in `dir` holding `size` bytes of pattern `seed` (written by pwrite), and the buffer they came from. */
export function patternFile(seq: Sequence, dir: string, name: string, size: number, seed: number) {
  const p = seq.program;
  const { fd, step: open } = scratchFile(seq, dir, name);
  const data = p.buf(size);
  seq.fillPattern(data, 0, size, seed);
  const write = pwrite(seq, fd, data, size, 0);
  return { fd, open, write, data };
}

/** The value of a counter: a DUMP step; read it with `counterValue`. */
export function readCounter(seq: Sequence, c: Buf): StepRef {
  return seq.dump(c, 0, 4);
}

/** The u32 a {@link readCounter} step recorded. */
export function counterValue(v: TraceView, ref: StepRef): number {
  return v.step(ref).dump!.readUInt32LE(0);
}
