/**
 * io_uring structure layouts on x86-64 (SEMANTICS §3.3, §3.6, §3.7, §3.9): every field, every
 * union alias, with the release that added it where it is newer than the structure.
 */
import { IO_URING_H } from './headers';
import { layout } from './layout';

const S = { signed: true } as const;

/**
 * `struct io_uring_sqe`, 64 bytes (128 with `IORING_SETUP_SQE128`, the extra 64 bytes extend `cmd`).
 * Offsets are enforced by `BUILD_BUG_SQE_ELEM` in the kernel. Fields sharing an offset are union aliases.
 */
export const SQE_LAYOUT = layout(
  { id: 'io_uring_sqe', cType: 'struct io_uring_sqe', header: IO_URING_H, size: 64, since: '5.1' },
  {
    opcode: [0, 1],
    flags: [1, 1],
    ioprio: [2, 2, { note: 'also send/recv/accept flags' }],
    fd: [4, 4, S],
    off: [8, 8],
    addr2: [8, 8, { since: '5.5' }],
    cmd_op: [8, 4, { since: '5.19' }],
    addr: [16, 8],
    splice_off_in: [16, 8, { since: '5.7' }],
    level: [16, 4, { since: '6.7' }],
    optname: [20, 4, { since: '6.7' }],
    len: [24, 4],
    rw_flags: [28, 4, { signVaries: true, note: '__kernel_rwf_t (int) in some headers, __u32 in others' }],
    fsync_flags: [28, 4],
    poll_events: [28, 2, { note: '16-bit compatibility view of poll32_events' }],
    poll32_events: [28, 4, { since: '5.9' }],
    sync_range_flags: [28, 4, { since: '5.2' }],
    msg_flags: [28, 4, { since: '5.3' }],
    timeout_flags: [28, 4, { since: '5.4' }],
    accept_flags: [28, 4, { since: '5.5' }],
    cancel_flags: [28, 4, { since: '5.5' }],
    open_flags: [28, 4, { since: '5.6' }],
    statx_flags: [28, 4, { since: '5.6' }],
    fadvise_advice: [28, 4, { since: '5.6' }],
    splice_flags: [28, 4, { since: '5.7' }],
    rename_flags: [28, 4, { since: '5.11' }],
    unlink_flags: [28, 4, { since: '5.11' }],
    hardlink_flags: [28, 4, { since: '5.15' }],
    xattr_flags: [28, 4, { since: '5.19' }],
    msg_ring_flags: [28, 4, { since: '6.1', unverified: true }],
    uring_cmd_flags: [28, 4, { since: '6.1' }],
    waitid_flags: [28, 4, { since: '6.7' }],
    futex_flags: [28, 4, { since: '6.7' }],
    install_fd_flags: [28, 4, { since: '6.8' }],
    nop_flags: [28, 4, { since: '6.10' }],
    pipe_flags: [28, 4, { since: '6.16' }],
    user_data: [32, 8],
    buf_index: [40, 2],
    buf_group: [40, 2, { since: '5.7' }],
    personality: [42, 2, { since: '5.6' }],
    splice_fd_in: [44, 4, { signed: true, since: '5.7' }],
    file_index: [44, 4, { since: '5.15' }],
    zcrx_ifq_idx: [44, 4, { since: '6.15' }],
    optlen: [44, 4, { since: '6.7' }],
    addr_len: [44, 2, { since: '6.0' }],
    addr3: [48, 8, { since: '5.19' }],
    attr_ptr: [48, 8, { since: '6.14', unverified: true }],
    attr_type_mask: [56, 8, { since: '6.14', unverified: true }],
    optval: [48, 8, { since: '6.7' }],
    cmd: [48, 16, { flexible: true, since: '5.19', note: '80 bytes with IORING_SETUP_SQE128' }],
  },
);

/** `struct io_uring_cqe`, 16 bytes (32 with `IORING_SETUP_CQE32`, which adds `big_cqe`). */
export const CQE_LAYOUT = layout(
  { id: 'io_uring_cqe', cType: 'struct io_uring_cqe', header: IO_URING_H, size: 16, since: '5.1' },
  {
    user_data: [0, 8],
    res: [8, 4, S],
    flags: [12, 4],
    big_cqe: [16, 16, { flexible: true, count: 2, since: '5.19', note: 'only with CQE32 (or an F_32 CQE)' }],
  },
);

