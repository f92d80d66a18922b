/**
 * fsync-durability workloads (data for `kasync crash`, not mocha tests). Each builds the guest
 * program that ends at one sync point — an async fsync or fdatasync, or an O_DSYNC/RWF_DSYNC write —
 * whose completion the program reaps and then reads the file back; the host turns that read into the
 * mark. Only legal orderings are asserted (fsync(2), io_uring_enter(2), io_submit(2)): every write
 * the sync point covers completed before the sync was submitted, or is ordered before it by
 * IOSQE_IO_LINK or IOSQE_IO_DRAIN. Setup ends with sync(2), so the file's name is durable before
 * the async part starts and only the async promise is under test (rename-dir makes the name part
 * of it, with an fsync of the directory).
 *
 * After the mark, `after` runs up to three more operations on another file, SYNC_FILE_RANGE among
 * them (it promises no durability, sync_file_range(2)): crash states taken then must still hold the
 * marked file (CrashMonkey's "crash after a persistence point and ≤3 more ops").
 */
import * as path from 'path';
import { AioOpName, AT, FSYNC, IOSQE, O, RWF, SEEK, SYNC_FILE_RANGE, SYSCALLS, UringOpName } from '../../src/abi';
import { aioGetevents, aioSetup, aioSubmit, iocb, IocbSpec } from '../../src/program/aio';
import { arg, Buf, Ctx, Fd, Program, Sequence, StepRef } from '../../src/program/builder';
import { openat } from '../../src/program/sys';
import type { TraceView } from '../../src/program/trace';
import { reap, RingHandle, setupRing, sqe, SqeSpec, submit } from '../../src/program/uring';

/** The largest marked file: the read-back is one DUMP (at most 1 MiB). */
export const MAX_FILE = 1 << 20;
const KIB = 1024;

/** A built program and how to judge its trace. */
export interface ScriptRun {
  program: Program;
  /** Problems with the trace (a step that did not do what the workload needs): no mark then. */
  problems(v: TraceView): string[];
}

/** A built workload: its program up to the sync point, and where its read-back is. */
export interface WorkloadRun extends ScriptRun {
  /** lseek(fd, 0, SEEK_END) after the sync point: the file's size. */
  size: StepRef;
  /** DUMP of the file's first min(size, MAX_FILE) bytes. */
  dump: StepRef;
}

/** One workload. */
export interface FsyncWorkload {
  /** `<iface>.<sync>.<shape>`, unique. */
  name: string;
  iface: 'aio' | 'uring';
  /** The sync point's promise covers data and size only (fdatasync(2), O_DSYNC), not other metadata. */
  datasync: boolean;
  /** Where the promise comes from. */
  rule: string;
  /** Opcodes the kernel must support (from the probe); otherwise the workload is skipped with the reason. */
  needs: { aio?: AioOpName[]; uring?: UringOpName[] };
  /** The marked file, relative to the workload's directory. */
  file: string;
  /** Its size after the sync point. */
  size: number;
  /** The program up to the sync point and the read-back, in directory `dir` (absolute, in the guest). */
  build(dir: string): WorkloadRun;
  /** ≤3 operations after the mark, on other files in `dir`. */
  after(dir: string): ScriptRun;
}

const DEADLINE_MS = 30_000;
const WAIT_MS = 20_000;

/** Collects a program's steps and what each must return. */
class Script {
  readonly p = new Program({ deadlineMs: DEADLINE_MS });
  readonly s: Sequence = this.p.main;
  private readonly checks: Array<(v: TraceView) => string | undefined> = [];
  private nextTag = 1;

  /** A sync syscall that must return `want` (a number) or ≥ 0 (undefined). */
  sys(
    what: string,
    nr: number,
    args: Parameters<Sequence['syscall']>[1],
    want?: number,
    opts: Parameters<Sequence['syscall']>[2] = {},
  ): StepRef {
    const step = this.s.syscall(nr, args, opts);
    this.checks.push((v) => {
      const r = v.maybe(step);
      if (!r) return `${what}: did not run`;
      const ret = Number(r.ret);
      return (want === undefined ? ret >= 0 : ret === want)
        ? undefined
        : `${what}: returned ${ret}${r.errno ? ` (errno ${r.errno})` : ''}, want ${want ?? '>= 0'}`;
    });
    return step;
  }

