/**
 * Cancellation, one outcome always (SEMANTICS §3.9–3.11, §1.5): the cancellable io_uring request kinds, the
 * cancel methods, which method applies to which kind (or why not), one program per pair, and the rule that ties
 * a cancel's own result to what its target did. The matrix and the race test in suites/semantics/cancel/ use it.
 */
import { randomBytes } from 'crypto';
import { expect } from 'chai';
import {
  AF,
  ASYNC_CANCEL,
  describeErrno,
  errno,
  FUTEX,
  FUTEX2,
  FUTEX_OP,
  IOSQE,
  O,
  P,
  POLL_EV,
  REGISTER,
  SOCK_FLAG,
  SOCK_TYPE,
  SYNC_CANCEL_REG_LAYOUT,
  SYSCALLS,
  URING_OP,
  UringOpName,
  WAIT,
} from '../abi';
import { setLedgerMode } from '../program/aio';
import { arg, Fd, Program, Sequence, StepRef } from '../program/builder';
import { encodeStruct, place } from '../program/struct';
import { close, pipe2 } from '../program/sys';
import type { Cqe, TraceView } from '../program/trace';
import { reap, RingHandle, setupRing, sqe, SqeSpec, submit } from '../program/uring';
import type { Capabilities } from '../target/caps';
import { SHELL, EXEC_CODE, waitStatus } from './exit';
import { timespecMs } from '../program/sys';
import { registerFiles } from './uring-files';
import { flagMissing, socketpair } from './uring-net';

/** How a target ended, read from its one final CQE. */
export type Outcome = 'cancelled' | 'interrupted' | 'normal';

/** What kind of answer a cancel gives, each with its own rule (SEMANTICS §3.9, §3.10, §3.11). */
export type Answer =
  'async-cancel' | 'count' | 'sync-cancel' | 'link-timeout' | 'timeout-remove' | 'poll-remove' | 'departure';

/**
 * The outcomes of the target a cancel's result allows, or a string saying the result itself is not one the rule
 * knows. `mayRun`: the target may be running in an io-wq worker when the cancel finds it.
 */
export function allowedOutcomes(answer: Answer, res: number, mayRun: boolean, foundIsOne = false): Outcome[] | string {
  const running: Outcome[] = mayRun ? ['interrupted', 'normal'] : [];
  // FUTEX_WAIT and WAITID: a single-target cancel that finds one answers 1, not 0 (docs/KERNEL-NOTES.md)
  if (foundIsOne && res === 1 && (answer === 'async-cancel' || answer === 'sync-cancel' || answer === 'link-timeout'))
    return ['cancelled'];
  switch (answer) {
    case 'async-cancel': // 0 found and cancelled; -EALREADY running in io-wq (signalled); -ENOENT not found
      if (res === 0) return ['cancelled'];
      // the flagged worker may still end it -ECANCELED (6.12, docs/KERNEL-NOTES.md)
      if (res === -errno.EALREADY && mayRun) return ['cancelled', ...running];
      if (res === -errno.ENOENT) return ['normal'];
      break;
    case 'count': // ALL/ANY: how many matched, running ones included
      if (res === 0) return ['normal'];
      if (res === 1) return ['cancelled', ...running];
      break;
    case 'sync-cancel': // retries while -EALREADY, then 0; a first-try -ENOENT stays
      if (res === 0) return ['cancelled', ...running];
      if (res === -errno.ENOENT) return ['normal'];
      break;
    case 'link-timeout': // -ETIME: it fired and cancelled the target; -EALREADY/-ENOENT: too late; -ECANCELED: target first
      if (res === -errno.ETIME) return mayRun ? ['cancelled', 'interrupted'] : ['cancelled'];
      if (res === -errno.EALREADY || res === -errno.ENOENT)
        return mayRun ? ['cancelled', ...running] : ['interrupted', 'normal'];
      if (res === -errno.ECANCELED) return ['normal'];
      break;
    case 'timeout-remove': // the man page's -EBUSY is -EALREADY in the code (SEMANTICS §3.9)
    case 'poll-remove':
      if (res === 0) return ['cancelled'];
      if (res === -errno.ENOENT || res === -errno.EALREADY) return ['normal'];
      break;
    case 'departure': // ring close, task exit, exec: no answer of their own
      return mayRun ? ['cancelled', 'interrupted'] : ['cancelled'];
  }
  return `${answer} result ${show(res)} is not one SEMANTICS §3.9/§3.10 lists`;
}

/** The target's outcome from its final result, or undefined for a result that is none of the three. */
export function outcomeOf(res: number, normal: (res: number) => boolean): Outcome | undefined {
  if (res === -errno.ECANCELED) return 'cancelled';
  if (res === -errno.EINTR) return 'interrupted';
  return normal(res) ? 'normal' : undefined;
}

/**
 * What is wrong with one cancel and its target, one line each (empty: they agree). `target` holds the results of
 * every final CQE the target posted; exactly one is the rule (SEMANTICS §3.13, §3.9).
 */
