/** IOCB_CMD_PWRITEV against pwritev(2) (SEMANTICS §1.2). */
import { expect } from 'chai';
import { SYSCALLS } from '../../src/abi';
import { arg } from '../../src/program/builder';
import { patternBytes } from '../../src/program/pattern';
import { differential, iovecs, viaAio } from '../../src/oracle/differential';
import { conformance } from '../../src/suite/conformance';

const SEED = 0x0a15;
/** Three segments out of buffer order: [offset in the buffer, length]. */
const SEGMENTS = [
  [1024, 100],
  [0, 200],
  [2048, 300],
] as const;

conformance(
  'aio.PWRITEV with 3 iovecs matches pwritev',
  { ops: ['aio.PWRITEV'], rule: 'SEMANTICS §1.2' },
  async ({ target, scratch }) => {
    // 1000-byte file; 600 bytes gathered from three iovecs written at 700 grow it to 1300
    const twin = await differential(target, scratch, {
      content: [{ seed: 0x0a14, off: 0, len: 1000 }],
      buf: { size: 4096, fill: { seed: SEED } },
      sync: (s, x) =>
        s.syscall(SYSCALLS.pwritev, [arg.fd(x.fd), arg.buf(iovecs(s, x.buf, SEGMENTS)), SEGMENTS.length, 700, 0]),
      async: (s, x) =>
        viaAio(s, {
          opcode: 'PWRITEV',
          fd: x.fd,
          aio_buf: arg.buf(iovecs(s, x.buf, SEGMENTS)),
          aio_nbytes: SEGMENTS.length,
          aio_offset: 700,
        }),
    });
    expect(twin.async.result, 'all three iovecs are written (SEMANTICS §1.2)').to.equal(600);
    expect(twin.async.size, 'the file grows to the end of the write').to.equal(1300);
    const gathered = Buffer.concat(SEGMENTS.map(([off, len]) => patternBytes(SEED, off, len)));
    expect(twin.bytes.async.file.subarray(700).equals(gathered), 'the file holds the iovecs in iovec order').to.equal(
      true,
    );
    expect(twin.async, 'same result, size and bytes as pwritev(2) (SEMANTICS §1.2)').to.deep.equal(twin.sync);
  },
);
