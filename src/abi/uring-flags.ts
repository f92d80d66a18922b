/**
 * io_uring flag bits, register opcodes and constants (SEMANTICS §3.3–3.10), each with its first
 * mainline release. Values from `<linux/io_uring.h>` (liburing HEAD copy); versions from the liburing
 * man pages and the kernel history; `unverified` where neither pins the release.
 */
import { IO_URING_H } from './headers';
import { bits, constants, enumeration } from './table';

const U = { unverified: true } as const;
/** Bit 31 as a positive number (`1 << 31` is negative in JavaScript). */
const BIT31 = 2 ** 31;

/** `sqe->flags` (`IOSQE_*`). Bit 7 is undefined and rejected with `-EINVAL` (SEMANTICS §3.4). */
export const IOSQE = bits('IOSQE_', IO_URING_H, {
  FIXED_FILE: [1 << 0, '5.1'],
  IO_DRAIN: [1 << 1, '5.2'],
  IO_LINK: [1 << 2, '5.3'],
  IO_HARDLINK: [1 << 3, '5.5'],
  ASYNC: [1 << 4, '5.6'],
  BUFFER_SELECT: [1 << 5, '5.7'],
  CQE_SKIP_SUCCESS: [1 << 6, '5.17'],
});

/** `io_uring_params.flags` for `io_uring_setup` (`IORING_SETUP_*`, bits 0..20). */
export const SETUP = bits('IORING_SETUP_', IO_URING_H, {
  IOPOLL: [1 << 0, '5.1'],
  SQPOLL: [1 << 1, '5.1'],
  SQ_AFF: [1 << 2, '5.1'],
  CQSIZE: [1 << 3, '5.5'],
  CLAMP: [1 << 4, '5.6'],
  ATTACH_WQ: [1 << 5, '5.6'],
  R_DISABLED: [1 << 6, '5.10'],
  SUBMIT_ALL: [1 << 7, '5.18'],
  COOP_TASKRUN: [1 << 8, '5.19'],
  TASKRUN_FLAG: [1 << 9, '5.19'],
  SQE128: [1 << 10, '5.19'],
  CQE32: [1 << 11, '5.19'],
  SINGLE_ISSUER: [1 << 12, '6.0'],
  DEFER_TASKRUN: [1 << 13, '6.1'],
  NO_MMAP: [1 << 14, '6.5'],
  REGISTERED_FD_ONLY: [1 << 15, '6.5'],
  NO_SQARRAY: [1 << 16, '6.6'],
  HYBRID_IOPOLL: [1 << 17, '6.13', { note: 'commit 01ee194d1aba, v6.13-rc1' }],
  CQE_MIXED: [1 << 18, '6.18'],
  SQE_MIXED: [1 << 19, '6.19', U],
  SQ_REWIND: [1 << 20, '7.0', U],
});

/** `io_uring_enter` flags (`IORING_ENTER_*`); unknown bits are `-EINVAL`. */
export const ENTER = bits('IORING_ENTER_', IO_URING_H, {
  GETEVENTS: [1 << 0, '5.1'],
  SQ_WAKEUP: [1 << 1, '5.1'],
  SQ_WAIT: [1 << 2, '5.10'],
  EXT_ARG: [1 << 3, '5.11'],
  REGISTERED_RING: [1 << 4, '5.18'],
  ABS_TIMER: [1 << 5, '6.12'],
  EXT_ARG_REG: [1 << 6, '6.13'],
  NO_IOWAIT: [1 << 7, '6.15'],
});

/** `io_uring_params.features` (`IORING_FEAT_*`), filled in by the kernel. */
export const FEAT = bits('IORING_FEAT_', IO_URING_H, {
  SINGLE_MMAP: [1 << 0, '5.4'],
  NODROP: [1 << 1, '5.5'],
  SUBMIT_STABLE: [1 << 2, '5.5'],
  RW_CUR_POS: [1 << 3, '5.6'],
  CUR_PERSONALITY: [1 << 4, '5.6'],
  FAST_POLL: [1 << 5, '5.7'],
  POLL_32BITS: [1 << 6, '5.9'],
  SQPOLL_NONFIXED: [1 << 7, '5.11'],
  EXT_ARG: [1 << 8, '5.11'],
  NATIVE_WORKERS: [1 << 9, '5.12'],
  RSRC_TAGS: [1 << 10, '5.13'],
  CQE_SKIP: [1 << 11, '5.17'],
  LINKED_FILE: [1 << 12, '5.17'],
  REG_REG_RING: [1 << 13, '6.3'],
  RECVSEND_BUNDLE: [1 << 14, '6.10'],
  MIN_TIMEOUT: [1 << 15, '6.12'],
  RW_ATTR: [1 << 16, '6.15', U],
  NO_IOWAIT: [1 << 17, '6.15'],
});

