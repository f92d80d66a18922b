/**
 * Helpers shared by the io_uring "files and buffers" tests (suites/uring/fixed-*, provide-buffers,
 * read-multishot, fallocate, statx, …): one ring per program that runs SQEs one batch at a time and
 * hands back each CQE by user_data, registration of buffers and files, and the little structures
 * those ops take.
 */
import { expect } from 'chai';
import { describeErrno, IOVEC_LAYOUT, REGISTER, STATX_LAYOUT, SYSCALLS } from '../abi';
import { arg, ArgLike, Buf, Fd, Program, Sequence, StepRef } from '../program/builder';
import { encodeStruct, placeAll } from '../program/struct';
import type { Cqe, TraceView } from '../program/trace';
import { reap, RingHandle, RingOptions, setupRing, sqe, SqeSpec, submit, Submission } from '../program/uring';

/** Reads one request's CQE from the trace. */
export type CqeOf = (v: TraceView) => Cqe;

/** One batch: its submission and the reaps that took its completions. */
interface Batch {
  sub: Submission;
  reaps: StepRef[];
  userData: bigint[];
  /** How many SQEs io_uring_enter must consume (all of them unless a test says otherwise). */
  count: number;
}

/** The next user_data per program: distinct across all of a program's rings, for the completion ledger. */
const NEXT_USER_DATA = new WeakMap<Program, bigint>();

/**
 * A ring in a program that runs SQEs a batch at a time: each batch is submitted and waited for before
 * the next step, so steps after it (a pread of the file, a close) see what the batch did. Every SQE gets a
 * fresh user_data, and every CQE is reaped.
 */
export class UringRunner {
  readonly h: RingHandle;

  constructor(
    readonly s: Sequence,
    opts: RingOptions = {},
  ) {
    this.h = setupRing(s, { entries: 16, ...opts });
  }

  /** Submit SQEs together and wait for `want` completions (default one each); a CQE reader per SQE. */
  batch(specs: Omit<SqeSpec, 'user_data'>[], want = specs.length): CqeOf[] {
    const p = this.s.program;
    const first = this.nextId;
    const userData = specs.map((_, i) => first + BigInt(i));
    NEXT_USER_DATA.set(p, first + BigInt(specs.length));
    const sub = submit(
      this.s,
      this.h,
      specs.map((x, i) => sqe({ ...x, user_data: userData[i] }, this.h.sqeSize)),
      want,
    );
    // what the wait brought, then anything else already there (nothing is expected)
    const reaps = [reap(this.s, this.h, want, 16), reap(this.s, this.h, 0, 16, 0)];
    const b: Batch = { sub, reaps, userData, count: specs.length };
    return userData.map((ud) => (v: TraceView) => this.one(v, b, ud));
  }

  /** Submit one SQE and wait for its completion. */
  run(spec: Omit<SqeSpec, 'user_data'>): CqeOf {
    return this.batch([spec])[0];
  }

  /** The user_data the next SQE will carry (for arg.res: an fd an OPENAT returned). */
  get nextId(): bigint {
    return NEXT_USER_DATA.get(this.s.program) ?? 0x5100n;
  }

  /** Submit one SQE; its `res`. */
  res(spec: Omit<SqeSpec, 'user_data'>): (v: TraceView) => number {
    const c = this.run(spec);
    return (v) => c(v).res;
  }

  /** Every CQE the batch's reaps took. */
  private cqesOf(v: TraceView, b: Batch): Cqe[] {
    return b.reaps.flatMap((r) => v.step(r).cqes);
  }

  private one(v: TraceView, b: Batch, ud: bigint): Cqe {
    expect(v.ret(this.h.setup), 'io_uring_setup').to.be.at.least(0);
    expect(v.ret(b.sub.enter), `io_uring_enter consumes all ${b.count} SQEs (SEMANTICS §3.5)`).to.equal(b.count);
    const mine = this.cqesOf(v, b).filter((q) => q.userData === ud);
    expect(mine.length, `exactly one CQE for user_data 0x${ud.toString(16)} (SEMANTICS §3.3)`).to.equal(1);
    return mine[0];
  }
}

/** An iovec array over `[buffer, offset, length]` segments, possibly of several buffers. */
export function iovecArray(s: Sequence, segs: readonly (readonly [Buf, number, number])[]): Buf {
  const a = s.program.buf(IOVEC_LAYOUT.size * Math.max(1, segs.length));
  placeAll(
    s,
    a,
    0,
    segs.map(([b, off, len]) => encodeStruct(IOVEC_LAYOUT, { iov_base: arg.buf(b, off), iov_len: len })),
  );
  return a;
}

/** io_uring_register(ring, IORING_REGISTER_BUFFERS, iovecs, n): whole buffers, index i = buffer i. */
export function registerBuffers(s: Sequence, h: RingHandle, bufs: readonly Buf[]): StepRef {
  const iov = iovecArray(
    s,
    bufs.map((b) => [b, 0, b.size] as const),
  );
  return s.syscall(SYSCALLS.io_uring_register, [arg.ring(h.ring), REGISTER.BUFFERS.value, arg.buf(iov), bufs.length]);
}

/** An array of s32 fds (an fd slot, or a raw number such as -1 for an empty slot). */
export function fdArray(s: Sequence, fds: readonly (Fd | number)[]): Buf {
  const a = s.program.buf(4 * Math.max(1, fds.length));
  fds.forEach((f, i) => s.patch(a, 4 * i, 4, typeof f === 'number' ? f : arg.fd(f)));
  return a;
}

