/**
 * Shared by the io_uring path, xattr, pipe, wait and poll suites: a ring that runs SQEs one at a time
 * with distinct user_data, and a differential over two identical directory trees (one for the
 * synchronous twins, one for the SQEs) whose state afterwards is read back with statx, readlinkat,
 * getdents64 and getxattr.
 */
import { expect } from 'chai';
import * as path from 'path';
import { AT, describeErrno, IOSQE, O, STATX, STATX_LAYOUT, SYSCALLS } from '../abi';
import { arg, Arg, Buf, Fd, Program, Sequence, StepRef } from '../program/builder';
import type { Cqe, TraceView } from '../program/trace';
import type { RawStruct } from '../program/struct';
import { RingHandle, reap, setupRing, sqe, SqeSpec, submit } from '../program/uring';
import type { Target } from '../target/target';
import type { ResultOf } from './differential';

/** readlinkat(2) on x86-64: not in src/abi/syscalls.ts yet. */
export const SYS_READLINKAT = 267;

/** A NUL-terminated string in a fresh buffer, as an address argument. */
export function str(p: Program, s: string): Arg {
  return arg.buf(p.cstr(s));
}

/** A ring on which each SQE is submitted alone, waited for and reaped, under its own user_data. */
export class SoloRing {
  readonly h: RingHandle;
  private next: bigint;

  constructor(
    readonly seq: Sequence,
    firstUserData = 0x5a10_0001n,
  ) {
    this.h = setupRing(seq, { entries: 8 });
    this.next = firstUserData;
  }

  /** Submit one SQE, wait for its CQE; the result getter checks the ring took it and that exactly its CQE came back. */
  run(spec: Omit<SqeSpec, 'user_data'>): ResultOf & { userData: bigint } {
    const ud = this.next++;
    const sub = submit(this.seq, this.h, [sqe({ ...spec, user_data: ud })], 1);
    const c = reap(this.seq, this.h, 1, 4);
    const h = this.h;
    const get = (v: TraceView): number => {
      expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
      expect(v.ret(sub.enter), 'io_uring_enter consumes the SQE (SEMANTICS §3.5)').to.equal(1);
      const cqes: Cqe[] = v.step(c).cqes;
      expect(
        cqes.map((q) => q.userData),
        `one CQE carrying user_data 0x${ud.toString(16)} (SEMANTICS §3.3)`,
      ).to.deep.equal([ud]);
      return cqes[0].res;
    };
    return Object.assign(get, { userData: ud });
  }
}

/** One entry of a fixture tree, relative to its side's directory. */
export type TreeEntry =
  { file: string; size?: number } | { dir: string; mode?: number } | { symlink: string; target: string };

/** What a path looks like afterwards (statx with AT_SYMLINK_NOFOLLOW, readlinkat). */
export interface PathState {
  /** 0, or the statx errno as -errno. */
  stat: number;
  type?: 'file' | 'dir' | 'symlink' | 'other';
  /** Permission bits (mode & 07777). */
  perm?: number;
  nlink?: number;
  size?: number;
  /** Which inode, numbered by first appearance among the looked-at paths: hard links share one. */
  inode?: number;
  /** readlinkat's target for a symlink. */
  link?: string;
}

/** A side's state: looked-at paths and directory listings (`name:type`, sorted, without . and ..). */
export interface TreeState {
  paths: Record<string, PathState>;
  listings: Record<string, string[]>;
}

/** One side of a path differential: its directory, and an fd open on it. */
export interface PathSide {
  name: 'sync' | 'async';
  /** Absolute path of the side's directory. */
  dir: string;
  dirfd: Fd;
}

/** One operation, as a synchronous call and as an SQE, each on its own side. */
export interface PathCase {
  what: string;
  sync(s: Sequence, side: PathSide): StepRef;
  async(p: Program, side: PathSide): Omit<SqeSpec, 'user_data'>;
}

/**
 * A case of an op on two paths under the twin's directory — `nr(dirfd, from, dirfd, to, flags)` on one
 * side, the SQE with the same arguments on the other (renameat2/RENAMEAT, linkat/LINKAT). `dirfd`
 * replaces the directory on both sides (EBADF cases).
 */
