/**
 * io_uring opcodes (`enum io_uring_op`), values from liburing HEAD, first mainline release from the
 * liburing man pages (SEMANTICS §3.2). `IORING_OP_LAST` is per kernel: probe, do not assume.
 */
import { IO_URING_H } from './headers';
import { type AbiEntry, entriesOf, entryByName, entryByValue, enumeration } from './table';

/** Every io_uring opcode by name (`URING_OP.READ.value === 22`). */
export const URING_OP = enumeration('IORING_OP_', IO_URING_H, {
  NOP: [0, '5.1'],
  READV: [1, '5.1'],
  WRITEV: [2, '5.1'],
  FSYNC: [3, '5.1'],
  READ_FIXED: [4, '5.1'],
  WRITE_FIXED: [5, '5.1'],
  POLL_ADD: [6, '5.1'],
  POLL_REMOVE: [7, '5.1'],
  SYNC_FILE_RANGE: [8, '5.2'],
  SENDMSG: [9, '5.3'],
  RECVMSG: [10, '5.3'],
  TIMEOUT: [11, '5.4'],
  TIMEOUT_REMOVE: [12, '5.5'],
  ACCEPT: [13, '5.5'],
  ASYNC_CANCEL: [14, '5.5'],
  LINK_TIMEOUT: [15, '5.5'],
  CONNECT: [16, '5.5'],
  FALLOCATE: [17, '5.6'],
  OPENAT: [18, '5.6'],
  CLOSE: [19, '5.6'],
  FILES_UPDATE: [20, '5.6'],
  STATX: [21, '5.6'],
  READ: [22, '5.6'],
  WRITE: [23, '5.6'],
  FADVISE: [24, '5.6'],
  MADVISE: [25, '5.6'],
  SEND: [26, '5.6'],
  RECV: [27, '5.6'],
  OPENAT2: [28, '5.6'],
  EPOLL_CTL: [29, '5.6'],
  SPLICE: [30, '5.7'],
  PROVIDE_BUFFERS: [31, '5.7'],
  REMOVE_BUFFERS: [32, '5.7'],
  TEE: [33, '5.8'],
  SHUTDOWN: [34, '5.11'],
  RENAMEAT: [35, '5.11'],
  UNLINKAT: [36, '5.11'],
  MKDIRAT: [37, '5.15'],
  SYMLINKAT: [38, '5.15'],
  LINKAT: [39, '5.15'],
  MSG_RING: [40, '5.18'],
  FSETXATTR: [41, '5.19'],
  SETXATTR: [42, '5.19'],
  FGETXATTR: [43, '5.19'],
  GETXATTR: [44, '5.19'],
  SOCKET: [45, '5.19'],
  URING_CMD: [46, '5.19'],
  SEND_ZC: [47, '6.0'],
  SENDMSG_ZC: [48, '6.1'],
  READ_MULTISHOT: [49, '6.7'],
  // io_uring_enter.2 says 6.5; the commit and io_uring_prep_waitid.3 say 6.7 (SEMANTICS §5).
  WAITID: [50, '6.7'],
  FUTEX_WAIT: [51, '6.7'],
  FUTEX_WAKE: [52, '6.7'],
  FUTEX_WAITV: [53, '6.7'],
  FIXED_FD_INSTALL: [54, '6.8'],
  FTRUNCATE: [55, '6.9'],
  BIND: [56, '6.11'],
  LISTEN: [57, '6.11'],
  RECV_ZC: [58, '6.15'],
  EPOLL_WAIT: [59, '6.15'],
  READV_FIXED: [60, '6.15'],
  WRITEV_FIXED: [61, '6.15'],
  PIPE: [62, '6.16'],
  NOP128: [63, '6.19'],
  URING_CMD128: [64, '6.19'],
});

/** Name of an io_uring opcode, without the `IORING_OP_` prefix. */
export type UringOpName = keyof typeof URING_OP & string;

/** One io_uring opcode. */
export type UringOp<N extends UringOpName = UringOpName> = AbiEntry<N>;

/** Every opcode, ordered by value (0..64). */
export const URING_OPS: readonly UringOp[] = Object.freeze(entriesOf(URING_OP).sort((a, b) => a.value - b.value));

/** `IORING_OP_LAST` of the newest header these tables follow (liburing HEAD); kernels report their own. */
export const URING_OP_LAST_KNOWN = URING_OPS.length;

/** The opcode with this name (typed), e.g. `uringOp('RENAMEAT').value`. */
export function uringOp<N extends UringOpName>(name: N): UringOp<N> {
  return URING_OP[name] as UringOp<N>;
}

/** The opcode with this name, for names that arrive as strings; `undefined` if unknown. */
export function findUringOp(name: string): UringOp | undefined {
  return entryByName(URING_OP, name);
}

/** The opcode with this value; `undefined` for values no header names (≥ {@link URING_OP_LAST_KNOWN}). */
export function uringOpByValue(value: number): UringOp | undefined {
  return entryByValue(URING_OP, value);
}
