/**
 * io_uring as an async-syscall adapter: every opcode (SEMANTICS §3.2) is either the asynchronous form
 * of one system call or a ring-internal operation with no synchronous twin; the system calls with a
 * twin fixture are encoded as SQEs (the argument encodings of SEMANTICS §3.2 and the prep man pages).
 */
import { errno, FSYNC, IOSQE, POLL_EV, SYSCALLS, UringOpName } from '../abi';
import { classOf } from '../abi/whitelist';
import { arg, ArgLike, Sequence } from '../program/builder';
import { pipe2 } from '../program/sys';
import type { TraceView } from '../program/trace';
import { reap, RingHandle, setupRing, sqe, SqeSpec, submit } from '../program/uring';
import { uringSupports } from '../target/caps';
import type { AsyncAdapter, AsyncSession, CancelOutcome, Completion, Reader, SyscallRequest } from './types';

/** What an opcode is: the asynchronous form of a system call (by name), or ring-internal (with why). */
export type UringOpTwin = { syscall: string } | { internal: string };

const sc = (syscall: string): UringOpTwin => ({ syscall });
const internal = (why: string): UringOpTwin => ({ internal: why });

/**
 * Every io_uring opcode and the system call it runs asynchronously. No opcode runs exit, exec, fork,
 * clone, set*id or ptrace (SEMANTICS §3.2, §4.1): the whitelist check asserts each `syscall` here is
 * async-safe, and that every opcode the kernel's probe reports is listed.
 */
export const URING_OP_TWINS = Object.freeze({
  NOP: internal('completes without doing anything'),
  READV: sc('preadv'),
  WRITEV: sc('pwritev'),
  FSYNC: sc('fsync'),
  READ_FIXED: sc('pread64'),
  WRITE_FIXED: sc('pwrite64'),
  POLL_ADD: sc('poll'),
  POLL_REMOVE: internal('cancels a ring poll request'),
  SYNC_FILE_RANGE: sc('sync_file_range'),
  SENDMSG: sc('sendmsg'),
  RECVMSG: sc('recvmsg'),
  TIMEOUT: internal('a ring timer counting completions'),
  TIMEOUT_REMOVE: internal('cancels or updates a ring timer'),
  ACCEPT: sc('accept4'),
  ASYNC_CANCEL: internal('cancels ring requests'),
  LINK_TIMEOUT: internal('a deadline for a linked request'),
  CONNECT: sc('connect'),
  FALLOCATE: sc('fallocate'),
  OPENAT: sc('openat'),
  CLOSE: sc('close'),
  FILES_UPDATE: internal("updates the ring's registered files"),
  STATX: sc('statx'),
  READ: sc('pread64'),
  WRITE: sc('pwrite64'),
  FADVISE: sc('fadvise64'),
  MADVISE: sc('madvise'),
  SEND: sc('sendto'),
  RECV: sc('recvfrom'),
  OPENAT2: sc('openat2'),
  EPOLL_CTL: sc('epoll_ctl'),
  SPLICE: sc('splice'),
  PROVIDE_BUFFERS: internal('hands buffers to the ring'),
  REMOVE_BUFFERS: internal('takes buffers back from the ring'),
  TEE: sc('tee'),
  SHUTDOWN: sc('shutdown'),
  RENAMEAT: sc('renameat2'),
  UNLINKAT: sc('unlinkat'),
  MKDIRAT: sc('mkdirat'),
  SYMLINKAT: sc('symlinkat'),
  LINKAT: sc('linkat'),
  MSG_RING: internal('posts a CQE to another ring'),
  FSETXATTR: sc('fsetxattr'),
  SETXATTR: sc('setxattr'),
  FGETXATTR: sc('fgetxattr'),
  GETXATTR: sc('getxattr'),
  SOCKET: sc('socket'),
  URING_CMD: internal("a driver's own command (ioctl-like, per file type)"),
  SEND_ZC: sc('sendto'),
  SENDMSG_ZC: sc('sendmsg'),
  READ_MULTISHOT: sc('read'),
  WAITID: sc('waitid'),
  FUTEX_WAIT: sc('futex'),
  FUTEX_WAKE: sc('futex'),
  FUTEX_WAITV: sc('futex_waitv'),
  FIXED_FD_INSTALL: internal('turns a registered file into a normal fd'),
  FTRUNCATE: sc('ftruncate'),
  BIND: sc('bind'),
  LISTEN: sc('listen'),
  RECV_ZC: sc('recvfrom'),
  EPOLL_WAIT: sc('epoll_wait'),
  READV_FIXED: sc('preadv'),
  WRITEV_FIXED: sc('pwritev'),
  PIPE: sc('pipe2'),
  NOP128: internal('completes without doing anything'),
  URING_CMD128: internal("a driver's own command (ioctl-like, per file type)"),
} satisfies Record<UringOpName, UringOpTwin>);