  open(what: string, file: string, flags: number): Fd {
    const { fd, step } = openat(this.s, file, flags | O.CLOEXEC.value, 0o644);
    this.checks.push((v) =>
      Number(v.maybe(step)?.ret ?? -1) >= 0 ? undefined : `open ${what}: ${v.maybe(step)?.ret ?? 'did not run'}`,
    );
    return fd;
  }

  /** A pattern-filled buffer of n bytes (seed picks the stream). */
  data(n: number, seed: number): Buf {
    const b = this.p.buf(n, 4096);
    this.s.fillPattern(b, 0, n, seed);
    return b;
  }

  /** One io_submit of iocbs (tags set here), then io_getevents for all of them; each event's res must be `want[i]`. */
  aio(ctx: Ctx, what: string, specs: Omit<IocbSpec, 'aio_data'>[], want: number[]): void {
    const tags = specs.map(() => this.nextTag++);
    const { submit: sub } = aioSubmit(
      this.s,
      ctx,
      specs.map((x, i) => iocb({ ...x, aio_data: tags[i] })),
    );
    const ev = aioGetevents(this.s, ctx, specs.length, specs.length, WAIT_MS * 1e6);
    this.checks.push((v) => {
      const n = v.ret(sub);
      if (n !== specs.length) return `${what}: io_submit returned ${n}, want ${specs.length} (io_submit(2))`;
      const events = v.step(ev).events;
      for (let i = 0; i < tags.length; i++) {
        const e = events.find((x) => x.data === BigInt(tags[i]));
        if (!e) return `${what}: no io_event for iocb ${i} within ${WAIT_MS} ms`;
        if (Number(e.res) !== want[i]) return `${what}: iocb ${i} completed with res ${e.res}, want ${want[i]}`;
      }
      return undefined;
    });
  }

  /** One submit of SQEs (tags set here), then reap them all; each CQE's res must be `want[i]`. */
  uring(h: RingHandle, what: string, specs: Omit<SqeSpec, 'user_data'>[], want: number[]): void {
    const tags = specs.map(() => this.nextTag++);
    const sub = submit(
      this.s,
      h,
      specs.map((x, i) => sqe({ ...x, user_data: tags[i] })),
    );
    const c = reap(this.s, h, specs.length, specs.length, WAIT_MS);
    this.checks.push((v) => {
      const n = v.ret(sub.enter);
      if (n !== specs.length) return `${what}: io_uring_enter consumed ${n} SQEs, want ${specs.length}`;
      const cqes = v.step(c).cqes;
      for (let i = 0; i < tags.length; i++) {
        const q = cqes.find((x) => x.userData === BigInt(tags[i]));
        if (!q) return `${what}: no CQE for SQE ${i} within ${WAIT_MS} ms`;
        if (q.res !== want[i]) return `${what}: SQE ${i} completed with res ${q.res}, want ${want[i]}`;
      }
      return undefined;
    });
  }

  /** The read-back: size by lseek, then the bytes. */
  readBack(fd: Fd): WorkloadRun {
    const size = this.s.syscall(SYSCALLS.lseek, [arg.fd(fd), 0, SEEK.END.value]);
    const b = this.p.buf(MAX_FILE);
    const read = this.sys('read-back pread', SYSCALLS.pread64, [arg.fd(fd), arg.buf(b), MAX_FILE, 0]);
    const dump = this.s.dump(b);
    void read;
    return { ...this.finish(), size, dump };
  }

  finish(): ScriptRun {
    const checks = this.checks;
    return {
      program: this.p,
      problems: (v) => {
        if (v.trace.status !== 'ok') return [`program ${v.trace.status}: ${v.trace.message}`];
        return checks.map((c) => c(v)).filter((x): x is string => x !== undefined);
      },
    };
  }
}

const RW = O.RDWR.value | O.CREAT.value | O.TRUNC.value;