/** `struct io_sqring_offsets`, 40 bytes: where the SQ ring's words sit in its mapping. */
export const SQRING_OFFSETS_LAYOUT = layout(
  { id: 'io_sqring_offsets', cType: 'struct io_sqring_offsets', header: IO_URING_H, size: 40, since: '5.1' },
  {
    head: [0, 4],
    tail: [4, 4],
    ring_mask: [8, 4],
    ring_entries: [12, 4],
    flags: [16, 4],
    dropped: [20, 4],
    array: [24, 4],
    resv1: [28, 4],
    user_addr: [32, 8, { since: '6.5', formerly: 'resv2', note: 'ring address with IORING_SETUP_NO_MMAP' }],
  },
);

/** `struct io_cqring_offsets`, 40 bytes: where the CQ ring's words sit in its mapping. */
export const CQRING_OFFSETS_LAYOUT = layout(
  { id: 'io_cqring_offsets', cType: 'struct io_cqring_offsets', header: IO_URING_H, size: 40, since: '5.1' },
  {
    head: [0, 4],
    tail: [4, 4],
    ring_mask: [8, 4],
    ring_entries: [12, 4],
    overflow: [16, 4],
    cqes: [20, 4],
    flags: [24, 4, { since: '5.8' }],
    resv1: [28, 4, { since: '5.8' }],
    user_addr: [32, 8, { since: '6.5', formerly: 'resv2', note: 'ring address with IORING_SETUP_NO_MMAP' }],
  },
);

/** `struct io_uring_params`, 120 bytes, with the offset structs' members at their absolute offsets. */
export const IO_URING_PARAMS_LAYOUT = layout(
  { id: 'io_uring_params', cType: 'struct io_uring_params', header: IO_URING_H, size: 120, since: '5.1' },
  {
    sq_entries: [0, 4],
    cq_entries: [4, 4],
    flags: [8, 4],
    sq_thread_cpu: [12, 4],
    sq_thread_idle: [16, 4],
    features: [20, 4, { since: '5.4' }],
    wq_fd: [24, 4, { since: '5.6' }],
    resv: [28, 12, { count: 3, note: 'must be zero, else -EINVAL' }],
    sq_off: [40, 40, { aggregate: true }],
    'sq_off.head': [40, 4],
    'sq_off.tail': [44, 4],
    'sq_off.ring_mask': [48, 4],
    'sq_off.ring_entries': [52, 4],
    'sq_off.flags': [56, 4],
    'sq_off.dropped': [60, 4],
    'sq_off.array': [64, 4],
    'sq_off.resv1': [68, 4],
    'sq_off.user_addr': [72, 8, { since: '6.5', formerly: 'sq_off.resv2' }],
    cq_off: [80, 40, { aggregate: true }],
    'cq_off.head': [80, 4],
    'cq_off.tail': [84, 4],
    'cq_off.ring_mask': [88, 4],
    'cq_off.ring_entries': [92, 4],
    'cq_off.overflow': [96, 4],
    'cq_off.cqes': [100, 4],
    'cq_off.flags': [104, 4, { since: '5.8' }],
    'cq_off.resv1': [108, 4, { since: '5.8' }],
    'cq_off.user_addr': [112, 8, { since: '6.5', formerly: 'cq_off.resv2' }],
  },
);

/** `struct io_uring_probe`, 16 bytes followed by `ops_len` {@link PROBE_OP_LAYOUT} entries (SEMANTICS §3.6). */
export const PROBE_LAYOUT = layout(
  { id: 'io_uring_probe', cType: 'struct io_uring_probe', header: IO_URING_H, size: 16, since: '5.6' },
  {
    last_op: [0, 1],
    ops_len: [1, 1],
    resv: [2, 2],
    resv2: [4, 12, { count: 3 }],
    ops: [16, 8, { flexible: true, note: 'one io_uring_probe_op per slot; size is one entry' }],
  },
);

/** `struct io_uring_probe_op`, 8 bytes. */
export const PROBE_OP_LAYOUT = layout(
  { id: 'io_uring_probe_op', cType: 'struct io_uring_probe_op', header: IO_URING_H, size: 8, since: '5.6' },
  {
    op: [0, 1],
    resv: [1, 1],
    flags: [2, 2],
    resv2: [4, 4],
  },
);

