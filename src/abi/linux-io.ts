/**
 * Readiness and descriptor constants on x86-64: poll and epoll bits, eventfd flags, sockets.
 * `SOCK_*`, `AF_*`, `MSG_*`, `SHUT_*` and `EFD_*` live in kernel-internal headers, so glibc's are checked.
 */
import { LINUX_EVENTPOLL_H, LINUX_POLL_H, LINUX_UIO_H, SYS_EVENTFD_H, SYS_SOCKET_H } from './headers';
import { bits, constants, enumeration } from './table';

/** `poll` event bits (`POLL*`), also `POLL_ADD`'s `poll32_events` and AIO POLL's `aio_buf`. */
export const POLL_EV = bits('POLL', LINUX_POLL_H, {
  IN: 0x0001,
  PRI: 0x0002,
  OUT: 0x0004,
  ERR: 0x0008,
  HUP: 0x0010,
  NVAL: 0x0020,
  RDNORM: 0x0040,
  RDBAND: 0x0080,
  WRNORM: 0x0100,
  WRBAND: 0x0200,
  MSG: 0x0400,
  REMOVE: 0x1000,
  RDHUP: 0x2000,
});

/** `epoll_event.events` bits (`EPOLL*`). */
export const EPOLL_EV = bits('EPOLL', LINUX_EVENTPOLL_H, {
  IN: 0x001,
  PRI: 0x002,
  OUT: 0x004,
  ERR: 0x008,
  HUP: 0x010,
  NVAL: 0x020,
  RDNORM: 0x040,
  RDBAND: 0x080,
  WRNORM: 0x100,
  WRBAND: 0x200,
  MSG: 0x400,
  RDHUP: 0x2000,
  EXCLUSIVE: [1 << 28, '4.5'],
  WAKEUP: 1 << 29,
  ONESHOT: 1 << 30,
  ET: 2 ** 31,
});

/** `epoll_ctl` operations (`EPOLL_CTL_*`). */
export const EPOLL_CTL = enumeration('EPOLL_CTL_', LINUX_EVENTPOLL_H, {
  ADD: 1,
  DEL: 2,
  MOD: 3,
});

/** `epoll_create1` flags. */
export const EPOLL_CREATE = bits('EPOLL_', LINUX_EVENTPOLL_H, { CLOEXEC: 0o2000000 }, 'EPOLL_CREATE');

/** `eventfd2` flags (`EFD_*`). */
export const EFD = bits('EFD_', SYS_EVENTFD_H, {
  SEMAPHORE: 0o1,
  NONBLOCK: 0o4000,
  CLOEXEC: 0o2000000,
});

/** Socket types (`SOCK_STREAM` …). */
export const SOCK_TYPE = enumeration(
  'SOCK_',
  SYS_SOCKET_H,
  { STREAM: 1, DGRAM: 2, RAW: 3, RDM: 4, SEQPACKET: 5, DCCP: 6, PACKET: 10 },
  'SOCK_TYPE',
);

/** Flags ORed into a socket type (`SOCK_NONBLOCK`, `SOCK_CLOEXEC`). */
export const SOCK_FLAG = bits('SOCK_', SYS_SOCKET_H, { NONBLOCK: 0o4000, CLOEXEC: 0o2000000 }, 'SOCK_FLAG');

/** Address families (`AF_*`). */
export const AF = enumeration('AF_', SYS_SOCKET_H, {
  UNSPEC: 0,
  UNIX: 1,
  INET: 2,
  INET6: 10,
  NETLINK: 16,
});

/** `shutdown` directions (`SHUT_*`). */
export const SHUT = enumeration('SHUT_', SYS_SOCKET_H, { RD: 0, WR: 1, RDWR: 2 });

/** `send`/`recv` flags (`MSG_*`), also io_uring `msg_flags`. */
export const MSG = bits('MSG_', SYS_SOCKET_H, {
  OOB: 0x1,
  PEEK: 0x2,
  DONTROUTE: 0x4,
  CTRUNC: 0x8,
  TRUNC: 0x20,
  DONTWAIT: 0x40,
  EOR: 0x80,
  WAITALL: 0x100,
  NOSIGNAL: 0x4000,
  MORE: 0x8000,
  WAITFORONE: 0x10000,
  ZEROCOPY: [0x4000000, '4.14'],
  CMSG_CLOEXEC: 0x40000000,
});