type Encode = (a: readonly ArgLike[]) => Omit<SqeSpec, 'user_data'>;

/** How a system call's arguments land in an SQE: (opcode, encoder), by system call name. */
const ENCODE: Readonly<Record<string, readonly [UringOpName, Encode]>> = {
  // READ/WRITE with an explicit offset are pread64/pwrite64; off -1 would use the file position
  pread64: ['READ', ([fd, buf, n, off]) => ({ opcode: 'READ', fd, addr: buf, len: n, off })],
  pwrite64: ['WRITE', ([fd, buf, n, off]) => ({ opcode: 'WRITE', fd, addr: buf, len: n, off })],
  read: ['READ', ([fd, buf, n]) => ({ opcode: 'READ', fd, addr: buf, len: n, off: -1 })],
  preadv: ['READV', ([fd, iov, cnt, off]) => ({ opcode: 'READV', fd, addr: iov, len: cnt, off })],
  pwritev: ['WRITEV', ([fd, iov, cnt, off]) => ({ opcode: 'WRITEV', fd, addr: iov, len: cnt, off })],
  fsync: ['FSYNC', ([fd]) => ({ opcode: 'FSYNC', fd })],
  fdatasync: ['FSYNC', ([fd]) => ({ opcode: 'FSYNC', fd, fsync_flags: FSYNC.DATASYNC.value })],
  // io_uring_prep_fallocate: offset in off, length in addr, mode in len
  fallocate: ['FALLOCATE', ([fd, mode, off, len]) => ({ opcode: 'FALLOCATE', fd, off, addr: len, len: mode })],
  ftruncate: ['FTRUNCATE', ([fd, len]) => ({ opcode: 'FTRUNCATE', fd, off: len })],
  openat: ['OPENAT', ([dfd, path, flags, mode]) => ({ opcode: 'OPENAT', fd: dfd, addr: path, open_flags: flags, len: mode })],
  mkdirat: ['MKDIRAT', ([dfd, path, mode]) => ({ opcode: 'MKDIRAT', fd: dfd, addr: path, len: mode })],
  unlinkat: ['UNLINKAT', ([dfd, path, flags]) => ({ opcode: 'UNLINKAT', fd: dfd, addr: path, unlink_flags: flags })],
  renameat2: [
    'RENAMEAT',
    ([od, op, nd, np, flags]) => ({ opcode: 'RENAMEAT', fd: od, addr: op, len: nd, addr2: np, rename_flags: flags }),
  ],
  symlinkat: ['SYMLINKAT', ([target, nd, np]) => ({ opcode: 'SYMLINKAT', fd: nd, addr: target, addr2: np })],
  linkat: [
    'LINKAT',
    ([od, op, nd, np, flags]) => ({ opcode: 'LINKAT', fd: od, addr: op, len: nd, addr2: np, hardlink_flags: flags }),
  ],
  statx: [
    'STATX',
    ([dfd, path, flags, mask, buf]) => ({ opcode: 'STATX', fd: dfd, addr: path, statx_flags: flags, len: mask, off: buf }),
  ],
};

/** Tag bits that mark a session's own CQEs (cancels, the hold poll), apart from the requests'. */
const CANCEL_TAG = 0xca00_0000_0000_0000n;
const HOLD_USER_DATA = 0xb0_1d00_0000_0000n;

function nrOf(name: string): number {
  return classOf(name).nr;
}

const BY_NR = new Map(Object.entries(ENCODE).map(([name, e]) => [nrOf(name), { name, op: e[0], encode: e[1] }]));

/** The io_uring encoding of a request, or undefined when no opcode runs that system call. */
export function uringEncode(req: SyscallRequest): Omit<SqeSpec, 'user_data'> | undefined {
  const e = BY_NR.get(req.nr);
  return e?.encode(req.args);
}

/** A session on a fresh ring; `encode` turns a request into an SQE (undefined: not expressible). */
export class UringSession implements AsyncSession {
  private readonly h: RingHandle;
  private readonly cancels: bigint[] = [];
  private held: { w: ReturnType<typeof pipe2>['w'] } | undefined;
  private reapStep: ReturnType<typeof reap> | undefined;