const UNREG = (name: string) => ({ cName: `IORING_UNREGISTER_${name}` });

/** `io_uring_register` opcodes (`IORING_REGISTER_*` and `IORING_UNREGISTER_*`), 0..37. */
export const REGISTER = enumeration('IORING_REGISTER_', IO_URING_H, {
  BUFFERS: [0, '5.1'],
  UNREGISTER_BUFFERS: [1, '5.1', UNREG('BUFFERS')],
  FILES: [2, '5.1'],
  UNREGISTER_FILES: [3, '5.1', UNREG('FILES')],
  EVENTFD: [4, '5.2'],
  UNREGISTER_EVENTFD: [5, '5.2', UNREG('EVENTFD')],
  FILES_UPDATE: [6, '5.5'],
  EVENTFD_ASYNC: [7, '5.6'],
  PROBE: [8, '5.6'],
  PERSONALITY: [9, '5.6'],
  UNREGISTER_PERSONALITY: [10, '5.6', UNREG('PERSONALITY')],
  RESTRICTIONS: [11, '5.10'],
  ENABLE_RINGS: [12, '5.10'],
  FILES2: [13, '5.13'],
  FILES_UPDATE2: [14, '5.13'],
  BUFFERS2: [15, '5.13'],
  BUFFERS_UPDATE: [16, '5.13'],
  IOWQ_AFF: [17, '5.14'],
  UNREGISTER_IOWQ_AFF: [18, '5.14', UNREG('IOWQ_AFF')],
  IOWQ_MAX_WORKERS: [19, '5.15'],
  RING_FDS: [20, '5.18'],
  UNREGISTER_RING_FDS: [21, '5.18', UNREG('RING_FDS')],
  PBUF_RING: [22, '5.19'],
  UNREGISTER_PBUF_RING: [23, '5.19', UNREG('PBUF_RING')],
  SYNC_CANCEL: [24, '6.0'],
  FILE_ALLOC_RANGE: [25, '6.0'],
  PBUF_STATUS: [26, '6.8'],
  NAPI: [27, '6.9'],
  UNREGISTER_NAPI: [28, '6.9', UNREG('NAPI')],
  CLOCK: [29, '6.12'],
  CLONE_BUFFERS: [30, '6.12'],
  SEND_MSG_RING: [31, '6.13'],
  ZCRX_IFQ: [32, '6.15'],
  RESIZE_RINGS: [33, '6.13'],
  MEM_REGION: [34, '6.13'],
  // io_uring_register.2 says 6.15 for QUERY and ZCRX_CTRL; liburing gained them in 2025-09 and 2026-03.
  QUERY: [35, '6.18', U],
  ZCRX_CTRL: [36, '6.19', U],
  BPF_FILTER: [37, '7.0', U],
});

/** Flags ORed into an `io_uring_register` opcode. */
export const REGISTER_FLAG = bits('IORING_REGISTER_', IO_URING_H, {
  /** `fd` is an index into the registered ring fds. */
  USE_REGISTERED_RING: [BIT31, '6.3'],
}, 'IORING_REGISTER_FLAG');

/** `io_uring_clone_buffers.flags` for `IORING_REGISTER_CLONE_BUFFERS`. */
export const CLONE_BUFFERS = bits(
  'IORING_REGISTER_',
  IO_URING_H,
  { SRC_REGISTERED: [1 << 0, '6.12'], DST_REPLACE: [1 << 1, '6.13', U] },
  'IORING_REGISTER_CLONE',
);

/** `io_uring_restriction.opcode` (SEMANTICS §3.7). */
export const RESTRICTION = enumeration('IORING_RESTRICTION_', IO_URING_H, {
  REGISTER_OP: [0, '5.10'],
  SQE_OP: [1, '5.10'],
  SQE_FLAGS_ALLOWED: [2, '5.10'],
  SQE_FLAGS_REQUIRED: [3, '5.10'],
});

