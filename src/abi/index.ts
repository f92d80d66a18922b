/**
 * The kernel ABI as data: io_uring and AIO opcodes, flags and layouts with their first mainline
 * releases, errno and syscall numbers, and the Linux constants ops take. Everything else imports
 * numbers from here instead of repeating them.
 */
export * from './version';
export * from './table';
export * from './layout';
export * from './headers';
export * from './uring';
export * from './aio';
export * from './errno';
export * from './syscalls';
export * from './linux';
export * from './catalog';
export * from './posix-aio';