  constructor(
    readonly seq: Sequence,
    private readonly hold: boolean,
    private readonly encode: (req: SyscallRequest) => Omit<SqeSpec, 'user_data'> | undefined = uringEncode,
  ) {
    // 128 SQ entries, 256 CQ entries: room for every must-reject attempt of one session without overflow
    this.h = setupRing(seq, { entries: 128 });
  }

  submit(req: SyscallRequest, userData: bigint): Reader {
    const spec = this.encode(req);
    if (!spec) throw new Error(`io_uring: no encoding for system call ${req.nr}`);
    const s = this.seq;
    let flags = 0;
    if (this.hold) {
      // held: a POLL_ADD on an empty pipe first, then every request with IOSQE_IO_DRAIN waits for it;
      // a drained request takes its credentials at submission (io_drain_req preps it for io-wq)
      if (!this.held) {
        const pipe = pipe2(s);
        const poll = sqe({ opcode: 'POLL_ADD', fd: pipe.r, poll32_events: POLL_EV.IN.value, user_data: HOLD_USER_DATA });
        submit(s, this.h, [poll]);
        this.held = { w: pipe.w };
      }
      flags = IOSQE.IO_DRAIN.value;
    }
    const sub = submit(s, this.h, [sqe({ ...spec, flags, user_data: userData })]);
    return (v) => {
      const n = v.ret(sub.enter);
      return n === 1 ? 0 : n < 0 ? n : -errno.EAGAIN;
    };
  }

  cancel(userData: bigint): Reader {
    const tag = CANCEL_TAG | userData;
    submit(this.seq, this.h, [sqe({ opcode: 'ASYNC_CANCEL', addr: userData, user_data: tag })]);
    this.cancels.push(tag);
    return (v) => {
      const c = v.step(this.reapStep!).cqes.filter((q) => q.userData === tag);
      if (c.length !== 1) throw new Error(`ASYNC_CANCEL completed ${c.length} times, not once (SEMANTICS §3.9)`);
      return c[0].res;
    };
  }

  release(): void {
    if (this.held) this.seq.syscall(SYSCALLS.write, [arg.fd(this.held.w), arg.buf(this.seq.program.data(Buffer.from('g'))), 1]);
  }

  finish(min: number): (v: TraceView) => Completion[] {
    const own = this.cancels.length + (this.held ? 1 : 0);
    this.reapStep = reap(this.seq, this.h, min + own, 256, 5000);
    const step = this.reapStep;
    const hold = this.held !== undefined;
    return (v) => {
      const cqes = v.step(step).cqes;
      const release = cqes.findIndex((q) => q.userData === HOLD_USER_DATA);
      return cqes
        .map((q, i) => ({ userData: q.userData, res: q.res, ...(hold ? { held: release >= 0 && i > release } : {}) }))
        .filter((q) => q.userData !== HOLD_USER_DATA && !this.cancels.includes(q.userData));
    };
  }
}

/** io_uring (SEMANTICS §3). */
export const uringAdapter: AsyncAdapter = {
  name: 'uring',
  rule: 'SEMANTICS §3.2',
  ops: ['uring.setup'],
  traits: { cancel: true, hold: true, byNumber: false },
  mapped: () => [...BY_NR.keys()].sort((a, b) => a - b),
  expresses: (nr) => Object.values(URING_OP_TWINS).some((t) => 'syscall' in t && nrOf(t.syscall) === nr),
  unsupported(nr, caps) {
    const e = BY_NR.get(nr);
    if (!e) return `no io_uring opcode runs system call ${nr}`;
    if (!uringSupports(caps, e.op)) return `probe: IORING_OP_${e.op} not supported by kernel ${caps.kernel}`;
    return undefined;
  },
  session: (s, opts) => new UringSession(s, opts?.hold === true),
  cancelOutcome(r: number): CancelOutcome {
    if (r === 0) return 'cancelled';
    if (r === -errno.ENOENT) return 'not-found';
    if (r === -errno.EALREADY) return 'already-running';
    return 'error';
  },
  cancelledResults: [-errno.ECANCELED, -errno.EINTR],
};

/** The io_uring opcode the uring adapter encodes system call `nr` with. */
export function uringOpFor(nr: number): UringOpName | undefined {
  return BY_NR.get(nr)?.op;
}
