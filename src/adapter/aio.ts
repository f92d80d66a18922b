/**
 * Legacy AIO as async-syscall adapters (SEMANTICS §1.2, §2.3): mainline's IOCB_CMD_* opcodes for
 * pread/pwrite/preadv/pwritev/fsync/fdatasync/poll, and the thread-based ops of LaHaise's unmerged
 * 2016 series (OPENAT 9, UNLINKAT 10, READAHEAD 12, RENAMEAT 13) for candidate kernels that carry them.
 */
import { AioOpName, errno, SYSCALLS } from '../abi';
import { classOf, RENAMEAT_INFO } from '../abi/whitelist';
import { aioGetevents, aioSetup, aioSubmit, iocb, IocbSpec } from '../program/aio';
import { Arg, arg, ArgLike, Buf, Ctx, Sequence, StepRef } from '../program/builder';
import type { TraceView } from '../program/trace';
import { ArgKind } from '../program/wire';
import { aioSupports } from '../target/caps';
import type { AsyncAdapter, AsyncSession, CancelOutcome, Completion, Reader, SyscallRequest } from './types';

/** An iocb's fields, without aio_data, for one request; `undefined` when these arguments are not expressible. */
export type IocbOf = (s: Sequence, a: readonly ArgLike[]) => Omit<IocbSpec, 'aio_data'> | undefined;

/** One mapped system call: its opcode, its encoding, and how the completion's res becomes the call's result. */
export interface AioMapping {
  op: AioOpName;
  encode: IocbOf;
  /** Result translation (POLL's res is the event mask; poll(2) returns how many fds are ready). */
  result?: (res: number) => number;
  /** Steps after the reap that finish the synchronous call's side effects (poll's revents). */
  after?: (s: Sequence, a: readonly ArgLike[], userData: bigint) => void;
}

const isBuf = (a: ArgLike | undefined): a is Arg => typeof a === 'object' && a.kind === ArgKind.BUF;
/** The buffer an address argument points into, as a Buf (only its slot matters to LOAD and PATCH). */
const bufOf = (a: Arg): Buf => ({ kind: 'buf', slot: a.slot, size: 0 });
const num = (a: ArgLike | undefined): number | undefined => (typeof a === 'number' ? a : undefined);

/** (fd, buffer, length, offset) → aio_fildes, aio_buf, aio_nbytes, aio_offset. */
function rw(op: 'PREAD' | 'PWRITE' | 'PREADV' | 'PWRITEV'): AioMapping {
  return { op, encode: (_s, [fd, b, n, off]) => ({ opcode: op, fd, aio_buf: b, aio_nbytes: n, aio_offset: off }) };
}

/** Mainline AIO (SEMANTICS §1.2). */
const MAINLINE: Readonly<Record<string, AioMapping>> = {
  pread64: rw('PREAD'),
  pwrite64: rw('PWRITE'),
  // vectored: aio_buf holds the iovec array, aio_nbytes the iovec count
  preadv: rw('PREADV'),
  pwritev: rw('PWRITEV'),
  fsync: { op: 'FSYNC', encode: (_s, [fd]) => ({ opcode: 'FSYNC', fd }) },
  fdatasync: { op: 'FDSYNC', encode: (_s, [fd]) => ({ opcode: 'FDSYNC', fd }) },
  // poll(fds, 1, -1) only: one pollfd, no timeout. The iocb takes the fd and events read from the
  // pollfd at submission (LOAD32); the completion's mask goes back into revents afterwards.
  poll: {
    op: 'POLL',
    encode(_s, [fds, nfds, timeout]) {
      if (!isBuf(fds) || num(nfds) !== 1 || num(timeout) !== -1) return undefined;
      const b = bufOf(fds);
      const off = Number(fds.value);
      // events is the low half of the second word (revents, the high half, starts at 0)
      return { opcode: 'POLL', fd: arg.load32(b, off), aio_buf: arg.load32(b, off + 4) };
    },
    result: (res) => (res > 0 ? 1 : res),
    after(s, [fds], userData) {
      const a = fds as Arg;
      s.patch(bufOf(a), Number(a.value) + 6, 2, arg.res(userData));
    },
  },
};

/** LaHaise's thread-based ops (SEMANTICS §2.3): encodings from the patches; never merged. */
const THREADED: Readonly<Record<string, AioMapping>> = {
  // aio_offset: flags in the low 32 bits, mode in bits 32..47
  openat: {
    op: 'OPENAT',
    encode(_s, [dfd, path, flags, mode]) {
      const f = num(flags);
      const m = num(mode);
      if (f === undefined || m === undefined || m > 0xffff) return undefined;
      return { opcode: 'OPENAT', fd: dfd, aio_buf: path, aio_offset: (BigInt(m) << 32n) | BigInt(f >>> 0) };
    },
  },
  // no flags (so no AT_REMOVEDIR): the patch refuses any
  unlinkat: {
    op: 'UNLINKAT',
    encode: (_s, [dfd, path, flags]) => (num(flags) === 0 ? { opcode: 'UNLINKAT', fd: dfd, aio_buf: path } : undefined),
  },
  readahead: {
    op: 'READAHEAD',
    encode: (_s, [fd, off, n]) => ({ opcode: 'READAHEAD', fd, aio_offset: off, aio_nbytes: n }),
  },
  // aio_buf points to struct renameat_info, aio_nbytes is its size
  renameat2: {
    op: 'RENAMEAT',
    encode(s, [od, op, nd, np, flags]) {
      const info = s.program.buf(RENAMEAT_INFO.size);
      const f = RENAMEAT_INFO.fields;
      for (const [off, v] of [
        [f.olddirfd, od],
        [f.oldpath, op],
        [f.newdirfd, nd],
        [f.newpath, np],
        [f.flags, flags ?? 0],
      ] as const)
        s.patch(info, off, 8, v ?? 0);
      return { opcode: 'RENAMEAT', fd: 0, aio_buf: arg.buf(info), aio_nbytes: RENAMEAT_INFO.size };
    },
  },
};

