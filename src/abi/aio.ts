/**
 * Linux AIO as data (SEMANTICS §1.2–1.4, §2.3): opcodes with their state in mainline, the `iocb`,
 * `io_event` and ring-header layouts, `aio_flags` and the `RWF_*` bits of `aio_rw_flags`.
 */
import { AIO_ABI_H, LINUX_FS_H } from './headers';
import { layout } from './layout';
import { bits, constants } from './table';
import type { KernelVersion } from './version';

/**
 * What an `aio_lio_opcode` value is in mainline:
 * `works` — dispatched by `__io_submit_one`; `never-implemented` — defined or reserved, always `-EINVAL`;
 * `unmerged` — LaHaise's 2016 thread-based series, never merged; `unused` — no proposal used it.
 */
export type AioOpState = 'works' | 'never-implemented' | 'unmerged' | 'unused';

/** One AIO opcode. */
export interface AioOp<N extends string = string> {
  /** Name without `IOCB_CMD_`. */
  readonly name: N;
  /** C identifier, when any header or patch ever named the value. */
  readonly cName: string | null;
  readonly value: number;
  readonly state: AioOpState;
  /** First mainline release in which it works; `null` if it never did. */
  readonly since: KernelVersion | null;
  /** Defined by mainline `<linux/aio_abi.h>`. */
  readonly uapi: boolean;
  readonly unverified: boolean;
  readonly note?: string;
}

function op<N extends string>(
  value: number,
  name: N,
  state: AioOpState,
  since: KernelVersion | null,
  extra: { uapi?: boolean; cName?: string | null; unverified?: true; note?: string } = {},
): AioOp<N> {
  const { uapi = state === 'works', cName = `IOCB_CMD_${name}`, unverified, note } = extra;
  const base = { name, cName, value, state, since, uapi, unverified: unverified === true };
  return Object.freeze(note ? { ...base, note } : base);
}

/** Every `aio_lio_opcode` value 0..13, ordered by value. Values ≥ 14 are `-EINVAL` too. */
export const AIO_OPS = Object.freeze([
  op(0, 'PREAD', 'works', '2.5', { note: 'first stable release 2.6.0' }),
  op(1, 'PWRITE', 'works', '2.5', { note: 'first stable release 2.6.0' }),
  op(2, 'FSYNC', 'works', '4.18', { note: 'before 4.18 only with f_op->aio_fsync, which no mainline fs had' }),
  op(3, 'FDSYNC', 'works', '4.18', { note: 'as FSYNC, datasync' }),
  op(4, 'PREADX', 'never-implemented', null, { note: 'only a comment in aio_abi.h' }),
  op(5, 'POLL', 'works', '4.18', { note: 'commit 2c14fa838' }),
  op(6, 'NOOP', 'never-implemented', null, { uapi: true, note: 'defined, dispatcher returns -EINVAL' }),
  op(7, 'PREADV', 'works', '2.6.19', { unverified: true }),
  op(8, 'PWRITEV', 'works', '2.6.19', { unverified: true }),
  op(9, 'OPENAT', 'unmerged', null, { note: 'LaHaise 2016, patch 09/13' }),
  op(10, 'UNLINKAT', 'unmerged', null, { note: 'LaHaise 2016, patch 10/13' }),
  op(11, 'UNUSED_11', 'unused', null, { cName: null }),
  op(12, 'READAHEAD', 'unmerged', null, { note: 'LaHaise 2016, patch 12/13' }),
  op(13, 'RENAMEAT', 'unmerged', null, { note: 'LaHaise 2016, patch 13/13' }),
] as const);

/** Name of an AIO opcode, without `IOCB_CMD_`. */
export type AioOpName = (typeof AIO_OPS)[number]['name'];

/** AIO opcodes by name (`AIO_OP.PREAD.value === 0`). */
export const AIO_OP = Object.freeze(Object.fromEntries(AIO_OPS.map((o) => [o.name, o]))) as {
  readonly [K in AioOpName]: AioOp<K>;
};

/** The AIO opcode with this name (typed). */
export function aioOp<N extends AioOpName>(name: N): AioOp<N> {
  return AIO_OP[name];
}

/** The AIO opcode with this value, `undefined` above 13. */
export function aioOpByValue(value: number): AioOp | undefined {
  return AIO_OPS.find((o) => o.value === value);
}

