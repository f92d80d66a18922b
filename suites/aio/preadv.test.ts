/** IOCB_CMD_PREADV against preadv(2) (SEMANTICS §1.2). */
import { expect } from 'chai';
import { SYSCALLS } from '../../src/abi';
import { arg } from '../../src/program/builder';
import { patternBytes } from '../../src/program/pattern';
import { differential, iovecs, viaAio } from '../../src/oracle/differential';
import { conformance } from '../../src/suite/conformance';

const SEED = 0x0a13;
/** Three segments out of buffer order: [offset in the buffer, length]. */
const SEGMENTS = [
  [1024, 100],
  [0, 200],
  [2048, 300],
] as const;

conformance(
  'aio.PREADV with 3 iovecs matches preadv',
  { ops: ['aio.PREADV'], rule: 'SEMANTICS §1.2' },
  async ({ target, scratch }) => {
    // 450-byte file read from 50: 400 bytes fill the first two iovecs and 100 of the third
    const twin = await differential(target, scratch, {
      content: [{ seed: SEED, off: 0, len: 450 }],
      buf: { size: 4096 },
      sync: (s, x) =>
        s.syscall(SYSCALLS.preadv, [arg.fd(x.fd), arg.buf(iovecs(s, x.buf, SEGMENTS)), SEGMENTS.length, 50, 0]),
      async: (s, x) =>
        viaAio(s, {
          opcode: 'PREADV',
          fd: x.fd,
          aio_buf: arg.buf(iovecs(s, x.buf, SEGMENTS)),
          aio_nbytes: SEGMENTS.length,
          aio_offset: 50,
        }),
    });
    expect(twin.async.result, 'a vectored read stops at EOF: 400 bytes (SEMANTICS §1.2)').to.equal(400);
    const b = twin.bytes.async.buf;
    expect(b.subarray(1024, 1124).equals(patternBytes(SEED, 50, 100)), 'iovec 0 holds file bytes [50, 150)').to.equal(
      true,
    );
    expect(b.subarray(0, 200).equals(patternBytes(SEED, 150, 200)), 'iovec 1 holds file bytes [150, 350)').to.equal(
      true,
    );
    expect(b.subarray(2048, 2148).equals(patternBytes(SEED, 350, 100)), 'iovec 2 holds file bytes [350, 450)').to.equal(
      true,
    );
    expect(twin.async, 'same result, buffer and file as preadv(2) (SEMANTICS §1.2)').to.deep.equal(twin.sync);
  },
);
