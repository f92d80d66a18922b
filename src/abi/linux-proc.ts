/**
 * Process constants on x86-64: signal numbers, `waitid` id types and options, futex operations.
 */
import { ASM_SIGNAL_H, LINUX_FUTEX_H, LINUX_RESOURCE_H, LINUX_TIME_H, LINUX_WAIT_H } from './headers';
import { constants, enumeration } from './table';

/** Signal numbers (`SIG*`), the kernel's view: `SIGRTMIN` is 32 here, glibc's `SIGRTMIN` is 34. */
export const SIG = enumeration(
  'SIG',
  ASM_SIGNAL_H,
  {
    HUP: 1,
    INT: 2,
    QUIT: 3,
    ILL: 4,
    TRAP: 5,
    ABRT: 6,
    BUS: 7,
    FPE: 8,
    KILL: 9,
    USR1: 10,
    SEGV: 11,
    USR2: 12,
    PIPE: 13,
    ALRM: 14,
    TERM: 15,
    STKFLT: 16,
    CHLD: 17,
    CONT: 18,
    STOP: 19,
    TSTP: 20,
    TTIN: 21,
    TTOU: 22,
    URG: 23,
    XCPU: 24,
    XFSZ: 25,
    VTALRM: 26,
    PROF: 27,
    WINCH: 28,
    IO: 29,
    PWR: 30,
    SYS: 31,
    RTMIN: 32,
  },
  'SIGNAL',
);

/** `rt_sigprocmask` `how` (`SIG_BLOCK` …). */
export const SIG_HOW = enumeration('SIG_', ASM_SIGNAL_H, { BLOCK: 0, UNBLOCK: 1, SETMASK: 2 }, 'SIG_HOW');

/** Kernel signal-set facts for `rt_sig*`, `io_pgetevents` and `IORING_ENTER_EXT_ARG` (`sigmask_sz`). */
export const KERNEL_SIGSET = constants(
  'KERNEL_SIGSET_',
  ASM_SIGNAL_H,
  {
    NSIG: [64, null, { internal: true, note: '_NSIG inside the kernel; the UAPI header shows libc-era NSIG 32' }],
    SIZE: [8, null, { internal: true, note: 'sizeof(kernel sigset_t); any other sigsetsize is -EINVAL' }],
  },
  'KERNEL_SIGSET',
);

/** `waitid` id types (`P_*`). */
export const P = enumeration('P_', LINUX_WAIT_H, {
  ALL: 0,
  PID: 1,
  PGID: 2,
  PIDFD: [3, '5.4'],
});

/** `waitid`/`wait4` options (`W*`, `__W*`). */
export const WAIT = constants(
  'W',
  LINUX_WAIT_H,
  {
    NOHANG: 0x1,
    UNTRACED: 0x2,
    STOPPED: [0x2, null, { note: 'waitid spelling of WUNTRACED' }],
    EXITED: 0x4,
    CONTINUED: 0x8,
    NOWAIT: 0x01000000,
    NOTHREAD: [0x20000000, null, { cName: '__WNOTHREAD' }],
    ALL: [0x40000000, null, { cName: '__WALL' }],
    CLONE: [0x80000000, null, { cName: '__WCLONE' }],
  },
  'WAIT',
);

/** `futex` operations (`FUTEX_*`, low bits of `futex_op`). */
export const FUTEX_OP = enumeration(
  'FUTEX_',
  LINUX_FUTEX_H,
  {
    WAIT: 0,
    WAKE: 1,
    FD: 2,
    REQUEUE: 3,
    CMP_REQUEUE: 4,
    WAKE_OP: 5,
    LOCK_PI: 6,
    UNLOCK_PI: 7,
    TRYLOCK_PI: 8,
    WAIT_BITSET: 9,
    WAKE_BITSET: 10,
    WAIT_REQUEUE_PI: 11,
    CMP_REQUEUE_PI: 12,
    LOCK_PI2: [13, '5.14'],
  },
  'FUTEX_OP',
);

/** `futex` flags and limits. */
export const FUTEX = constants('FUTEX_', LINUX_FUTEX_H, {
  PRIVATE_FLAG: 128,
  CLOCK_REALTIME: 256,
  BITSET_MATCH_ANY: 0xffffffff,
  WAITV_MAX: [128, '5.16'],
  /** `futex_waitv.flags` size for a 32-bit futex (later spelled `FUTEX2_SIZE_U32`). */
  F32: [2, '5.16', { cName: 'FUTEX_32' }],
});

/** futex2 flags (`FUTEX2_*`), for `futex_waitv` and io_uring `futex_flags`. */
export const FUTEX2 = constants('FUTEX2_', LINUX_FUTEX_H, {
  SIZE_U8: [0x00, '6.7'],
  SIZE_U16: [0x01, '6.7'],
  SIZE_U32: [0x02, '6.7'],
  SIZE_U64: [0x03, '6.7'],
  NUMA: [0x04, '6.7'],
  MPOL: [0x08, '6.16', { unverified: true }],
  PRIVATE: [128, '6.7'],
  SIZE_MASK: [0x03, '6.7'],
});

/** Clock ids (`CLOCK_*`), for clock_gettime and io_uring's IORING_REGISTER_CLOCK. */
export const CLOCK = enumeration('CLOCK_', LINUX_TIME_H, {
  REALTIME: 0,
  MONOTONIC: 1,
  BOOTTIME: 7,
});

/** `prlimit64` resources tests lower (`RLIMIT_*`); `struct rlimit` is two u64s, cur then max. */
export const RLIMIT = enumeration('RLIMIT_', LINUX_RESOURCE_H, { NOFILE: 7, MEMLOCK: 8 }, 'RLIMIT');
