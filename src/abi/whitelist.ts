/**
 * The async-syscall whitelist (SEMANTICS §4.1, §2.5): every x86-64 system call, classified by whether
 * an interface that runs "system call X with arguments A–F" on a worker may run it.
 *
 * - `async-safe`: acts on objects named by its arguments (fds, paths, addresses, ids) with the
 *   submitter's files, fs, mm and credentials; a worker gets the synchronous call's result.
 * - `must-reject`: acts on the thread that runs it (its lifetime, image, children, credentials,
 *   namespaces, signal state, address space) or recurses into an async interface; a worker would do
 *   it to itself or behind the submitter's back, so an interface must refuse it (SEMANTICS §4.1).
 * - `not-applicable`: nothing to gain (never blocks, only answers about the caller), system
 *   administration, or not implemented on x86-64; an interface may refuse or run it.
 *
 * Numbers 0..450 are those of `<asm/unistd_64.h>` (checked by test/whitelist.test.ts); 451..469 are
 * later mainline additions, each with its first release.
 */
import { AT } from './linux-fs';
import { KERNEL_SIGSET, SIG, SIG_HOW } from './linux-proc';
import type { KernelVersion } from './version';

/** How an async-syscall interface must treat a system call. */
export type AsyncClass = 'async-safe' | 'must-reject' | 'not-applicable';

/** One system call and its classification. */
export interface SyscallClass {
  readonly nr: number;
  readonly name: string;
  readonly class: AsyncClass;
  /** Why, in one short phrase. */
  readonly reason: string;
  /** First mainline release, for numbers newer than the headers this project builds against. */
  readonly since?: KernelVersion;
}

// x86-64 numbers 0..334, in order (arch/x86/entry/syscalls/syscall_64.tbl, common and 64 entries)
const LOW = `read write open close stat fstat lstat poll lseek mmap mprotect munmap brk rt_sigaction rt_sigprocmask
rt_sigreturn ioctl pread64 pwrite64 readv writev access pipe select sched_yield mremap msync mincore madvise shmget
shmat shmctl dup dup2 pause nanosleep getitimer alarm setitimer getpid sendfile socket connect accept sendto recvfrom
sendmsg recvmsg shutdown bind listen getsockname getpeername socketpair setsockopt getsockopt clone fork vfork execve
exit wait4 kill uname semget semop semctl shmdt msgget msgsnd msgrcv msgctl fcntl flock fsync fdatasync truncate
ftruncate getdents getcwd chdir fchdir rename mkdir rmdir creat link unlink symlink readlink chmod fchmod chown fchown
lchown umask gettimeofday getrlimit getrusage sysinfo times ptrace getuid syslog getgid setuid setgid geteuid getegid
setpgid getppid getpgrp setsid setreuid setregid getgroups setgroups setresuid getresuid setresgid getresgid getpgid
setfsuid setfsgid getsid capget capset rt_sigpending rt_sigtimedwait rt_sigqueueinfo rt_sigsuspend sigaltstack utime
mknod uselib personality ustat statfs fstatfs sysfs getpriority setpriority sched_setparam sched_getparam
sched_setscheduler sched_getscheduler sched_get_priority_max sched_get_priority_min sched_rr_get_interval mlock munlock
mlockall munlockall vhangup modify_ldt pivot_root _sysctl prctl arch_prctl adjtimex setrlimit chroot sync acct
settimeofday mount umount2 swapon swapoff reboot sethostname setdomainname iopl ioperm create_module init_module
delete_module get_kernel_syms query_module quotactl nfsservctl getpmsg putpmsg afs_syscall tuxcall security gettid
readahead setxattr lsetxattr fsetxattr getxattr lgetxattr fgetxattr listxattr llistxattr flistxattr removexattr
lremovexattr fremovexattr tkill time futex sched_setaffinity sched_getaffinity set_thread_area io_setup io_destroy
io_getevents io_submit io_cancel get_thread_area lookup_dcookie epoll_create epoll_ctl_old epoll_wait_old
remap_file_pages getdents64 set_tid_address restart_syscall semtimedop fadvise64 timer_create timer_settime
timer_gettime timer_getoverrun timer_delete clock_settime clock_gettime clock_getres clock_nanosleep exit_group
epoll_wait epoll_ctl tgkill utimes vserver mbind set_mempolicy get_mempolicy mq_open mq_unlink mq_timedsend
mq_timedreceive mq_notify mq_getsetattr kexec_load waitid add_key request_key keyctl ioprio_set ioprio_get inotify_init
inotify_add_watch inotify_rm_watch migrate_pages openat mkdirat mknodat fchownat futimesat newfstatat unlinkat renameat
linkat symlinkat readlinkat fchmodat faccessat pselect6 ppoll unshare set_robust_list get_robust_list splice tee
sync_file_range vmsplice move_pages utimensat epoll_pwait signalfd timerfd_create eventfd fallocate timerfd_settime
timerfd_gettime accept4 signalfd4 eventfd2 epoll_create1 dup3 pipe2 inotify_init1 preadv pwritev rt_tgsigqueueinfo
perf_event_open recvmmsg fanotify_init fanotify_mark prlimit64 name_to_handle_at open_by_handle_at clock_adjtime syncfs
sendmmsg setns getcpu process_vm_readv process_vm_writev kcmp finit_module sched_setattr sched_getattr renameat2
seccomp getrandom memfd_create kexec_file_load bpf execveat userfaultfd membarrier mlock2 copy_file_range preadv2
pwritev2 pkey_mprotect pkey_alloc pkey_free statx io_pgetevents rseq`;