export function twoPathCase(
  nr: number,
  opcode: 'RENAMEAT' | 'LINKAT',
  flagsField: 'rename_flags' | 'hardlink_flags',
  what: string,
  from: string,
  to: string,
  flags = 0,
  dirfd?: number,
): PathCase {
  return {
    what,
    sync: (s, x) =>
      s.syscall(nr, [dirfd ?? arg.fd(x.dirfd), str(s.program, from), dirfd ?? arg.fd(x.dirfd), str(s.program, to), flags]),
    async: (p, x) => ({
      opcode,
      fd: dirfd ?? x.dirfd,
      addr: str(p, from),
      len: dirfd ?? arg.fd(x.dirfd),
      addr2: str(p, to),
      [flagsField]: flags,
    }),
  };
}

/** A path differential's outcome. */
export interface PathTwin {
  /** Per case, in order: the syscall's result and the CQE's. */
  results: { what: string; sync: number; async: number }[];
  sync: TreeState;
  async: TreeState;
  view: TraceView;
}

/** Setup steps whose failure is the fixture's, never a result. */
interface SetupCheck {
  what: string;
  step: StepRef;
}

const DIRENT_BUF = 8192;
const TYPE_NAMES: Record<number, PathState['type']> = { 0o100000: 'file', 0o040000: 'dir', 0o120000: 'symlink' };
const DT_NAMES: Record<number, string> = { 4: 'dir', 8: 'file', 10: 'symlink' };

/** Build `tree` under `dir` (which must not exist yet) with plain syscalls; returns an O_DIRECTORY fd on it. */
export function buildTree(s: Sequence, dir: string, tree: TreeEntry[], checks: SetupCheck[]): Fd {
  const p = s.program;
  checks.push({ what: `mkdir ${dir}`, step: s.syscall(SYSCALLS.mkdirat, [AT.FDCWD.value, str(p, dir), 0o755]) });
  const dirfd = p.fd();
  const flags = O.RDONLY.value | O.DIRECTORY.value | O.CLOEXEC.value;
  checks.push({
    what: `open ${dir}`,
    step: s.syscall(SYSCALLS.openat, [AT.FDCWD.value, str(p, dir), flags, 0], { fd: dirfd }),
  });
  for (const e of tree) {
    if ('file' in e) {
      const fd = p.fd();
      const oflags = O.RDWR.value | O.CREAT.value | O.EXCL.value | O.CLOEXEC.value;
      checks.push({
        what: `create ${e.file}`,
        step: s.syscall(SYSCALLS.openat, [arg.fd(dirfd), str(p, e.file), oflags, 0o644], { fd }),
      });
      if (e.size) checks.push({ what: `size ${e.file}`, step: s.syscall(SYSCALLS.ftruncate, [arg.fd(fd), e.size]) });
      checks.push({ what: `close ${e.file}`, step: s.syscall(SYSCALLS.close, [arg.fd(fd)]) });
    } else if ('dir' in e) {
      checks.push({
        what: `mkdir ${e.dir}`,
        step: s.syscall(SYSCALLS.mkdirat, [arg.fd(dirfd), str(p, e.dir), e.mode ?? 0o755]),
      });
    } else {
      checks.push({
        what: `symlink ${e.symlink}`,
        step: s.syscall(SYSCALLS.symlinkat, [str(p, e.target), arg.fd(dirfd), str(p, e.symlink)]),
      });
    }
  }
  return dirfd;
}

