/**
 * Kernel bugs conformance tests are known to find, each measured and written up in docs/KERNEL-NOTES.md: a test
 * names one in its meta (`knownBug`), and its failures on the matching releases are reported as that bug and do
 * not fail the run (src/suite/conformance.ts). Release patterns cover what was measured, nothing wider.
 */
import type { KnownBug } from './conformance';

/**
 * An SQE failing in io_init_req throws 6.1's and 6.12's IOSQE_IO_DRAIN accounting off by one: a drained request
 * completes before earlier ones (measured on debian 6.1.0-56 and 6.12.117; the host's 6.18.44 passes).
 */
export const DRAIN_AFTER_INIT_FAILURE: KnownBug = {
  releases: /^6\.(1|12)\.\d/,
  what: 'an SQE failing in io_init_req breaks IOSQE_IO_DRAIN (docs/KERNEL-NOTES.md; fixed by 6.18)',
};

/** The same accounting on 6.12 steps past the drained request's turn: it never completes (6.1 completes it). */
export const DRAIN_AFTER_INIT_FAILURE_HANG: KnownBug = { ...DRAIN_AFTER_INIT_FAILURE, releases: /^6\.12\.\d/ };

/**
 * An io-wq worker's interrupted open(2) (a cancel finding it running, its task exiting) completes with the
 * kernel-internal -ERESTARTSYS (512), which include/linux/errno.h says user programs never see; 6.1 and 6.12 give
 * -EINTR (measured on the host's 6.18.44).
 */
export const ERESTARTSYS_LEAK: KnownBug = {
  releases: /^6\.18\.\d/,
  what: 'an interrupted io-wq request completes with the kernel-internal -ERESTARTSYS (docs/KERNEL-NOTES.md)',
};

/**
 * IORING_UNREGISTER_BUFFERS (or _FILES) on a SINGLE_ISSUER | DEFER_TASKRUN ring while a request using the table waits
 * for its link timeout: 6.1's quiesce sleeps without running the ring's deferred task work, so nothing completes and
 * the call returns -EINTR only when a signal comes (measured on debian 6.1.0-56; 6.12.117 and the host's 6.18.44
 * return 0). Mainline fixed it with 7d481e035633 "io_uring/rsrc: fix DEFER_TASKRUN rsrc quiesce" (2023).
 */
export const RSRC_QUIESCE_DEFER_TASKRUN: KnownBug = {
  releases: /^6\.1\.\d/,
  what: 'IORING_UNREGISTER_* on a DEFER_TASKRUN ring sleeps without running its task work (docs/KERNEL-NOTES.md)',
};

/**
 * IORING_OP_POLL_REMOVE issued by an io-wq worker (IOSQE_ASYNC, or a link after an FSYNC) on 6.1: the removed
 * POLL_ADD's -ECANCELED CQE is queued on the submit-side completion batch, which only a later submission flushes,
 * so it never comes by itself (measured on debian 6.1.0-56, plain and DEFER_TASKRUN rings; 6.12.117 and the host's
 * 6.18.44 post it at once). Mainline fixed it with 5e3afe580a9f "io_uring: fix poll_remove stalled req completion".
 */
export const POLL_REMOVE_IOWQ_STALL: KnownBug = {
  releases: /^6\.1\.\d/,
  what: 'a POLL_REMOVE run by io-wq leaves the removed poll unposted until the next submission (docs/KERNEL-NOTES.md)',
};

/**
 * IORING_REGISTER_SYNC_CANCEL of an IOSQE_ASYNC OPENAT blocked in an io-wq worker (a FIFO with no writer) now and
 * then never returns on 6.1: the worker is not interrupted and no CQE comes, so the call sleeps until a signal (1 in 4
 * runs in isolation, 1 of 3 CI runs, debian 6.1.0-56/-57, 2026-11-28; never on 6.12.117 or the host's 6.18.44 in many
 * runs; 0 of 32 on a quiet host later that day). Cause not established (docs/KERNEL-NOTES.md).
 */
export const SYNC_CANCEL_IOWQ_MISSED: KnownBug = {
  releases: /^6\.1\.\d/,
  what: 'SYNC_CANCEL of an io-wq request blocked in open(2) now and then never returns (docs/KERNEL-NOTES.md)',
};
