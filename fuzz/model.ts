/**
 * The stream model: an interleaved request stream as plain data (JSON in, JSON out) and its
 * fast-check arbitraries. Every field is a small number so that shrinking is cheap and cancels hit
 * something; `build.ts` resolves the numbers (modulo what exists) into a valid program, so every
 * value the shrinker makes is still a program worth running.
 */
import fc from 'fast-check';
import { Capabilities, aioSupports, uringSupports } from '../src/target/caps';

/** io_uring operations the stream uses (names of src/abi URING_OP). */
export const URING_OPS = ['NOP', 'READ', 'WRITE', 'FSYNC', 'POLL_ADD', 'ASYNC_CANCEL', 'TIMEOUT', 'LINK_TIMEOUT'] as const;
/** One of {@link URING_OPS}. */
export type UringOpKind = (typeof URING_OPS)[number];

/** Legacy AIO operations the stream uses (names of src/abi AIO_OP). */
export const AIO_OPS = ['PREAD', 'PWRITE', 'FSYNC', 'POLL'] as const;
/** One of {@link AIO_OPS}. */
export type AioOpKind = (typeof AIO_OPS)[number];

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
}

/** One iocb. */
export interface AioReqModel {
  op: AioOpKind;
  file: number;
  at: number;
  words: number;
}

/** One step of the stream. */
export type StreamStep =
  | { kind: 'submit'; ring: number; reqs: UringReqModel[] }
  | { kind: 'reap'; ring: number; want: number; waitMs: number }
  | { kind: 'aioSubmit'; ctx: number; reqs: AioReqModel[] }
  | { kind: 'aioReap'; ctx: number; want: number; waitMs: number }
  | { kind: 'aioCancel'; ctx: number; target: number }
  | { kind: 'pipeWrite' };

/** A whole stream: the handles it opens and its steps. */
export interface StreamModel {
  /** SQ sizes of the rings (CQ is twice that: small rings overflow). */
  rings: number[];
  /** Number of AIO contexts. */
  ctxs: number;
  /** Number of scratch files. */
  files: number;
  steps: StreamStep[];
}

/** What the arbitraries may use on a kernel: the probe decides. */
export interface StreamOps {
  uring: UringOpKind[];
  aio: AioOpKind[];
}

/** The operations of {@link URING_OPS} and {@link AIO_OPS} this kernel supports (SEMANTICS §3.6 probe). */
export function supportedOps(caps: Capabilities): StreamOps {
  return {
    uring: URING_OPS.filter((o) => uringSupports(caps, o)),
    aio: AIO_OPS.filter((o) => aioSupports(caps, o)),
  };
}

/** Arbitrary of one SQE. */
export function uringReqArb(ops: readonly UringOpKind[]): fc.Arbitrary<UringReqModel> {
  return fc.record({
    op: fc.constantFrom(...ops),
    link: fc.constantFrom<0 | 1 | 2>(0, 0, 1, 2),
    drain: fc.constantFrom(false, false, false, true),
    file: fc.nat(1),
    at: fc.nat(FILE_WORDS - 1),
    words: fc.integer({ min: 1, max: 64 }),
    target: fc.nat(6),
    count: fc.nat(3),
    ms: fc.nat(TIMER_MS.length - 1),
  });
}

/** Arbitrary of one iocb. */
export function aioReqArb(ops: readonly AioOpKind[]): fc.Arbitrary<AioReqModel> {
  return fc.record({
    op: fc.constantFrom(...ops),
    file: fc.nat(1),
    at: fc.nat(FILE_WORDS - 1),
    words: fc.integer({ min: 1, max: 64 }),
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
    const req = uringReqArb(ops.uring);
    weighted.push({ arbitrary: fc.record({ kind: fc.constant('submit' as const), ring: fc.nat(1), reqs: fc.array(req, { minLength: 1, maxLength: 6 }) }), weight: 6 });
    weighted.push({ arbitrary: fc.record({ kind: fc.constant('reap' as const), ring: fc.nat(1), want: fc.integer({ min: 1, max: 8 }), waitMs: fc.constantFrom(0, 1, 50) }), weight: 3 });
  }
  if (aio) {
    const req = aioReqArb(ops.aio);
    weighted.push({ arbitrary: fc.record({ kind: fc.constant('aioSubmit' as const), ctx: fc.nat(1), reqs: fc.array(req, { minLength: 1, maxLength: 6 }) }), weight: 3 });
    weighted.push({ arbitrary: fc.record({ kind: fc.constant('aioReap' as const), ctx: fc.nat(1), want: fc.integer({ min: 1, max: 8 }), waitMs: fc.constantFrom(0, 1, 50) }), weight: 2 });
    weighted.push({ arbitrary: fc.record({ kind: fc.constant('aioCancel' as const), ctx: fc.nat(1), target: fc.nat(6) }), weight: 1 });
  }
  weighted.push({ arbitrary: fc.constant({ kind: 'pipeWrite' as const }), weight: 1 });
  steps.push(fc.oneof(...weighted));
  return fc.record({
    rings: uring ? fc.array(fc.constantFrom(4, 8, 32), { minLength: 1, maxLength: 2 }) : fc.constant([]),
    // an AIO context costs its program ~30 ms at teardown (io_destroy waits for an RCU grace period)
    ctxs: aio ? (uring ? fc.constantFrom(0, 0, 0, 1, 2) : fc.integer({ min: 1, max: 2 })) : fc.constant(0),
    files: fc.integer({ min: 1, max: 2 }),
    steps: fc.array(steps[0], { minLength: bounds.minSteps ?? 1, maxLength: bounds.maxSteps ?? 20 }),
  });
}

/** A one-line description of a model, for logs. */
export function describeModel(m: StreamModel): string {
  const parts = m.steps.map((s) => {
    switch (s.kind) {
      case 'submit':
        return `submit r${s.ring}[${s.reqs.map((r) => r.op + (r.link === 1 ? '>' : r.link === 2 ? '>>' : '')).join(' ')}]`;
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
    }
  });
  return `rings [${m.rings.join(',')}], ${m.ctxs} ctx, ${m.files} file(s): ${parts.join('; ')}`;
}
