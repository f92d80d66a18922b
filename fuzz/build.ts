/**
 * Model → Program. Resolves the model's small numbers into a valid program (links end with their
 * batch, LINK_TIMEOUT only right after a linked SQE, cancels aimed at earlier requests or at unknown
 * user_data) and records a {@link Plan}: what each step submitted, so the oracle can judge the trace.
 *
 * Reaps take exactly `min = max = k` completions, where k never exceeds the completions that are sure
 * to come promptly (polls wait for the pipe, and so do requests linked or drained behind them). So the
 * final drain knows exactly how many completions are still owed, and waits for no more. Multishot polls,
 * whose F_MORE completions come in any number, live on a ring of their own that is reaped once, after
 * every one of them was cancelled.
 */
import * as path from 'path';
import {
  ASYNC_CANCEL,
  ENTER,
  errno,
  IOSQE,
  IOVEC_LAYOUT,
  KERNEL_TIMESPEC_LAYOUT,
  POLL,
  O,
  POLL_EV,
  REGISTER,
  RSRC_REGISTER_LAYOUT,
  RSRC_UPDATE2_LAYOUT,
  RSRC_UPDATE_LAYOUT,
  SETUP,
  SYSCALLS,
} from '../src/abi';
import { aioSetup, aioSubmit, aioWaitEvents, aioWaitUntilTotal, iocb } from '../src/program/aio';
import { arg, Buf, Ctx, Fd, KcovOptions, Program, StepRef } from '../src/program/builder';
import { encodeStruct, place, placeAll, RawStruct } from '../src/program/struct';
import { pipe2, pread, pwrite, readSmallFile, scratchFile } from '../src/program/sys';
import { EXEC_CODE, EXIT_CODE, SHELL } from '../src/oracle/exit';
import { enter, reap, reapUntilTotal, RingHandle, setupRing, sqe, submit } from '../src/program/uring';
import { DRAIN_AFTER_INIT_FAILURE, POLL_REMOVE_IOWQ_STALL, RSRC_QUIESCE_DEFER_TASKRUN } from '../src/suite/known-bugs';
import {
  AioOpKind,
  AioReqModel,
  BUF_SLOTS,
  CANCEL_MODES,
  CancelMode,
  FILE_WORDS,
  FIXED_BUF_OPS,
  FIXED_SLOTS,
  PBUF_GROUPS,
  PBUF_MAX,
  RING_KINDS,
  RingKind,
  StreamModel,
  TIMER_MS,
  UringOpKind,
  UringReqModel,
} from './model';

/** One io_uring request as built. */
export interface UringReq {
  id: number;
  ring: number;
  userData: number;
  op: UringOpKind;
  /** Main-sequence index of the URING_QUEUE and io_uring_enter steps that carried it. */
  queueStep: number;
  enterStep: number;
  /** The link chain it belongs to (index into `plan.chains`), if any. */
  chain?: number;
  /** 0 none, 1 IO_LINK, 2 IO_HARDLINK, as sent. */
  link: 0 | 1 | 2;
  drain: boolean;
  file: number;
  off: number;
  len: number;
  /** WRITE: the pattern seed of its data. */
  seed: number;
  /** ASYNC_CANCEL: the user_data aimed at, and the request carrying it (undefined: unknown). */
  cancelUd?: number;
  cancelReq?: number;
  /** TIMEOUT/LINK_TIMEOUT: timer ms and (TIMEOUT) count. */
  ms: number;
  count: number;
  /** LINK_TIMEOUT: the request it guards. */
  guards?: number;
  /** POLL_ADD with IORING_POLL_ADD_MULTI (on the multishot ring). */
  multi?: boolean;
  /** Submitted by a thread that exited soon after (SEMANTICS §3.11: its exit may cancel what it left behind). */
  byThread?: boolean;
  /** Issued inside its own io_uring_enter, in SQ order (not SQPOLL, not behind a link, not drained or after a drain). */
  inline: boolean;
  /** READ/WRITE through a registered-file slot (IOSQE_FIXED_FILE): the slot, and whether it held a file at submission. */
  slot?: number;
  slotFull?: boolean;
  /** ASYNC_CANCEL: how it matches; by fd, the file it names (a scratch file, or -1 + generation for the pipe's read end). */
  cancelMode?: CancelMode;
  cancelFile?: number;
  /** POLL_ADD, and ASYNC_CANCEL by the pipe's fd: which pipe the read-end fd named then (dupPipe swaps it). */
  pipeGen?: number;
  /** READ_FIXED/WRITE_FIXED: the buffer index, and whether it held a buffer at submission (undefined: not known). */
  bufSlot?: number;
  bufFull?: boolean;
  /** FILES_UPDATE (the op): the slot it fills or empties, and whether the ring had a file table at submission. */
  filesSlot?: number;
  fill?: boolean;
  tableExists?: boolean;
  /** PROVIDE_BUFFERS, REMOVE_BUFFERS, and READ with IOSQE_BUFFER_SELECT: the group; PROVIDE/REMOVE: the count; PROVIDE: the first buffer id. */
  group?: number;
  nbufs?: number;
  bid?: number;
  /** READ with IOSQE_BUFFER_SELECT. */
  select?: boolean;
  /** The REMOVE_BUFFERS of everything left in its group, after every other request completed. */
  finalRemove?: boolean;
  /** On the file's alias fd (closeFile closes it while requests may be in flight). */
  alias?: boolean;
  /** Submitted by a forked child (which exited right after: like byThread, SEMANTICS §3.11). */
  byChild?: boolean;
}

/**
 * A request with every field of {@link UringReq} present (unused ones undefined), always in the same
 * order: the oracle reads thousands of them per second, and one hidden class for all keeps its property
 * loads monomorphic (optional fields added in whatever order made a shape per combination, and the
 * optimized judge and build code was thrown away each time a new one turned up).
 */
function uringReq(id: number, ring: number, op: UringOpKind, link: 0 | 1 | 2, drain: boolean, inline: boolean): UringReq {
  return {
    id,
    ring,
    userData: id + 1,
    op,
    queueStep: -1,
    enterStep: -1,
    chain: undefined,
    link,
    drain,
    file: 0,
    off: 0,
    len: 0,
    seed: 0,
    cancelUd: undefined,
    cancelReq: undefined,
    ms: 0,
    count: 0,
    guards: undefined,
    multi: undefined,
    byThread: undefined,
    inline,
    slot: undefined,
    slotFull: undefined,
    cancelMode: undefined,
    cancelFile: undefined,
    pipeGen: undefined,
    bufSlot: undefined,
    bufFull: undefined,
    filesSlot: undefined,
    fill: undefined,
    tableExists: undefined,
    group: undefined,
    nbufs: undefined,
    bid: undefined,
    select: undefined,
    finalRemove: undefined,
    alias: undefined,
    byChild: undefined,
  };
}

/** One AIO request as built. */
export interface AioReq {
  id: number;
  ctx: number;
  data: number;
  op: AioOpKind;
  submitStep: number;
  /** Position in its io_submit array. */
  pos: number;
  file: number;
  off: number;
  len: number;
  seed: number;
}