/** `struct io_uring_restriction`, 16 bytes (SEMANTICS §3.7). */
export const RESTRICTION_LAYOUT = layout(
  { id: 'io_uring_restriction', cType: 'struct io_uring_restriction', header: IO_URING_H, size: 16, since: '5.10' },
  {
    opcode: [0, 2],
    register_op: [2, 1],
    sqe_op: [2, 1],
    sqe_flags: [2, 1],
    resv: [3, 1],
    resv2: [4, 12, { count: 3 }],
  },
);

/** `struct io_uring_getevents_arg`, 24 bytes, passed with `IORING_ENTER_EXT_ARG`. */
export const GETEVENTS_ARG_LAYOUT = layout(
  { id: 'io_uring_getevents_arg', cType: 'struct io_uring_getevents_arg', header: IO_URING_H, size: 24, since: '5.11' },
  {
    sigmask: [0, 8],
    sigmask_sz: [8, 4],
    min_wait_usec: [12, 4, { since: '6.12', formerly: 'pad' }],
    ts: [16, 8],
  },
);

/** `struct io_uring_sync_cancel_reg`, 64 bytes, for `IORING_REGISTER_SYNC_CANCEL` (SEMANTICS §3.9). */
export const SYNC_CANCEL_REG_LAYOUT = layout(
  {
    id: 'io_uring_sync_cancel_reg',
    cType: 'struct io_uring_sync_cancel_reg',
    header: IO_URING_H,
    size: 64,
    since: '6.0',
  },
  {
    addr: [0, 8],
    fd: [8, 4, S],
    flags: [12, 4],
    timeout: [16, 16, { aggregate: true }],
    'timeout.tv_sec': [16, 8, S],
    'timeout.tv_nsec': [24, 8, S],
    opcode: [32, 1, { since: '6.6', note: 'matched with IORING_ASYNC_CANCEL_OP' }],
  },
);

/** `struct io_uring_rsrc_update`, 16 bytes, for `IORING_REGISTER_FILES_UPDATE`. */
export const RSRC_UPDATE_LAYOUT = layout(
  { id: 'io_uring_rsrc_update', cType: 'struct io_uring_rsrc_update', header: IO_URING_H, size: 16, since: '5.13' },
  {
    offset: [0, 4],
    resv: [4, 4],
    data: [8, 8],
  },
);

/** `struct io_uring_rsrc_register`, 32 bytes, for `IORING_REGISTER_FILES2` / `BUFFERS2` (nr_args is its size). */
export const RSRC_REGISTER_LAYOUT = layout(
  { id: 'io_uring_rsrc_register', cType: 'struct io_uring_rsrc_register', header: IO_URING_H, size: 32, since: '5.13' },
  {
    nr: [0, 4],
    flags: [4, 4, { since: '5.19', formerly: 'resv' }],
    resv2: [8, 8],
    data: [16, 8],
    tags: [24, 8],
  },
);

/** `struct io_uring_rsrc_update2`, 32 bytes, for `IORING_REGISTER_FILES_UPDATE2` / `BUFFERS_UPDATE`. */
export const RSRC_UPDATE2_LAYOUT = layout(
  { id: 'io_uring_rsrc_update2', cType: 'struct io_uring_rsrc_update2', header: IO_URING_H, size: 32, since: '5.13' },
  {
    offset: [0, 4],
    resv: [4, 4],
    data: [8, 8],
    tags: [16, 8],
    nr: [24, 4],
    resv2: [28, 4],
  },
);

/** `struct io_uring_file_index_range`, 16 bytes, for `IORING_REGISTER_FILE_ALLOC_RANGE`. */
export const FILE_INDEX_RANGE_LAYOUT = layout(
  {
    id: 'io_uring_file_index_range',
    cType: 'struct io_uring_file_index_range',
    header: IO_URING_H,
    size: 16,
    since: '6.0',
  },
  {
    off: [0, 4],
    len: [4, 4],
    resv: [8, 8],
  },
);