/** First number of the block shared by all architectures (after x86-64's 335..423 gap). */
const HIGH_BASE = 424;

// 424..450 as in the headers; 451.. with the release that added them
const HIGH: readonly (string | readonly [string, KernelVersion])[] = [
  ...`pidfd_send_signal io_uring_setup io_uring_enter io_uring_register open_tree move_mount fsopen fsconfig fsmount
fspick pidfd_open clone3 close_range openat2 pidfd_getfd faccessat2 process_madvise epoll_pwait2 mount_setattr
quotactl_fd landlock_create_ruleset landlock_add_rule landlock_restrict_self memfd_secret process_mrelease futex_waitv
set_mempolicy_home_node`.split(/\s+/),
  ['cachestat', '6.5'],
  ['fchmodat2', '6.6'],
  ['map_shadow_stack', '6.6'],
  ['futex_wake', '6.7'],
  ['futex_wait', '6.7'],
  ['futex_requeue', '6.7'],
  ['statmount', '6.8'],
  ['listmount', '6.8'],
  ['lsm_get_self_attr', '6.8'],
  ['lsm_set_self_attr', '6.8'],
  ['lsm_list_modules', '6.8'],
  ['mseal', '6.10'],
  ['setxattrat', '6.13'],
  ['getxattrat', '6.13'],
  ['listxattrat', '6.13'],
  ['removexattrat', '6.13'],
  ['open_tree_attr', '6.15'],
  ['file_getattr', '6.17'],
  ['file_setattr', '6.17'],
];