/** What each main-sequence step of interest is. */
export type PlanStep =
  | { kind: 'queue'; ring: number; reqs: number[] }
  | { kind: 'enter'; ring: number; reqs: number[] }
  | { kind: 'reap'; ring: number; want: number; final: boolean; waitMs: number }
  | { kind: 'aioSubmit'; ctx: number; reqs: number[] }
  | { kind: 'aioReap'; ctx: number; want: number; final: boolean; waitMs: number }
  | { kind: 'aioCancel'; ctx: number; target?: number }
  | { kind: 'pipeWrite' }
  | { kind: 'dump'; file: number }
  | { kind: 'files'; ring: number; action: 'update' | 'unregister' | 'register'; want: number }
  | { kind: 'bufs'; ring: number; action: 'update' | 'unregister' | 'register'; want: number }
  /** WAIT for a child that left requests in flight and exited or exec'ed; its fork, the kill(pid, 0) after, and (execve) the new image's count of [aio]/io_uring mappings. */
  | { kind: 'depart'; how: 'exit' | 'execve'; aio: boolean; code: number; fork: number; probe: number; maps?: { read: number; dump: number } }
  /** A step the oracle reads through another one (its failure is not a setup failure). */
  | { kind: 'aux' }
  | { kind: 'ringState'; ring: number }
  /** THREADS: two threads io_uring_enter the same queued SQEs (their steps: sequence and index). */
  | {
      kind: 'threadEnter';
      ring: number;
      reqs: number[];
      enters: { seq: number; step: number }[];
      single: boolean;
      sqpoll: boolean;
      /** A forked child's io_uring_enter (this step is the parent's WAIT), and its io_submit on an inherited AIO context. */
      fork?: boolean;
      aioSubmit?: { seq: number; step: number };
    }
  | { kind: 'setup'; what: string };

/** Everything the oracle needs to know about a built program. */
export interface Plan {
  uring: UringReq[];
  aio: AioReq[];
  /** Link chains: request ids in chain order. */
  chains: number[][];
  /** Main-sequence step index → what it is. */
  steps: Map<number, PlanStep>;
  files: number;
  /** Pattern seed of each file's initial content. */
  fileSeeds: number[];
  /** Main-sequence index of the first pipe write (Infinity if none). */
  pipeWrittenAt: number;
  /** Kind of each ring. */
  ringKinds: RingKind[];
  /** Writes of children that exited or exec'ed with them in flight: done by `done` (AIO: exit_aio waits), or at any time (io_uring). */
  childWrites?: { file: number; off: number; len: number; seed: number; submit: number; done: number; accepted?: { seq: number; step: number; want: number } }[];
}

/** A built program. */
export interface Built {
  program: Program;
  plan: Plan;
}

/** Where and how fast the program runs. */
export interface BuildContext {
  /** Scratch directory on the target. */
  dir: string;
  /** Target slowdown: waits are multiplied by it. */
  slowdown?: number;
  /**
   * Programs sharing each CPU of the target at once (`kasync fuzz --procs` over the VM's vCPUs): waits and the
   * program's deadline are multiplied by it too, as each program may get only that share of the CPU.
   */
  share?: number;
  /** A KCOV step on every sequence (bench/kcov.ts: what the fuzz programs reach in the kernel). */
  kcov?: KcovOptions;
  /**
   * The kernel has the known IO_DRAIN bug (src/suite/known-bugs.ts DRAIN_AFTER_INIT_FAILURE): a request failing at
   * prep throws a ring's drain accounting off, so a ring that gets READ_FIXED/WRITE_FIXED (which may fail there) is
   * given no IOSQE_IO_DRAIN, and the fuzzer does not find that bug again on every run.
   */
  avoidDrainAfterPrepFailure?: boolean;
  /**
   * The kernel has the known quiesce bug (RSRC_QUIESCE_DEFER_TASKRUN): IORING_UNREGISTER_FILES/BUFFERS on a
   * DEFER_TASKRUN ring with a request in flight sleeps until a signal, so such rings get no unregister.
   */
  avoidRsrcQuiesceDeferTaskrun?: boolean;
  /**
   * The kernel has the known POLL_REMOVE bug (POLL_REMOVE_IOWQ_STALL): one issued by io-wq leaves the removed poll's
   * CQE unposted until a later submission. A chain member may be (it runs where its predecessor completed: io-wq
   * after an FSYNC), so a POLL_REMOVE inside a chain is sent as the ASYNC_CANCEL of the same user_data (unaffected).
   */
  avoidPollRemoveOnIowq?: boolean;
}

/** The {@link BuildContext} fields that steer around known bugs of kernel release `kernel`. */
export function knownBugAvoidance(kernel: string): Pick<BuildContext, 'avoidDrainAfterPrepFailure' | 'avoidRsrcQuiesceDeferTaskrun' | 'avoidPollRemoveOnIowq'> {
  return {
    ...(DRAIN_AFTER_INIT_FAILURE.releases.test(kernel) ? { avoidDrainAfterPrepFailure: true } : {}),
    ...(RSRC_QUIESCE_DEFER_TASKRUN.releases.test(kernel) ? { avoidRsrcQuiesceDeferTaskrun: true } : {}),
    ...(POLL_REMOVE_IOWQ_STALL.releases.test(kernel) ? { avoidPollRemoveOnIowq: true } : {}),
  };
}

const UNKNOWN_UD = 0xdead00;
const AIO_DATA_BASE = 0x1000;
const WRITE_SEED_BASE = 0x100;
const FILE_SEED_BASE = 0x10;
const FILE_BYTES = FILE_WORDS * 8;
const REAP_WAIT_MS = 1000;
const DRAIN_WAIT_MS = 3000;
const AIO_NR_EVENTS = 256;

const PLANS = new WeakMap<Program, Plan>();
// read once: each access through src/abi's re-exports is a chain of getters
const IO_LINK = IOSQE.IO_LINK.value;
const IO_HARDLINK = IOSQE.IO_HARDLINK.value;
const IO_DRAIN = IOSQE.IO_DRAIN.value;
const FIXED_FILE = IOSQE.FIXED_FILE.value;
const BUFFER_SELECT = IOSQE.BUFFER_SELECT.value;
/** The ASYNC_CANCEL flags of each mode (SEMANTICS §3.9). */
const CANCEL_FLAGS: Record<CancelMode, number> = {
  ud: 0,
  udAll: ASYNC_CANCEL.ALL.value,
  any: ASYNC_CANCEL.ANY.value,
  fd: ASYNC_CANCEL.FD.value,
  fdAll: ASYNC_CANCEL.FD.value | ASYNC_CANCEL.ALL.value,
};
/** SQPOLL rings get an SQ larger than any program's SQE count, so the SQ thread never leaves a batch short of room. */
const SQPOLL_ENTRIES = 128;
/** Small-CQ rings: at most this many SQ entries, and as many CQ entries (the least CQSIZE takes). */
const SMALL_CQ = 4;
/** Bytes of each provided buffer (no read is longer). */
const PBUF_BYTES = 64 * 8;
/** At most this many departing children per program (each takes a ring or context slot). */
const MAX_DEPARTS = 4;
const CHILD_AIO_DATA = 0xc41d;
/** Exit code of a departing child whose execve failed. */
const EXEC_FAILED = 97;
/** The multishot ring: SQ entries (its CQ, twice that, holds every completion a program can make). */
const MS_ENTRIES = 256;

/** The plan of a program `buildStream` made (the fault wrapper uses it to find link chains). */
export function planOf(p: Program): Plan | undefined {
  return PLANS.get(p);
}

/** Per ring (or context): what is owed and how much of it is sure to come promptly. */
class Owed {
  submitted = 0;
  pending = new Set<number>();
  claimed = 0;
  drainBlocked = false;
  /** A drained request was submitted: from then on the kernel may hold any new request until all earlier ones completed. */
  drainUsed = false;
  prompt(): number {
    return this.submitted - this.pending.size - this.claimed;
  }
}

