/** IORING_OP_READ against pread(2) (SEMANTICS §3.2). */
import { expect } from 'chai';
import { arg } from '../../src/program/builder';
import { patternBytes } from '../../src/program/pattern';
import { pread } from '../../src/program/sys';
import { differential, viaUring } from '../../src/oracle/differential';
import { conformance } from '../../src/suite/conformance';

const SEED = 0x0b10;

conformance(
  'uring.READ matches pread on a short file',
  { ops: ['uring.READ'], rule: 'SEMANTICS §3.2' },
  async ({ target, scratch }) => {
    // 1000-byte file, 4096 asked for at 600: 400 bytes are there
    const twin = await differential(target, scratch, {
      content: [{ seed: SEED, off: 0, len: 1000 }],
      buf: { size: 4096 },
      sync: (s, x) => pread(s, x.fd, x.buf, 4096, 600),
      async: (s, x) => viaUring(s, { opcode: 'READ', fd: x.fd, addr: arg.buf(x.buf), len: 4096, off: 600 }),
    });
    expect(twin.async.result, 'a read past EOF completes with the bytes available (SEMANTICS §3.2)').to.equal(400);
    expect(
      twin.bytes.async.buf.subarray(0, 400).equals(patternBytes(SEED, 600, 400)),
      'the 400 bytes at 600 land in the buffer',
    ).to.equal(true);
    expect(twin.async, 'same result, buffer and file as pread(2) (SEMANTICS §3.2)').to.deep.equal(twin.sync);
  },
);