/** The classification: one reason per group, every system call in exactly one group. */
const GROUPS: readonly (readonly [AsyncClass, string, string])[] = [
  // must-reject (SEMANTICS §4.1, "exit is bad")
  ['must-reject', 'ends the worker or the whole process, not the request', 'exit exit_group'],
  ['must-reject', "replaces the process image under the submitter's other threads", 'execve execveat'],
  ['must-reject', 'makes a child whose parent is the worker', 'fork vfork clone clone3'],
  ['must-reject', 'restores or restarts a frame of the thread that runs it', 'rt_sigreturn restart_syscall'],
  [
    'must-reject',
    'changes the credentials of the thread that runs it, not the submitter',
    `setuid setgid setreuid setregid setresuid setresgid setfsuid setfsgid setgroups capset keyctl
     lsm_set_self_attr`,
  ],
  ['must-reject', 'moves the thread that runs it into other namespaces', 'unshare setns'],
  ['must-reject', 'installs a security policy on the thread that runs it', 'seccomp landlock_restrict_self'],
  ['must-reject', 'traces or is traced by the thread that runs it', 'ptrace'],
  [
    'must-reject',
    'changes per-thread state of the thread that runs it',
    `prctl arch_prctl personality set_tid_address set_robust_list rseq set_thread_area modify_ldt iopl ioperm
     pkey_alloc pkey_free set_mempolicy`,
  ],
  [
    'must-reject',
    'acts on the signal state of the thread that runs it',
    'rt_sigaction rt_sigprocmask rt_sigsuspend sigaltstack pause rt_sigtimedwait',
  ],
  [
    'must-reject',
    'sends a signal as the worker, possibly to the submitter itself',
    'kill tkill tgkill rt_sigqueueinfo rt_tgsigqueueinfo pidfd_send_signal',
  ],
  [
    'must-reject',
    "maps or unmaps memory under the submitter's in-flight buffers",
    'mmap munmap mremap mprotect brk pkey_mprotect remap_file_pages shmat shmdt mseal map_shadow_stack',
  ],
  ['must-reject', "changes the process's working directory, root or umask", 'chdir fchdir chroot pivot_root umask'],
  ['must-reject', "changes the process's resource limits", 'setrlimit prlimit64'],
  ['must-reject', 'moves the worker to another session or process group', 'setsid setpgid'],
  [
    'must-reject',
    'pid 0 means the thread that runs it: would act on the worker',
    'sched_setaffinity sched_setparam sched_setscheduler sched_setattr setpriority ioprio_set perf_event_open',
  ],
  [
    'must-reject',
    'recursion into an async interface (policy, SEMANTICS §4.1)',
    `io_setup io_destroy io_getevents io_submit io_cancel io_pgetevents io_uring_setup io_uring_enter
     io_uring_register`,
  ],
  // not applicable
  [
    'not-applicable',
    'answers about the thread that runs it: a worker would answer for itself',
    `getpid gettid getppid getuid geteuid getgid getegid getresuid getresgid getgroups getpgrp getpgid getsid capget
     rt_sigpending get_robust_list getrlimit getrusage times getpriority sched_getparam sched_getscheduler
     sched_getaffinity sched_getattr sched_rr_get_interval ioprio_get getcpu get_mempolicy get_thread_area getitimer
     lsm_get_self_attr getcwd`,
  ],
  [
    'not-applicable',
    'never blocks and needs no context: nothing to gain',
    `sched_yield uname sysinfo time gettimeofday clock_gettime clock_getres sched_get_priority_max
     sched_get_priority_min alarm setitimer timer_create timer_settime timer_gettime timer_getoverrun timer_delete
     membarrier lsm_list_modules kcmp`,
  ],
  [
    'not-applicable',
    'system administration: nothing to gain from running it asynchronously',
    `reboot kexec_load kexec_file_load init_module finit_module delete_module swapon swapoff acct sethostname
     setdomainname settimeofday clock_settime clock_adjtime adjtimex syslog quotactl quotactl_fd mount umount2 open_tree
     open_tree_attr move_mount fsopen fsconfig fsmount fspick mount_setattr vhangup bpf`,
  ],
  [
    'not-applicable',
    'not implemented on x86-64 (-ENOSYS) or obsolete',
    `uselib create_module get_kernel_syms query_module nfsservctl getpmsg putpmsg afs_syscall tuxcall security vserver
     epoll_ctl_old epoll_wait_old lookup_dcookie _sysctl ustat sysfs`,
  ],
  // async-safe
  [
    'async-safe',
    'I/O on an fd the submitter passed',
    `read write pread64 pwrite64 readv writev preadv pwritev preadv2 pwritev2 lseek ioctl fcntl flock sendfile
     copy_file_range splice tee vmsplice readahead fadvise64 sync_file_range fallocate ftruncate fsync fdatasync
     syncfs sync msync getdents getdents64 fstat fstatfs close close_range dup dup2 dup3 cachestat`,
  ],
  [
    'async-safe',
    "a path lookup with the submitter's fs and credentials",
    `open creat openat openat2 stat lstat newfstatat statx statfs access faccessat faccessat2 truncate mkdir mkdirat
     rmdir unlink unlinkat rename renameat renameat2 link linkat symlink symlinkat readlink readlinkat mknod mknodat
     chmod fchmod fchmodat fchmodat2 chown fchown lchown fchownat utime utimes futimesat utimensat name_to_handle_at
     open_by_handle_at statmount listmount file_getattr file_setattr`,
  ],
  [
    'async-safe',
    'extended attributes of a path or an fd',
    `setxattr lsetxattr fsetxattr getxattr lgetxattr fgetxattr listxattr llistxattr flistxattr removexattr lremovexattr
     fremovexattr setxattrat getxattrat listxattrat removexattrat`,
  ],
  [
    'async-safe',
    'a socket operation on an fd the submitter passed',
    `socket socketpair connect accept accept4 bind listen shutdown sendto recvfrom sendmsg recvmsg sendmmsg recvmmsg
     getsockname getpeername setsockopt getsockopt`,
  ],
  [
    'async-safe',
    'waits on fds, futexes, children or time: io_uring has the same ops',
    `poll ppoll select pselect6 epoll_wait epoll_pwait epoll_pwait2 epoll_ctl futex futex_waitv futex_wake futex_wait
     futex_requeue wait4 waitid nanosleep clock_nanosleep`,
  ],
  [
    'async-safe',
    "makes an fd in the submitter's file table",
    `pipe pipe2 eventfd eventfd2 epoll_create epoll_create1 timerfd_create timerfd_settime timerfd_gettime signalfd
     signalfd4 inotify_init inotify_init1 inotify_add_watch inotify_rm_watch fanotify_init fanotify_mark memfd_create
     memfd_secret userfaultfd pidfd_open pidfd_getfd landlock_create_ruleset landlock_add_rule`,
  ],
  [
    'async-safe',
    'an object named by its arguments (range, key, queue, pid): not the caller',
    `madvise mincore mlock munlock mlock2 mlockall munlockall mbind set_mempolicy_home_node migrate_pages move_pages
     process_vm_readv process_vm_writev process_madvise process_mrelease getrandom shmget shmctl semget semop semctl
     semtimedop msgget msgsnd msgrcv msgctl mq_open mq_unlink mq_timedsend mq_timedreceive mq_notify mq_getsetattr
     add_key request_key`,
  ],
];