/** `cqe->flags` (`IORING_CQE_F_*`); the buffer id sits above {@link URING_CONST}`.CQE_BUFFER_SHIFT`. */
export const CQE_F = bits('IORING_CQE_F_', IO_URING_H, {
  BUFFER: [1 << 0, '5.7'],
  MORE: [1 << 1, '5.13'],
  SOCK_NONEMPTY: [1 << 2, '5.19'],
  NOTIF: [1 << 3, '6.0'],
  BUF_MORE: [1 << 4, '6.12'],
  SKIP: [1 << 5, '6.18'],
  F_32: [1 << 15, '6.18', { cName: 'IORING_CQE_F_32' }],
});

/** `sqe->cancel_flags` for `ASYNC_CANCEL` and `IORING_REGISTER_SYNC_CANCEL` (SEMANTICS §3.9). */
export const ASYNC_CANCEL = bits('IORING_ASYNC_CANCEL_', IO_URING_H, {
  ALL: [1 << 0, '5.19'],
  FD: [1 << 1, '5.19'],
  ANY: [1 << 2, '5.19'],
  FD_FIXED: [1 << 3, '6.0'],
  USERDATA: [1 << 4, '6.6'],
  OP: [1 << 5, '6.6'],
});

/** `sqe->timeout_flags` for `TIMEOUT`, `TIMEOUT_REMOVE` and `LINK_TIMEOUT` (SEMANTICS §3.10). */
export const TIMEOUT = bits('IORING_TIMEOUT_', IO_URING_H, {
  ABS: [1 << 0, '5.4'],
  UPDATE: [1 << 1, '5.11'],
  BOOTTIME: [1 << 2, '5.15'],
  REALTIME: [1 << 3, '5.15'],
  LINK_TIMEOUT_UPDATE: [1 << 4, '5.15', { cName: 'IORING_LINK_TIMEOUT_UPDATE' }],
  ETIME_SUCCESS: [1 << 5, '5.16'],
  MULTISHOT: [1 << 6, '6.4'],
  IMMEDIATE_ARG: [1 << 7, '7.1', { unverified: true, note: 'SEMANTICS §3.10 quotes the man page' }],
  CLOCK_MASK: [(1 << 2) | (1 << 3), '5.15', { mask: true }],
  UPDATE_MASK: [(1 << 1) | (1 << 4), '5.15', { mask: true }],
});

/** `sqe->fsync_flags`. */
export const FSYNC = bits('IORING_FSYNC_', IO_URING_H, {
  DATASYNC: [1 << 0, '5.1'],
});

/** `POLL_ADD`/`POLL_REMOVE` command flags, carried in `sqe->len`. */
export const POLL = bits('IORING_POLL_', IO_URING_H, {
  ADD_MULTI: [1 << 0, '5.13'],
  UPDATE_EVENTS: [1 << 1, '5.13'],
  UPDATE_USER_DATA: [1 << 2, '5.13'],
  ADD_LEVEL: [1 << 3, '6.0', U],
});

/** send/recv flags carried in `sqe->ioprio` (`IORING_RECVSEND_*` and relatives). */
export const RECVSEND = bits('IORING_RECVSEND_', IO_URING_H, {
  POLL_FIRST: [1 << 0, '5.19'],
  RECV_MULTISHOT: [1 << 1, '6.0', { cName: 'IORING_RECV_MULTISHOT' }],
  FIXED_BUF: [1 << 2, '6.0'],
  SEND_ZC_REPORT_USAGE: [1 << 3, '6.1', { cName: 'IORING_SEND_ZC_REPORT_USAGE' }],
  BUNDLE: [1 << 4, '6.10'],
  SEND_VECTORIZED: [1 << 5, '6.17', { cName: 'IORING_SEND_VECTORIZED', unverified: true }],
});

/** accept flags carried in `sqe->ioprio`. */
export const ACCEPT = bits('IORING_ACCEPT_', IO_URING_H, {
  MULTISHOT: [1 << 0, '5.19'],
  DONTWAIT: [1 << 1, '6.10'],
  POLL_FIRST: [1 << 2, '6.10'],
});

/** `MSG_RING` commands, carried in `sqe->addr`. */
export const MSG_RING_CMD = enumeration('IORING_MSG_', IO_URING_H, {
  DATA: [0, '5.18'],
  SEND_FD: [1, '6.0'],
});

/** `sqe->msg_ring_flags`. */
export const MSG_RING = bits('IORING_MSG_RING_', IO_URING_H, {
  CQE_SKIP: [1 << 0, '6.1', U],
  FLAGS_PASS: [1 << 1, '6.3'],
});

