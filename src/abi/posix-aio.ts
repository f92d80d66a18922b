/**
 * glibc POSIX AIO as data (x86-64, glibc 2.36's `<aio.h>` and `<signal.h>`): the `aiocb` and
 * `sigevent` layouts, `lio_listio` opcodes and modes, `aio_cancel` results, notification kinds and
 * the `aio_fsync` operations. User-space ABI, not the kernel's: these are glibc's structures.
 */
import { FCNTL_H } from './headers';
import { layout } from './layout';
import { O } from './linux-fs';
import { enumeration } from './table';

/** glibc's `<aio.h>`. */
export const AIO_H = '<aio.h>';
/** glibc's `<signal.h>` (`struct sigevent`, `SIGEV_*`). */
export const SIGNAL_H = '<signal.h>';

/** `struct sigevent`, 64 bytes; the SIGEV_THREAD members live in a union (`_sigev_un._sigev_thread`). */
export const SIGEVENT_LAYOUT = layout(
  { id: 'sigevent', cType: 'struct sigevent', header: SIGNAL_H, size: 64 },
  {
    sigev_value: [0, 8, { note: 'union sigval: sival_int or sival_ptr' }],
    sigev_signo: [8, 4, { signed: true }],
    sigev_notify: [12, 4, { signed: true, note: 'SIGEV_*' }],
    sigev_notify_function: [16, 8, { note: 'SIGEV_THREAD: void (*)(union sigval)' }],
    sigev_notify_attributes: [24, 8, { note: 'SIGEV_THREAD: pthread_attr_t *' }],
  },
);

/** glibc's `struct aiocb` (x86-64, 64-bit `off_t`), 168 bytes; glibc keeps its own state in the `__` members. */
export const AIOCB_LAYOUT = layout(
  { id: 'aiocb', cType: 'struct aiocb', header: AIO_H, size: 168 },
  {
    aio_fildes: [0, 4, { signed: true }],
    aio_lio_opcode: [4, 4, { signed: true, note: 'LIO_*; used by lio_listio only' }],
    aio_reqprio: [8, 4, { signed: true }],
    aio_buf: [16, 8, { note: 'volatile void *' }],
    aio_nbytes: [24, 8],
    aio_sigevent: [32, 64, { aggregate: true }],
    'aio_sigevent.sigev_value': [32, 8],
    'aio_sigevent.sigev_signo': [40, 4, { signed: true }],
    'aio_sigevent.sigev_notify': [44, 4, { signed: true }],
    __error_code: [112, 4, { signed: true, note: 'glibc: what aio_error returns' }],
    __return_value: [120, 8, { signed: true, note: 'glibc: what aio_return returns' }],
    aio_offset: [128, 8, { signed: true }],
  },
);

/** `aio_lio_opcode` values for `lio_listio`. */
export const LIO_OP = enumeration('LIO_', AIO_H, { READ: 0, WRITE: 1, NOP: 2 }, 'LIO_OP');
/** `lio_listio` modes. */
export const LIO_MODE = enumeration('LIO_', AIO_H, { WAIT: 0, NOWAIT: 1 }, 'LIO_MODE');
/** `aio_cancel` results. */
export const AIO_CANCEL = enumeration('AIO_', AIO_H, { CANCELED: 0, NOTCANCELED: 1, ALLDONE: 2 }, 'AIO_CANCEL');
/** `sigev_notify` kinds (SIGEV_THREAD_ID is Linux's own, for timers; glibc's AIO does not take it). */
export const SIGEV = enumeration('SIGEV_', SIGNAL_H, { SIGNAL: 0, NONE: 1, THREAD: 2, THREAD_ID: 4 });

/** `aio_fsync`'s `op`: glibc's `O_SYNC` and `O_DSYNC` from `<fcntl.h>`, the kernel's values. */
export const AIO_FSYNC_OP = Object.freeze({ SYNC: O.SYNC, DSYNC: O.DSYNC, header: FCNTL_H });

/**
 * The real-time signal POSIX AIO tests use for SIGEV_SIGNAL: glibc's `SIGRTMIN + 1` (glibc's SIGRTMIN is
 * 34; 32 and 33 are its own). Never the executor's deadline signal, `SIGRTMIN + 6`.
 */
export const POSIX_AIO_SIGNAL = 35;