function buildTable(): readonly SyscallClass[] {
  const names: { nr: number; name: string; since?: KernelVersion }[] = LOW.split(/\s+/).map((name, nr) => ({ nr, name }));
  HIGH.forEach((h, i) => {
    const [name, since] = typeof h === 'string' ? [h, undefined] : h;
    names.push(since ? { nr: HIGH_BASE + i, name, since } : { nr: HIGH_BASE + i, name });
  });
  const byName = new Map<string, [AsyncClass, string]>();
  for (const [cls, reason, list] of GROUPS)
    for (const name of list.trim().split(/\s+/)) {
      if (byName.has(name)) throw new Error(`whitelist: ${name} is classified twice`);
      byName.set(name, [cls, reason]);
    }
  const out = names.map(({ nr, name, since }) => {
    const c = byName.get(name);
    if (!c) throw new Error(`whitelist: ${name} (${nr}) is not classified`);
    byName.delete(name);
    return Object.freeze({ nr, name, class: c[0], reason: c[1], ...(since ? { since } : {}) });
  });
  if (byName.size) throw new Error(`whitelist: classified but no such system call: ${[...byName.keys()].join(' ')}`);
  return Object.freeze(out);
}

/** Every x86-64 system call with its class and reason, ordered by number (0..334, 424..469). */
export const SYSCALL_CLASSES: readonly SyscallClass[] = buildTable();

const BY_NR = new Map(SYSCALL_CLASSES.map((c) => [c.nr, c]));
const BY_NAME = new Map(SYSCALL_CLASSES.map((c) => [c.name, c]));

/** The classification of a system call number; `undefined` for numbers x86-64 does not assign. */
export function syscallClass(nr: number): SyscallClass | undefined {
  return BY_NR.get(nr);
}

/** The classification of a system call by name (`classOf('exit_group').class === 'must-reject'`); throws if unknown. */
export function classOf(name: string): SyscallClass {
  const c = BY_NAME.get(name);
  if (!c) throw new Error(`no x86-64 system call named ${name}`);
  return c;
}

/** The system calls an async interface must refuse, ordered by number. */
export const MUST_REJECT: readonly SyscallClass[] = Object.freeze(SYSCALL_CLASSES.filter((c) => c.class === 'must-reject'));

/** The system calls an async interface may run for its submitter, ordered by number. */
export const ASYNC_SAFE: readonly SyscallClass[] = Object.freeze(SYSCALL_CLASSES.filter((c) => c.class === 'async-safe'));

/**
 * `struct renameat_info` of LaHaise's unmerged IOCB_CMD_RENAMEAT (SEMANTICS §2.3), pointed to by
 * `aio_buf`; `aio_nbytes` must equal its size. No header has it.
 */
