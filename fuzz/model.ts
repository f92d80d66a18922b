/**
 * The stream model: an interleaved request stream as plain data (JSON in, JSON out) and its
 * fast-check arbitraries. Every field is a small number so that shrinking is cheap and cancels hit
 * something; `build.ts` resolves the numbers (modulo what exists) into a valid program, so every
 * value the shrinker makes is still a program worth running.
 */
import fc from 'fast-check';
import { ASYNC_CANCEL, FEAT, POLL, REGISTER } from '../src/abi';
import { releasedBy } from '../src/abi/version';
import { Capabilities, aioSupports, refusedSetupFlags, uringSupports } from '../src/target/caps';

/** io_uring operations the stream uses (names of src/abi URING_OP). */
export const URING_OPS = [
  'NOP',
  'READ',
  'WRITE',
  'FSYNC',
  'POLL_ADD',
  'ASYNC_CANCEL',
  'TIMEOUT',
  'LINK_TIMEOUT',
  'POLL_REMOVE',
  'READ_FIXED',
  'WRITE_FIXED',
  'FILES_UPDATE',
  'PROVIDE_BUFFERS',
  'REMOVE_BUFFERS',
] as const;
/** Ops on registered buffers (need BUFFERS2 tables: {@link StreamOps.fixedBufs}). */
export const FIXED_BUF_OPS: readonly UringOpKind[] = ['READ_FIXED', 'WRITE_FIXED'];
/** Ops on provided buffers (need {@link StreamOps.provide}). */
export const PROVIDE_OPS: readonly UringOpKind[] = ['PROVIDE_BUFFERS', 'REMOVE_BUFFERS'];
/** One of {@link URING_OPS}. */
export type UringOpKind = (typeof URING_OPS)[number];

/** Legacy AIO operations the stream uses (names of src/abi AIO_OP). */
export const AIO_OPS = ['PREAD', 'PWRITE', 'FSYNC', 'POLL'] as const;
/** One of {@link AIO_OPS}. */
export type AioOpKind = (typeof AIO_OPS)[number];

/**
 * Ring kinds: plain; SQPOLL (a kernel thread submits); DEFER_TASKRUN|SINGLE_ISSUER (completions run
 * only when the task waits); small CQ (IORING_SETUP_CQSIZE with as many CQ entries as SQ entries, so
 * the CQ overflows and, with FEAT_NODROP, completions wait in the overflow list).
 */
export const RING_KINDS = ['plain', 'sqpoll', 'defer', 'smallcq'] as const;
/** One of {@link RING_KINDS}. */
export type RingKind = (typeof RING_KINDS)[number];

/**
 * How an ASYNC_CANCEL matches (SEMANTICS §3.9): by user_data; by user_data with ALL; ANY; by fd; by fd
 * with ALL. Modes past `ud` are 5.19 flags.
 */
export const CANCEL_MODES = ['ud', 'udAll', 'any', 'fd', 'fdAll'] as const;
/** One of {@link CANCEL_MODES}. */
export type CancelMode = (typeof CANCEL_MODES)[number];

/** Registered-file table size: a small domain, so updates and fixed reads meet. */
export const FIXED_SLOTS = 4;
/** Registered-buffer table size (READ_FIXED/WRITE_FIXED index up to one past it: an index never registered). */
export const BUF_SLOTS = 4;
/** Provided-buffer groups (buf_group 1..PBUF_GROUPS) and buffers per PROVIDE_BUFFERS (1..PBUF_MAX). */
export const PBUF_GROUPS = 2;
export const PBUF_MAX = 4;

/** Scratch files are this many 8-byte pattern words long (reads and writes stay inside). */
export const FILE_WORDS = 512;
/** Timer lengths (ms) for TIMEOUT and LINK_TIMEOUT: short, so nothing waits long. */
export const TIMER_MS = [1, 2, 5] as const;