/** Steps that read back a side's state; decode the trace with the returned function. */
export function snapshot(
  s: Sequence,
  dirfd: Fd,
  look: string[],
  list: string[],
  checks: SetupCheck[],
): (v: TraceView) => TreeState {
  const p = s.program;
  const stats = look.map((name) => {
    const sx = p.buf(STATX_LAYOUT.size);
    const step = s.syscall(SYSCALLS.statx, [
      arg.fd(dirfd),
      str(p, name),
      AT.SYMLINK_NOFOLLOW.value,
      STATX.BASIC_STATS.value,
      arg.buf(sx),
    ]);
    const dump = s.dump(sx);
    const lb = p.buf(4096);
    const rl = s.syscall(SYS_READLINKAT, [arg.fd(dirfd), str(p, name), arg.buf(lb), 4096]);
    const ldump = s.dump(lb);
    return { name, step, dump, rl, ldump };
  });
  const dirs = list.map((name) => {
    const fd = p.fd();
    const flags = O.RDONLY.value | O.DIRECTORY.value | O.CLOEXEC.value;
    const open = s.syscall(SYSCALLS.openat, [arg.fd(dirfd), str(p, name), flags, 0], { fd });
    const b = p.buf(DIRENT_BUF);
    const gd = s.syscall(SYSCALLS.getdents64, [arg.fd(fd), arg.buf(b), DIRENT_BUF]);
    const dump = s.dump(b);
    s.syscall(SYSCALLS.close, [arg.fd(fd)]);
    checks.push(
      { what: `open of directory ${name} to list it`, step: open },
      { what: `getdents64 of ${name}`, step: gd },
    );
    return { name, gd, dump };
  });
  return (v) => {
    const paths: Record<string, PathState> = {};
    const inodes = new Map<string, number>();
    for (const x of stats) {
      const r = v.ret(x.step);
      if (r < 0) {
        paths[x.name] = { stat: r };
        continue;
      }
      const b = v.step(x.dump).dump!;
      const f = STATX_LAYOUT.fields;
      const mode = b.readUInt16LE(f.stx_mode.offset);
      const dev = `${b.readUInt32LE(f.stx_dev_major.offset)}:${b.readUInt32LE(f.stx_dev_minor.offset)}`;
      const key = `${dev}:${b.readBigUInt64LE(f.stx_ino.offset)}`;
      if (!inodes.has(key)) inodes.set(key, inodes.size);
      const st: PathState = {
        stat: 0,
        type: TYPE_NAMES[mode & 0o170000] ?? 'other',
        perm: mode & 0o7777,
        nlink: b.readUInt32LE(f.stx_nlink.offset),
        size: Number(b.readBigUInt64LE(f.stx_size.offset)),
        inode: inodes.get(key),
      };
      // directory sizes are filesystem bookkeeping, not state the op set
      if (st.type === 'dir') delete st.size;
      const n = v.ret(x.rl);
      if (n >= 0) st.link = v.step(x.ldump).dump!.toString('utf8', 0, n);
      paths[x.name] = st;
    }
    const listings: Record<string, string[]> = {};
    for (const d of dirs) {
      const n = v.ret(d.gd);
      const b = v.step(d.dump).dump!;
      const names: string[] = [];
      for (let o = 0; o < n;) {
        const reclen = b.readUInt16LE(o + 16);
        const type = b.readUInt8(o + 18);
        const end = b.indexOf(0, o + 19);
        const name = b.toString('utf8', o + 19, end);
        if (name !== '.' && name !== '..') names.push(`${name}:${DT_NAMES[type] ?? `dt${type}`}`);
        o += reclen;
      }
      listings[d.name] = names.sort();
    }
    return { paths, listings };
  };
}

/** Throw when a fixture step failed: a broken fixture is never a result. */
export function checkSetup(v: TraceView, checks: SetupCheck[]): void {
  for (const c of checks) {
    const r = v.ret(c.step);
    if (r < 0) throw new Error(`fixture failed: ${c.what} returned ${describeErrno(-r)}`);
  }
}

/** The differential of path operations: the same tree twice, the cases in order on each, the state afterwards. */
export async function pathTwin(
  target: Target,
  scratch: string,
  spec: { tree: TreeEntry[]; cases: PathCase[]; look: string[]; list?: string[] },
): Promise<PathTwin> {
  const p = new Program();
  const s = p.main;
  const checks: SetupCheck[] = [];
  const sides = (['sync', 'async'] as const).map((name): PathSide => {
    const dir = path.posix.join(scratch, name);
    return { name, dir, dirfd: buildTree(s, dir, spec.tree, checks) };
  });
  const ring = new SoloRing(s);
  const runs = spec.cases.map((c) => ({
    what: c.what,
    sync: c.sync(s, sides[0]),
    async: ring.run(c.async(p, sides[1])),
  }));
  const list = spec.list ?? ['.'];
  const snaps = sides.map((x) => snapshot(s, x.dirfd, spec.look, list, checks));
  const v = await target.run(p);
  checkSetup(v, checks);
  return {
    results: runs.map((r) => ({ what: r.what, sync: v.ret(r.sync), async: r.async(v) })),
    sync: snaps[0](v),
    async: snaps[1](v),
    view: v,
  };
}

/** `-ENAME` or a number, for messages. */
export function showResult(r: number): string {
  return r < 0 ? `-${describeErrno(-r)}` : String(r);
}

/** Assert each case's expected result on the async side and equality with the twin, then equal state. */
export function expectPathTwin(t: PathTwin, want: Record<string, number>, rule: string, twin: string): void {
  for (const r of t.results) {
    if (!(r.what in want)) throw new Error(`no expected result for case "${r.what}"`);
    expect(showResult(r.async), `${r.what}: the CQE result (${rule})`).to.equal(showResult(want[r.what]));
    expect(showResult(r.async), `${r.what}: same result as ${twin}`).to.equal(showResult(r.sync));
  }
  expect(t.async, `the tree afterwards: same paths, types, modes, links and listings as after ${twin}`).to.deep.equal(
    t.sync,
  );
}