/** Setup: create the file (optionally with content), then sync(2): its name and content are durable. */
function setup(
  sc: Script,
  dir: string,
  file: string,
  opts: { flags?: number; content?: { seed: number; len: number }; truncate?: number } = {},
): Fd {
  const fd = sc.open(file, path.posix.join(dir, file), RW | (opts.flags ?? 0));
  if (opts.content) {
    const b = sc.data(opts.content.len, opts.content.seed);
    sc.sys('setup pwrite', SYSCALLS.pwrite64, [arg.fd(fd), arg.buf(b), opts.content.len, 0], opts.content.len);
  }
  if (opts.truncate !== undefined) sc.sys('setup ftruncate', SYSCALLS.ftruncate, [arg.fd(fd), opts.truncate], 0);
  sc.sys('setup sync', SYSCALLS.sync, [], 0);
  return fd;
}

/** The ≤3 operations after the mark, through AIO: a write to another file, sync_file_range(2), a rename. */
function aioAfter(dir: string): ScriptRun {
  const sc = new Script();
  const other = sc.open('other', path.posix.join(dir, 'other'), RW);
  const { ctx } = aioSetup(sc.s, 4);
  const b = sc.data(32 * KIB, 0x0a7e);
  sc.aio(
    ctx,
    'after: PWRITE other',
    [{ opcode: 'PWRITE', fd: other, aio_buf: arg.buf(b), aio_nbytes: 32 * KIB, aio_offset: 0 }],
    [32 * KIB],
  );
  const all = SYNC_FILE_RANGE.WAIT_BEFORE.value | SYNC_FILE_RANGE.WRITE.value | SYNC_FILE_RANGE.WAIT_AFTER.value;
  sc.sys('after: sync_file_range other', SYSCALLS.sync_file_range, [arg.fd(other), 0, 32 * KIB, all], 0);
  sc.sys(
    'after: rename other',
    SYSCALLS.renameat2,
    [AT.FDCWD.value, arg.buf(sc.p.cstr(`${dir}/other`)), AT.FDCWD.value, arg.buf(sc.p.cstr(`${dir}/other2`)), 0],
    0,
  );
  return sc.finish();
}

/** The same through io_uring: WRITE, SYNC_FILE_RANGE, RENAMEAT (each reaped before the next). */
function uringAfter(dir: string): ScriptRun {
  const sc = new Script();
  const other = sc.open('other', path.posix.join(dir, 'other'), RW);
  const h = setupRing(sc.s, { entries: 8 });
  const b = sc.data(32 * KIB, 0x0a7e);
  sc.uring(
    h,
    'after: WRITE other',
    [{ opcode: 'WRITE', fd: other, addr: arg.buf(b), len: 32 * KIB, off: 0 }],
    [32 * KIB],
  );
  const all = SYNC_FILE_RANGE.WAIT_BEFORE.value | SYNC_FILE_RANGE.WRITE.value | SYNC_FILE_RANGE.WAIT_AFTER.value;
  sc.uring(
    h,
    'after: SYNC_FILE_RANGE other',
    [{ opcode: 'SYNC_FILE_RANGE', fd: other, off: 0, len: 32 * KIB, sync_range_flags: all }],
    [0],
  );
  sc.uring(
    h,
    'after: RENAMEAT other',
    [
      {
        opcode: 'RENAMEAT',
        fd: AT.FDCWD.value,
        addr: arg.buf(sc.p.cstr(`${dir}/other`)),
        len: AT.FDCWD.value,
        addr2: arg.buf(sc.p.cstr(`${dir}/other2`)),
      },
    ],
    [0],
  );
  return sc.finish();
}

const FSYNC_RULE =
  'fsync(2): data and metadata are on the device when the call returns; io_submit(2) IOCB_CMD_FSYNC (SEMANTICS §1.2)';
const FDSYNC_RULE =
  'fdatasync(2): data, and the size it needs, are on the device when the call returns; IOCB_CMD_FDSYNC (SEMANTICS §1.2)';
const URING_FSYNC_RULE =
  'io_uring_enter(2) IORING_OP_FSYNC: as fsync(2), or fdatasync(2) with IORING_FSYNC_DATASYNC (SEMANTICS §3.2)';
