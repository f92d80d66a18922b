/** IORING_OP_WRITE against pwrite(2) (SEMANTICS §3.2). */
import { expect } from 'chai';
import { arg } from '../../src/program/builder';
import { patternBytes } from '../../src/program/pattern';
import { pwrite } from '../../src/program/sys';
import { differential, viaUring } from '../../src/oracle/differential';
import { conformance } from '../../src/suite/conformance';

conformance(
  'uring.WRITE extending a file matches pwrite',
  { ops: ['uring.WRITE'], rule: 'SEMANTICS §3.2' },
  async ({ target, scratch }) => {
    // 1000-byte file; 4096 bytes written at 2000 leave a gap [1000, 2000) and grow the file to 6096
    const twin = await differential(target, scratch, {
      content: [{ seed: 0x0b11, off: 0, len: 1000 }],
      buf: { size: 4096, fill: { seed: 0x0b12, pos: 2000 } },
      sync: (s, x) => pwrite(s, x.fd, x.buf, 4096, 2000),
      async: (s, x) => viaUring(s, { opcode: 'WRITE', fd: x.fd, addr: arg.buf(x.buf), len: 4096, off: 2000 }),
    });
    expect(twin.async.result, 'the whole write is done (SEMANTICS §3.2)').to.equal(4096);
    expect(twin.async.size, 'the file grows to the end of the write').to.equal(6096);
    const file = twin.bytes.async.file;
    expect(file.subarray(1000, 2000).equals(Buffer.alloc(1000)), 'the gap before the write reads as zeros').to.equal(
      true,
    );
    expect(file.subarray(2000).equals(patternBytes(0x0b12, 2000, 4096)), 'the written bytes are in the file').to.equal(
      true,
    );
    expect(twin.async, 'same result, size and bytes as pwrite(2) (SEMANTICS §3.2)').to.deep.equal(twin.sync);
  },
);