/** getxattr(2) of `names` on `file`, for the state afterwards: value or -errno per name. */
export function readXattrs(
  s: Sequence,
  file: string,
  names: string[],
): (v: TraceView) => Record<string, string | number> {
  const p = s.program;
  const reads = names.map((n) => {
    const b: Buf = p.buf(256);
    const step = s.syscall(SYSCALLS.getxattr, [str(p, file), str(p, n), arg.buf(b), 256]);
    return { n, step, dump: s.dump(b) };
  });
  return (v) =>
    Object.fromEntries(
      reads.map((r) => {
        const ret = v.ret(r.step);
        return [r.n, ret < 0 ? ret : v.step(r.dump).dump!.toString('latin1', 0, ret)];
      }),
    );
}

/** A ring on which SQEs are queued without waiting, and reaped in separate steps; CQEs are then read by user_data. */
export class QueueRing {
  readonly h: RingHandle;
  private readonly reaps: StepRef[] = [];

  constructor(
    readonly s: Sequence,
    entries = 16,
  ) {
    this.h = setupRing(s, { entries });
  }

  /** Queue and submit SQEs (user_data, fields) in one io_uring_enter that does not wait; its step. */
  queue(specs: [bigint, Omit<SqeSpec, 'user_data'>][]): StepRef {
    return submit(
      this.s,
      this.h,
      specs.map(([ud, x]) => sqe({ ...x, user_data: ud })),
      0,
    ).enter;
  }

  /** Reap what has completed: wait up to 5 s for `min` CQEs, or look for 100 ms when `min` is 0. */
  reap(min: number): StepRef {
    const r = reap(this.s, this.h, min, 16, min ? 5000 : 100);
    this.reaps.push(r);
    return r;
  }

  /** user_data → every `res` it completed with, over all reaps, in order. */
  results(v: TraceView): Map<bigint, number[]> {
    const m = new Map<bigint, number[]>();
    for (const r of this.reaps)
      for (const c of v.step(r).cqes) m.set(c.userData, [...(m.get(c.userData) ?? []), c.res]);
    return m;
  }
}

/** x86-64 `struct epoll_event` is packed: u32 events @0, u64 data @4, 12 bytes (not in src/abi yet). */
export const EPOLL_EVENT_SIZE = 12;

/** An epoll_event in a fresh buffer. */
export function epollEvent(s: Sequence, events: number, data: bigint): Buf {
  const b = s.program.buf(EPOLL_EVENT_SIZE);
  const bytes = Buffer.alloc(EPOLL_EVENT_SIZE);
  bytes.writeUInt32LE(events >>> 0, 0);
  bytes.writeBigUInt64LE(data, 4);
  s.bytes(b, 0, bytes);
  return b;
}

/** What epoll_wait(2) with timeout 0 reports: [events, data] per ready fd. */
export function readyList(s: Sequence, epfd: Fd): (v: TraceView) => [number, bigint][] | string {
  const b = s.program.buf(EPOLL_EVENT_SIZE * 8);
  const w = s.syscall(SYSCALLS.epoll_wait, [arg.fd(epfd), arg.buf(b), 8, 0]);
  const d = s.dump(b);
  return (v) => {
    const n = v.ret(w);
    if (n < 0) return showResult(n);
    const buf = v.step(d).dump!;
    const list: [number, bigint][] = [];
    for (let i = 0; i < n; i++) list.push([buf.readUInt32LE(12 * i), buf.readBigUInt64LE(12 * i + 4)]);
    return list.sort((x, y) => Number(x[1] - y[1]));
  };
}

/**
 * An OPENAT of a FIFO for reading with IOSQE_ASYNC: with no writer it blocks in an io-wq worker (fifo(7)), a
 * request that is running, not queued, for cancel and teardown tests. Without IOSQE_ASYNC the inline issue tries
 * O_NONBLOCK first, which opens a FIFO at once (measured on 6.18).
 */
export function blockedFifoOpen(p: Program, fifo: string, userData: number | bigint): RawStruct {
  const open_flags = O.RDONLY.value | O.CLOEXEC.value;
  const fd = AT.FDCWD.value;
  return sqe({ opcode: 'OPENAT', flags: IOSQE.ASYNC.value, fd, addr: str(p, fifo), open_flags, user_data: userData });
}