/** `sqe->nop_flags`. */
export const NOP = bits('IORING_NOP_', IO_URING_H, {
  INJECT_RESULT: [1 << 0, '6.10'],
  FILE: [1 << 1, '6.13', U],
  FIXED_FILE: [1 << 2, '6.13', U],
  FIXED_BUFFER: [1 << 3, '6.13', U],
  TW: [1 << 4, '6.17', U],
  CQE32: [1 << 5, '6.18'],
});

/** `sqe->install_fd_flags` for `FIXED_FD_INSTALL`. */
export const FIXED_FD = bits('IORING_FIXED_FD_', IO_URING_H, {
  NO_CLOEXEC: [1 << 0, '6.8'],
});

/** `sqe->uring_cmd_flags`. */
export const URING_CMD = bits('IORING_URING_CMD_', IO_URING_H, {
  FIXED: [1 << 0, '6.1'],
});

/** `sqe->splice_flags` extension: `splice_fd_in` is a fixed file. */
export const SPLICE_FD = bits('SPLICE_F_FD_IN_', IO_URING_H, {
  FIXED: [BIT31, '5.7'],
});

/** SQ ring `flags` word, written by the kernel (`IORING_SQ_*`). */
export const SQ_FLAG = bits('IORING_SQ_', IO_URING_H, {
  NEED_WAKEUP: [1 << 0, '5.1'],
  CQ_OVERFLOW: [1 << 1, '5.8', U],
  TASKRUN: [1 << 2, '5.19'],
});

/** CQ ring `flags` word, written by the application (`IORING_CQ_*`). */
export const CQ_FLAG = bits('IORING_CQ_', IO_URING_H, {
  EVENTFD_DISABLED: [1 << 0, '5.8'],
});

/** `IORING_RSRC_*` flags for `io_uring_rsrc_register`. */
export const RSRC = bits('IORING_RSRC_', IO_URING_H, {
  REGISTER_SPARSE: [1 << 0, '5.19'],
});

/** Provided-buffer ring flags for `IORING_REGISTER_PBUF_RING`. */
export const PBUF_RING = bits('IOU_PBUF_RING_', IO_URING_H, {
  MMAP: [1 << 0, '6.4'],
  INC: [1 << 1, '6.12'],
});

/** Probe op flags (`io_uring_probe_op.flags`). */
export const PROBE_OP = bits('IO_URING_OP_', IO_URING_H, {
  SUPPORTED: [1 << 0, '5.6'],
});

/** mmap offsets of the rings (`IORING_OFF_*`). */
export const OFF = constants('IORING_OFF_', IO_URING_H, {
  SQ_RING: [0, '5.1'],
  CQ_RING: [0x8000000, '5.1'],
  SQES: [0x10000000, '5.1'],
  PBUF_RING: [0x80000000, '6.4'],
  PBUF_SHIFT: [16, '6.4'],
  MMAP_MASK: [0xf8000000, '6.0', U],
});

/** Other io_uring constants, UAPI and kernel-internal (marked `internal`). */
export const URING_CONST = constants('IORING_', IO_URING_H, {
  CQE_BUFFER_SHIFT: [16, '5.7'],
  FILE_INDEX_ALLOC: [0xffffffff, '5.19'],
  REGISTER_FILES_SKIP: [-2, '5.12'],
  NOTIF_USAGE_ZC_COPIED: [BIT31, '6.1'],
  MAX_ENTRIES: [32768, '5.4', { internal: true, note: 'SQ entries without CLAMP; 4096 in 5.1–5.3 [unverified]' }],
  MAX_CQ_ENTRIES: [65536, '5.5', { internal: true, note: '2 * IORING_MAX_ENTRIES' }],
  PROBE_MAX_OPS: [256, '5.6', { internal: true, note: 'nr_args above this is -EINVAL (SEMANTICS §3.6)' }],
  PERSONALITY_MAX: [65535, '5.6', { internal: true, note: 'personality ids are 1..65535 (SEMANTICS §3.8)' }],
  RINGFD_REG_MAX: [16, '5.18', { internal: true, cName: 'IO_RINGFD_REG_MAX', note: 'registered ring fds per task (man io_uring_register(2))' }],
}, 'IORING_CONST');

/** `IORING_OP_URING_CMD` command ops on a socket (`sqe->cmd_op`, `SOCKET_URING_OP_*`, io_uring/cmd_net.c). */
export const SOCKET_URING_OP = enumeration('SOCKET_URING_OP_', IO_URING_H, {
  SIOCINQ: [0, '6.7'],
  SIOCOUTQ: [1, '6.7'],
  GETSOCKOPT: [2, '6.7'],
  SETSOCKOPT: [3, '6.7'],
});