/** One SQE. Fields an op does not use are ignored by the builder. */
export interface UringReqModel {
  op: UringOpKind;
  /** 0 none, 1 IOSQE_IO_LINK, 2 IOSQE_IO_HARDLINK (to the next SQE of the batch). */
  link: 0 | 1 | 2;
  /** IOSQE_IO_DRAIN (kept on requests outside link chains). */
  drain: boolean;
  file: number;
  /** First word and length in words, for READ and WRITE. */
  at: number;
  words: number;
  /** ASYNC_CANCEL: 0 = the latest earlier request, 1 the one before…; past the first one, an unknown user_data. */
  target: number;
  /** TIMEOUT: completion count (`off`), 0 = pure timer. */
  count: number;
  /** TIMEOUT and LINK_TIMEOUT: index into {@link TIMER_MS}. */
  ms: number;
  /** READ/WRITE: through the registered-file slot `file % FIXED_SLOTS` (IOSQE_FIXED_FILE) instead of an fd. */
  fixed?: boolean;
  /** ASYNC_CANCEL: index into {@link CANCEL_MODES} (missing: by user_data); by fd: `file` names the fd. */
  cancel?: number;
  /**
   * READ: IOSQE_BUFFER_SELECT from provided-buffer group `1 + file % PBUF_GROUPS` (no `fixed`). The same
   * group numbering serves PROVIDE_BUFFERS and REMOVE_BUFFERS, with `count + 1` buffers;
   * READ_FIXED/WRITE_FIXED use buffer index `target % (BUF_SLOTS + 1)`; FILES_UPDATE fills (words odd)
   * or empties slot `at % FIXED_SLOTS`.
   */
  select?: boolean;
  /** READ/WRITE: on the file's alias fd (a dup that `closeFile` closes while requests are in flight), when issued inside their io_uring_enter. */
  alias?: boolean;
}

/** One iocb. */
export interface AioReqModel {
  op: AioOpKind;
  file: number;
  at: number;
  words: number;
  /** PREAD/PWRITE/FSYNC on the file's alias fd (see {@link UringReqModel.alias}). */
  alias?: boolean;
}

/** One step of the stream. */
export type StreamStep =
  | { kind: 'submit'; ring: number; reqs: UringReqModel[] }
  | { kind: 'reap'; ring: number; want: number; waitMs: number }
  | { kind: 'aioSubmit'; ctx: number; reqs: AioReqModel[] }
  | { kind: 'aioReap'; ctx: number; want: number; waitMs: number }
  | { kind: 'aioCancel'; ctx: number; target: number }
  | { kind: 'pipeWrite' }
  /** io_uring_register on a ring's file table: FILES_UPDATE of one slot (its file, or emptied), UNREGISTER_FILES, FILES. */
  | { kind: 'files'; ring: number; action: 'update' | 'unregister' | 'register'; slot: number; fill: boolean }
  /** Two threads io_uring_enter one batch at once (a process-level program: it runs in a child executor). */
  | { kind: 'threadSubmit'; ring: number; reqs: UringReqModel[] }
  /** A multishot POLL_ADD (IORING_POLL_ADD_MULTI) of the pipe, on a ring of its own. */
  | { kind: 'msPoll' }
  /** Cancel the multishot poll `target` back (ASYNC_CANCEL by user_data, or POLL_REMOVE). */
  | { kind: 'msCancel'; target: number; remove: boolean }
  /** dup3 another pipe's read end over the polled one while polls may be pending on it. */
  | { kind: 'dupPipe' }
  /** io_uring_register on a ring's buffer table: BUFFERS_UPDATE of one slot (the write area, or emptied), UNREGISTER_BUFFERS, BUFFERS2 (sparse). */
  | { kind: 'bufs'; ring: number; action: 'update' | 'unregister' | 'register'; slot: number; fill: boolean }
  /** close(2) the file's alias fd (requests on it may be in flight), then dup a new alias into its slot. */
  | { kind: 'closeFile'; file: number }
  /** A forked child io_uring_enter()s these SQEs (queued by the parent) on the inherited ring, and io_submit()s on an inherited AIO context; process-level. */
  | { kind: 'forkSubmit'; ring: number; reqs: UringReqModel[] }
  /** A forked child sets up its own ring (or AIO context), leaves a write and a poll in flight, then exits or execs; process-level. */
  | { kind: 'depart'; how: 'exit' | 'execve'; aio: boolean; file: number; at: number; words: number };