export function cancelProblems(o: {
  answer: Answer;
  cancel: number;
  target: number[];
  normal: (res: number) => boolean;
  mayRun: boolean;
  /** The kernel answers 1 for "found and cancelled" (FUTEX_WAIT, WAITID). */
  foundIsOne?: boolean;
}): string[] {
  if (o.target.length !== 1)
    return [
      `the target completed ${o.target.length} times (results ${o.target.map(show).join(', ') || 'none'}), not once`,
    ];
  const res = o.target[0];
  const outcome = outcomeOf(res, o.normal);
  if (!outcome) return [`the target ended ${show(res)}: neither -ECANCELED, -EINTR nor its own result`];
  const allowed = allowedOutcomes(o.answer, o.cancel, o.mayRun, o.foundIsOne);
  if (typeof allowed === 'string') return [allowed];
  if (!allowed.includes(outcome))
    return [
      `${o.answer} returned ${show(o.cancel)} but the target ended ${show(res)} (${outcome}); that answer allows ${allowed.join(' or ')}`,
    ];
  return [];
}

/** A result as a number or an errno name. */
export function show(res: number): string {
  return res < 0 ? `-${describeErrno(-res)}` : String(res);
}

// ---------------------------------------------------------------------------------------------------------------
// Request kinds

/** The cancellable request kinds of the matrix. */
export const KINDS = [
  'poll',
  'read-pipe',
  'read-socket',
  'accept',
  'recv',
  'timeout',
  'futex-wait',
  'waitid',
  'iowq-read',
  'chain',
] as const;
/** A request kind of the matrix. */
export type KindName = (typeof KINDS)[number];

/** The cancel methods of the matrix (AIO io_cancel and POSIX aio_cancel have their own files: other interfaces). */
export const METHODS = [
  'user-data',
  'fd',
  'op',
  'all',
  'any',
  'fd-fixed',
  'sync-cancel',
  'link-timeout',
  'timeout-remove',
  'poll-remove',
  'ring-close',
  'task-exit',
  'exec',
] as const;
/** A cancel method of the matrix. */
export type MethodName = (typeof METHODS)[number];

/** What each kind is, for titles and `ops`. */
export const KIND_INFO: Record<
  KindName,
  { title: string; op: UringOpName; fd: boolean; mayRun: boolean; foundIsOne?: boolean }
> = {
  poll: { title: 'POLL_ADD on an empty pipe', op: 'POLL_ADD', fd: true, mayRun: false },
  'read-pipe': { title: 'READ of an empty pipe', op: 'READ', fd: true, mayRun: false },
  'read-socket': { title: 'READ of an empty socket', op: 'READ', fd: true, mayRun: false },
  accept: { title: 'ACCEPT on a unix listener', op: 'ACCEPT', fd: true, mayRun: false },
  recv: { title: 'RECV on an empty socket', op: 'RECV', fd: true, mayRun: false },
  timeout: { title: 'TIMEOUT', op: 'TIMEOUT', fd: false, mayRun: false },
  'futex-wait': { title: 'FUTEX_WAIT', op: 'FUTEX_WAIT', fd: false, mayRun: false, foundIsOne: true },
  waitid: { title: 'WAITID for a live child', op: 'WAITID', fd: false, mayRun: false, foundIsOne: true },
  // IOSQE_ASYNC: punted to io-wq, where it may be running (blocked, or arming poll) when the cancel comes
  'iowq-read': { title: 'IOSQE_ASYNC READ of an empty pipe (io-wq)', op: 'READ', fd: true, mayRun: true },
  chain: { title: 'linked chain READ of an empty pipe -> NOP', op: 'READ', fd: true, mayRun: false },
};

/** What each method is: title, rule, ops and the kind of answer it gives. */
export const METHOD_INFO: Record<MethodName, { title: string; rule: string; ops: string[]; answer: Answer }> = {
  'user-data': {
    title: 'ASYNC_CANCEL by user_data',
    rule: 'SEMANTICS §3.9',
    ops: ['uring.ASYNC_CANCEL'],
    answer: 'async-cancel',
  },
  fd: { title: 'ASYNC_CANCEL by fd', rule: 'SEMANTICS §3.9', ops: ['uring.ASYNC_CANCEL'], answer: 'async-cancel' },
  op: { title: 'ASYNC_CANCEL by opcode', rule: 'SEMANTICS §3.9', ops: ['uring.ASYNC_CANCEL'], answer: 'async-cancel' },
  all: { title: 'ASYNC_CANCEL_ALL', rule: 'SEMANTICS §3.9', ops: ['uring.ASYNC_CANCEL'], answer: 'count' },
  any: { title: 'ASYNC_CANCEL_ANY', rule: 'SEMANTICS §3.9', ops: ['uring.ASYNC_CANCEL'], answer: 'count' },
  'fd-fixed': {
    title: 'ASYNC_CANCEL by fixed file',
    rule: 'SEMANTICS §3.9',
    ops: ['uring.ASYNC_CANCEL', 'uring.register'],
    answer: 'async-cancel',
  },
  'sync-cancel': {
    title: 'IORING_REGISTER_SYNC_CANCEL',
    rule: 'SEMANTICS §3.9',
    ops: ['uring.register'],
    answer: 'sync-cancel',
  },
  'link-timeout': {
    title: 'LINK_TIMEOUT',
    rule: 'SEMANTICS §3.10',
    ops: ['uring.LINK_TIMEOUT'],
    answer: 'link-timeout',
  },
  'timeout-remove': {
    title: 'TIMEOUT_REMOVE',
    rule: 'SEMANTICS §3.9',
    ops: ['uring.TIMEOUT_REMOVE'],
    answer: 'timeout-remove',
  },
  'poll-remove': { title: 'POLL_REMOVE', rule: 'SEMANTICS §3.9', ops: ['uring.POLL_REMOVE'], answer: 'poll-remove' },
  'ring-close': { title: 'ring close', rule: 'SEMANTICS §3.11', ops: ['uring.setup'], answer: 'departure' },
  'task-exit': { title: 'submitter exit', rule: 'SEMANTICS §3.11', ops: ['uring.setup'], answer: 'departure' },
  exec: { title: 'submitter execve', rule: 'SEMANTICS §3.11', ops: ['uring.setup'], answer: 'departure' },
};

