/**
 * File-system constants on x86-64 that the io_uring/AIO ops and their synchronous twins take:
 * open flags, `*at` flags, statx masks, rename/fallocate/fadvise/madvise/splice/xattr flags.
 * Values are the kernel's (asm-generic), not a libc's: glibc defines `O_LARGEFILE` as 0 on 64-bit.
 */
import {
  FCNTL_H,
  LINUX_FADVISE_H,
  LINUX_FALLOC_H,
  LINUX_FCNTL_H,
  LINUX_FS_H,
  LINUX_MMAN_H,
  LINUX_OPENAT2_H,
  LINUX_STAT_H,
  LINUX_XATTR_H,
} from './headers';
import { bits, constants, enumeration } from './table';

/** `lseek` whence values (`SEEK_*`). */
export const SEEK = enumeration('SEEK_', LINUX_FS_H, { SET: 0, CUR: 1, END: 2, DATA: 3, HOLE: 4 });

/** `open`/`openat` flags (`O_*`), octal as in asm-generic/fcntl.h. */
export const O = constants('O_', LINUX_FCNTL_H, {
  RDONLY: 0o0,
  WRONLY: 0o1,
  RDWR: 0o2,
  ACCMODE: 0o3,
  CREAT: 0o100,
  EXCL: 0o200,
  NOCTTY: 0o400,
  TRUNC: 0o1000,
  APPEND: 0o2000,
  NONBLOCK: 0o4000,
  DSYNC: 0o10000,
  ASYNC: [0o20000, null, { cName: 'FASYNC' }],
  DIRECT: 0o40000,
  LARGEFILE: [0o100000, null, { note: 'forced on 64-bit; io_uring OPENAT sets it' }],
  DIRECTORY: 0o200000,
  NOFOLLOW: 0o400000,
  NOATIME: 0o1000000,
  CLOEXEC: 0o2000000,
  SYNC: [0o4010000, null, { note: '__O_SYNC | O_DSYNC' }],
  PATH: 0o10000000,
  TMPFILE: [0o20200000, null, { note: '__O_TMPFILE | O_DIRECTORY' }],
});

/** `*at` flags and the `AT_FDCWD` directory fd. */
export const AT = constants('AT_', LINUX_FCNTL_H, {
  FDCWD: -100,
  SYMLINK_NOFOLLOW: 0x100,
  REMOVEDIR: 0x200,
  EACCESS: [0x200, null, { note: 'faccessat only; same bit as REMOVEDIR' }],
  SYMLINK_FOLLOW: 0x400,
  NO_AUTOMOUNT: 0x800,
  EMPTY_PATH: 0x1000,
  STATX_SYNC_TYPE: 0x6000,
  STATX_SYNC_AS_STAT: 0x0000,
  STATX_FORCE_SYNC: 0x2000,
  STATX_DONT_SYNC: 0x4000,
  RECURSIVE: 0x8000,
});

/** fcntl(2) commands (`F_*`) programs use: pipe capacity (F_SETPIPE_SZ rounds up to a power-of-two pages). */
export const F = constants('F_', LINUX_FCNTL_H, { SETPIPE_SZ: 1031, GETPIPE_SZ: 1032 }, 'F');

/** File type bits of `st_mode` (`S_IF*`) that programs create with mknodat(2). */
export const S_IF = constants('S_', LINUX_STAT_H, { IFIFO: 0o010000 }, 'S_IF');

/** `statx` request/result mask bits (`STATX_*`). */
export const STATX = bits('STATX_', LINUX_STAT_H, {
  TYPE: 0x1,
  MODE: 0x2,
  NLINK: 0x4,
  UID: 0x8,
  GID: 0x10,
  ATIME: 0x20,
  MTIME: 0x40,
  CTIME: 0x80,
  INO: 0x100,
  SIZE: 0x200,
  BLOCKS: 0x400,
  BASIC_STATS: [0x7ff, null, { mask: true }],
  BTIME: 0x800,
  ALL: [0xfff, null, { mask: true, note: 'the 4.11 set; newer bits must be asked for' }],
  MNT_ID: [0x1000, '5.8'],
  DIOALIGN: [0x2000, '6.1'],
  MNT_ID_UNIQUE: [0x4000, '6.8'],
  SUBVOL: [0x8000, '6.10'],
  WRITE_ATOMIC: [0x10000, '6.11'],
  DIO_READ_ALIGN: [0x20000, '6.14'],
  _RESERVED: [2 ** 31, null, { note: 'reserved for struct statx expansion; -EINVAL if requested' }],
});

