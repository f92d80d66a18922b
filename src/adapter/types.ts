/**
 * The interface-adapter contract: any asynchronous system-call interface (io_uring, legacy AIO,
 * LaHaise's thread-based AIO ops, a candidate kernel's "syscall by number", a userspace reference)
 * described by how it encodes "run system call N with arguments A–F", so that one set of checks
 * (src/adapter/checks.ts) judges them all the same way (SEMANTICS §4.1, §2.5).
 */
import type { ArgLike, Sequence } from '../program/builder';
import type { TraceView } from '../program/trace';
import type { Capabilities } from '../target/caps';

/** "Run system call `nr` with these arguments" (at most six, as the syscall ABI has). */
export interface SyscallRequest {
  readonly nr: number;
  readonly args: readonly ArgLike[];
}

/** A completion, with its result translated into what the synchronous call would have returned. */
export interface Completion {
  readonly userData: bigint;
  readonly res: number;
  /**
   * In a session opened with `hold`: the interface shows the request completed only after the release
   * (io_uring: its CQE follows the hold's), so it was really queued across what happened before it.
   */
  readonly held?: boolean;
}

/** Reads a number (a result, an errno as -errno) out of a trace. */
export type Reader = (v: TraceView) => number;

/** What a cancel attempt's own result says happened to its target. */
export type CancelOutcome = 'cancelled' | 'not-found' | 'already-running' | 'error';

/**
 * One use of an interface inside a program: requests submitted, perhaps held back or cancelled,
 * then all completions reaped at once.
 */
export interface AsyncSession {
  /**
   * The sequence the submitter's own steps go in (between submit and release: credential changes,
   * writes that wake a request). For kernel interfaces the sequence the session was opened on.
   */
  readonly seq: Sequence;
  /**
   * Submit a request tagged `userData`. The reader gives the submission's synchronous outcome:
   * 0 when the interface took the request, -errno when it refused it then and there.
   * Throws when the adapter cannot express the request at all (see {@link AsyncAdapter.expresses}).
   */
  submit(req: SyscallRequest, userData: bigint): Reader;
  /** Ask the interface to cancel the request tagged `userData`; the reader gives the cancel's own result. */
  cancel(userData: bigint): Reader;
  /** Held requests may start from here on (a session opened without `hold` ignores it). */
  release(): void;
  /**
   * Wait for at least `min` completions (each wait has a deadline) and return the reader of every
   * completion the session's requests produced, cancel requests' own included, in order.
   */
  finish(min: number): (v: TraceView) => Completion[];
}

/** Options of a session. */
export interface SessionOptions {
  /**
   * Requests submitted before {@link AsyncSession.release} must not start before it: the check of
   * credentials at submission needs a request that is queued, not running.
   */
  hold?: boolean;
}

/** An asynchronous system-call interface as the checks see it. */
export interface AsyncAdapter {
  /** Short name for test titles: `uring`, `aio`, `aio-thread`, `generic`, `reference`. */
  readonly name: string;
  /** Where its encoding is specified (SEMANTICS section, man page, patch). */
  readonly rule: string;
  /** Ops for conformance metadata (probe gating of the interface itself), e.g. `['uring.setup']`. */
  readonly ops: readonly string[];
  /**
   * `cancel`: it can cancel a submitted request. `hold`: it can keep requests queued until release.
   * `byNumber`: it encodes any system call number (a generic interface), so only the kernel can refuse
   * a must-reject one; otherwise its fixed table must not express any (SEMANTICS §4.1).
   */
  readonly traits: { readonly cancel: boolean; readonly hold: boolean; readonly byNumber: boolean };
  /** The system calls it maps to its own encoding, by number (the twin check runs each). */
  mapped(): readonly number[];
  /** Can it express this system call at all? (io_uring: is there an opcode for it.) */
  expresses(nr: number): boolean;
  /** Why this kernel cannot run the mapped system call `nr` through it (by the probe), or undefined. */
  unsupported(nr: number, caps: Capabilities): string | undefined;
  /** Open a session on `s`. */
  session(s: Sequence, opts?: SessionOptions): AsyncSession;
  /** What the result of a cancel says about its target (the interface's own cancel semantics). */
  cancelOutcome(r: number): CancelOutcome;
  /** Results a cancelled request may complete with (io_uring: -ECANCELED or -EINTR). */
  readonly cancelledResults: readonly number[];
}

/** The user_data of the request {@link runOnce} submits. */
export const RUN_USER_DATA = 0x0a5c_0001n;

/**
 * Submit one request, wait for it and read its result: the submission's refusal (-errno), or the
 * completion's result. The async side of a differential (src/oracle/differential.ts).
 */
export function runOnce(adapter: AsyncAdapter, s: Sequence, req: SyscallRequest): Reader {
  const sess = adapter.session(s);
  const sub = sess.submit(req, RUN_USER_DATA);
  sess.release();
  const done = sess.finish(1);
  return (v) => {
    const r = sub(v);
    if (r < 0) return r;
    const mine = done(v).filter((c) => c.userData === RUN_USER_DATA);
    if (mine.length !== 1)
      throw new Error(`${adapter.name}: the request completed ${mine.length} times, not once (SEMANTICS §3.13, §1.8)`);
    return mine[0].res;
  };
}