/** Why `method` does not apply to `kind`, or undefined when it does: the matrix omits a pair only with a reason. */
export function notApplicable(kind: KindName, method: MethodName): string | undefined {
  const k = KIND_INFO[kind];
  if ((method === 'fd' || method === 'fd-fixed') && !k.fd)
    return kind === 'timeout'
      ? 'a TIMEOUT has no file, and cancel-by-fd skips timeouts (SEMANTICS §3.9)'
      : `${k.op} has no file (sqe->fd holds ${kind === 'waitid' ? 'the pid' : 'futex flags'})`;
  if (method === 'timeout-remove' && kind !== 'timeout') return 'TIMEOUT_REMOVE finds only TIMEOUT requests';
  if (method === 'poll-remove' && kind !== 'poll')
    return 'POLL_REMOVE finds only POLL_ADD requests (not internal poll)';
  if (method === 'link-timeout' && kind === 'timeout')
    return 'a TIMEOUT is a timer itself: a LINK_TIMEOUT on it races two timers';
  if (method === 'ring-close' && (kind === 'timeout' || kind === 'futex-wait' || kind === 'waitid'))
    return 'no CQE is observable after a ring closes (SEMANTICS §3.11) and the request holds no file whose release could be seen';
  if (method === 'ring-close' && kind === 'accept') return "a listener's release has no event to wait for";
  if ((method === 'task-exit' || method === 'exec') && kind === 'waitid')
    return "WAITID waits for the submitter's own children: they go to init when the submitter leaves";
  return undefined;
}

/** user_data of the target, the chain's follower and the cancel request. */
export const UD = { target: 0x7an, follower: 0x7fn, cancel: 0xcan } as const;

/** A kind's fixtures and request, built in a program. */
interface Armed {
  /** The target SQE (no user_data), its flags, and the fd it names. */
  spec: Omit<SqeSpec, 'user_data'>;
  /** Linked after the target (chain): their SQEs, user_data included. */
  followers: SqeSpec[];
  fd?: Fd;
  /** Fixture steps that must not fail. */
  setup: { what: string; step: StepRef }[];
  /** Its own result, had it won the race. */
  normal: (res: number) => boolean;
  /** For ring close: drop our references to its file, then (after the close) wait for the request's to go. */
  release?: {
    /** Close our copy; `held(v)`: right after, the peer showed no hang-up (the request still held the file). */
    drop: (s: Sequence) => { held: (v: TraceView) => boolean };
    wait: (s: Sequence) => { wait: StepRef; gone: (v: TraceView) => string | undefined };
  };
  /** Make the event it waits for happen (a byte, a connection); `left(v)` says whether the byte is still unread. */
  trigger?: (s: Sequence) => { steps: StepRef[]; left?: (s: Sequence) => (v: TraceView) => boolean };
  /** Steps after the cancel (a child to reap), and their checks, which may depend on how the target ended. */
  after?: (s: Sequence) => (v: TraceView, outcome: Outcome | undefined) => void;
}

/** ppoll(fd, events 0, `ms`): returns once POLLERR or POLLHUP shows; `revents(v)` reads them back. */
function waitHangup(s: Sequence, fd: Fd, ms = 5000): { wait: StepRef; revents: (v: TraceView) => number } {
  const pfd = s.program.buf(8);
  s.patch(pfd, 0, 4, arg.fd(fd));
  const wait = s.syscall(SYSCALLS.ppoll, [arg.buf(pfd), 1, arg.buf(timespecMs(s, ms)), 0, 0]);
  const dump = s.dump(pfd);
  return { wait, revents: (v) => v.step(dump).dump!.readUInt16LE(6) };
}

/** After the request's reference is the last one: the peer of a pipe read end sees POLLERR, of a socket POLLHUP. */
function releaseVia(mine: Fd, peer: Fd, bit: 'ERR' | 'HUP'): Armed['release'] {
  return {
    drop: (s) => {
      close(s, mine);
      const { wait } = waitHangup(s, peer, 0);
      return { held: (v) => v.ret(wait) === 0 };
    },
    wait: (s) => {
      const { wait, revents } = waitHangup(s, peer);
      return {
        wait,
        gone: (v) => {
          const r = v.ret(wait);
          if (r !== 1 || !(revents(v) & POLL_EV[bit].value))
            return `ppoll of the peer returned ${show(r)} (revents 0x${revents(v).toString(16)}), not POLL${bit}: the request still holds its file`;
          return undefined;
        },
      };
    },
  };
}