/** io_uring_register(ring, IORING_REGISTER_FILES, fds, n); -1 leaves a slot empty. */
export function registerFiles(s: Sequence, h: RingHandle, fds: readonly (Fd | number)[]): StepRef {
  return s.syscall(SYSCALLS.io_uring_register, [
    arg.ring(h.ring),
    REGISTER.FILES.value,
    arg.buf(fdArray(s, fds)),
    fds.length,
  ]);
}

/** Throw (a setup failure, never a result) when a fixture step did not return what it must. */
export function requireSetup(v: TraceView, steps: { what: string; step: StepRef; want?: number }[]): void {
  for (const st of steps) {
    const r = v.ret(st.step);
    if (r < 0 || (st.want !== undefined && r !== st.want))
      throw new Error(`setup failed: ${st.what} returned ${r < 0 ? describeErrno(-r) : r}`);
  }
}

/** write(2) of literal bytes to an fd (a pipe's write end). */
export function writeBytes(s: Sequence, fd: Fd, data: Uint8Array): StepRef {
  const b = s.program.data(data);
  return s.syscall(SYSCALLS.write, [arg.fd(fd), arg.buf(b), data.length]);
}

/** statx(dirfd, path, flags, mask, buf), then a DUMP of the struct statx: both steps. */
export function statxDump(
  s: Sequence,
  dirfd: ArgLike,
  path: Buf,
  flags: number,
  mask: number,
): { call: StepRef; dump: StepRef } {
  const sx = s.program.buf(STATX_LAYOUT.size);
  const call = s.syscall(SYSCALLS.statx, [dirfd, arg.buf(path), flags, mask, arg.buf(sx)]);
  return { call, dump: s.dump(sx) };
}

/** Legacy provided buffers (IORING_OP_PROVIDE_BUFFERS): `count` buffers of `size` bytes in one program buffer. */
export interface ProvidedBuffers {
  /** The memory: buffer id `firstId + i` is bytes [i * size, (i + 1) * size). */
  mem: Buf;
  group: number;
  firstId: number;
  count: number;
  size: number;
}

/** The PROVIDE_BUFFERS SQE for a set of buffers: fd = count, addr, len = size, off = first id, buf_group. */
export function provideSpec(pb: ProvidedBuffers): Omit<SqeSpec, 'user_data'> {
  return {
    opcode: 'PROVIDE_BUFFERS',
    fd: pb.count,
    addr: arg.buf(pb.mem),
    len: pb.size,
    off: pb.firstId,
    buf_group: pb.group,
  };
}

/** Memory for `count` buffers of `size` bytes, page-aligned. */
export function providedBuffers(
  s: Sequence,
  group: number,
  firstId: number,
  count: number,
  size: number,
): ProvidedBuffers {
  return { mem: s.program.buf(count * size, 4096), group, firstId, count, size };
}

// <linux/io_uring.h> struct io_uring_buf_reg (40 bytes: ring_addr u64 @0, ring_entries u32 @8, bgid u16 @12,
// flags u16 @14, resv[3]) and struct io_uring_buf (16 bytes: addr u64 @0, len u32 @8, bid u16 @12,
// resv u16 @14; the ring's tail is entry 0's resv): not in src/abi yet
const BUF_REG_SIZE = 40;
const BUF_SIZE = 16;
const BUF_RING_TAIL = 14;

/**
 * A provided-buffer ring (IORING_REGISTER_PBUF_RING, 5.19) in program memory with `count` (a power of
 * two) buffers of `size` bytes, ids 0..count-1, all published: the register step and the buffers' memory.
 */
export function registerBufRing(
  s: Sequence,
  h: RingHandle,
  group: number,
  count: number,
  size: number,
): { reg: StepRef; mem: Buf } {
  const p = s.program;
  const ring = p.buf(count * BUF_SIZE, 4096);
  const mem = p.buf(count * size, 4096);
  for (let i = 0; i < count; i++) {
    s.patch(ring, i * BUF_SIZE, 8, arg.buf(mem, i * size));
    s.patch(ring, i * BUF_SIZE + 8, 4, size);
    s.patch(ring, i * BUF_SIZE + 12, 2, i);
  }
  s.patch(ring, BUF_RING_TAIL, 2, count);
  const reg = p.buf(BUF_REG_SIZE);
  s.patch(reg, 0, 8, arg.buf(ring));
  s.patch(reg, 8, 4, count);
  s.patch(reg, 12, 2, group);
  return {
    reg: s.syscall(SYSCALLS.io_uring_register, [arg.ring(h.ring), REGISTER.PBUF_RING.value, arg.buf(reg), 1]),
    mem,
  };
}

/**
 * IORING_REGISTER_IOWQ_MAX_WORKERS with `[bounded, unbounded]` (0 leaves a limit and only queries it): the step,
 * and a dump of the pair the kernel writes back, the limits before the call (man 2 io_uring_register).
 */
export function iowqMaxWorkers(
  s: Sequence,
  h: RingHandle,
  bounded: number,
  unbounded: number,
  nrArgs = 2,
): { step: StepRef; dump: StepRef } {
  const b = s.program.buf(8);
  s.patch(b, 0, 4, bounded);
  s.patch(b, 4, 4, unbounded);
  const step = s.syscall(SYSCALLS.io_uring_register, [arg.ring(h.ring), REGISTER.IOWQ_MAX_WORKERS.value, arg.buf(b), nrArgs]);
  return { step, dump: s.dump(b) };
}