/** Socket-level constants for passing descriptors (`SCM_RIGHTS` in a `SOL_SOCKET` cmsg). */
export const SOCKET_CONST = constants('', SYS_SOCKET_H, { SOL_SOCKET: 1, SCM_RIGHTS: 1 }, 'SOCKET_CONST');

/** `UIO_MAXIOV` (IOV_MAX): the most iovecs one vectored call takes; one more is `-EINVAL`. */
export const UIO = constants('UIO_', LINUX_UIO_H, { MAXIOV: 1024 });

/** `<linux/ioprio.h>`; headers.ts has no name for it yet. */
const LINUX_IOPRIO_H = '<linux/ioprio.h>';

/** I/O priority classes (`IOPRIO_CLASS_*`); an ioprio value is `class << IOPRIO.CLASS_SHIFT | level`. */
export const IOPRIO_CLASS = enumeration('IOPRIO_CLASS_', LINUX_IOPRIO_H, {
  NONE: 0,
  RT: 1,
  BE: 2,
  IDLE: 3,
  INVALID: [7, '6.5', { unverified: true, note: 'named in the UAPI header since about 6.5' }],
});

/** I/O priority encoding constants (`IOPRIO_*`). */
export const IOPRIO = constants('IOPRIO_', LINUX_IOPRIO_H, {
  CLASS_SHIFT: 13,
  NR_CLASSES: [8, '6.5', { unverified: true }],
  NR_LEVELS: [8, '6.5', { unverified: true, note: 'levels 0..7 of RT and BE' }],
});

/** `SOL_SOCKET` option names (`SO_*`, `<asm-generic/socket.h>` via `<sys/socket.h>`), those the suites use. */
export const SO = constants('SO_', SYS_SOCKET_H, { TYPE: 3, SNDBUF: 7, RCVBUF: 8, PROTOCOL: 38, DOMAIN: 39 }, 'SO');

/**
 * Queue-size ioctls (`<asm/ioctls.h>`); `<linux/sockios.h>` names them SIOCINQ (FIONREAD) and SIOCOUTQ
 * (TIOCOUTQ) on sockets.
 */
export const QUEUE_IOCTL = constants('', '<asm/ioctls.h>', { FIONREAD: 0x541b, TIOCOUTQ: 0x5411 }, 'QUEUE_IOCTL');

/**
 * Pseudo-terminal ioctls (`<asm/ioctls.h>`): unlock a ptmx master's slave, open the slave from the
 * master (4.13) — a tty's poll waits on two queues, the reader's and the writer's.
 */
export const PTY_IOCTL = constants(
  '',
  '<asm/ioctls.h>',
  { TIOCSPTLCK: 0x40045431, TIOCGPTPEER: [0x5441, '4.13'] },
  'PTY_IOCTL',
);

/** Passing credentials over AF_UNIX (unix(7)): the `SOL_SOCKET` option and the cmsg type it brings. */
export const SO_CRED = constants('', SYS_SOCKET_H, { SO_PASSCRED: 16, SCM_CREDENTIALS: 2 }, 'SO_CRED');

/** `umount2` flags (`<sys/mount.h>`). */
export const UMOUNT = bits('MNT_', '<sys/mount.h>', { FORCE: 1, DETACH: 2 }, 'UMOUNT');

/**
 * KCOV ioctls on `/sys/kernel/debug/kcov` (`<linux/kcov.h>`, Documentation/dev-tools/kcov.rst): size the
 * area in u64 words, enable tracing of the calling task in a mode, disable; remote coverage of kernel threads.
 */
export const KCOV_IOCTL = constants(
  'KCOV_',
  '<linux/kcov.h>',
  { INIT_TRACE: [0x80086301, '4.6'], ENABLE: [0x6364, '4.6'], DISABLE: [0x6365, '4.6'], REMOTE_ENABLE: [0x40186366, '5.5'] },
  'KCOV_IOCTL',
);

/** KCOV_ENABLE modes (`KCOV_TRACE_*`): basic-block PCs, or comparison operands. */
export const KCOV_MODE = enumeration('KCOV_TRACE_', '<linux/kcov.h>', { PC: [0, '4.6'], CMP: [1, '4.16'] }, 'KCOV_MODE');