export const RENAMEAT_INFO = Object.freeze({
  size: 40,
  fields: Object.freeze({ olddirfd: 0, oldpath: 8, newdirfd: 16, newpath: 24, flags: 32 }),
});

/** An argument of a must-reject attempt: an immediate, an unmapped address, the caller's pid, a missing path. */
export type AttemptArg = number | 'bad' | 'pid' | 'missing-path' | 'root-path';

/**
 * Arguments for attempting each must-reject system call through an interface under test (values with
 * no table elsewhere in src/abi are written here with their C names): chosen so
 * that the call, if it ran, either acts visibly (exit status, ids, cwd, a child) or fails with an errno
 * that no interface uses to refuse (-EFAULT, -EBADF, -ENOENT, -EBUSY), never with -EINVAL, -EACCES,
 * -EOPNOTSUPP or -ENOSYS. Calls not listed get zeros; of those, remap_file_pages, shmat, shmdt,
 * pkey_free, map_shadow_stack, lsm_set_self_attr and io_destroy/io_getevents/io_submit/io_cancel/
 * io_pgetevents would fail with -EINVAL if they ran: an interface running them is not caught.
 */
export const MUST_REJECT_ATTEMPTS: Readonly<Record<string, readonly AttemptArg[]>> = Object.freeze({
  exit: [78],
  exit_group: [77],
  execve: ['missing-path', 0, 0],
  execveat: [AT.FDCWD.value, 'missing-path', 0, 0, 0],
  clone: [SIG.CHLD.value /* a fork */, 0, 0, 0, 0],
  clone3: ['bad', 4096 /* any size up to a page: the copy faults */],
  setuid: [65534],
  setgid: [65534],
  setfsuid: [65534],
  setfsgid: [65534],
  setreuid: [65534, 65534],
  setregid: [65534, 65534],
  setresuid: [65534, 65534, 65534],
  setresgid: [65534, 65534, 65534],
  keyctl: [0 /* KEYCTL_GET_KEYRING_ID */, -1 /* KEY_SPEC_THREAD_KEYRING */, 0],
  setns: [-1, 0],
  landlock_restrict_self: [-1, 0],
  prctl: [3 /* PR_GET_DUMPABLE */],
  arch_prctl: [0x1003 /* ARCH_GET_FS */, 'bad'],
  set_robust_list: [0, 24 /* sizeof(struct robust_list_head) */],
  rseq: ['bad', 32 /* sizeof(struct rseq) */, 0, 0],
  set_thread_area: ['bad'],
  rt_sigaction: [SIG.USR1.value, 0, 0, KERNEL_SIGSET.SIZE.value],
  rt_sigprocmask: [SIG_HOW.BLOCK.value, 0, 0, KERNEL_SIGSET.SIZE.value],
  rt_sigsuspend: ['bad', KERNEL_SIGSET.SIZE.value],
  rt_sigtimedwait: ['bad', 0, 0, KERNEL_SIGSET.SIZE.value],
  kill: ['pid', 0],
  tkill: ['pid', 0],
  tgkill: ['pid', 'pid', 0],
  rt_sigqueueinfo: ['pid', 0, 'bad'],
  rt_tgsigqueueinfo: ['pid', 'pid', 0, 'bad'],
  pidfd_send_signal: [-1, 0, 0, 0],
  mmap: [0, 4096, 0 /* PROT_NONE */, 0x22 /* MAP_PRIVATE|MAP_ANONYMOUS */, -1, 0],
  munmap: [0, 4096],
  mremap: [0, 4096, 4096, 0],
  chdir: ['root-path'],
  fchdir: [-1],
  chroot: ['bad'],
  pivot_root: ['bad', 'bad'],
  setrlimit: [0, 'bad'],
  sched_setaffinity: [0, 8, 'bad'],
  sched_setparam: [0, 'bad'],
  sched_setscheduler: [0, 0, 'bad'],
  sched_setattr: [0, 'bad', 0],
  ioprio_set: [1 /* IOPRIO_WHO_PROCESS */, 0, 0],
  perf_event_open: ['bad', 0, -1, -1, 0],
  io_setup: [1, 'bad'],
  io_uring_setup: [1, 'bad'],
  io_uring_enter: [-1, 0, 0, 0, 0, 0],
  io_uring_register: [-1, 0, 0, 0],
});
