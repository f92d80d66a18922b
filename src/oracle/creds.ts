/**
 * Shared by suites/semantics/creds (SEMANTICS §3.8): a root-owned fixture whose operations succeed or
 * fail by credentials alone, steps that drop a process to uid/gid 65534, and each operation as a
 * synchronous system call and as an SQE, so a test compares the two made by one process with one set
 * of credentials.
 */
import { expect } from 'chai';
import * as path from 'path';
import { AT, errno, IOSQE, O, STATX, STATX_LAYOUT, SYSCALLS, UringOpName } from '../abi';
import { Arg, arg, ArgLike, Program, Sequence, StepRef } from '../program/builder';
import type { TraceView } from '../program/trace';
import { mkfifo as mknodFifo } from '../program/sys';
import { RingHandle, reap, sqe, SqeSpec, submit } from '../program/uring';

/** The overflow uid/gid ("nobody"): no file of the fixture belongs to it. */
export const NOBODY = 65534;
/** A gid no account uses, for kernel.io_uring_group. */
export const SPARE_GID = 4242;
/** fchmodat(2) on x86-64: not in src/abi/syscalls.ts. */
export const SYS_FCHMODAT = 268;
/** The trusted.* xattr SETXATTR tries: writing one needs CAP_SYS_ADMIN (xattr(7)). */
export const TRUSTED_NAME = 'trusted.kasync';

const str = (p: Program, s: string): Arg => arg.buf(p.cstr(s));

/**
 * Drop the running process for good to uid/gid 65534 with no supplementary groups (or `groups`):
 * setgroups, setresgid, setresuid, each ending the sequence if it fails. Process-level.
 */
export function dropToNobody(seq: Sequence, groups: number[] = []): StepRef[] {
  const p = seq.program;
  const g = p.buf(Math.max(8, 4 * groups.length));
  groups.forEach((x, i) => seq.patch(g, 4 * i, 4, x));
  return [
    seq.syscall(SYSCALLS.setgroups, [groups.length, groups.length ? arg.buf(g) : 0], { stopOnError: true }),
    seq.syscall(SYSCALLS.setresgid, [NOBODY, NOBODY, NOBODY], { stopOnError: true }),
    seq.syscall(SYSCALLS.setresuid, [NOBODY, NOBODY, NOBODY], { stopOnError: true }),
  ];
}

/**
 * Switch only the effective ids to 65534, keeping real and saved ids 0 (so {@link regainRoot} can undo
 * it): the effective capabilities go with euid 0 (capabilities(7), "Effect of user ID changes").
 */
export function seteuidNobody(seq: Sequence): StepRef[] {
  return [
    seq.syscall(SYSCALLS.setresgid, [-1, NOBODY, -1], { stopOnError: true }),
    seq.syscall(SYSCALLS.setresuid, [-1, NOBODY, -1], { stopOnError: true }),
  ];
}

/** Back to euid/egid 0 from {@link seteuidNobody}: the effective capabilities come back from the permitted set. */
export function regainRoot(seq: Sequence): StepRef[] {
  return [
    seq.syscall(SYSCALLS.setresuid, [-1, 0, -1], { stopOnError: true }),
    seq.syscall(SYSCALLS.setresgid, [-1, 0, -1], { stopOnError: true }),
  ];
}

/** Paths of the fixture, all root-owned. */
export interface CredFixture {
  /** The scratch directory, made 0755 so uid 65534 can look inside. */
  dir: string;
  /** A 0600 file: opening it needs uid 0 or CAP_DAC_OVERRIDE. */
  secret: string;
  /** A 0755 directory: creating or removing entries needs uid 0 or CAP_DAC_OVERRIDE. */
  pub: string;
  /** A file inside a 0700 directory: looking it up needs search permission on that directory. */
  hidden: string;
  /** Steps that built it, all expected to succeed. */
  steps: StepRef[];
}

/**
 * Build the fixture as root in `seq`, with a victim `pub/victim-<tag>` for each tag's UNLINKAT.
 * Modes are set with fchmodat after creation, so the umask does not matter.
 */
