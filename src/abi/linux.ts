/** Other Linux x86-64 constants and layouts the tests need, beside io_uring and AIO. */
export * from './linux-fs';
export * from './linux-io';
export * from './linux-proc';
export * from './linux-layout';