/** A whole stream: the handles it opens and its steps. */
export interface StreamModel {
  /** SQ sizes of the rings (CQ is twice that: small rings overflow). */
  rings: number[];
  /** Number of AIO contexts. */
  ctxs: number;
  /** Number of scratch files. */
  files: number;
  /** Kind of each ring (index into {@link RING_KINDS}; missing: plain). */
  kinds?: number[];
  /**
   * Run `threadSubmit` steps on threads and `forkSubmit`/`depart` in forked children (else as plain
   * submits, and no departures): threads and forks make the program
   * process-level, and a child executor runs it, slower than the addon: so only some programs do.
   */
  threads?: boolean;
  /** A registered-file table on every ring at setup: per slot, filled (with file `slot % files`) or empty. */
  table?: boolean[];
  /** A registered-buffer table (BUFFERS2, sparse) on every ring at setup: per slot, the write area or empty. */
  bufTable?: boolean[];
  steps: StreamStep[];
}

/** What the arbitraries may use on a kernel: the probe decides. */
export interface StreamOps {
  uring: UringOpKind[];
  aio: AioOpKind[];
  /** Ring kinds this kernel sets up (plain first; missing: plain only). */
  ringKinds?: RingKind[];
  /** ASYNC_CANCEL modes this kernel has (ud first; missing: ud only). */
  cancelModes?: CancelMode[];
  /** Multishot poll (IORING_POLL_ADD_MULTI, 5.13). */
  multishot?: boolean;
  /** Registered files whose file is looked up at issue (FEAT_LINKED_FILE, 5.17): a bad slot is a CQE, not a failed submit. */
  fixed?: boolean;
  /** Registered-buffer tables with sparse slots and updates (IORING_REGISTER_BUFFERS2/BUFFERS_UPDATE, 5.13) and READ_FIXED/WRITE_FIXED. */
  fixedBufs?: boolean;
  /** Legacy provided buffers (PROVIDE_BUFFERS, REMOVE_BUFFERS, READ with IOSQE_BUFFER_SELECT, 5.7). */
  provide?: boolean;
  /** Process-level steps: forked children that submit, exit and exec (a child target runs them). */
  procs?: boolean;
}

/** The operations of {@link URING_OPS} and {@link AIO_OPS} this kernel supports (SEMANTICS §3.6 probe). */
export function supportedOps(caps: Capabilities): StreamOps {
  const probed = URING_OPS.filter((o) => uringSupports(caps, o));
  const feat = caps.uring.features;
  const fixedBufs = probed.includes('READ_FIXED') && probed.includes('WRITE_FIXED') && releasedBy(REGISTER.BUFFERS_UPDATE.since!, caps.kernel);
  const provide = probed.includes('READ') && probed.includes('PROVIDE_BUFFERS') && probed.includes('REMOVE_BUFFERS');
  const uring = probed.filter((o) => (fixedBufs || !FIXED_BUF_OPS.includes(o)) && (provide || !PROVIDE_OPS.includes(o)));
  const ringKinds: RingKind[] = ['plain'];
  if (uring.length) {
    if (!refusedSetupFlags(caps, ['SQPOLL'])) ringKinds.push('sqpoll');
    if (!refusedSetupFlags(caps, ['SINGLE_ISSUER', 'DEFER_TASKRUN'])) ringKinds.push('defer');
    // without NODROP an overflowing CQ loses completions by design: nothing to hold the kernel to
    if (!refusedSetupFlags(caps, ['CQSIZE']) && feat & FEAT.NODROP.value) ringKinds.push('smallcq');
  }
  const cancelFlags = uring.includes('ASYNC_CANCEL') && releasedBy(ASYNC_CANCEL.ALL.since!, caps.kernel);
  return {
    uring,
    aio: AIO_OPS.filter((o) => aioSupports(caps, o)),
    ringKinds,
    cancelModes: cancelFlags ? [...CANCEL_MODES] : ['ud'],
    fixed: uring.includes('READ') && (feat & FEAT.LINKED_FILE.value) !== 0,
    multishot: uring.includes('POLL_ADD') && uring.includes('ASYNC_CANCEL') && releasedBy(POLL.ADD_MULTI.since!, caps.kernel),
    fixedBufs,
    provide,
    procs: true,
  };
}