/** Write one byte to `w`; `left` then asks ppoll(r, POLLIN, timeout 0) whether it is still unread. */
function byteTo(w: Fd, r: Fd): Armed['trigger'] {
  return (s) => {
    const write = s.syscall(SYSCALLS.write, [arg.fd(w), arg.buf(s.program.buf(8)), 1]);
    const left = (m: Sequence) => {
      const pfd = m.program.buf(8);
      m.patch(pfd, 0, 4, arg.fd(r));
      m.patch(pfd, 4, 2, POLL_EV.IN.value);
      const poll = m.syscall(SYSCALLS.ppoll, [arg.buf(pfd), 1, arg.buf(timespecMs(m, 0)), 0, 0]);
      return (v: TraceView) => v.ret(poll) === 1;
    };
    return { steps: [write], left };
  };
}

/** A unix stream listener on a fresh abstract address; `connect(s)` makes a client connect to it. */
function unixListener(s: Sequence): {
  fd: Fd;
  steps: { what: string; step: StepRef }[];
  connect: (s: Sequence) => StepRef;
} {
  const p = s.program;
  const name = Buffer.from(`\0kasync-cancel-${randomBytes(6).toString('hex')}`);
  const addr = Buffer.alloc(2 + name.length);
  addr.writeUInt16LE(AF.UNIX.value, 0);
  name.copy(addr, 2);
  const a = p.data(addr);
  const type = SOCK_TYPE.STREAM.value | SOCK_FLAG.CLOEXEC.value;
  const fd = p.fd();
  const sock = s.syscall(SYSCALLS.socket, [AF.UNIX.value, type, 0], { fd });
  const bind = s.syscall(SYSCALLS.bind, [arg.fd(fd), arg.buf(a), addr.length]);
  const listen = s.syscall(SYSCALLS.listen, [arg.fd(fd), 4]);
  const connect = (c: Sequence) => {
    const cfd = p.fd();
    c.syscall(SYSCALLS.socket, [AF.UNIX.value, type, 0], { fd: cfd });
    return c.syscall(SYSCALLS.connect, [arg.fd(cfd), arg.buf(a), addr.length]);
  };
  return {
    fd,
    connect,
    steps: [
      { what: 'socket(AF_UNIX)', step: sock },
      { what: 'bind', step: bind },
      { what: 'listen', step: listen },
    ],
  };
}