/** `struct iocb`, 64 bytes, little-endian field order (big-endian swaps `aio_key` and `aio_rw_flags`). */
export const IOCB_LAYOUT = layout(
  { id: 'iocb', cType: 'struct iocb', header: AIO_ABI_H, size: 64, since: '2.5' },
  {
    aio_data: [0, 8, { note: 'copied to io_event.data' }],
    aio_key: [8, 4, { note: 'the kernel writes KIOCB_KEY (0); io_cancel requires 0' }],
    aio_rw_flags: [12, 4, { signed: true, since: '4.13', unverified: true, formerly: 'aio_reserved1', note: 'RWF_*' }],
    aio_lio_opcode: [16, 2],
    aio_reqprio: [18, 2, { signed: true, note: 'used only with IOCB_FLAG_IOPRIO' }],
    aio_fildes: [20, 4],
    aio_buf: [24, 8, { note: 'buffer, iovec array, or (POLL) the event mask' }],
    aio_nbytes: [32, 8],
    aio_offset: [40, 8, { signed: true }],
    aio_reserved2: [48, 8, { note: 'must be 0, else -EINVAL' }],
    aio_flags: [56, 4, { note: 'IOCB_FLAG_*' }],
    aio_resfd: [60, 4],
  },
);

/** `struct io_event`, 32 bytes. */
export const IO_EVENT_LAYOUT = layout(
  { id: 'io_event', cType: 'struct io_event', header: AIO_ABI_H, size: 32, since: '2.5' },
  {
    data: [0, 8],
    obj: [8, 8, { note: 'user pointer to the iocb' }],
    res: [16, 8, { signed: true }],
    res2: [24, 8, { signed: true, note: 'always 0 in modern kernels' }],
  },
);

/** `struct aio_ring`, the 32-byte header at the address `aio_context_t` holds; `io_event`s follow. Not UAPI. */
export const AIO_RING_LAYOUT = layout(
  { id: 'aio_ring', cType: null, header: null, size: 32 },
  {
    id: [0, 4],
    nr: [4, 4],
    head: [8, 4, { note: 'userspace may advance it to reap' }],
    tail: [12, 4],
    magic: [16, 4],
    compat_features: [20, 4],
    incompat_features: [24, 4],
    header_length: [28, 4],
  },
);

/** Ring-header constants (kernel-internal, `fs/aio.c`). */
export const AIO_RING = constants('AIO_RING_', AIO_ABI_H, {
  MAGIC: [0xa10a10a1, null, { internal: true }],
  COMPAT_FEATURES: [1, null, { internal: true }],
  INCOMPAT_FEATURES: [0, null, { internal: true }],
  /** Set in `compat_features` by LaHaise's unmerged thread-based AIO. */
  COMPAT_THREADED: [2, null, { internal: true, note: 'unmerged LaHaise series only' }],
});

/** `iocb.aio_flags` bits; other bits are silently ignored (SEMANTICS §1.4). */
export const IOCB_FLAG = bits('IOCB_FLAG_', AIO_ABI_H, {
  RESFD: [1 << 0, '2.6.22', { unverified: true }],
  IOPRIO: [1 << 1, '4.18', { unverified: true }],
});

/** `RWF_*` for `preadv2`/`pwritev2`, `aio_rw_flags` and io_uring `rw_flags`; unknown bits are `-EOPNOTSUPP`. */
export const RWF = bits('RWF_', LINUX_FS_H, {
  HIPRI: [0x01, '4.6'],
  DSYNC: [0x02, '4.7'],
  SYNC: [0x04, '4.7'],
  NOWAIT: [0x08, '4.13', { unverified: true }],
  APPEND: [0x10, '4.16'],
  NOAPPEND: [0x20, '6.9', { unverified: true }],
  ATOMIC: [0x40, '6.11', { unverified: true }],
  DONTCACHE: [0x80, '6.14', { unverified: true }],
  // SEMANTICS §1.4 calls the merge unverified; perf's copy of the UAPI header has it (2025), so about 6.17.
  NOSIGNAL: [0x100, '6.17', { unverified: true, note: 'writes to pipes and sockets do not raise SIGPIPE' }],
});
