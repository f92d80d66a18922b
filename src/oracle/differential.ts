/**
 * Differential oracle: an asynchronous operation and its synchronous twin run in one program, each on
 * its own copy of the same file with its own copy of the same buffer, and what they did is compared:
 * the result, the buffer afterwards, the file's size and bytes afterwards.
 */
import { expect } from 'chai';
import * as path from 'path';
import { AT, describeErrno, IOVEC_LAYOUT, O, STATX, STATX_LAYOUT, SYSCALLS } from '../abi';
import { aioGetevents, aioSetup, aioSubmit, iocb, IocbSpec } from '../program/aio';
import { arg, Buf, Fd, Program, Sequence, StepRef } from '../program/builder';
import { fnv1a64 } from '../program/pattern';
import { encodeStruct, placeAll } from '../program/struct';
import { openat, pread, pwrite, scratchFile } from '../program/sys';
import type { TraceView } from '../program/trace';
import { reap, setupRing, sqe, SqeSpec, submit } from '../program/uring';
import type { Target } from '../target/target';

/** Reads the async side's result (`res` of its completion, or a synchronous rejection) from the trace. */
export type ResultOf = (v: TraceView) => number;

/** Pattern bytes at `off` in a file: stream `seed` from stream position `off`, so every byte names its write. */
export interface ContentRange {
  seed: number;
  off: number;
  len: number;
}

/** What one side of a differential works on. */
export interface TwinSide {
  /** The side's own file, open O_RDWR (plus {@link TwinSpec.open}'s flags). */
  fd: Fd;
  /** The side's own buffer, page-aligned. */
  buf: Buf;
}

/** A differential: the same file and buffer on both sides, then the synchronous call and the async one. */
export interface TwinSpec {
  /** The file before the call: pattern ranges written with pwrite(2); bytes in between are holes. */
  content?: ContentRange[];
  /** The buffer: `size` bytes holding the sentinel byte `fill` (default 0xa5) or a pattern. */
  buf: { size: number; fill?: number | { seed: number; pos?: number } };
  /** The synchronous twin; its step's ret is the result. */
  sync(s: Sequence, side: TwinSide): StepRef;
  /** The asynchronous operation. */
  async(s: Sequence, side: TwinSide): ResultOf;
  /** File bytes read back afterwards (default 128 KiB); the comparison covers only these. */
  readBack?: number;
  /**
   * Extra open flags (O_APPEND, O_DIRECT, O_DSYNC) for the fd both calls get: each side's file is then
   * opened a second time with O_RDWR and these flags; the fixture and the read-back keep a plain fd.
   */
  open?: number;
}

/** What one side did. */
export interface TwinOutcome {
  /** The result: ret or -errno for the syscall, `res` for the completion. */
  result: number;
  /** st_size afterwards. */
  size: number;
  /** FNV-1a 64 of the buffer afterwards, hex. */
  buf: string;
  /** FNV-1a 64 of the file's bytes afterwards (up to `readBack`), hex. */
  file: string;
}

/** Both outcomes, the bytes behind their digests, and the whole trace. */
export interface Twin {
  sync: TwinOutcome;
  async: TwinOutcome;
  bytes: { sync: { buf: Buffer; file: Buffer }; async: { buf: Buffer; file: Buffer } };
  view: TraceView;
}

/** The user_data / aio_data the async side's request carries. */
export const TWIN_USER_DATA = 0x7717_0001n;

const hex = (b: Buffer): string => fnv1a64(b).toString(16).padStart(16, '0');

