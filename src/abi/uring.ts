/** io_uring as data: opcodes, flags and layouts (SEMANTICS §3). System call numbers are in `./syscalls`. */
export * from './uring-ops';
export * from './uring-flags';
export * from './uring-layout';
