/**
 * Constants of the kasync wire format (native/WIRE.md is the specification; keep the two in step).
 * Programs go from TypeScript to the native executor; traces come back.
 */

/** "KASP", the program magic. */
export const PROGRAM_MAGIC = 0x5053414b;
/** "KAST", the trace magic. */
export const TRACE_MAGIC = 0x5453414b;
/** The one wire version this code speaks. */
export const WIRE_VERSION = 1;
/** Program header size in bytes. */
export const PROGRAM_HEADER = 32;
/** Trace header size in bytes. */
export const TRACE_HEADER = 32;
/** Record header size in bytes. */
export const RECORD_HEADER = 16;
/** Step header size in bytes. */
export const STEP_HEADER = 8;

/** Executor limits (native/WIRE.md). */
export const LIMITS = {
  seqs: 64,
  bufs: 256,
  fds: 256,
  ctxs: 64,
  rings: 16,
  pids: 64,
  threads: 32,
  bufBytes: 256 << 20,
  dumpBytes: 1 << 20,
  kcovWords: 1 << 22,
  deadlineMs: 3_600_000,
} as const;

/** Step operation codes. */
export const Op = {
  SYSCALL: 1,
  PATCH: 2,
  BYTES: 3,
  FILL: 4,
  DIGEST: 5,
  DUMP: 6,
  VERIFY: 7,
  SETSLOT: 8,
  URING_SETUP: 9,
  URING_QUEUE: 10,
  URING_REAP: 11,
  URING_STATE: 12,
  URING_CLOSE: 13,
  FORK: 14,
  WAIT: 15,
  THREADS: 16,
  SLEEP: 17,
  EXIT: 18,
  LIBC: 19,
  SIGCOUNT: 20,
  KCOV: 21,
} as const;
export type OpCode = (typeof Op)[keyof typeof Op];

/** URING_REAP's `min` with this bit counts every CQE reaped from the ring since its setup (native/WIRE.md). */
export const REAP_MIN_TOTAL = 0x80000000;

/** Step flags. */
export const StepFlag = { STOP_ON_ERROR: 1 } as const;

/** Argument kinds. */
export const ArgKind = {
  IMM: 0,
  BUF: 1,
  FD: 2,
  CTX: 3,
  RING: 4,
  PID: 5,
  BAD: 6,
  LOAD32: 7,
  LOAD64: 8,
  RES: 9,
  RINGMEM: 10,
  NOTIFY: 11,
} as const;

/** Functions a LIBC step calls (native/WIRE.md, LIBC functions): the wire value and how many args each takes. */
export const LibcFn = {
  aio_read: 0,
  aio_write: 1,
  aio_fsync: 2,
  aio_error: 3,
  aio_return: 4,
  aio_cancel: 5,
  aio_suspend: 6,
  lio_listio: 7,
  /** The executor's wait for a notification counter: `(counter, want, waitms)`. */
  count_wait: 8,
} as const;
/** Name of a LIBC function. */
export type LibcFnName = keyof typeof LibcFn;
/** Arguments each LIBC function takes. */
export const LIBC_ARITY: { readonly [K in LibcFnName]: number } = {
  aio_read: 1,
  aio_write: 1,
  aio_fsync: 2,
  aio_error: 1,
  aio_return: 1,
  aio_cancel: 2,
  aio_suspend: 3,
  lio_listio: 4,
  count_wait: 3,
};

/** Tagged programs kasync-exec keeps in flight at once (native/main.c MAX_LANES, WIRE.md "Lanes"). */
export const MAX_LANES = 32;

/** What SYSCALL does with its result. */
export const Post = { NONE: 0, FD: 1, PID: 2, AIO_EVENTS: 3, CTX: 4, STORE: 5, AIO_WAIT: 6, AIO_WAIT_TOTAL: 7 } as const;

/** FILL kinds. */
export const FillKind = { ZERO: 0, PATTERN: 1, BYTE: 2 } as const;

/** SETSLOT kinds. */
export const SlotKind = { FD: 1, CTX: 2, PID: 3 } as const;

/** Trace status. */
export const TraceStatus = { OK: 0, ERROR: 1, DEADLINE: 2, RUNNER_DIED: 3 } as const;

/** Trace record types. */
export const Rec = {
  STEP: 1,
  AIO_EVENT: 2,
  CQE: 3,
  DIGEST: 4,
  DUMP: 5,
  VERIFY: 6,
  RING_STATE: 7,
  ERROR: 8,
  KCOV: 9,
} as const;

/** STEP record flags. */
export const StepResultFlag = { DEADLINE: 1, REFUSED: 2 } as const;

/**
 * The executor's deadline signal (native/exec.c KX_SIG = glibc SIGRTMIN + 6 = 40): it has a no-op
 * handler installed without SA_RESTART, so a test may send it to interrupt a blocking call (EINTR).
 */
export const DEADLINE_SIGNAL = 40;
