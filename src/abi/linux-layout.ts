/**
 * x86-64 layouts of the structures that ops and their synchronous twins pass by pointer:
 * `struct statx`, `struct iovec`, `struct __kernel_timespec`, `struct open_how`, `struct futex_waitv`, `struct pollfd`.
 */
import { LINUX_FUTEX_H, LINUX_OPENAT2_H, LINUX_POLL_H, LINUX_STAT_H, LINUX_TIME_TYPES_H, LINUX_UIO_H } from './headers';
import { layout } from './layout';

const S = { signed: true } as const;

/** `struct statx`, 256 bytes, filled by `statx` and io_uring `STATX`. */
export const STATX_LAYOUT = layout(
  { id: 'statx', cType: 'struct statx', header: LINUX_STAT_H, size: 256, since: '4.11' },
  {
    stx_mask: [0, 4],
    stx_blksize: [4, 4],
    stx_attributes: [8, 8],
    stx_nlink: [16, 4],
    stx_uid: [20, 4],
    stx_gid: [24, 4],
    stx_mode: [28, 2],
    stx_ino: [32, 8],
    stx_size: [40, 8],
    stx_blocks: [48, 8],
    stx_attributes_mask: [56, 8],
    stx_atime: [64, 16, { aggregate: true }],
    'stx_atime.tv_sec': [64, 8, S],
    'stx_atime.tv_nsec': [72, 4],
    stx_btime: [80, 16, { aggregate: true }],
    'stx_btime.tv_sec': [80, 8, S],
    'stx_btime.tv_nsec': [88, 4],
    stx_ctime: [96, 16, { aggregate: true }],
    'stx_ctime.tv_sec': [96, 8, S],
    'stx_ctime.tv_nsec': [104, 4],
    stx_mtime: [112, 16, { aggregate: true }],
    'stx_mtime.tv_sec': [112, 8, S],
    'stx_mtime.tv_nsec': [120, 4],
    stx_rdev_major: [128, 4],
    stx_rdev_minor: [132, 4],
    stx_dev_major: [136, 4],
    stx_dev_minor: [140, 4],
    stx_mnt_id: [144, 8, { since: '5.8' }],
    stx_dio_mem_align: [152, 4, { since: '6.1' }],
    stx_dio_offset_align: [156, 4, { since: '6.1' }],
    stx_subvol: [160, 8, { since: '6.10' }],
    stx_atomic_write_unit_min: [168, 4, { since: '6.11' }],
    stx_atomic_write_unit_max: [172, 4, { since: '6.11' }],
    stx_atomic_write_segments_max: [176, 4, { since: '6.11' }],
    stx_dio_read_offset_align: [180, 4, { since: '6.14' }],
    stx_atomic_write_unit_max_opt: [184, 4, { since: '6.16' }],
  },
);

/** `struct iovec`, 16 bytes (`readv`, `READV`, AIO `PREADV`). */
export const IOVEC_LAYOUT = layout(
  { id: 'iovec', cType: 'struct iovec', header: LINUX_UIO_H, size: 16 },
  {
    iov_base: [0, 8],
    iov_len: [8, 8],
  },
);

/** `struct __kernel_timespec`, 16 bytes (io_uring timeouts, `io_getevents` on 64-bit). */
export const KERNEL_TIMESPEC_LAYOUT = layout(
  { id: '__kernel_timespec', cType: 'struct __kernel_timespec', header: LINUX_TIME_TYPES_H, size: 16 },
  {
    tv_sec: [0, 8, S],
    tv_nsec: [8, 8, S],
  },
);

/** `struct open_how`, 24 bytes (`openat2`, io_uring `OPENAT2`). */
export const OPEN_HOW_LAYOUT = layout(
  { id: 'open_how', cType: 'struct open_how', header: LINUX_OPENAT2_H, size: 24, since: '5.6' },
  {
    flags: [0, 8],
    mode: [8, 8],
    resolve: [16, 8],
  },
);

/** `struct futex_waitv`, 24 bytes (`futex_waitv`, io_uring `FUTEX_WAITV`). */
export const FUTEX_WAITV_LAYOUT = layout(
  { id: 'futex_waitv', cType: 'struct futex_waitv', header: LINUX_FUTEX_H, size: 24, since: '5.16' },
  {
    val: [0, 8],
    uaddr: [8, 8],
    flags: [16, 4],
    __reserved: [20, 4, { note: 'must be 0' }],
  },
);

/** `struct pollfd`, 8 bytes (`poll`, the synchronous twin of AIO `POLL` and io_uring `POLL_ADD`). */
export const POLLFD_LAYOUT = layout(
  { id: 'pollfd', cType: 'struct pollfd', header: LINUX_POLL_H, size: 8 },
  {
    fd: [0, 4, S],
    events: [4, 2, S],
    revents: [6, 2, S],
  },
);