/** Arbitrary of one SQE. */
export function uringReqArb(ops: readonly UringOpKind[], cancelModes: readonly CancelMode[] = ['ud'], fixed = false, select = false): fc.Arbitrary<UringReqModel> {
  return fc.record({
    op: fc.constantFrom(...ops),
    link: fc.constantFrom<0 | 1 | 2>(0, 0, 1, 2),
    drain: fc.constantFrom(false, false, false, true),
    file: fc.nat(FIXED_SLOTS - 1),
    at: fc.nat(FILE_WORDS - 1),
    words: fc.integer({ min: 1, max: 64 }),
    target: fc.nat(6),
    count: fc.nat(3),
    ms: fc.nat(TIMER_MS.length - 1),
    fixed: fixed ? fc.constantFrom(false, false, true) : fc.constant(false),
    cancel: fc.constantFrom(...cancelModes.map((c) => CANCEL_MODES.indexOf(c))),
    select: select ? fc.constantFrom(false, false, true) : fc.constant(false),
    alias: fc.constantFrom(false, false, false, true),
  });
}

/**
 * Arbitrary of a ring kind (index into {@link RING_KINDS}): mostly plain; an SQPOLL ring 1 in 10, as
 * its kernel thread (made, spinning its 1 ms idle, torn down) halves the runs/s of 32 jobs on 2 cores.
 */
function ringKindArb(kinds: readonly RingKind[]): fc.Arbitrary<number> {
  const others = kinds.filter((k) => k !== 'plain' && k !== 'sqpoll');
  const weighted = [{ arbitrary: fc.constant(0), weight: 5 }, ...others.map((k) => ({ arbitrary: fc.constant(RING_KINDS.indexOf(k)), weight: 2 }))];
  if (kinds.includes('sqpoll')) weighted.push({ arbitrary: fc.constant(RING_KINDS.indexOf('sqpoll')), weight: 1 });
  return fc.oneof(...weighted);
}

/** Arbitrary of one iocb. */
export function aioReqArb(ops: readonly AioOpKind[]): fc.Arbitrary<AioReqModel> {
  return fc.record({
    op: fc.constantFrom(...ops),
    file: fc.nat(1),
    at: fc.nat(FILE_WORDS - 1),
    words: fc.integer({ min: 1, max: 64 }),
    alias: fc.constantFrom(false, false, false, true),
  });
}

/** Bounds of a stream. */
export interface StreamBounds {
  minSteps?: number;
  maxSteps?: number;
}

