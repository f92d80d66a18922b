/**
 * IORING_OP_READ/WRITE fail like their synchronous twins: a buffer that is not mapped is -EFAULT with
 * the file untouched, an undefined RWF_* bit in rw_flags is -EOPNOTSUPP. Man 2 pread, man 2 preadv2;
 * SEMANTICS §3.2.
 */
import { expect } from 'chai';
import { arg, Sequence } from '../../src/program/builder';
import { entriesOf, errno, RWF, SYSCALLS } from '../../src/abi';
import { differential, iovecs, viaUring } from '../../src/oracle/differential';
import { conformance } from '../../src/suite/conformance';

/** An address in the first page, which is never mapped (mmap_min_addr). */
const UNMAPPED = 8;
/** The lowest rw_flags bit above every RWF_* this project knows. */
const UNDEFINED_RWF = 2 * Math.max(...entriesOf(RWF).map((f) => f.value));
const SEED = 0x0b40;

conformance(
  'uring.READ and uring.WRITE with an unmapped buffer fail with -EFAULT like pread and pwrite, the file untouched',
  { ops: ['uring.READ', 'uring.WRITE'], rule: 'man 2 pread EFAULT; SEMANTICS §3.2' },
  async ({ target, scratch }) => {
    for (const op of ['READ', 'WRITE'] as const) {
      const nr = op === 'READ' ? SYSCALLS.pread64 : SYSCALLS.pwrite64;
      const twin = await differential(target, scratch, {
        content: [{ seed: SEED, off: 0, len: 8192 }],
        buf: { size: 4096 },
        sync: (s, x) => s.syscall(nr, [arg.fd(x.fd), UNMAPPED, 4096, 0]),
        async: (s, x) => viaUring(s, { opcode: op, fd: x.fd, addr: UNMAPPED, len: 4096, off: 0 }),
      });
      expect(twin.async.result, `${op} from/to an unmapped address: -EFAULT`).to.equal(-errno.EFAULT);
      expect(twin.async, `${op}: same result and file as the syscall (man 2 pread)`).to.deep.equal(twin.sync);
    }
  },
);

conformance(
  'uring.READV with an iovec array at an unmapped address fails with -EFAULT like preadv',
  { ops: ['uring.READV'], rule: 'man 2 readv EFAULT; SEMANTICS §3.2' },
  async ({ target, scratch }) => {
    const twin = await differential(target, scratch, {
      content: [{ seed: SEED + 1, off: 0, len: 4096 }],
      buf: { size: 4096 },
      sync: (s, x) => s.syscall(SYSCALLS.preadv, [arg.fd(x.fd), UNMAPPED, 2, 0, 0]),
      async: (s, x) => viaUring(s, { opcode: 'READV', fd: x.fd, addr: UNMAPPED, len: 2, off: 0 }),
    });
    expect(twin.async.result, 'the iovec array cannot be read: -EFAULT').to.equal(-errno.EFAULT);
    expect(twin.async, 'same result, buffer and file as preadv(2)').to.deep.equal(twin.sync);
  },
);

conformance(
  'uring.READ and uring.WRITE with an undefined RWF_* bit in rw_flags fail with -EOPNOTSUPP like preadv2 and pwritev2',
  { ops: ['uring.READ', 'uring.WRITE'], rule: 'man 2 preadv2 EOPNOTSUPP; SEMANTICS §3.2' },
  async ({ target, scratch }) => {
    for (const op of ['READ', 'WRITE'] as const) {
      const nr = op === 'READ' ? SYSCALLS.preadv2 : SYSCALLS.pwritev2;
      const twin = await differential(target, scratch, {
        content: [{ seed: SEED + 2, off: 0, len: 4096 }],
        buf: { size: 4096, fill: { seed: SEED + 3 } },
        sync: (s: Sequence, x) =>
          s.syscall(nr, [arg.fd(x.fd), arg.buf(iovecs(s, x.buf, [[0, 4096]])), 1, 0, 0, UNDEFINED_RWF]),
        async: (s, x) =>
          viaUring(s, { opcode: op, fd: x.fd, addr: arg.buf(x.buf), len: 4096, off: 0, rw_flags: UNDEFINED_RWF }),
      });
      expect(twin.async.result, `${op} with rw_flags 0x${UNDEFINED_RWF.toString(16)}: -EOPNOTSUPP`).to.equal(
        -errno.EOPNOTSUPP,
      );
      expect(twin.async, `${op}: same result, buffer and file as the syscall (man 2 preadv2)`).to.deep.equal(twin.sync);
    }
  },
);