/** Build the program of a model. */
export function buildStream(m: StreamModel, ctx: BuildContext): Built {
  const share = Math.max(1, ctx.share ?? 1);
  const slow = Math.max(1, ctx.slowdown ?? 1) * share;
  const p = new Program({ deadlineMs: Math.ceil(20_000 * share), kcov: ctx.kcov });
  const s = p.main;
  const kinds: RingKind[] = m.rings.map((_, i) => RING_KINDS[m.kinds?.[i] ?? 0] ?? 'plain');
  const plan: Plan = { uring: [], aio: [], chains: [], steps: new Map(), files: Math.max(1, m.files), fileSeeds: [], pipeWrittenAt: Infinity, ringKinds: kinds };
  const mark = (index: number, st: PlanStep) => plan.steps.set(index, st);

  // scratch files with a traceable initial content
  const files: Fd[] = [];
  const init = p.buf(FILE_BYTES);
  for (let f = 0; f < plan.files; f++) {
    const { fd } = scratchFile(s, ctx.dir, `f${f}`);
    files.push(fd);
    plan.fileSeeds.push(FILE_SEED_BASE + f);
    s.fillPattern(init, 0, FILE_BYTES, FILE_SEED_BASE + f);
    pwrite(s, fd, init, FILE_BYTES, 0);
  }
  const usesPoll = m.steps.some(
    (st) =>
      ((st.kind === 'submit' || st.kind === 'threadSubmit' || st.kind === 'forkSubmit') && st.reqs.some((r) => r.op === 'POLL_ADD')) ||
      (st.kind === 'aioSubmit' && st.reqs.some((r) => r.op === 'POLL')) ||
      st.kind === 'msPoll',
  );
  const pipe = usesPoll ? pipe2(s, O.CLOEXEC.value) : undefined;
  // dupPipe: a second pipe whose read end is dup3'ed over the first one's fd number (and back, from a
  // dup that keeps the first pipe readable: a pipe with no reader fails writes with EPIPE)
  const swaps = pipe !== undefined && m.steps.some((st) => st.kind === 'dupPipe');
  const pipe2nd = swaps ? pipe2(s, O.CLOEXEC.value) : undefined;
  const keeper = swaps ? p.fd() : undefined;
  if (keeper) s.syscall(SYSCALLS.dup, [arg.fd(pipe!.r)], { fd: keeper });
  let pipeGen = 0;
  const one = p.data(Buffer.from([0x2a]));
  const readBuf = p.buf(FILE_BYTES);
  // every write's data, each at its own place in one buffer
  const writes = countWrites(m);
  const allReqs = m.steps.flatMap((st) => (st.kind === 'submit' || st.kind === 'threadSubmit' || st.kind === 'forkSubmit' ? st.reqs : []));
  // registered buffers: every full slot is the whole write-data buffer, whose first FILE_BYTES READ_FIXED reads into
  const usesFixedBufs = m.bufTable !== undefined || m.steps.some((st) => st.kind === 'bufs') || allReqs.some((r) => r.op === 'READ_FIXED' || r.op === 'WRITE_FIXED');
  const prefix = usesFixedBufs ? FILE_BYTES : 0;
  const wdata = writes > 0 || prefix > 0 ? p.buf(prefix + writes * 64 * 8) : undefined;
  let wused = prefix;
  // provided buffers: each PROVIDE_BUFFERS gives fresh buffer ids, each id its own PBUF_BYTES of this buffer
  const nprovide = allReqs.filter((r) => r.op === 'PROVIDE_BUFFERS').length;
  const pbufArea = nprovide > 0 ? p.buf(nprovide * PBUF_MAX * PBUF_BYTES) : undefined;
  let nextBid = 0;
  // a dup of each file, which closeFile closes (and replaces) while requests on it may be in flight
  const usesAlias = m.steps.some((st) => st.kind === 'closeFile') || allReqs.some((r) => r.alias) || m.steps.some((st) => st.kind === 'aioSubmit' && st.reqs.some((r) => r.alias));
  const aliases = usesAlias
    ? files.map((f) => {
        const a = p.fd();
        s.syscall(SYSCALLS.dup, [arg.fd(f)], { fd: a });
        return a;
      })
    : undefined;
  let departs = 0;
  plan.childWrites = [];
  let nwrites = 0;
  const ts = p.buf(16 * TIMER_MS.length);
  TIMER_MS.forEach((ms, i) => place(s, ts, 16 * i, encodeStruct(KERNEL_TIMESPEC_LAYOUT, { tv_sec: 0, tv_nsec: ms * 1e6 })));

  const entriesOf = (i: number) => (kinds[i] === 'sqpoll' ? SQPOLL_ENTRIES : kinds[i] === 'smallcq' ? Math.min(m.rings[i], SMALL_CQ) : m.rings[i]);
  const rings: RingHandle[] = m.rings.map((_, i) => {
    const entries = entriesOf(i);
    switch (kinds[i]) {
      case 'plain':
        return setupRing(s, { entries });
      case 'sqpoll':
        // a 1 ms idle: the SQ thread sleeps soon (submit() wakes it) instead of spinning on a shared CPU
        return setupRing(s, { entries, flags: SETUP.SQPOLL.value, sqThreadIdle: 1 });
      case 'defer':
        return setupRing(s, { entries, flags: SETUP.SINGLE_ISSUER.value | SETUP.DEFER_TASKRUN.value });
      case 'smallcq':
        return setupRing(s, { entries, flags: SETUP.CQSIZE.value, cqEntries: entries });
    }
  });
  const noDrain = new Set<number>();
  if (ctx.avoidDrainAfterPrepFailure && rings.length)
    for (const st of m.steps)
      if (st.kind === 'submit' || st.kind === 'threadSubmit' || st.kind === 'forkSubmit')
        if (st.reqs.some((r) => FIXED_BUF_OPS.includes(r.op))) noDrain.add(st.ring % rings.length);
  // an s32 fd array; empty slots are -1, written as bytes (a PATCH of -1 would read as a failed step)
  const fdTable = (fds: (Fd | undefined)[]): Buf => {
    const b = p.buf(4 * fds.length);
    s.fillByte(b, 0, 4 * fds.length, 0xff);
    fds.forEach((f, k) => f && s.patch(b, 4 * k, 4, arg.fd(f)));
    return b;
  };
  // multishot polls live on a ring of their own, reaped only at the end: their F_MORE completions come
  // in any number, so no count-exact reap can share a ring with them
  const msIdx = rings.length;
  const msRing = pipe && m.steps.some((st) => st.kind === 'msPoll') ? setupRing(s, { entries: MS_ENTRIES }) : undefined;
  if (msRing) plan.ringKinds = [...kinds, 'plain'];
  const msAll: number[] = [];
  const msLive = new Set<number>();
  let msCancels = 0;
  const msSubmit = (raws: RawStruct[], reqs: UringReq[]) => {
    const sub = submit(s, msRing!, raws);
    for (const q of reqs) Object.assign(q, { queueStep: sub.queue.index, enterStep: sub.enter.index });
    const ids = reqs.map((q) => q.id);
    mark(sub.queue.index, { kind: 'queue', ring: msIdx, reqs: ids });
    mark(sub.enter.index, { kind: 'enter', ring: msIdx, reqs: ids });
  };
  const msReq = (op: UringOpKind): UringReq => {
    const id = plan.uring.length;
    const q = uringReq(id, msIdx, op, 0, false, true);
    plan.uring.push(q);
    return q;
  };
  const msCancel = (target: number | undefined, remove: boolean): { req: UringReq; raw: RawStruct } => {
    const q = msReq(remove ? 'POLL_REMOVE' : 'ASYNC_CANCEL');
    if (!remove) q.cancelMode = 'ud';
    q.cancelReq = target;
    q.cancelUd = target !== undefined ? plan.uring[target].userData : UNKNOWN_UD;
    if (target !== undefined) msLive.delete(target);
    msCancels++;
    return { req: q, raw: sqe({ opcode: q.op, addr: q.cancelUd, user_data: q.userData }) };
  };
  // registered-file tables: slot k holds file k % files, or nothing
  const tables = rings.map(() => ({ exists: false, full: [] as (boolean | undefined)[] }));
  // slots a FILES_UPDATE op may still change at some later time (io-wq, behind a link or a timeout): what
  // later steps put there is not what a later request finds, whatever its order in the program
  const lateSlots = rings.map(() => new Set<number>());
  const registerTable = (r: number, full: (boolean | undefined)[], mark: boolean) => {
    const fds = fdTable(full.map((f, k) => (f ? files[k % plan.files] : undefined)));
    const ref = s.syscall(SYSCALLS.io_uring_register, [arg.ring(rings[r].ring), REGISTER.FILES.value, arg.buf(fds), full.length]);
    if (mark) plan.steps.set(ref.index, { kind: 'files', ring: r, action: 'register', want: tables[r].exists ? -errno.EBUSY : 0 });
    if (!tables[r].exists) tables[r] = { exists: true, full: full.map(Boolean) };
    return ref;
  };
  if (m.table) rings.forEach((_, r) => registerTable(r, m.table!.slice(0, FIXED_SLOTS), true));
  // registered-buffer tables: slot k is the write-data buffer, or empty (iov_base NULL, len 0: a sparse slot)
  const bufTables = rings.map(() => ({ exists: false, full: [] as (boolean | undefined)[] }));
  const iovecs = (full: (boolean | undefined)[]): Buf => {
    const b = p.buf(IOVEC_LAYOUT.size * full.length);
    full.forEach((f, k) => f && place(s, b, IOVEC_LAYOUT.size * k, encodeStruct(IOVEC_LAYOUT, { iov_base: arg.buf(wdata!), iov_len: wdata!.size })));
    return b;
  };
  const registerBufs = (r: number, full: (boolean | undefined)[]) => {
    const reg = p.buf(RSRC_REGISTER_LAYOUT.size);
    place(s, reg, 0, encodeStruct(RSRC_REGISTER_LAYOUT, { nr: full.length, data: arg.buf(iovecs(full)) }));
    const ref = s.syscall(SYSCALLS.io_uring_register, [arg.ring(rings[r].ring), REGISTER.BUFFERS2.value, arg.buf(reg), RSRC_REGISTER_LAYOUT.size]);
    mark(ref.index, { kind: 'bufs', ring: r, action: 'register', want: bufTables[r].exists ? -errno.EBUSY : 0 });
    if (!bufTables[r].exists) bufTables[r] = { exists: true, full: full.map(Boolean) };
  };
  if (m.bufTable) rings.forEach((_, r) => registerBufs(r, m.bufTable!.slice(0, BUF_SLOTS)));
  const groupsUsed = rings.map(() => new Set<number>());
  const ringOwed = rings.map(() => new Owed());
  const ctxs: Ctx[] = [];
  for (let c = 0; c < m.ctxs; c++) ctxs.push(aioSetup(s, AIO_NR_EVENTS).ctx);
  const ctxOwed = ctxs.map(() => new Owed());
  const aioIocbs: { buf: Buf; pos: number }[] = [];
  const unknownIocb = m.steps.some((st) => st.kind === 'aioCancel') ? p.buf(64) : undefined;
  const cancelRes = unknownIocb ? p.buf(32) : undefined;
  let pipeWritten = false;

  // a request's file range, set in place (no object per request)
  const rw = (req: { file: number; off: number; len: number }, file: number, at: number, words: number) => {
    const a = at % FILE_WORDS;
    const n = Math.max(1, Math.min(words, FILE_WORDS - a));
    req.file = file % plan.files;
    req.off = a * 8;
    req.len = n * 8;
  };
  const writeData = (off: number, len: number): { seed: number; at: number } => {
    const seed = WRITE_SEED_BASE + nwrites++;
    const at = wused;
    // stream position = file offset: every word of the file names the write and offset it came from
    s.fillPattern(wdata!, at, len, seed, off);
    wused += len;
    return { seed, at };
  };

  const pipeWrite = () => {
    if (!pipe) return;
    const ref = s.syscall(SYSCALLS.write, [arg.fd(pipe.w), arg.buf(one), 1]);
    mark(ref.index, { kind: 'pipeWrite' });
    if (pipe2nd) mark(s.syscall(SYSCALLS.write, [arg.fd(pipe2nd.w), arg.buf(one), 1]).index, { kind: 'pipeWrite' });
    if (!pipeWritten) plan.pipeWrittenAt = ref.index;
    pipeWritten = true;
    for (const o of [...ringOwed, ...ctxOwed]) {
      o.pending.clear();
      o.drainBlocked = false;
    }
  };

  const submitUring = (ringIdx: number, reqs: UringReqModel[], how: 'plain' | 'threads' | 'fork' = 'plain') => {
    const h = rings[ringIdx];
    const owed = ringOwed[ringIdx];
    const entries = entriesOf(ringIdx);
    const sqpoll = kinds[ringIdx] === 'sqpoll';
    // before 6.15 READ_FIXED/WRITE_FIXED look their buffer up at prep: an index with no buffer fails
    // there, which ends io_uring_enter's batch (SEMANTICS §3.5, no SUBMIT_ALL): such a request is the
    // last of its batch, so every batch is still consumed whole
    const bt = bufTables[ringIdx];
    const mayFailPrep = (r: UringReqModel) => (r.op === 'READ_FIXED' || r.op === 'WRITE_FIXED') && !(bt.exists && bt.full[r.target % (BUF_SLOTS + 1)] === true);
    for (let from = 0, to = 0; from < reqs.length; from = to) {
      to = Math.min(reqs.length, from + entries);
      for (let k = from; k < to; k++)
        if (mayFailPrep(reqs[k])) {
          to = k + 1;
          break;
        }
      const chunk = reqs.slice(from, to);
      const raws: RawStruct[] = [];
      const ids: number[] = [];
      let chain: number[] | undefined;
      let chainPending = false;
      chunk.forEach((r, i) => {
        const prev = i > 0 ? plan.uring[ids[i - 1]] : undefined;
        let op = r.op;
        // LINK_TIMEOUT must directly follow a linked request, and never another LINK_TIMEOUT
        if (op === 'LINK_TIMEOUT' && !(prev && prev.link !== 0 && prev.op !== 'LINK_TIMEOUT')) op = 'NOP';
        if (op === 'POLL_REMOVE' && ctx.avoidPollRemoveOnIowq && prev && prev.link !== 0) op = 'ASYNC_CANCEL';
        const last = i === chunk.length - 1;
        const link: 0 | 1 | 2 = last || op === 'LINK_TIMEOUT' ? 0 : r.link;
        const inChain = (prev !== undefined && prev.link !== 0) || link !== 0;
        const drain = r.drain && !inChain && !noDrain.has(ringIdx);
        const id = plan.uring.length;
        const ud = id + 1;
        const member = prev !== undefined && prev.link !== 0;
        const inline = !sqpoll && !member && !drain && !owed.drainUsed;
        const req = uringReq(id, ringIdx, op, link, drain, inline);
        // issued inside the io_uring_enter right after (by this task): the alias fd is used only then,
        // as one issued after closeFile would find its number closed, or (in-process) another program's file
        const issuedNow = inline && (how === 'plain' || kinds[ringIdx] === 'defer');
        let flags = (link === 1 ? IO_LINK : link === 2 ? IO_HARDLINK : 0) | (drain ? IO_DRAIN : 0);
        let raw: RawStruct;
        switch (op) {
          case 'NOP':
            raw = sqe({ opcode: 'NOP', user_data: ud, flags });
            break;
          case 'READ':
          case 'WRITE': {
            rw(req, r.file, r.at, r.words);
            let fd: Fd | number = files[req.file];
            if (r.select && op === 'READ' && !r.fixed && pbufArea) {
              // IOSQE_BUFFER_SELECT: the kernel picks a buffer of the group and names it in the CQE flags
              req.select = true;
              req.group = 1 + (r.file % PBUF_GROUPS);
              groupsUsed[ringIdx].add(req.group);
              flags |= BUFFER_SELECT;
              raw = sqe({ opcode: op, fd, len: req.len, off: req.off, buf_group: req.group, user_data: ud, flags });
              break;
            }
            if (r.alias && aliases && !r.fixed && issuedNow) {
              req.alias = true;
              fd = aliases[req.file];
            }
            if (r.fixed) {
              // the slot's file is the one it always holds when full
              const slot = r.file % FIXED_SLOTS;
              req.slot = slot;
              req.slotFull = lateSlots[ringIdx].has(slot) ? undefined : tables[ringIdx].exists && tables[ringIdx].full[slot];
              req.file = slot % plan.files;
              fd = slot;
              flags |= FIXED_FILE;
            }
            let addr = arg.buf(readBuf);
            if (op === 'WRITE') {
              const w = writeData(req.off, req.len);
              req.seed = w.seed;
              addr = arg.buf(wdata!, w.at);
            }
            raw = sqe({ opcode: op, fd, addr, len: req.len, off: req.off, user_data: ud, flags });
            break;
          }
          case 'FSYNC':
            // never on the alias: FSYNC is forced async (io_fsync_prep), so io-wq looks its fd up at some later time
            req.file = r.file % plan.files;
            raw = sqe({ opcode: 'FSYNC', fd: files[req.file], user_data: ud, flags });
            break;
          case 'READ_FIXED':
          case 'WRITE_FIXED': {
            // buffer index past the table now and then: never registered (-EFAULT, like an empty slot)
            rw(req, r.file, r.at, r.words);
            const idx = r.target % (BUF_SLOTS + 1);
            const bt = bufTables[ringIdx];
            req.bufSlot = idx;
            req.bufFull = bt.exists && idx < BUF_SLOTS ? bt.full[idx] : false;
            let addr = arg.buf(wdata!, 0);
            if (op === 'WRITE_FIXED') {
              const w = writeData(req.off, req.len);
              req.seed = w.seed;
              addr = arg.buf(wdata!, w.at);
            }
            raw = sqe({ opcode: op, fd: files[req.file], addr, len: req.len, off: req.off, buf_index: idx, user_data: ud, flags });
            break;
          }
          case 'FILES_UPDATE': {
            // the op: fills or empties one slot when issued (in SQ order when inline, else at some later time)
            const slot = r.at % FIXED_SLOTS;
            const t = tables[ringIdx];
            Object.assign(req, { filesSlot: slot, fill: r.words % 2 === 1, tableExists: t.exists });
            const fds = fdTable([req.fill ? files[slot % plan.files] : undefined]);
            raw = sqe({ opcode: op, addr: arg.buf(fds), len: 1, off: slot, user_data: ud, flags });
            // a chain head is issued once its chain is complete: a later member failing prep (the last of
            // the batch, above) fails the whole chain -ECANCELED first, and the update never runs
            const chainMayFail = link !== 0 && mayFailPrep(chunk[chunk.length - 1]);
            if (t.exists) t.full[slot] = issuedNow && !chainMayFail ? req.fill : undefined;
            if (!issuedNow) lateSlots[ringIdx].add(slot);
            break;
          }
          case 'PROVIDE_BUFFERS':
          case 'REMOVE_BUFFERS': {
            req.group = 1 + (r.file % PBUF_GROUPS);
            req.nbufs = 1 + (r.count % PBUF_MAX);
            groupsUsed[ringIdx].add(req.group);
            if (op === 'REMOVE_BUFFERS') {
              raw = sqe({ opcode: op, fd: req.nbufs, buf_group: req.group, user_data: ud, flags });
              break;
            }
            req.bid = nextBid;
            nextBid += req.nbufs;
            raw = sqe({ opcode: op, fd: req.nbufs, addr: arg.buf(pbufArea!, req.bid * PBUF_BYTES), len: PBUF_BYTES, off: req.bid, buf_group: req.group, user_data: ud, flags });
            break;
          }
          case 'POLL_ADD':
            req.pipeGen = pipeGen;
            raw = sqe({ opcode: 'POLL_ADD', fd: pipe!.r, poll32_events: POLL_EV.IN.value, user_data: ud, flags });
            break;
          case 'ASYNC_CANCEL':
          case 'POLL_REMOVE': {
            // aim at the latest requests of any ring (so sometimes at another ring's: unknown here)
            const back = r.target;
            if (back < id) {
              req.cancelReq = id - 1 - back;
              req.cancelUd = plan.uring[req.cancelReq].userData;
            } else req.cancelUd = UNKNOWN_UD + back;
            if (op === 'POLL_REMOVE') {
              raw = sqe({ opcode: 'POLL_REMOVE', addr: req.cancelUd, user_data: ud, flags });
              break;
            }
            // a POLL_REMOVE turned into an ASYNC_CANCEL (avoidPollRemoveOnIowq) keeps its by-user_data search
            const mode = (req.cancelMode = r.op === 'POLL_REMOVE' ? 'ud' : (CANCEL_MODES[r.cancel ?? 0] ?? 'ud'));
            let fd: Fd | number = 0;
            if (mode === 'fd' || mode === 'fdAll') {
              // the polled pipe's read end (every other choice, when there is a pipe) or a scratch file
              if (pipe && r.file % 2 === 0) {
                req.cancelFile = -1;
                req.pipeGen = pipeGen;
                fd = pipe.r;
              } else fd = files[(req.cancelFile = r.file % plan.files)];
            }
            const byUd = mode === 'ud' || mode === 'udAll';
            raw = sqe({ opcode: 'ASYNC_CANCEL', fd, addr: byUd ? req.cancelUd : 0, cancel_flags: CANCEL_FLAGS[mode], user_data: ud, flags });
            break;
          }
          case 'TIMEOUT':
          case 'LINK_TIMEOUT': {
            const t = r.ms % TIMER_MS.length;
            req.ms = TIMER_MS[t];
            req.count = op === 'TIMEOUT' ? r.count : 0;
            if (op === 'LINK_TIMEOUT') req.guards = id - 1;
            raw = sqe({ opcode: op, addr: arg.buf(ts, 16 * t), len: 1, off: req.count, user_data: ud, flags });
            break;
          }
        }
        plan.uring.push(req);
        ids.push(id);
        raws.push(raw);
        // chains, and what will surely complete without the pipe
        if (prev && prev.link !== 0) chain!.push(id);
        else if (link !== 0) plan.chains.push((chain = [id]));
        if (!(prev && prev.link !== 0)) chainPending = false;
        let pending = owed.drainBlocked || chainPending || (op === 'POLL_ADD' && !pipeWritten);
        if (drain) owed.drainUsed = true;
        if (owed.drainUsed && owed.pending.size > 0) pending = true;
        if (pending) {
          owed.pending.add(id);
          chainPending = true;
          if (drain) owed.drainBlocked = true;
        }
        if (link !== 0 || (prev && prev.link !== 0)) req.chain = plan.chains.length - 1;
      });
      let sub: { queue: StepRef; enter: StepRef };
      if (how === 'plain') sub = submit(s, h, raws);
      else if (how === 'fork') {
        // the parent queues the SQEs; a forked child (no task context of its own yet) enters them on
        // the inherited ring (SEMANTICS §3.11) and tries its parent's AIO context, then exits
        const b = p.buf(raws.length * h.sqeSize);
        placeAll(s, b, 0, raws);
        const queue = s.uringQueue(h.ring, b, 0, raws.length);
        const c = p.seq();
        const e = enter(c, h, raws.length, 0, sqpoll ? ENTER.SQ_WAKEUP.value : 0);
        const a = ctxs.length ? aioSubmit(c, ctxs[0], [iocb({ opcode: 'FSYNC', fd: files[0], aio_data: CHILD_AIO_DATA })]).submit : undefined;
        const pid = p.pid();
        s.fork(c, pid);
        const wait = s.wait(pid, Math.ceil(DRAIN_WAIT_MS * slow));
        const single = kinds[ringIdx] === 'defer';
        mark(wait.index, {
          kind: 'threadEnter',
          ring: ringIdx,
          reqs: ids,
          enters: [{ seq: c.id, step: e.index }],
          single,
          sqpoll,
          fork: true,
          aioSubmit: a ? { seq: c.id, step: a.index } : undefined,
        });
        // SINGLE_ISSUER: only the creator submits (-EEXIST for the child); the parent submits them then
        sub = { queue, enter: single ? enter(s, h, raws.length, 0, 0) : wait };
        for (const id of ids) if (!single) Object.assign(plan.uring[id], { byThread: true, byChild: true, inline: false });
      } else {
        // the main thread queues the SQEs, two threads call io_uring_enter for them at once
        const b = p.buf(raws.length * h.sqeSize);
        placeAll(s, b, 0, raws);
        const queue = s.uringQueue(h.ring, b, 0, raws.length);
        const seqs = [p.seq(), p.seq()];
        const enters = seqs.map((q) => enter(q, h, raws.length, 0, sqpoll ? ENTER.SQ_WAKEUP.value : 0));
        const th = s.threads(seqs, Math.ceil(DRAIN_WAIT_MS * slow));
        const single = kinds[ringIdx] === 'defer';
        mark(th.index, { kind: 'threadEnter', ring: ringIdx, reqs: ids, enters: enters.map((e, k) => ({ seq: seqs[k].id, step: e.index })), single, sqpoll });
        // SINGLE_ISSUER: only the ring's creator submits (-EEXIST for the threads); it submits them then
        sub = { queue, enter: single ? enter(s, h, raws.length, 0, 0) : th };
        for (const id of ids) if (!single) Object.assign(plan.uring[id], { byThread: true, inline: false });
      }
      for (const id of ids) {
        plan.uring[id].queueStep = sub.queue.index;
        plan.uring[id].enterStep = sub.enter.index;
      }
      mark(sub.queue.index, { kind: 'queue', ring: ringIdx, reqs: ids });
      if (plan.steps.get(sub.enter.index) === undefined) mark(sub.enter.index, { kind: 'enter', ring: ringIdx, reqs: ids });
      owed.submitted += ids.length;
    }
  };

  // before 6.x's per-node references, unregistering files or buffers waits for every request holding
  // the ring's resource node (fixed files and buffers share it): one held back by an unwritten pipe would wait for ever
  const heldRsrc = (r: number) =>
    (ctx.avoidRsrcQuiesceDeferTaskrun && kinds[r] === 'defer') ||
    plan.uring.some((q) => q.ring === r && (q.slot !== undefined || q.bufSlot !== undefined) && ringOwed[r].pending.has(q.id));

  const bufsStep = (r: number, action: 'update' | 'unregister' | 'register', slot: number, fill: boolean) => {
    const t = bufTables[r];
    if (action === 'register') {
      registerBufs(r, t.full.length ? t.full.map((f, k) => (k === slot ? fill : f)) : Array.from({ length: BUF_SLOTS }, (_, k) => k !== slot || fill));
      return;
    }
    if (action === 'unregister') {
      if (heldRsrc(r)) return;
      const ref = s.syscall(SYSCALLS.io_uring_register, [arg.ring(rings[r].ring), REGISTER.UNREGISTER_BUFFERS.value, 0, 0]);
      mark(ref.index, { kind: 'bufs', ring: r, action, want: t.exists ? 0 : -errno.ENXIO });
      t.exists = false;
      return;
    }
    const up = p.buf(RSRC_UPDATE2_LAYOUT.size);
    place(s, up, 0, encodeStruct(RSRC_UPDATE2_LAYOUT, { offset: slot, data: arg.buf(iovecs([fill])), nr: 1 }));
    const ref = s.syscall(SYSCALLS.io_uring_register, [arg.ring(rings[r].ring), REGISTER.BUFFERS_UPDATE.value, arg.buf(up), RSRC_UPDATE2_LAYOUT.size]);
    mark(ref.index, { kind: 'bufs', ring: r, action, want: t.exists ? 1 : -errno.ENXIO });
    if (t.exists) t.full[slot] = fill;
  };

  // a child with its own ring or AIO context leaves a file write and a poll in flight, then exits or
  // execs; the parent reaps it and checks that nothing of it is left (SEMANTICS §1.7, §3.11)
  const depart = (st: Extract<StreamModel['steps'][number], { kind: 'depart' }>) => {
    const req = { file: 0, off: 0, len: 0 };
    rw(req, st.file, st.at, st.words);
    const w = writeData(req.off, req.len);
    const c = p.seq();
    const cp = pipe2(c, O.CLOEXEC.value);
    let accepted: { seq: number; step: number; want: number } | undefined;
    if (st.aio) {
      const a = aioSetup(c, 8);
      accepted = { seq: c.id, step: -1, want: 2 };
      accepted.step = aioSubmit(c, a.ctx, [
        iocb({ opcode: 'PWRITE', fd: files[req.file], aio_buf: arg.buf(wdata!, w.at), aio_nbytes: req.len, aio_offset: req.off, aio_data: 1 }),
        iocb({ opcode: 'POLL', fd: cp.r, aio_buf: POLL_EV.IN.value, aio_data: 2 }),
      ]).submit.index;
    } else {
      const h = setupRing(c, { entries: 8 });
      submit(c, h, [
        sqe({ opcode: 'WRITE', fd: files[req.file], addr: arg.buf(wdata!, w.at), len: req.len, off: req.off, user_data: 1 }),
        sqe({ opcode: 'POLL_ADD', fd: cp.r, poll32_events: POLL_EV.IN.value, user_data: 2 }),
      ]);
    }
    // the new image counts the [aio] and io_uring mappings it has: none, if execve dropped the old mm
    const mapsFile = path.posix.join(ctx.dir, `maps${departs}`);
    if (st.how === 'execve') {
      const argv = p.buf(8 * 4);
      const script = `grep -c -e '\\[aio\\]' -e 'io_uring' /proc/$$/maps > ${mapsFile}; exit ${EXEC_CODE}`;
      ['sh', '-c', script].forEach((a, i) => c.patch(argv, 8 * i, 8, arg.buf(p.cstr(a))));
      c.syscall(SYSCALLS.execve, [arg.buf(p.cstr(SHELL)), arg.buf(argv), 0]);
    }
    c.exit(st.how === 'execve' ? EXEC_FAILED : EXIT_CODE);
    const pid = p.pid();
    const fork = s.fork(c, pid);
    const wait = s.wait(pid, Math.ceil(DRAIN_WAIT_MS * slow));
    const probe = s.syscall(SYSCALLS.kill, [arg.pid(pid), 0]);
    mark(probe.index, { kind: 'aux' });
    let maps: { read: number; dump: number } | undefined;
    if (st.how === 'execve') {
      const r = readSmallFile(s, mapsFile, 64);
      for (const x of [r.open, r.read, r.dump]) mark(x.index, { kind: 'aux' });
      maps = { read: r.read.index, dump: r.dump.index };
    }
    mark(wait.index, { kind: 'depart', how: st.how, aio: st.aio, code: st.how === 'execve' ? EXEC_CODE : EXIT_CODE, fork: fork.index, probe: probe.index, maps });
    // AIO: exit_aio waits for the write (its data is in the file once the child is reaped); io_uring: the
    // exit may cancel it, and ring teardown is asynchronous: it lands, or not, at any time
    plan.childWrites!.push({ file: req.file, off: req.off, len: req.len, seed: w.seed, submit: fork.index, done: st.aio ? wait.index : Infinity, accepted });
  };

  const filesStep = (r: number, action: 'update' | 'unregister' | 'register', slot: number, fill: boolean) => {
    const t = tables[r];
    if (action === 'register') {
      registerTable(r, t.full.length ? t.full.map((f, k) => (k === slot ? fill : f)) : Array.from({ length: FIXED_SLOTS }, (_, k) => k !== slot || fill), true);
      return;
    }
    if (action === 'unregister') {
      // before 6.x's per-node references, unregistering waits for every request holding the table:
      // one held back by an unwritten pipe would wait for ever
      if (heldRsrc(r)) return;
      const ref = s.syscall(SYSCALLS.io_uring_register, [arg.ring(rings[r].ring), REGISTER.UNREGISTER_FILES.value, 0, 0]);
      mark(ref.index, { kind: 'files', ring: r, action, want: t.exists ? 0 : -errno.ENXIO });
      t.exists = false;
      return;
    }
    const up = p.buf(RSRC_UPDATE_LAYOUT.size);
    place(s, up, 0, encodeStruct(RSRC_UPDATE_LAYOUT, { offset: slot, data: arg.buf(fdTable([fill ? files[slot % plan.files] : undefined])) }));
    const ref = s.syscall(SYSCALLS.io_uring_register, [arg.ring(rings[r].ring), REGISTER.FILES_UPDATE.value, arg.buf(up), 1]);
    mark(ref.index, { kind: 'files', ring: r, action, want: t.exists ? 1 : -errno.ENXIO });
    if (t.exists) t.full[slot] = fill;
  };

  const submitAio = (c: number, reqs: AioReqModel[]) => {
    const owed = ctxOwed[c];
    const cbs: RawStruct[] = [];
    const ids: number[] = [];
    for (const r of reqs) {
      const id = plan.aio.length;
      const data = AIO_DATA_BASE + id;
      const req: AioReq = { id, ctx: c, data, op: r.op, submitStep: -1, pos: ids.length, file: 0, off: 0, len: 0, seed: 0 };
      if (r.op === 'PREAD' || r.op === 'PWRITE') {
        rw(req, r.file, r.at, r.words);
        let buf = arg.buf(readBuf);
        if (r.op === 'PWRITE') {
          const w = writeData(req.off, req.len);
          req.seed = w.seed;
          buf = arg.buf(wdata!, w.at);
        }
        // on the alias: io_submit takes its own file reference, so closeFile cannot disturb it
        cbs.push(iocb({ opcode: r.op, fd: (r.alias && aliases ? aliases : files)[req.file], aio_buf: buf, aio_nbytes: req.len, aio_offset: req.off, aio_data: data }));
      } else if (r.op === 'FSYNC') {
        req.file = r.file % plan.files;
        cbs.push(iocb({ opcode: 'FSYNC', fd: (r.alias && aliases ? aliases : files)[req.file], aio_data: data }));
      } else {
        cbs.push(iocb({ opcode: 'POLL', fd: pipe!.r, aio_buf: POLL_EV.IN.value, aio_data: data }));
        if (!pipeWritten) owed.pending.add(id);
      }
      plan.aio.push(req);
      ids.push(id);
    }
    const sub = aioSubmit(s, ctxs[c], cbs);
    ids.forEach((id, i) => {
      plan.aio[id].submitStep = sub.submit.index;
      aioIocbs[id] = { buf: sub.iocbs, pos: i };
    });
    mark(sub.submit.index, { kind: 'aioSubmit', ctx: c, reqs: ids });
    owed.submitted += ids.length;
  };

  for (const st of m.steps) {
    switch (st.kind) {
      case 'submit':
        if (rings.length) submitUring(st.ring % rings.length, st.reqs);
        break;
      case 'threadSubmit':
        if (rings.length) submitUring(st.ring % rings.length, st.reqs, m.threads ? 'threads' : 'plain');
        break;
      case 'forkSubmit':
        if (rings.length) submitUring(st.ring % rings.length, st.reqs, m.threads ? 'fork' : 'plain');
        break;
      case 'bufs':
        if (rings.length && wdata) bufsStep(st.ring % rings.length, st.action, st.slot, st.fill);
        break;
      case 'closeFile':
        if (aliases) {
          // close(2), not dup over: requests already holding the file keep it (SEMANTICS §3.9)
          const f = st.file % plan.files;
          s.syscall(SYSCALLS.close, [arg.fd(aliases[f])]);
          s.syscall(SYSCALLS.dup, [arg.fd(files[f])], { fd: aliases[f] });
        }
        break;
      case 'depart':
        if (m.threads && departs < MAX_DEPARTS) {
          departs++;
          depart(st);
        }
        break;
      case 'reap': {
        if (!rings.length) break;
        const r = st.ring % rings.length;
        const k = Math.min(st.want, ringOwed[r].prompt());
        if (k <= 0) break;
        ringOwed[r].claimed += k;
        // an SQPOLL ring's completions wait for its kernel thread, which other jobs' threads can keep
        // off the CPU for over a second (seen with 32 jobs on 2 cores): give it the drain's time
        const waitMs = Math.ceil((kinds[r] === 'sqpoll' ? DRAIN_WAIT_MS : st.waitMs > 1 ? REAP_WAIT_MS : REAP_WAIT_MS / 4) * slow);
        const ref = reap(s, rings[r], k, k, waitMs);
        mark(ref.index, { kind: 'reap', ring: r, want: k, final: false, waitMs });
        break;
      }
      case 'aioSubmit':
        if (ctxs.length) submitAio(st.ctx % ctxs.length, st.reqs);
        break;
      case 'aioReap': {
        if (!ctxs.length) break;
        const c = st.ctx % ctxs.length;
        const k = Math.min(st.want, ctxOwed[c].prompt());
        if (k <= 0) break;
        ctxOwed[c].claimed += k;
        const waitMs = Math.ceil((st.waitMs > 1 ? REAP_WAIT_MS : REAP_WAIT_MS / 4) * slow);
        const ref = aioWaitEvents(s, ctxs[c], k, k, waitMs * 1e6);
        mark(ref.index, { kind: 'aioReap', ctx: c, want: k, final: false, waitMs });
        break;
      }
      case 'aioCancel': {
        if (!ctxs.length) break;
        const c = st.ctx % ctxs.length;
        // aim at the latest iocbs of any context; past them, an iocb no one submitted
        const target = st.target < plan.aio.length ? plan.aio.length - 1 - st.target : undefined;
        const where = target !== undefined ? arg.buf(aioIocbs[target].buf, 64 * aioIocbs[target].pos) : arg.buf(unknownIocb!);
        const ref = s.syscall(SYSCALLS.io_cancel, [arg.ctx(ctxs[c]), where, arg.buf(cancelRes!)]);
        mark(ref.index, { kind: 'aioCancel', ctx: c, target });
        break;
      }
      case 'pipeWrite':
        pipeWrite();
        break;
      case 'files':
        if (rings.length) filesStep(st.ring % rings.length, st.action, st.slot, st.fill);
        break;
      case 'msPoll':
        if (msRing) {
          const q = msReq('POLL_ADD');
          Object.assign(q, { multi: true, pipeGen });
          msAll.push(q.id);
          msLive.add(q.id);
          msSubmit([sqe({ opcode: 'POLL_ADD', fd: pipe!.r, poll32_events: POLL_EV.IN.value, len: POLL.ADD_MULTI.value, user_data: q.userData })], [q]);
        }
        break;
      case 'msCancel':
        if (msRing) {
          const target = st.target < msAll.length ? msAll[msAll.length - 1 - st.target] : undefined;
          const c = msCancel(target, st.remove);
          msSubmit([c.raw], [c.req]);
        }
        break;
      case 'dupPipe':
        if (pipe2nd) {
          // the polled fd number now names the other pipe; polls already armed keep their file (SEMANTICS §3.9)
          const from = pipeGen === 0 ? pipe2nd.r : keeper!;
          s.syscall(SYSCALLS.dup3, [arg.fd(from), arg.fd(pipe!.r), O.CLOEXEC.value]);
          pipeGen ^= 1;
        }
        break;
    }
  }

  // epilogue: cancel the multishot polls still armed, let the main thread run their task work (an
  // io_uring_enter), then take every completion of their ring at once; then let every poll fire, and
  // take exactly what is still owed
  if (msRing) {
    const live = [...msLive].map((id) => msCancel(id, false));
    if (live.length) msSubmit(live.map((c) => c.raw), live.map((c) => c.req));
    enter(s, msRing, 0, 0, ENTER.GETEVENTS.value);
    const want = msAll.length + msCancels;
    const waitMs = Math.ceil(DRAIN_WAIT_MS * slow);
    mark(reap(s, msRing, want, 2 * MS_ENTRIES, waitMs).index, { kind: 'reap', ring: msIdx, want, final: true, waitMs });
  }
  if (!pipeWritten && (plan.uring.some((r) => r.op === 'POLL_ADD') || plan.aio.some((r) => r.op === 'POLL'))) pipeWrite();
  rings.forEach((h, r) => {
    const left = ringOwed[r].submitted - ringOwed[r].claimed;
    if (left > 0) {
      const waitMs = Math.ceil(DRAIN_WAIT_MS * slow);
      // every completion the ring owes, counting those earlier reaps took: one a loaded host held past an
      // earlier reap's time is still taken here
      const ref = reapUntilTotal(s, h, ringOwed[r].submitted, left + 8, waitMs);
      mark(ref.index, { kind: 'reap', ring: r, want: left, final: true, waitMs });
    }
  });
  // provided buffers: after everything else completed, remove what is left of each group: an exact count
  rings.forEach((h, r) => {
    const groups = [...groupsUsed[r]].sort();
    if (!groups.length) return;
    const ids = groups.map((group) => {
      const id = plan.uring.length;
      const nbufs = Math.max(1, nextBid);
      plan.uring.push(Object.assign(uringReq(id, r, 'REMOVE_BUFFERS', 0, false, kinds[r] !== 'sqpoll'), { group, nbufs, finalRemove: true }));
      return id;
    });
    const sub = submit(s, h, ids.map((id) => sqe({ opcode: 'REMOVE_BUFFERS', fd: plan.uring[id].nbufs, buf_group: plan.uring[id].group, user_data: id + 1 })));
    for (const id of ids) Object.assign(plan.uring[id], { queueStep: sub.queue.index, enterStep: sub.enter.index });
    mark(sub.queue.index, { kind: 'queue', ring: r, reqs: ids });
    mark(sub.enter.index, { kind: 'enter', ring: r, reqs: ids });
    const waitMs = Math.ceil(DRAIN_WAIT_MS * slow);
    mark(reap(s, h, ids.length, ids.length, waitMs).index, { kind: 'reap', ring: r, want: ids.length, final: true, waitMs });
  });
  // FEAT_NODROP: nothing was dropped (cq_overflow counts dropped CQEs)
  rings.forEach((h, r) => mark(s.uringState(h.ring).index, { kind: 'ringState', ring: r }));
  ctxs.forEach((c, i) => {
    const { submitted, claimed } = ctxOwed[i];
    if (submitted > 0) {
      const waitMs = Math.ceil(DRAIN_WAIT_MS * slow);
      // every event the context owes, counting those earlier reaps took (SYSCALL post 7): one a loaded host
      // held past an earlier reap's time is still taken here, even when nothing is left unclaimed. Room for
      // all of them and 8 more (a duplicate completion is seen). `want` stays what is unclaimed: the call
      // returns at least that many when all owed events came, so the oracle never reads it as interrupted
      const ref = aioWaitUntilTotal(s, c, submitted, submitted + 8, waitMs * 1e6);
      mark(ref.index, { kind: 'aioReap', ctx: i, want: submitted - claimed, final: true, waitMs });
    }
  });
  files.forEach((fd, f) => {
    pread(s, fd, readBuf, FILE_BYTES, 0);
    const ref = s.dump(readBuf);
    mark(ref.index, { kind: 'dump', file: f });
  });
  // the polled fd number back on its own pipe: the in-process executor closes a slot's fd only while
  // it still names the file the slot got (else it would leak the other pipe's read end)
  if (pipe2nd && pipeGen === 1) s.syscall(SYSCALLS.dup3, [arg.fd(keeper!), arg.fd(pipe!.r), O.CLOEXEC.value]);
  PLANS.set(p, plan);
  return { program: p, plan };
}

function countWrites(m: StreamModel): number {
  let n = 0;
  for (const st of m.steps) {
    if (st.kind === 'submit' || st.kind === 'threadSubmit' || st.kind === 'forkSubmit') for (const r of st.reqs) n += r.op === 'WRITE' || r.op === 'WRITE_FIXED' ? 1 : 0;
    if (st.kind === 'depart') n++;
    if (st.kind === 'aioSubmit') for (const r of st.reqs) n += r.op === 'PWRITE' ? 1 : 0;
  }
  return n;
}