/** `struct io_uring_clone_buffers`, 32 bytes, for `IORING_REGISTER_CLONE_BUFFERS` (the ranges are 6.13's). */
export const CLONE_BUFFERS_LAYOUT = layout(
  { id: 'io_uring_clone_buffers', cType: 'struct io_uring_clone_buffers', header: IO_URING_H, size: 32, since: '6.12' },
  {
    src_fd: [0, 4],
    flags: [4, 4],
    src_off: [8, 4, { since: '6.13', formerly: 'pad' }],
    dst_off: [12, 4, { since: '6.13' }],
    nr: [16, 4, { since: '6.13' }],
    pad: [20, 12, { count: 3 }],
  },
);

/** `struct io_uring_clock_register`, 16 bytes, for `IORING_REGISTER_CLOCK`. */
export const CLOCK_REGISTER_LAYOUT = layout(
  {
    id: 'io_uring_clock_register',
    cType: 'struct io_uring_clock_register',
    header: IO_URING_H,
    size: 16,
    since: '6.12',
  },
  {
    clockid: [0, 4],
    __resv: [4, 12, { count: 3 }],
  },
);

/** Entry sizes in bytes, for ring arithmetic. */
export const URING_SIZES = Object.freeze({
  SQE: SQE_LAYOUT.size,
  SQE128: 2 * SQE_LAYOUT.size,
  CQE: CQE_LAYOUT.size,
  CQE32: 2 * CQE_LAYOUT.size,
  PARAMS: IO_URING_PARAMS_LAYOUT.size,
  PROBE: PROBE_LAYOUT.size,
  PROBE_OP: PROBE_OP_LAYOUT.size,
});

/** `struct io_uring_buf`, 16 bytes: one entry of a provided-buffer ring; entry 0's `resv` is the ring's `tail`. */
export const BUF_LAYOUT = layout(
  { id: 'io_uring_buf', cType: 'struct io_uring_buf', header: IO_URING_H, size: 16, since: '5.19' },
  {
    addr: [0, 8],
    len: [8, 4],
    bid: [12, 2],
    resv: [14, 2, { note: 'in entry 0: the ring tail (struct io_uring_buf_ring)' }],
  },
);

/** `struct io_uring_buf_reg`, 40 bytes, for `IORING_(UN)REGISTER_PBUF_RING`. */
export const BUF_REG_LAYOUT = layout(
  { id: 'io_uring_buf_reg', cType: 'struct io_uring_buf_reg', header: IO_URING_H, size: 40, since: '5.19' },
  {
    ring_addr: [0, 8],
    ring_entries: [8, 4],
    bgid: [12, 2],
    pad: [14, 2, { note: 'IOU_PBUF_RING_* flags since 6.4 (`flags`)' }],
    resv: [16, 24, { count: 3 }],
  },
);

/** `struct io_uring_buf_status`, 40 bytes, for `IORING_REGISTER_PBUF_STATUS`. */
export const BUF_STATUS_LAYOUT = layout(
  // cType null: the installed UAPI headers (6.1) predate it, so the header check cannot see it
  { id: 'io_uring_buf_status', cType: null, header: null, size: 40, since: '6.8' },
  {
    buf_group: [0, 4],
    head: [4, 4],
    resv: [8, 32, { count: 8 }],
  },
);

/** `struct io_uring_napi`, 16 bytes, for `IORING_(UN)REGISTER_NAPI`. */
export const NAPI_LAYOUT = layout(
  // cType null: the installed UAPI headers (6.1) predate it, so the header check cannot see it
  { id: 'io_uring_napi', cType: null, header: null, size: 16, since: '6.9' },
  {
    busy_poll_to: [0, 4],
    prefer_busy_poll: [4, 1],
    pad: [5, 3, { count: 3, note: '6.13 made pad[0] `opcode` (IO_URING_NAPI_*); pad[1..2] stay pad' }],
    resv: [8, 8, { note: '6.13 split it: u32 `op_param` (tracking strategy) at 8, u32 `resv` at 12' }],
  },
);

/** `struct io_uring_recvmsg_out`, 16 bytes: the header a multishot RECVMSG writes at the start of each buffer. */
export const RECVMSG_OUT_LAYOUT = layout(
  { id: 'io_uring_recvmsg_out', cType: 'struct io_uring_recvmsg_out', header: IO_URING_H, size: 16, since: '6.0' },
  {
    namelen: [0, 4],
    controllen: [4, 4],
    payloadlen: [8, 4],
    flags: [12, 4],
  },
);