const DSYNC_RULE =
  'open(2) O_DSYNC / pwritev2(2) RWF_DSYNC: the write completes only once its data and size are durable';

/** An AIO workload: setup, then `body` on a fresh context; the mark's file is `file`. */
function aioWorkload(
  name: string,
  w: {
    datasync: boolean;
    rule: string;
    needs: AioOpName[];
    size: number;
    flags?: number;
    content?: { seed: number; len: number };
  },
  body: (sc: Script, ctx: Ctx, fd: Fd, dir: string) => Fd | void,
): FsyncWorkload {
  return {
    name,
    iface: 'aio',
    datasync: w.datasync,
    rule: w.rule,
    needs: { aio: w.needs },
    file: 'data',
    size: w.size,
    build(dir) {
      const sc = new Script();
      const fd = setup(sc, dir, 'data', { flags: w.flags, content: w.content });
      const { ctx } = aioSetup(sc.s, 8);
      return sc.readBack(body(sc, ctx, fd, dir) ?? fd);
    },
    after: aioAfter,
  };
}

/** An io_uring workload, likewise. */
function uringWorkload(
  name: string,
  w: {
    datasync: boolean;
    rule: string;
    needs: UringOpName[];
    size: number;
    flags?: number;
    content?: { seed: number; len: number };
    truncate?: number;
  },
  body: (sc: Script, h: RingHandle, fd: Fd, dir: string) => Fd | void,
): FsyncWorkload {
  return {
    name,
    iface: 'uring',
    datasync: w.datasync,
    rule: w.rule,
    // the ops after the mark (uringAfter) need these too
    needs: { uring: [...new Set<UringOpName>([...w.needs, 'WRITE', 'SYNC_FILE_RANGE', 'RENAMEAT'])] },
    file: 'data',
    size: w.size,
    build(dir) {
      const sc = new Script();
      const fd = setup(sc, dir, 'data', { flags: w.flags, content: w.content, truncate: w.truncate });
      const h = setupRing(sc.s, { entries: 16 });
      return sc.readBack(body(sc, h, fd, dir) ?? fd);
    },
    after: uringAfter,
  };
}

const N = 64 * KIB;
/** Pattern seed of uring.fsync.extend's data (a lying-disk test drops the write carrying it). */
export const URING_EXTEND_SEED = 0x5201;
const pw = (fd: Fd, b: Buf, n: number, off: number, rw = 0): Omit<IocbSpec, 'aio_data'> => ({
  opcode: 'PWRITE',
  fd,
  aio_buf: arg.buf(b),
  aio_nbytes: n,
  aio_offset: off,
  aio_rw_flags: rw,
});
const wr = (fd: Fd, b: Buf, n: number, off: number, extra: Partial<SqeSpec> = {}): Omit<SqeSpec, 'user_data'> => ({
  opcode: 'WRITE',
  fd,
  addr: arg.buf(b),
  len: n,
  off,
  ...extra,
});