/** Run a differential on the target; setup failures throw, they are never a result. */
export async function differential(target: Target, scratch: string, spec: TwinSpec): Promise<Twin> {
  const p = new Program();
  const s = p.main;
  const readBack = spec.readBack ?? 128 * 1024;
  const sides = (['sync', 'async'] as const).map((name) => {
    const { fd, step } = scratchFile(s, scratch, `twin-${name}`);
    return { name, fd, buf: p.buf(spec.buf.size, 4096), open: step };
  });
  const setup: { what: string; step: StepRef; want?: number }[] = sides.map((x) => ({
    what: `open of the ${x.name} file`,
    step: x.open,
  }));
  // the fd the calls get: the plain one, or the same file opened again with the spec's flags
  const opFds = sides.map((x) => {
    if (spec.open === undefined) return x.fd;
    const flags = O.RDWR.value | O.CLOEXEC.value | spec.open;
    const { fd, step } = openat(s, path.posix.join(scratch, `twin-${x.name}`), flags);
    setup.push({ what: `open of the ${x.name} file with flags 0o${spec.open.toString(8)}`, step });
    return fd;
  });

  const ranges = spec.content ?? [];
  if (ranges.length) {
    const cb = p.buf(Math.max(...ranges.map((r) => r.len)));
    for (const r of ranges) {
      s.fillPattern(cb, 0, r.len, r.seed, r.off);
      for (const x of sides)
        setup.push({
          what: `pwrite of ${r.len} bytes at ${r.off} to the ${x.name} file`,
          step: pwrite(s, x.fd, cb, r.len, r.off),
          want: r.len,
        });
    }
  }
  const fill = spec.buf.fill ?? 0xa5;
  for (const x of sides) {
    if (typeof fill === 'number') s.fillByte(x.buf, 0, spec.buf.size, fill);
    else s.fillPattern(x.buf, 0, spec.buf.size, fill.seed, fill.pos ?? 0);
  }

  const syncStep = spec.sync(s, { fd: opFds[0], buf: sides[0].buf });
  const asyncResult = spec.async(s, { fd: opFds[1], buf: sides[1].buf });

  const empty = p.cstr('');
  const after = sides.map((x) => {
    const rb = p.buf(readBack);
    const read = pread(s, x.fd, rb, readBack, 0);
    const file = s.dump(rb);
    const sx = p.buf(STATX_LAYOUT.size);
    const stat = s.syscall(SYSCALLS.statx, [
      arg.fd(x.fd),
      arg.buf(empty),
      AT.EMPTY_PATH.value,
      STATX.SIZE.value,
      arg.buf(sx),
    ]);
    const statDump = s.dump(sx);
    const buf = s.dump(x.buf);
    setup.push(
      { what: `read-back pread of the ${x.name} file`, step: read },
      { what: `statx of the ${x.name} file`, step: stat },
    );
    return { read, file, statDump, buf };
  });

  const v = await target.run(p);
  for (const st of setup) {
    const r = v.ret(st.step);
    if (r < 0 || (st.want !== undefined && r !== st.want))
      throw new Error(`differential setup failed: ${st.what} returned ${r < 0 ? describeErrno(-r) : r}`);
  }
  const outcome = (i: 0 | 1, result: number) => {
    const a = after[i];
    const file = v.step(a.file).dump!.subarray(0, v.ret(a.read));
    const buf = v.step(a.buf).dump!;
    const size = Number(v.step(a.statDump).dump!.readBigUInt64LE(STATX_LAYOUT.fields.stx_size.offset));
    return { outcome: { result, size, buf: hex(buf), file: hex(file) }, bytes: { buf, file } };
  };
  const sync = outcome(0, v.ret(syncStep));
  const async = outcome(1, asyncResult(v));
  return { sync: sync.outcome, async: async.outcome, bytes: { sync: sync.bytes, async: async.bytes }, view: v };
}

/**
 * The async side through legacy AIO: one iocb (its aio_data set to {@link TWIN_USER_DATA}) on a fresh
 * context, reaped with io_getevents. A synchronous rejection by io_submit is the result (SEMANTICS §1.5).
 */
export function viaAio(s: Sequence, spec: Omit<IocbSpec, 'aio_data'>): ResultOf {
  const { ctx, setup } = aioSetup(s, 4);
  // io_submit's result becomes io_getevents' min_nr: a rejected iocb (-errno) makes the wait fail at
  // once (EINVAL) instead of sitting out its timeout for an event that cannot come
  const submitted = s.program.buf(8);
  const { submit: sub } = aioSubmit(s, ctx, [iocb({ ...spec, aio_data: TWIN_USER_DATA })], 1, { store: submitted });
  const ev = aioGetevents(s, ctx, arg.load64(submitted, 0), 2);
  return (v) => {
    expect(v.ret(setup), 'io_setup of the differential context').to.equal(0);
    const n = v.ret(sub);
    if (n < 0) return n;
    expect(n, 'io_submit of one iocb queues it (SEMANTICS §1.5)').to.equal(1);
    const events = v.step(ev).events;
    expect(
      events.map((e) => e.data),
      'one io_event, carrying aio_data (SEMANTICS §1.3)',
    ).to.deep.equal([TWIN_USER_DATA]);
    expect(events[0].res2, 'io_event.res2 is always 0 (SEMANTICS §1.3)').to.equal(0n);
    return Number(events[0].res);
  };
}

/**
 * The async side through io_uring: one SQE (its user_data set to {@link TWIN_USER_DATA}) on a fresh
 * ring, submitted and waited for with io_uring_enter. Per-SQE errors are CQE results (SEMANTICS §3.1).
 */
export function viaUring(s: Sequence, spec: Omit<SqeSpec, 'user_data'>): ResultOf {
  const h = setupRing(s, { entries: 4 });
  const sub = submit(s, h, [sqe({ ...spec, user_data: TWIN_USER_DATA })], 1);
  const c = reap(s, h, 1, 2);
  return (v) => {
    expect(v.ret(h.setup), 'io_uring_setup of the differential ring').to.be.at.least(0);
    expect(v.ret(sub.enter), 'io_uring_enter consumes the one SQE (SEMANTICS §3.5)').to.equal(1);
    const cqes = v.step(c).cqes;
    expect(
      cqes.map((q) => q.userData),
      'one CQE, carrying user_data (SEMANTICS §3.3)',
    ).to.deep.equal([TWIN_USER_DATA]);
    return cqes[0].res;
  };
}

/** An iovec array over `[offset, length]` segments of `b` (for the vectored twins). */
export function iovecs(s: Sequence, b: Buf, segments: readonly (readonly [number, number])[]): Buf {
  const a = s.program.buf(IOVEC_LAYOUT.size * segments.length);
  placeAll(
    s,
    a,
    0,
    segments.map(([off, len]) => encodeStruct(IOVEC_LAYOUT, { iov_base: arg.buf(b, off), iov_len: len })),
  );
  return a;
}
