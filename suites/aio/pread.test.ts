/** IOCB_CMD_PREAD against pread(2): short reads at EOF and holes (SEMANTICS §1.2, §1.6). */
import { expect } from 'chai';
import { arg } from '../../src/program/builder';
import { patternBytes } from '../../src/program/pattern';
import { pread } from '../../src/program/sys';
import { differential, viaAio } from '../../src/oracle/differential';
import { conformance } from '../../src/suite/conformance';

const SEED = 0x0a10;

conformance(
  'aio.PREAD matches pread on a short file',
  { ops: ['aio.PREAD'], rule: 'SEMANTICS §1.2' },
  async ({ target, scratch }) => {
    // 1000-byte file, 4096 asked for at 600: 400 bytes are there
    const twin = await differential(target, scratch, {
      content: [{ seed: SEED, off: 0, len: 1000 }],
      buf: { size: 4096 },
      sync: (s, x) => pread(s, x.fd, x.buf, 4096, 600),
      async: (s, x) =>
        viaAio(s, { opcode: 'PREAD', fd: x.fd, aio_buf: arg.buf(x.buf), aio_nbytes: 4096, aio_offset: 600 }),
    });
    expect(twin.async.result, 'a read past EOF returns the bytes available (SEMANTICS §1.2)').to.equal(400);
    expect(
      twin.bytes.async.buf.subarray(0, 400).equals(patternBytes(SEED, 600, 400)),
      'the 400 bytes at 600 land in the buffer',
    ).to.equal(true);
    expect(twin.async, 'same result, buffer and file as pread(2) (SEMANTICS §1.2)').to.deep.equal(twin.sync);
  },
);

conformance(
  'aio.PREAD of a hole reads zeros',
  { ops: ['aio.PREAD'], rule: 'SEMANTICS §1.2' },
  async ({ target, scratch }) => {
    // data only at 64 KiB: [0, 64 KiB) is a hole; the buffer starts as 0xa5
    const twin = await differential(target, scratch, {
      content: [{ seed: SEED, off: 65536, len: 4096 }],
      buf: { size: 4096 },
      sync: (s, x) => pread(s, x.fd, x.buf, 4096, 8192),
      async: (s, x) =>
        viaAio(s, { opcode: 'PREAD', fd: x.fd, aio_buf: arg.buf(x.buf), aio_nbytes: 4096, aio_offset: 8192 }),
    });
    expect(twin.async.result, 'a read inside the file is full length (SEMANTICS §1.2)').to.equal(4096);
    expect(twin.bytes.async.buf.equals(Buffer.alloc(4096)), 'a hole reads as zeros').to.equal(true);
    expect(twin.async, 'same result, buffer and file as pread(2) (SEMANTICS §1.2)').to.deep.equal(twin.sync);
  },
);