/** Every workload, in the order a recording runs them. */
export const WORKLOADS: readonly FsyncWorkload[] = [
  aioWorkload(
    'aio.fsync.extend',
    { datasync: false, rule: FSYNC_RULE, needs: ['PWRITE', 'FSYNC'], size: N },
    (sc, ctx, fd) => {
      sc.aio(ctx, 'PWRITE 64 KiB to an empty file', [pw(fd, sc.data(N, 0x5101), N, 0)], [N]);
      sc.aio(ctx, 'FSYNC', [{ opcode: 'FSYNC', fd }], [0]);
    },
  ),
  aioWorkload(
    'aio.fdsync.extend',
    { datasync: true, rule: FDSYNC_RULE, needs: ['PWRITE', 'FDSYNC'], size: N },
    (sc, ctx, fd) => {
      sc.aio(ctx, 'PWRITE 64 KiB to an empty file', [pw(fd, sc.data(N, 0x5102), N, 0)], [N]);
      sc.aio(ctx, 'FDSYNC', [{ opcode: 'FDSYNC', fd }], [0]);
    },
  ),
  aioWorkload(
    'aio.fdsync.overwrite',
    { datasync: true, rule: FDSYNC_RULE, needs: ['PWRITE', 'FDSYNC'], size: N, content: { seed: 0x5103, len: N } },
    (sc, ctx, fd) => {
      sc.aio(ctx, 'PWRITE 16 KiB over synced data', [pw(fd, sc.data(16 * KIB, 0x5104), 16 * KIB, 8 * KIB)], [16 * KIB]);
      sc.aio(ctx, 'FDSYNC', [{ opcode: 'FDSYNC', fd }], [0]);
    },
  ),
  aioWorkload(
    'aio.rwf-dsync.extend',
    { datasync: true, rule: DSYNC_RULE, needs: ['PWRITE'], size: N },
    (sc, ctx, fd) => {
      sc.aio(ctx, 'PWRITE with RWF_DSYNC', [pw(fd, sc.data(N, 0x5105), N, 0, RWF.DSYNC.value)], [N]);
    },
  ),
  aioWorkload(
    'aio.fsync.rename-dir',
    { datasync: false, rule: FSYNC_RULE, needs: ['PWRITE', 'FSYNC'], size: N },
    (sc, ctx, _fd, dir) => {
      const tmp = sc.open('tmp', `${dir}/tmp`, RW);
      sc.aio(ctx, 'PWRITE tmp', [pw(tmp, sc.data(N, 0x5106), N, 0)], [N]);
      sc.aio(ctx, 'FSYNC tmp', [{ opcode: 'FSYNC', fd: tmp }], [0]);
      sc.sys(
        'rename tmp over data',
        SYSCALLS.renameat2,
        [AT.FDCWD.value, arg.buf(sc.p.cstr(`${dir}/tmp`)), AT.FDCWD.value, arg.buf(sc.p.cstr(`${dir}/data`)), 0],
        0,
      );
      const d = sc.open('dir', dir, O.RDONLY.value | O.DIRECTORY.value);
      sc.aio(ctx, 'FSYNC of the directory', [{ opcode: 'FSYNC', fd: d }], [0]);
      return tmp; // the renamed file: tmp's fd now names data
    },
  ),
  uringWorkload(
    'uring.fsync.extend',
    { datasync: false, rule: URING_FSYNC_RULE, needs: ['WRITE', 'FSYNC'], size: N },
    (sc, h, fd) => {
      sc.uring(h, 'WRITE 64 KiB to an empty file', [wr(fd, sc.data(N, URING_EXTEND_SEED), N, 0)], [N]);
      sc.uring(h, 'FSYNC', [{ opcode: 'FSYNC', fd }], [0]);
    },
  ),
  uringWorkload(
    'uring.fdatasync.extend',
    { datasync: true, rule: URING_FSYNC_RULE, needs: ['WRITE', 'FSYNC'], size: N },
    (sc, h, fd) => {
      sc.uring(h, 'WRITE 64 KiB to an empty file', [wr(fd, sc.data(N, 0x5202), N, 0)], [N]);
      sc.uring(
        h,
        'FSYNC with IORING_FSYNC_DATASYNC',
        [{ opcode: 'FSYNC', fd, fsync_flags: FSYNC.DATASYNC.value }],
        [0],
      );
    },
  ),
  uringWorkload(
    'uring.fsync.link',
    {
      datasync: false,
      rule: `${URING_FSYNC_RULE}; IOSQE_IO_LINK orders the FSYNC after the WRITE (SEMANTICS §3.4)`,
      needs: ['WRITE', 'FSYNC'],
      size: N,
    },
    (sc, h, fd) => {
      sc.uring(
        h,
        'WRITE linked to FSYNC',
        [wr(fd, sc.data(N, 0x5203), N, 0, { flags: IOSQE.IO_LINK.value }), { opcode: 'FSYNC', fd }],
        [N, 0],
      );
    },
  ),
  uringWorkload(
    'uring.fsync.drain',
    {
      datasync: false,
      rule: `${URING_FSYNC_RULE}; IOSQE_IO_DRAIN starts the FSYNC after every earlier SQE completed (SEMANTICS §3.4)`,
      needs: ['WRITE', 'FSYNC'],
      size: N,
    },
    (sc, h, fd) => {
      const q = N / 4;
      const writes = [3, 0, 2, 1].map((k) => wr(fd, sc.data(q, 0x5210 + k), q, k * q));
      sc.uring(
        h,
        'four WRITEs, then FSYNC with IO_DRAIN',
        [...writes, { opcode: 'FSYNC', fd, flags: IOSQE.IO_DRAIN.value }],
        [q, q, q, q, 0],
      );
    },
  ),
  uringWorkload(
    'uring.rwf-dsync.extend',
    { datasync: true, rule: DSYNC_RULE, needs: ['WRITE'], size: N },
    (sc, h, fd) => {
      sc.uring(h, 'WRITE with RWF_DSYNC', [wr(fd, sc.data(N, 0x5204), N, 0, { rw_flags: RWF.DSYNC.value })], [N]);
    },
  ),
  uringWorkload(
    'uring.o-dsync.extend',
    { datasync: true, rule: DSYNC_RULE, needs: ['WRITE'], size: N, flags: O.DSYNC.value },
    (sc, h, fd) => {
      sc.uring(h, 'WRITE to an O_DSYNC file', [wr(fd, sc.data(N, 0x5205), N, 0)], [N]);
    },
  ),
  uringWorkload(
    'uring.fsync.hole-fill',
    { datasync: false, rule: URING_FSYNC_RULE, needs: ['WRITE', 'FSYNC'], size: MAX_FILE, truncate: MAX_FILE },
    (sc, h, fd) => {
      sc.uring(h, 'WRITE 64 KiB into a hole', [wr(fd, sc.data(N, 0x5206), N, MAX_FILE / 2)], [N]);
      sc.uring(h, 'FSYNC', [{ opcode: 'FSYNC', fd }], [0]);
    },
  ),
  uringWorkload(
    'uring.fsync.fallocate',
    {
      datasync: false,
      rule: `${URING_FSYNC_RULE}; fallocate(2) mode 0 extends the size`,
      needs: ['FALLOCATE', 'WRITE', 'FSYNC'],
      size: 256 * KIB,
    },
    (sc, h, fd) => {
      // FALLOCATE: len is the mode, addr the length (io_uring_prep_fallocate)
      sc.uring(h, 'FALLOCATE 256 KiB', [{ opcode: 'FALLOCATE', fd, off: 0, addr: 256 * KIB, len: 0 }], [0]);
      sc.uring(h, 'WRITE 64 KiB into the allocation', [wr(fd, sc.data(N, 0x5207), N, N)], [N]);
      sc.uring(h, 'FSYNC', [{ opcode: 'FSYNC', fd }], [0]);
    },
  ),
  uringWorkload(
    'uring.fsync.rename-dir',
    { datasync: false, rule: URING_FSYNC_RULE, needs: ['WRITE', 'FSYNC', 'RENAMEAT'], size: N },
    (sc, h, _fd, dir) => {
      const tmp = sc.open('tmp', `${dir}/tmp`, RW);
      sc.uring(h, 'WRITE tmp', [wr(tmp, sc.data(N, 0x5208), N, 0)], [N]);
      sc.uring(h, 'FSYNC tmp', [{ opcode: 'FSYNC', fd: tmp }], [0]);
      sc.uring(
        h,
        'RENAMEAT tmp over data',
        [
          {
            opcode: 'RENAMEAT',
            fd: AT.FDCWD.value,
            addr: arg.buf(sc.p.cstr(`${dir}/tmp`)),
            len: AT.FDCWD.value,
            addr2: arg.buf(sc.p.cstr(`${dir}/data`)),
          },
        ],
        [0],
      );
      const d = sc.open('dir', dir, O.RDONLY.value | O.DIRECTORY.value);
      sc.uring(h, 'FSYNC of the directory', [{ opcode: 'FSYNC', fd: d }], [0]);
      return tmp;
    },
  ),
];

/** The workloads whose name matches `re` (all without one). */
export function selectWorkloads(re?: RegExp): FsyncWorkload[] {
  return WORKLOADS.filter((w) => !re || re.test(w.name));
}