export function credFixture(seq: Sequence, scratch: string, tags: string[]): CredFixture {
  const p = seq.program;
  const j = (...x: string[]) => path.posix.join(scratch, ...x);
  const fx = { dir: scratch, secret: j('secret'), pub: j('pub'), hidden: j('priv', 'f') };
  const steps: StepRef[] = [];
  const chmod = (f: string, mode: number) =>
    steps.push(seq.syscall(SYS_FCHMODAT, [AT.FDCWD.value, str(p, f), mode, 0]));
  const create = (f: string) => {
    const fd = p.fd();
    steps.push(
      seq.syscall(
        SYSCALLS.openat,
        [AT.FDCWD.value, str(p, f), O.WRONLY.value | O.CREAT.value | O.CLOEXEC.value, 0o600],
        { fd },
      ),
    );
    seq.syscall(SYSCALLS.close, [arg.fd(fd)]);
  };
  const mkdir = (d: string) => steps.push(seq.syscall(SYSCALLS.mkdirat, [AT.FDCWD.value, str(p, d), 0o700]));
  chmod(scratch, 0o755);
  create(fx.secret);
  chmod(fx.secret, 0o600);
  mkdir(fx.pub);
  chmod(fx.pub, 0o755);
  for (const t of tags) {
    create(j('pub', `victim-${t}`));
    chmod(j('pub', `victim-${t}`), 0o644);
  }
  mkdir(j('priv'));
  chmod(j('priv'), 0o700);
  create(fx.hidden);
  chmod(fx.hidden, 0o644);
  return { ...fx, steps };
}

/** A mkfifo at `file`, mode 0666 whatever the umask. */
export function mkfifo(seq: Sequence, file: string): StepRef[] {
  const p = seq.program;
  return [
    mknodFifo(seq, file, 0o666),
    seq.syscall(SYS_FCHMODAT, [AT.FDCWD.value, str(p, file), 0o666, 0]),
  ];
}

/** One credential-dependent operation: its system call and its SQE on the same fixture path. */
export interface CredOp {
  /** `uring.X` op name for `ops`. */
  op: UringOpName;
  what: string;
  sync(seq: Sequence, fx: CredFixture, tag: string): StepRef;
  sqe(p: Program, fx: CredFixture, tag: string): Omit<SqeSpec, 'user_data'>;
  /** The result as root ('fd' for a new descriptor). */
  root: number | 'fd';
  /** The result as uid/gid 65534 without capabilities. */
  nobody: number;
}

const RO = O.RDONLY.value | O.CLOEXEC.value;

/** The five operations of the brief, as root and as 65534. */
export const CRED_OPS: readonly CredOp[] = [
  {
    op: 'OPENAT',
    what: 'OPENAT of a 0600 root file',
    sync: (s, fx) => s.syscall(SYSCALLS.openat, [AT.FDCWD.value, str(s.program, fx.secret), RO, 0]),
    sqe: (p, fx) => ({ opcode: 'OPENAT', fd: AT.FDCWD.value, addr: str(p, fx.secret), open_flags: RO }),
    root: 'fd',
    nobody: -errno.EACCES,
  },
  {
    op: 'MKDIRAT',
    what: 'MKDIRAT in a 0755 root directory',
    sync: (s, fx, t) =>
      s.syscall(SYSCALLS.mkdirat, [AT.FDCWD.value, str(s.program, path.posix.join(fx.pub, `new-${t}-s`)), 0o755]),
    sqe: (p, fx, t) => ({
      opcode: 'MKDIRAT',
      fd: AT.FDCWD.value,
      addr: str(p, path.posix.join(fx.pub, `new-${t}-a`)),
      len: 0o755,
    }),
    root: 0,
    nobody: -errno.EACCES,
  },
  {
    op: 'UNLINKAT',
    what: 'UNLINKAT in a 0755 root directory',
    // each side removes its own victim, so a root success on one does not decide the other
    sync: (s, fx, t) =>
      s.syscall(SYSCALLS.unlinkat, [AT.FDCWD.value, str(s.program, path.posix.join(fx.pub, `victim-${t}`)), 0]),
    sqe: (p, fx, t) => ({
      opcode: 'UNLINKAT',
      fd: AT.FDCWD.value,
      addr: str(p, path.posix.join(fx.pub, `victim-${t}a`)),
    }),
    root: 0,
    nobody: -errno.EACCES,
  },
  {
    op: 'STATX',
    what: 'STATX of a path under a 0700 root directory',
    sync: (s, fx) => {
      const b = s.program.buf(STATX_LAYOUT.size);
      return s.syscall(SYSCALLS.statx, [
        AT.FDCWD.value,
        str(s.program, fx.hidden),
        0,
        STATX.BASIC_STATS.value,
        arg.buf(b),
      ]);
    },
    sqe: (p, fx) => ({
      opcode: 'STATX',
      fd: AT.FDCWD.value,
      addr: str(p, fx.hidden),
      len: STATX.BASIC_STATS.value,
      off: arg.buf(p.buf(STATX_LAYOUT.size)),
    }),
    root: 0,
    nobody: -errno.EACCES,
  },
  {
    op: 'SETXATTR',
    what: `SETXATTR ${TRUSTED_NAME}`,
    sync: (s, fx) =>
      s.syscall(SYSCALLS.setxattr, [
        str(s.program, fx.secret),
        str(s.program, TRUSTED_NAME),
        str(s.program, 'v'),
        1,
        0,
      ]),
    sqe: (p, fx) => ({
      opcode: 'SETXATTR',
      addr: str(p, TRUSTED_NAME),
      addr2: str(p, 'v'),
      len: 1,
      addr3: str(p, fx.secret),
    }),
    root: 0,
    // trusted.* needs CAP_SYS_ADMIN; without it a write is EPERM (xattr_permission)
    nobody: -errno.EPERM,
  },
];