/** Arbitrary of whole streams over the operations this kernel supports. */
export function streamArb(ops: StreamOps, bounds: StreamBounds = {}): fc.Arbitrary<StreamModel> {
  const steps: fc.Arbitrary<StreamStep>[] = [];
  const weighted: { arbitrary: fc.Arbitrary<StreamStep>; weight: number }[] = [];
  const uring = ops.uring.length > 0;
  const aio = ops.aio.length > 0;
  if (uring) {
    const req = uringReqArb(ops.uring, ops.cancelModes, ops.fixed, ops.provide);
    weighted.push({ arbitrary: fc.record({ kind: fc.constant('submit' as const), ring: fc.nat(1), reqs: fc.array(req, { minLength: 1, maxLength: 6 }) }), weight: 6 });
    weighted.push({ arbitrary: fc.record({ kind: fc.constant('reap' as const), ring: fc.nat(1), want: fc.integer({ min: 1, max: 8 }), waitMs: fc.constantFrom(0, 1, 50) }), weight: 3 });
    weighted.push({ arbitrary: fc.record({ kind: fc.constant('threadSubmit' as const), ring: fc.nat(1), reqs: fc.array(req, { minLength: 1, maxLength: 4 }) }), weight: 1 });
    if (ops.multishot) {
      weighted.push({ arbitrary: fc.constant({ kind: 'msPoll' as const }), weight: 1 });
      weighted.push({ arbitrary: fc.record({ kind: fc.constant('msCancel' as const), target: fc.nat(3), remove: fc.boolean() }), weight: 1 });
    }
    if (ops.fixed) {
      const files = fc.record({
        kind: fc.constant('files' as const),
        ring: fc.nat(1),
        action: fc.constantFrom<('update' | 'unregister' | 'register')[]>('update', 'update', 'update', 'unregister', 'register'),
        slot: fc.nat(FIXED_SLOTS - 1),
        fill: fc.boolean(),
      });
      weighted.push({ arbitrary: files, weight: 1 });
    }
    if (ops.fixedBufs) {
      const bufs = fc.record({
        kind: fc.constant('bufs' as const),
        ring: fc.nat(1),
        action: fc.constantFrom<('update' | 'unregister' | 'register')[]>('update', 'update', 'update', 'unregister', 'register'),
        slot: fc.nat(BUF_SLOTS - 1),
        fill: fc.boolean(),
      });
      weighted.push({ arbitrary: bufs, weight: 1 });
    }
    if (ops.procs) {
      // process-level: they only run as such in programs with `threads` set (else as plain submits, or not at all)
      weighted.push({ arbitrary: fc.record({ kind: fc.constant('forkSubmit' as const), ring: fc.nat(1), reqs: fc.array(req, { minLength: 1, maxLength: 4 }) }), weight: 1 });
      const depart = fc.record({
        kind: fc.constant('depart' as const),
        how: fc.constantFrom<('exit' | 'execve')[]>('exit', 'execve'),
        aio: aio ? fc.boolean() : fc.constant(false),
        file: fc.nat(1),
        at: fc.nat(FILE_WORDS - 1),
        words: fc.integer({ min: 1, max: 64 }),
      });
      weighted.push({ arbitrary: depart, weight: 1 });
    }
  }
  if (aio) {
    const req = aioReqArb(ops.aio);
    weighted.push({ arbitrary: fc.record({ kind: fc.constant('aioSubmit' as const), ctx: fc.nat(1), reqs: fc.array(req, { minLength: 1, maxLength: 6 }) }), weight: 3 });
    weighted.push({ arbitrary: fc.record({ kind: fc.constant('aioReap' as const), ctx: fc.nat(1), want: fc.integer({ min: 1, max: 8 }), waitMs: fc.constantFrom(0, 1, 50) }), weight: 2 });
    weighted.push({ arbitrary: fc.record({ kind: fc.constant('aioCancel' as const), ctx: fc.nat(1), target: fc.nat(6) }), weight: 1 });
  }
  weighted.push({ arbitrary: fc.constant({ kind: 'pipeWrite' as const }), weight: 1 });
  weighted.push({ arbitrary: fc.constant({ kind: 'dupPipe' as const }), weight: 1 });
  weighted.push({ arbitrary: fc.record({ kind: fc.constant('closeFile' as const), file: fc.nat(1) }), weight: 1 });
  steps.push(fc.oneof(...weighted));
  return fc.record({
    rings: uring ? fc.array(fc.constantFrom(4, 8, 32), { minLength: 1, maxLength: 2 }) : fc.constant([]),
    // an AIO context costs its program ~30 ms at teardown (io_destroy waits for an RCU grace period)
    ctxs: aio ? (uring ? fc.constantFrom(0, 0, 0, 1, 2) : fc.integer({ min: 1, max: 2 })) : fc.constant(0),
    files: fc.integer({ min: 1, max: 2 }),
    kinds: fc.array(ringKindArb(ops.ringKinds ?? ['plain']), { minLength: 2, maxLength: 2 }),
    // 1 in 20: a process-level program runs in a child executor, slower than the addon (bench/fuzz)
    threads: uring
      ? fc.integer({ min: 0, max: 19 }).map(
          (n) => n === 19,
          // the way back lets fast-check shrink a model it did not generate (a report another lane's program caused)
          (b) => {
            if (typeof b !== 'boolean') throw new Error('not a boolean');
            return b ? 19 : 0;
          },
        )
      : fc.constant(false),
    table: ops.fixed ? fc.option(fc.array(fc.boolean(), { minLength: FIXED_SLOTS, maxLength: FIXED_SLOTS }), { nil: undefined }) : fc.constant(undefined),
    bufTable: ops.fixedBufs ? fc.option(fc.array(fc.boolean(), { minLength: BUF_SLOTS, maxLength: BUF_SLOTS }), { nil: undefined }) : fc.constant(undefined),
    steps: fc.array(steps[0], { minLength: bounds.minSteps ?? 1, maxLength: bounds.maxSteps ?? 20 }),
  });
}