/** `statx.stx_attributes` bits (`STATX_ATTR_*`). */
export const STATX_ATTR = bits('STATX_ATTR_', LINUX_STAT_H, {
  COMPRESSED: 0x4,
  IMMUTABLE: 0x10,
  APPEND: 0x20,
  NODUMP: 0x40,
  ENCRYPTED: 0x800,
  AUTOMOUNT: 0x1000,
  MOUNT_ROOT: [0x2000, '5.8'],
  VERITY: [0x100000, '5.5'],
  DAX: [0x200000, '5.8'],
  WRITE_ATOMIC: [0x400000, '6.11'],
});

/** `renameat2` flags (`RENAME_*`). */
export const RENAME = bits('RENAME_', LINUX_FS_H, {
  NOREPLACE: 1 << 0,
  EXCHANGE: 1 << 1,
  WHITEOUT: 1 << 2,
});

/** `sync_file_range` flags (`SYNC_FILE_RANGE_*`); the same bits go in io_uring's `sync_range_flags`. */
export const SYNC_FILE_RANGE = bits('SYNC_FILE_RANGE_', LINUX_FS_H, {
  WAIT_BEFORE: 1,
  WRITE: 2,
  WAIT_AFTER: 4,
});

/** `fallocate` modes (`FALLOC_FL_*`). */
export const FALLOC_FL = bits('FALLOC_FL_', LINUX_FALLOC_H, {
  KEEP_SIZE: 0x01,
  PUNCH_HOLE: 0x02,
  NO_HIDE_STALE: 0x04,
  COLLAPSE_RANGE: 0x08,
  ZERO_RANGE: 0x10,
  INSERT_RANGE: 0x20,
  UNSHARE_RANGE: 0x40,
  WRITE_ZEROES: [0x80, '6.17', { unverified: true }],
});

/** `posix_fadvise` advice (`POSIX_FADV_*`), x86-64 values (s390 differs). */
export const POSIX_FADV = enumeration('POSIX_FADV_', LINUX_FADVISE_H, {
  NORMAL: 0,
  RANDOM: 1,
  SEQUENTIAL: 2,
  WILLNEED: 3,
  DONTNEED: 4,
  NOREUSE: 5,
});

/** `madvise` advice (`MADV_*`). */
export const MADV = enumeration('MADV_', LINUX_MMAN_H, {
  NORMAL: 0,
  RANDOM: 1,
  SEQUENTIAL: 2,
  WILLNEED: 3,
  DONTNEED: 4,
  FREE: [8, '4.5'],
  REMOVE: 9,
  DONTFORK: 10,
  DOFORK: 11,
  MERGEABLE: 12,
  UNMERGEABLE: 13,
  HUGEPAGE: 14,
  NOHUGEPAGE: 15,
  DONTDUMP: 16,
  DODUMP: 17,
  WIPEONFORK: [18, '4.14'],
  KEEPONFORK: [19, '4.14'],
  COLD: [20, '5.4'],
  PAGEOUT: [21, '5.4'],
  POPULATE_READ: [22, '5.14'],
  POPULATE_WRITE: [23, '5.14'],
  DONTNEED_LOCKED: [24, '5.18'],
  COLLAPSE: [25, '6.1'],
  HWPOISON: 100,
  SOFT_OFFLINE: 101,
  GUARD_INSTALL: [102, '6.13'],
  GUARD_REMOVE: [103, '6.13'],
});

/** The `mmap` protections and sharing flags tests pass (`PROT_*`, `MAP_*`). */
export const MMAP = constants('', LINUX_MMAN_H, { PROT_READ: 1, PROT_WRITE: 2, MAP_SHARED: 1 }, 'MMAP');

/** `splice`/`tee` flags (`SPLICE_F_*`); no UAPI header exports them, glibc does. */
export const SPLICE_F = bits('SPLICE_F_', FCNTL_H, {
  MOVE: 0x01,
  NONBLOCK: 0x02,
  MORE: 0x04,
  GIFT: 0x08,
});

/** `setxattr` flags (`XATTR_*`). */
export const XATTR = bits('XATTR_', LINUX_XATTR_H, {
  CREATE: 0x1,
  REPLACE: 0x2,
});

/** `open_how.resolve` flags for `openat2` (`RESOLVE_*`). */
export const RESOLVE = bits('RESOLVE_', LINUX_OPENAT2_H, {
  NO_XDEV: [0x01, '5.6'],
  NO_MAGICLINKS: [0x02, '5.6'],
  NO_SYMLINKS: [0x04, '5.6'],
  BENEATH: [0x08, '5.6'],
  IN_ROOT: [0x10, '5.6'],
  CACHED: [0x20, '5.12'],
});