/** A session on a fresh AIO context: one io_submit per request, one io_getevents at the end. */
export class AioSession implements AsyncSession {
  private readonly ctx: Ctx;
  private readonly setup: StepRef;
  private readonly subs = new Map<bigint, { iocbs: Buf; m: AioMapping; a: readonly ArgLike[] }>();

  constructor(
    readonly seq: Sequence,
    private readonly encode: (req: SyscallRequest) => { m: AioMapping; spec: Omit<IocbSpec, 'aio_data'> } | undefined,
  ) {
    const { ctx, setup } = aioSetup(seq, 128);
    this.ctx = ctx;
    this.setup = setup;
  }

  submit(req: SyscallRequest, userData: bigint): Reader {
    const e = this.encode(req);
    if (!e) throw new Error(`aio: no encoding for system call ${req.nr} with these arguments`);
    const sub = aioSubmit(this.seq, this.ctx, [iocb({ ...e.spec, aio_data: userData })], 1);
    this.subs.set(userData, { iocbs: sub.iocbs, m: e.m, a: req.args });
    const setup = this.setup;
    return (v) => {
      if (v.ret(setup) < 0) throw new Error(`io_setup failed: ${v.ret(setup)}`);
      const n = v.ret(sub.submit);
      return n === 1 ? 0 : n < 0 ? n : -errno.EAGAIN;
    };
  }

  cancel(userData: bigint): Reader {
    const sub = this.subs.get(userData);
    if (!sub) throw new Error(`aio: cancel of a request never submitted (0x${userData.toString(16)})`);
    const result = this.seq.program.buf(32);
    const step = this.seq.syscall(SYSCALLS.io_cancel, [arg.ctx(this.ctx), arg.buf(sub.iocbs), arg.buf(result)]);
    return (v) => v.ret(step);
  }

  release(): void {}

  finish(min: number): (v: TraceView) => Completion[] {
    const ev = aioGetevents(this.seq, this.ctx, min, 128, 5e9);
    for (const [ud, x] of this.subs) x.m.after?.(this.seq, x.a, ud);
    return (v) =>
      v.step(ev).events.map((e) => {
        const x = this.subs.get(e.data);
        const res = Number(e.res);
        return { userData: e.data, res: x?.m.result ? x.m.result(res) : res };
      });
  }
}

function aioFamily(name: string, rule: string, table: Readonly<Record<string, AioMapping>>, what: string): AsyncAdapter {
  const byNr = new Map(Object.entries(table).map(([n, m]) => [classOf(n).nr, m]));
  const encode = (s: Sequence) => (req: SyscallRequest) => {
    const m = byNr.get(req.nr);
    const spec = m?.encode(s, req.args);
    return m && spec ? { m, spec } : undefined;
  };
  return {
    name,
    rule,
    ops: ['aio.setup'],
    traits: { cancel: true, hold: false, byNumber: false },
    mapped: () => [...byNr.keys()].sort((a, b) => a - b),
    expresses: (nr) => byNr.has(nr),
    unsupported(nr, caps) {
      const m = byNr.get(nr);
      if (!m) return `no ${what} opcode runs system call ${nr}`;
      if (!caps.aio.available) return `AIO unavailable: ${caps.aio.reason}`;
      if (!aioSupports(caps, m.op)) return `probe: IOCB_CMD_${m.op} does not work on kernel ${caps.kernel}`;
      return undefined;
    },
    session: (s) => new AioSession(s, encode(s)),
    cancelOutcome(r: number): CancelOutcome {
      // an armed POLL: -EINPROGRESS, its event comes through the ring (SEMANTICS §1.5)
      if (r === -errno.EINPROGRESS || r === 0) return 'cancelled';
      if (r === -errno.EINVAL) return 'not-found';
      return 'error';
    },
    // a cancelled POLL completes with res 0: poll(2)'s "no fd ready"
    cancelledResults: [0],
  };
}

/** Mainline legacy AIO (SEMANTICS §1.2). */
export const aioAdapter: AsyncAdapter = aioFamily('aio', 'SEMANTICS §1.2', MAINLINE, 'IOCB_CMD');

/** LaHaise's thread-based AIO ops, for candidate kernels that carry them (SEMANTICS §2.3). */
export const aioThreadAdapter: AsyncAdapter = aioFamily('aio-thread', 'SEMANTICS §2.3', THREADED, 'thread-based IOCB_CMD');

/** The never-merged opcodes by the system call each runs (for the rejection checks on stock kernels). */
export const AIO_THREAD_OPS: Readonly<Record<string, AioOpName>> = Object.freeze(
  Object.fromEntries(Object.entries(THREADED).map(([n, m]) => [n, m.op])),
);