/** Build `kind`'s fixtures in `s` (the sequence that stays) and return its request. */
function arm(kind: KindName, s: Sequence, method: MethodName): Armed {
  const p = s.program;
  const sink = p.buf(64);
  const atLeast1 = (r: number) => r > 0;
  switch (kind) {
    case 'poll':
    case 'read-pipe':
    case 'iowq-read':
    case 'chain': {
      const pipe = pipe2(s, O.CLOEXEC.value);
      const base = {
        setup: [{ what: 'pipe2', step: pipe.step }],
        fd: pipe.r,
        release: releaseVia(pipe.r, pipe.w, 'ERR'),
        trigger: byteTo(pipe.w, pipe.r),
      };
      if (kind === 'poll')
        return {
          ...base,
          spec: { opcode: 'POLL_ADD', fd: pipe.r, poll32_events: POLL_EV.IN.value },
          followers: [],
          normal: (r) => r > 0 && (r & POLL_EV.IN.value) !== 0,
        };
      const read = { opcode: 'READ' as const, fd: pipe.r, addr: arg.buf(sink), len: 64, off: 0 };
      if (kind === 'read-pipe') return { ...base, spec: read, followers: [], normal: atLeast1 };
      if (kind === 'iowq-read')
        return { ...base, spec: { ...read, flags: IOSQE.ASYNC.value }, followers: [], normal: atLeast1 };
      return {
        ...base,
        spec: { ...read, flags: IOSQE.IO_LINK.value },
        followers: [{ opcode: 'NOP', user_data: UD.follower }],
        normal: atLeast1,
      };
    }
    case 'read-socket':
    case 'recv': {
      const sp = socketpair(s);
      const spec: Omit<SqeSpec, 'user_data'> =
        kind === 'recv'
          ? { opcode: 'RECV', fd: sp.x, addr: arg.buf(sink), len: 64 }
          : { opcode: 'READ', fd: sp.x, addr: arg.buf(sink), len: 64, off: 0 };
      return {
        spec,
        followers: [],
        fd: sp.x,
        setup: [{ what: 'socketpair', step: sp.step }],
        normal: atLeast1,
        release: releaseVia(sp.x, sp.y, 'HUP'),
        trigger: byteTo(sp.y, sp.x),
      };
    }
    case 'accept': {
      const l = unixListener(s);
      return {
        spec: { opcode: 'ACCEPT', fd: l.fd },
        followers: [],
        fd: l.fd,
        setup: l.steps,
        normal: (r) => r >= 0,
        trigger: (m) => ({ steps: [l.connect(m)] }),
      };
    }
    case 'timeout':
      return {
        // a departed submitter's timeout is left armed (measured): a short one, so its end can be seen
        spec: {
          opcode: 'TIMEOUT',
          fd: -1,
          addr: arg.buf(timespecMs(s, method === 'task-exit' ? 300 : 10_000)),
          len: 1,
        },
        followers: [],
        setup: [],
        normal: (r) => r === -errno.ETIME,
      };
    case 'futex-wait': {
      const word = p.buf(8);
      const flags = FUTEX2.SIZE_U32.value | FUTEX2.PRIVATE.value;
      // man io_uring_prep_futex_wait: futex2 flags in fd, the expected value in off, the mask in addr3
      return {
        spec: { opcode: 'FUTEX_WAIT', fd: flags, addr: arg.buf(word), off: 0, addr3: FUTEX.BITSET_MATCH_ANY.value },
        followers: [],
        setup: [],
        normal: (r) => r === 0,
        after: (m) => {
          // nothing may still wait on the word: a wake finds no one
          const wake = m.syscall(SYSCALLS.futex, [
            arg.buf(word),
            FUTEX_OP.WAKE.value | FUTEX.PRIVATE_FLAG.value,
            1,
            0,
            0,
            0,
          ]);
          return (v) => expect(v.ret(wake), 'futex(FUTEX_WAKE) afterwards wakes no one: the wait is gone').to.equal(0);
        },
        trigger: (m) => ({
          steps: [
            m.syscall(SYSCALLS.futex, [arg.buf(word), FUTEX_OP.WAKE.value | FUTEX.PRIVATE_FLAG.value, 1, 0, 0, 0]),
          ],
        }),
      };
    }
    case 'waitid': {
      // a child that waits for a byte (its own copy of the write end closed first, so EOF ends it too)
      const go = pipe2(s, O.CLOEXEC.value);
      const c = p.seq();
      close(c, go.w);
      c.syscall(SYSCALLS.read, [arg.fd(go.r), arg.buf(p.buf(8)), 1]);
      const pid = p.pid();
      const fork = s.fork(c, pid);
      const info = p.buf(128);
      return {
        // io_uring_prep_waitid: id in fd, idtype in len, options in file_index, the siginfo in addr2
        spec: {
          opcode: 'WAITID',
          fd: arg.pid(pid),
          len: P.PID.value,
          file_index: WAIT.EXITED.value,
          addr2: arg.buf(info),
        },
        followers: [],
        setup: [
          { what: 'pipe2', step: go.step },
          { what: 'fork', step: fork },
        ],
        normal: (r) => r === 0,
        // the child's pipe closing makes it exit (a trigger closes it first; the second close is a harmless -EBADF)
        trigger: (m) => ({ steps: [close(m, go.w)] }),
        after: (m) => {
          close(m, go.w);
          const wait = m.wait(pid, 5000);
          return (v, outcome) => {
            expect(v.step(wait).deadline, 'the child exits once its pipe closes').to.equal(false);
            if (outcome === 'normal')
              expect(v.ret(wait), 'the WAITID reaped the child: waitpid finds none').to.equal(-errno.ECHILD);
            else expect(v.ret(wait), 'waitpid reaps the child: the cancelled WAITID did not').to.equal(v.ret(fork));
          };
        },
      };
    }
  }
}

/**
 * Pairs where the cancel may not find a pending target, measured (docs/KERNEL-NOTES.md): it answers -ENOENT and the
 * target goes on. The case then completes the target (a byte, a wake, the child's exit) and checks that it ends once.
 */
const MAY_MISS: Partial<Record<KindName, MethodName[]>> = {
  // queued in io-wq, the request has no file yet: by-fd cancels miss it (3 kernels); 6.1 sometimes misses an io-wq
  // request being picked up by a worker whatever the key (seen by the race test)
  'iowq-read': ['fd', 'fd-fixed', 'user-data', 'op', 'all', 'any', 'sync-cancel'],
  // 6.12 matches futex and waitid requests by user_data only
  'futex-wait': ['op'],
  waitid: ['op'],
};

/** One kind × method program and its checks. */
export interface CancelCase {
  p: Program;
  /**
   * Judge the trace; returns a skip reason when the kernel ignores or refuses a flag newer than it. `note` gets a
   * line when the kernel took one of the measured paths SEMANTICS does not describe (docs/KERNEL-NOTES.md).
   */
  check(v: TraceView, caps: Capabilities, note?: (text: string) => void): string | undefined;
}

/** The sync-cancel register call for `user_data` `ud`, with timeout {-1, -1} (wait as long as needed). */
function syncCancel(s: Sequence, h: RingHandle, ud: bigint): StepRef {
  const b = s.program.buf(SYNC_CANCEL_REG_LAYOUT.size);
  place(
    s,
    b,
    0,
    encodeStruct(SYNC_CANCEL_REG_LAYOUT, { addr: ud, fd: -1, 'timeout.tv_sec': -1, 'timeout.tv_nsec': -1 }),
  );
  return s.syscall(SYSCALLS.io_uring_register, [arg.ring(h.ring), REGISTER.SYNC_CANCEL.value, arg.buf(b), 1]);
}