/** Tags of the victims an UNLINKAT case uses: the sync twin takes `<tag>`, the SQE `<tag>a`. */
export function victimTags(tags: string[]): string[] {
  return tags.flatMap((t) => [t, `${t}a`]);
}

/** `ret` as the verdict compares it: any new descriptor is 'fd'. */
export function norm(ret: number, op: CredOp): number | 'fd' {
  return op.root === 'fd' && ret >= 0 ? 'fd' : ret;
}

/** How an SQE is issued: inline, or forced to io-wq. */
export type Mode = 'inline' | 'async';

/** Options of {@link credRound}. */
export interface RoundOptions {
  mode: Mode;
  /** sqe->personality (an id, or a run-time LOAD of one). */
  personality?: ArgLike;
  /** Skip the synchronous twins (a process whose creds the SQEs do not share). */
  noSync?: boolean;
  /** An SQPOLL ring: submit without waiting in io_uring_enter (the SQ thread, which submit() wakes, does the work). */
  sqpoll?: boolean;
}

/** What a round of the five operations gave: [sync, async] per op, normalised. */
export type RoundResult = { op: CredOp; sync?: number | 'fd'; uring: number | 'fd' }[];

/**
 * Each operation as its system call and then as one SQE alone (waited for and reaped) in `seq` on ring
 * `h`; user_data `base + i`. The getter checks each SQE was consumed and completed once.
 */
export function credRound(
  seq: Sequence,
  h: RingHandle,
  fx: CredFixture,
  tag: string,
  base: number,
  o: RoundOptions,
): (v: TraceView) => RoundResult {
  const p = seq.program;
  const runs = CRED_OPS.map((op, i) => {
    const sync = o.noSync ? undefined : op.sync(seq, fx, tag);
    const spec: SqeSpec = { ...op.sqe(p, fx, tag), user_data: base + i };
    if (o.mode === 'async') spec.flags = IOSQE.ASYNC.value;
    if (o.personality !== undefined)
      spec.personality = typeof o.personality === 'object' ? o.personality : BigInt(o.personality);
    const sub = submit(seq, h, [sqe(spec)], o.sqpoll ? 0 : 1);
    const c = reap(seq, h, 1, 4);
    return { op, sync, sub, c, ud: BigInt(base + i) };
  });
  return (v) =>
    runs.map((r) => {
      expect(v.ret(r.sub.enter), `${r.op.what}: io_uring_enter consumes the SQE (SEMANTICS §3.5)`).to.equal(1);
      const cqes = v.step(r.c).cqes;
      expect(
        cqes.map((q) => q.userData),
        `${r.op.what}: one CQE (SEMANTICS §3.3)`,
      ).to.deep.equal([r.ud]);
      return { op: r.op, sync: r.sync && norm(v.ret(r.sync), r.op), uring: norm(cqes[0].res, r.op) };
    });
}

/** The results every op should give with these creds, in {@link RoundResult} form. */
export function expected(who: 'root' | 'nobody', withSync = true): RoundResult {
  return CRED_OPS.map((op) => ({ op, ...(withSync ? { sync: op[who] } : {}), uring: op[who] }));
}

/** A round as `[what, sync, uring]` rows: readable in an assertion diff. */
export function rows(r: RoundResult): [string, number | 'fd' | undefined, number | 'fd'][] {
  return r.map((x) => [x.op.what, x.sync, x.uring]);
}