/** A one-line description of a model, for logs. */
export function describeModel(m: StreamModel): string {
  const parts = m.steps.map((s) => {
    switch (s.kind) {
      case 'threadSubmit':
      case 'submit':
      case 'forkSubmit':
        return `${s.kind === 'threadSubmit' && m.threads ? '2 threads submit' : s.kind === 'forkSubmit' && m.threads ? 'a forked child submits' : 'submit'} r${s.ring}[${s.reqs.map((r) => r.op + (r.select && r.op === 'READ' ? '/select' : '') + (r.alias ? '/alias' : '') + (r.link === 1 ? '>' : r.link === 2 ? '>>' : '')).join(' ')}]`;
      case 'aioSubmit':
        return `io_submit c${s.ctx}[${s.reqs.map((r) => r.op).join(' ')}]`;
      case 'reap':
        return `reap r${s.ring} ${s.want}`;
      case 'aioReap':
        return `io_getevents c${s.ctx} ${s.want}`;
      case 'aioCancel':
        return `io_cancel c${s.ctx} #${s.target}`;
      case 'pipeWrite':
        return 'pipe write';
      case 'files':
        return `files r${s.ring} ${s.action}${s.action === 'update' ? ` ${s.slot}${s.fill ? '' : ' empty'}` : ''}`;
      case 'dupPipe':
        return 'dup3 over the pipe';
      case 'msPoll':
        return 'multishot poll';
      case 'msCancel':
        return `${s.remove ? 'POLL_REMOVE' : 'cancel'} multishot #${s.target}`;
      case 'bufs':
        return `buffers r${s.ring} ${s.action}${s.action === 'update' ? ` ${s.slot}${s.fill ? '' : ' empty'}` : ''}`;
      case 'closeFile':
        return `close alias of f${s.file}`;
      case 'depart':
        return `a forked child with ${s.aio ? 'an AIO context' : 'a ring'} ${s.how}s with requests pending`;
    }
  });
  return `rings [${m.rings.map((n, i) => `${n}${m.kinds?.[i] ? ':' + RING_KINDS[m.kinds[i]] : ''}`).join(',')}], ${m.ctxs} ctx, ${m.files} file(s): ${parts.join('; ')}`;
}