/** Final CQEs per user_data, over the given reaps. */
function finals(v: TraceView, steps: StepRef[], proc?: number): Map<bigint, number[]> {
  const m = new Map<bigint, number[]>();
  const all: Cqe[] = steps.flatMap((r) => {
    const st = proc === undefined ? v.maybe(r) : v.step(r, proc);
    return st?.cqes ?? [];
  });
  for (const c of all) m.set(c.userData, [...(m.get(c.userData) ?? []), c.res]);
  return m;
}

/** Build the program for `kind` cancelled by `method` (which must apply: see {@link notApplicable}). */
export function cancelCase(kind: KindName, method: MethodName): CancelCase {
  const why = notApplicable(kind, method);
  if (why) throw new Error(`${method} does not apply to ${kind}: ${why}`);
  const k = KIND_INFO[kind];
  const m = METHOD_INFO[method];
  const p = new Program({ deadlineMs: 15_000 });
  const s = p.main;
  const a = arm(kind, s, method);
  const h = setupRing(s, { entries: 8 });
  const setup = [...a.setup, { what: 'io_uring_setup', step: h.setup }];
  const fixed = method === 'fd-fixed';
  if (fixed) setup.push({ what: 'IORING_REGISTER_FILES', step: registerFiles(s, h, [a.fd!]) });
  const spec: SqeSpec = { ...a.spec, user_data: UD.target };
  if (fixed) Object.assign(spec, { fd: 0, flags: (Number(a.spec.flags ?? 0) | IOSQE.FIXED_FILE.value) >>> 0 });
  const followers = a.followers;
  const linkTimeout = method === 'link-timeout';
  const sqes = [sqe(linkTimeout ? { ...spec, flags: (Number(spec.flags ?? 0) | IOSQE.IO_LINK.value) >>> 0 } : spec)];
  if (linkTimeout) {
    const lt: SqeSpec = {
      opcode: 'LINK_TIMEOUT',
      fd: -1,
      addr: arg.buf(timespecMs(s, 30)),
      len: 1,
      user_data: UD.cancel,
    };
    if (followers.length) lt.flags = IOSQE.IO_LINK.value;
    sqes.push(sqe(lt));
  }
  sqes.push(...followers.map((f) => sqe(f)));
  const want = 1 + followers.length; // CQEs the target and its followers post
  const departs = method === 'task-exit' || method === 'exec';
  // a closed ring's CQEs are never seen (SEMANTICS §3.11); a kernel that ignores OP or FD_FIXED leaves the target
  // in flight (the test then skips): these count the target's CQEs themselves
  if (method === 'ring-close' || method === 'op' || method === 'fd-fixed') setLedgerMode(p, 'at-most-once');

  // the submitter: this sequence, or a forked child sharing the ring that then leaves
  let sub: ReturnType<typeof submit>;
  let child: { fork: StepRef; wait: StepRef; pid: ReturnType<Program['pid']> } | undefined;
  let fired: ReturnType<NonNullable<Armed['trigger']>> | undefined;
  if (departs) {
    const c = p.seq();
    sub = submit(c, h, sqes);
    if (method === 'exec') {
      const argv = p.buf(8 * 4);
      ['sh', '-c', `exit ${EXEC_CODE}`].forEach((x, i) => s.patch(argv, 8 * i, 8, arg.buf(p.cstr(x))));
      c.syscall(SYSCALLS.execve, [arg.buf(p.cstr(SHELL)), arg.buf(argv), 0]);
      c.exit(97); // execve failed
    }
    const pid = p.pid();
    const fork = s.fork(c, pid);
    child = { fork, pid, wait: s.wait(pid, 5000) };
    // the ring lives on in this process: what the child left armed ends when its event comes (measured)
    if (method === 'task-exit') fired = a.trigger?.(s);
  } else {
    sub = submit(s, h, sqes);
  }
  const armed = departs ? undefined : reap(s, h, 0, 8, 0);

  let cancel: (v: TraceView, got: Map<bigint, number[]>) => number | undefined = (_v, got) => got.get(UD.cancel)?.[0];
  let cancelSteps: StepRef[] = [];
  let release: ReturnType<NonNullable<Armed['release']>['wait']> | undefined;
  let closeRing: StepRef | undefined;
  let held: ((v: TraceView) => boolean) | undefined;
  let syncStep: StepRef | undefined;
  let rightAfter: StepRef | undefined;
  const C = ASYNC_CANCEL;
  const asyncCancel = (x: Omit<SqeSpec, 'opcode' | 'user_data'>) => {
    cancelSteps = [submit(s, h, [sqe({ opcode: 'ASYNC_CANCEL', ...x, user_data: UD.cancel })]).enter];
  };
  switch (method) {
    case 'user-data':
      asyncCancel({ addr: UD.target });
      break;
    case 'fd':
      asyncCancel({ fd: a.fd!, cancel_flags: C.FD.value });
      break;
    case 'fd-fixed':
      asyncCancel({ fd: 0, cancel_flags: C.FD.value | C.FD_FIXED.value });
      break;
    case 'op': // addr 0 matches no user_data: only the opcode can find the target
      asyncCancel({ fd: -1, addr: 0, len: URING_OP[k.op].value, cancel_flags: C.OP.value });
      break;
    case 'all':
      asyncCancel({ addr: UD.target, cancel_flags: C.ALL.value });
      break;
    case 'any':
      asyncCancel({ fd: -1, cancel_flags: C.ANY.value });
      break;
    case 'timeout-remove':
      cancelSteps = [
        submit(s, h, [sqe({ opcode: 'TIMEOUT_REMOVE', fd: -1, addr: UD.target, user_data: UD.cancel })]).enter,
      ];
      break;
    case 'poll-remove':
      cancelSteps = [
        submit(s, h, [sqe({ opcode: 'POLL_REMOVE', fd: -1, addr: UD.target, user_data: UD.cancel })]).enter,
      ];
      break;
    case 'sync-cancel':
      syncStep = syncCancel(s, h, UD.target);
      rightAfter = s.uringState(h.ring);
      cancel = (v) => v.ret(syncStep!);
      break;
    case 'ring-close':
      held = a.release!.drop(s).held;
      closeRing = s.uringClose(h.ring);
      release = a.release!.wait(s);
      cancel = () => undefined;
      break;
    case 'task-exit':
    case 'exec':
      cancel = () => undefined; // no answer of their own
      break;
    case 'link-timeout': // its answer is the LINK_TIMEOUT's CQE, submitted with the target
      break;
  }
  // the cancels that post a CQE of their own
  const answerCqes = cancelSteps.length > 0 || linkTimeout ? 1 : 0;
  // (after a ring close its slot is gone: nothing more to reap.) By fd, a request still queued in io-wq has no file yet and is missed (-ENOENT, docs/KERNEL-NOTES.md): then a
  // byte lets it finish with its own result. When it was cancelled, the second reap waits 2 s for nothing.
  const mayMiss = MAY_MISS[kind]?.includes(method) ?? false;
  const got = closeRing ? undefined : reap(s, h, mayMiss ? answerCqes : want + answerCqes, 8, departs ? 2000 : 5000);
  if (mayMiss) fired = a.trigger!(s);
  // after a departure, whatever is still armed is found by ASYNC_CANCEL_ANY (6.12 leaves a FUTEX_WAIT armed)
  const sweep = departs
    ? submit(s, h, [sqe({ opcode: 'ASYNC_CANCEL', fd: -1, cancel_flags: C.ANY.value, user_data: UD.cancel })]).enter
    : undefined;
  // 6.12 leaves a departed submitter's FUTEX_WAIT armed; once ANY cancels it, its CQE comes later than ANY's own
  const lingers = kind === 'futex-wait' && method === 'task-exit';
  const got2 = mayMiss || departs ? reap(s, h, lingers ? 2 : 1, 8, lingers ? 5000 : 2000) : undefined;
  const more = closeRing ? undefined : reap(s, h, 0, 8, 0);
  const left = fired?.left?.(s);
  const after = a.after?.(s);
  const reaps = [armed, got, got2, more].filter((x): x is StepRef => x !== undefined);

  return {
    p,
    check(v, caps, note = () => undefined) {
      for (const x of setup) expect(v.ret(x.step), `fixture: ${x.what}`).to.be.at.least(0);
      if (child) {
        expect(v.ret(child.fork), 'fork of the submitter').to.be.above(0);
        expect(v.ret(sub.enter), 'the child submitted on the shared ring').to.equal(sqes.length);
        const w = v.step(child.wait);
        expect(w.deadline, `the submitter was reaped in time (${m.rule})`).to.equal(false);
        expect(waitStatus(w.ret2), 'its wait status').to.deep.equal({ exited: method === 'exec' ? EXEC_CODE : 0 });
      } else {
        expect(v.ret(sub.enter), 'io_uring_enter took the SQEs').to.equal(sqes.length);
      }
      if (armed)
        expect(
          v.step(armed).cqes.map((c) => [c.userData, c.res]),
          'the target was pending before the cancel',
        ).to.deep.equal([]);
      for (const st of cancelSteps) expect(v.ret(st), `${m.title} submitted`).to.equal(1);
      const results = finals(v, reaps);
      const cres = cancel(v, results);
      if (method === 'op' || method === 'fd-fixed') {
        const missing = flagMissing(caps, method === 'op' ? C.OP : C.FD_FIXED, cres, -errno.ENOENT);
        if (missing) return missing;
      }
      if (release) {
        // a request still queued in io-wq has no file yet (docs/KERNEL-NOTES.md): only the others must hold one
        if (!k.mayRun)
          expect(held!(v), 'with our fd closed, the pending request still held the file (no hang-up yet)').to.equal(
            true,
          );
        expect(v.ret(closeRing!), 'close of the ring').to.equal(0);
        const gone = release.gone(v);
        expect(gone, `after the ring closed, the request let go of its file within 5 s (${m.rule})`).to.equal(
          undefined,
        );
        return undefined;
      }
      const target = results.get(UD.target) ?? [];
      let swept = 0;
      if (sweep) {
        expect(v.ret(sweep), 'ASYNC_CANCEL_ANY after the departure submitted').to.equal(1);
        expect(results.get(UD.cancel)?.length, 'ASYNC_CANCEL_ANY completed once').to.equal(1);
        swept = results.get(UD.cancel)![0];
        if (method === 'exec')
          expect(swept, "execve cancelled all of the task's requests: ANY finds none (SEMANTICS §3.11)").to.equal(0);
        if (swept === 1) {
          note(
            `left armed after the submitter left; ASYNC_CANCEL_ANY found it (count 1), target ${show(target[0] ?? NaN)}`,
          );
          // measured on 6.12: FUTEX_WAIT stays armed after its submitter exits; ANY then cancels it
          expect(
            target,
            'what the departed submitter left armed ends -ECANCELED once, by ASYNC_CANCEL_ANY',
          ).to.deep.equal([-errno.ECANCELED]);
          return undefined;
        }
        expect(swept, 'ASYNC_CANCEL_ANY answers a count, 0 or 1').to.equal(0);
      }
      if (kind === 'timeout' && method === 'task-exit') {
        // the timer is not the task's: it fires as usual after the submitter left (measured, docs/KERNEL-NOTES.md)
        expect(target, `the departed submitter's TIMEOUT completes once, -ETIME (${m.rule}, measured)`).to.deep.equal([
          -errno.ETIME,
        ]);
        return undefined;
      }
      if (answerCqes) expect(results.get(UD.cancel)?.length ?? 0, `${m.title} completed once`).to.equal(1);
      const problems = cancelProblems({
        answer: m.answer,
        cancel: cres ?? 0,
        target,
        normal: a.normal,
        mayRun: k.mayRun,
        foundIsOne: k.foundIsOne,
      });
      expect(problems, `${m.title} and its target agree (${m.rule})`).to.deep.equal([]);
      const outcome = outcomeOf(target[0], a.normal);
      if ((mayMiss && outcome === 'normal') || (k.foundIsOne && cres === 1 && m.answer !== 'count'))
        note(`${m.title} answered ${show(cres ?? NaN)}; the target ended ${show(target[0])}`);
      if (!mayMiss)
        expect(outcome, 'nothing could complete the target: it did not end with its own result').to.not.equal('normal');
      for (const f of followers)
        expect(
          results.get(BigInt(f.user_data as bigint)),
          `the linked NOP after the target ends -ECANCELED once (SEMANTICS §3.10)`,
        ).to.deep.equal([-errno.ECANCELED]);
      if (syncStep && outcome === 'cancelled') {
        const st = v.step(rightAfter!).ring!;
        expect(st.cqTail - st.cqHead, 'the target CQE is in the CQ when SYNC_CANCEL returns (SEMANTICS §3.9)').to.equal(
          want,
        );
      }
      if (fired)
        for (const st of fired.steps)
          expect(v.ret(st), 'the event the request waited for (a byte, a connect)').to.be.at.least(0);
      if (left && mayMiss)
        expect(
          left(v),
          'the byte written after the cancel is unread exactly when the target did not end normally',
        ).to.equal(outcome !== 'normal');
      else if (left)
        expect(
          left(v),
          `the byte written after the submitter left is still unread: the request took nothing (${m.rule})`,
        ).to.equal(true);
      const extra = [...results.keys()].filter(
        (u) => u !== UD.target && u !== UD.cancel && !followers.some((f) => f.user_data === u),
      );
      expect(extra.map(String), 'no other CQE').to.deep.equal([]);
      after?.(v, outcome);
      return undefined;
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Legacy AIO and POSIX AIO

/**
 * io_cancel and its target (SEMANTICS §1.5): -EINPROGRESS (an armed POLL) ⇔ one io_event with res 0; -EINVAL (not
 * cancellable, or already done) ⇔ one io_event with the target's own result. `results`: every io_event's res.
 */
export function aioCancelProblems(cancel: number, results: number[], normal: (res: number) => boolean): string[] {
  if (results.length !== 1)
    return [
      `the iocb completed ${results.length} times (${results.map(show).join(', ') || 'none'}), not once (SEMANTICS §1.8)`,
    ];
  const res = results[0];
  if (cancel === -errno.EINPROGRESS)
    return res === 0 ? [] : [`io_cancel returned -EINPROGRESS but the io_event carries ${show(res)}, not 0`];
  if (cancel === -errno.EINVAL)
    return normal(res)
      ? []
      : [`io_cancel returned -EINVAL but the io_event carries ${show(res)}, not the request's own result`];
  return [`io_cancel returned ${show(cancel)}: neither -EINPROGRESS nor -EINVAL`];
}

/**
 * aio_cancel and its request (POSIX aio_cancel): AIO_CANCELED ⇔ aio_error ECANCELED and aio_return -1;
 * AIO_NOTCANCELED ⇔ it went on and ended with its own result (aio_error 0, aio_return `n`).
 */
export function posixCancelProblems(o: {
  cancel: number;
  error: number;
  ret: number;
  n: number;
  canceled: number;
  notCanceled: number;
}): string[] {
  if (o.cancel === o.canceled)
    return o.error === errno.ECANCELED && o.ret === -1
      ? []
      : [`AIO_CANCELED but aio_error ${o.error}, aio_return ${o.ret} (want ECANCELED, -1)`];
  if (o.cancel === o.notCanceled)
    return o.error === 0 && o.ret === o.n
      ? []
      : [`AIO_NOTCANCELED but aio_error ${o.error}, aio_return ${o.ret} (want 0, ${o.n})`];
  return [
    `aio_cancel returned ${o.cancel}: neither AIO_CANCELED nor AIO_NOTCANCELED for a request that could not have finished`,
  ];
}
