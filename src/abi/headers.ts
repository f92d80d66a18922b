/** Headers the ABI tables come from, as `#include` spells them. */

/** io_uring UAPI. */
export const IO_URING_H = '<linux/io_uring.h>';
/** Linux AIO UAPI. */
export const AIO_ABI_H = '<linux/aio_abi.h>';
/** `RWF_*`, `RENAME_*` (UAPI). */
export const LINUX_FS_H = '<linux/fs.h>';
/** `O_*`, `AT_*` (UAPI, asm-generic values, not glibc's). */
export const LINUX_FCNTL_H = '<linux/fcntl.h>';
/** `struct statx`, `STATX_*`. */
export const LINUX_STAT_H = '<linux/stat.h>';
/** `FALLOC_FL_*`. */
export const LINUX_FALLOC_H = '<linux/falloc.h>';
/** `POSIX_FADV_*`. */
export const LINUX_FADVISE_H = '<linux/fadvise.h>';
/** `MADV_*`. */
export const LINUX_MMAN_H = '<linux/mman.h>';
/** `POLL*`. */
export const LINUX_POLL_H = '<linux/poll.h>';
/** `EPOLL*`. */
export const LINUX_EVENTPOLL_H = '<linux/eventpoll.h>';
/** `FUTEX_*`, `FUTEX2_*`, `struct futex_waitv`. */
export const LINUX_FUTEX_H = '<linux/futex.h>';
/** `P_*`, `W*` for waitid. */
export const LINUX_WAIT_H = '<linux/wait.h>';
/** Signal numbers (kernel's view). */
export const ASM_SIGNAL_H = '<asm/signal.h>';
/** `XATTR_*`. */
export const LINUX_XATTR_H = '<linux/xattr.h>';
/** `struct open_how`, `RESOLVE_*`. */
export const LINUX_OPENAT2_H = '<linux/openat2.h>';
/** `struct iovec`. */
export const LINUX_UIO_H = '<linux/uio.h>';
/** `struct __kernel_timespec`. */
export const LINUX_TIME_TYPES_H = '<linux/time_types.h>';
/** x86-64 `__NR_*`. */
export const ASM_UNISTD_64_H = '<asm/unistd_64.h>';
/** errno values (glibc, which takes them from the kernel). */
export const ERRNO_H = '<errno.h>';
/** `SPLICE_F_*` (no UAPI header exports them). */
export const FCNTL_H = '<fcntl.h>';
/** `SOCK_*`, `AF_*`, `MSG_*`, `SHUT_*` (no UAPI header exports them). */
export const SYS_SOCKET_H = '<sys/socket.h>';
/** `EFD_*` (no UAPI header exports them). */
export const SYS_EVENTFD_H = '<sys/eventfd.h>';
/** `CLOCK_*` clock ids (UAPI). */
export const LINUX_TIME_H = '<linux/time.h>';
/** Resource limits (`RLIMIT_*`). */
export const LINUX_RESOURCE_H = '<linux/resource.h>';
