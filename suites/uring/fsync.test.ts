/** IORING_OP_FSYNC, plain and with IORING_FSYNC_DATASYNC, against fsync(2) and fdatasync(2) (SEMANTICS §3.2). */
import { expect } from 'chai';
import { FSYNC, SYSCALLS } from '../../src/abi';
import { arg } from '../../src/program/builder';
import { differential, viaUring } from '../../src/oracle/differential';
import { conformance } from '../../src/suite/conformance';

const CASES = [
  { title: 'uring.FSYNC completes with res 0 like fsync', twin: 'fsync', flags: 0 },
  {
    title: 'uring.FSYNC with IORING_FSYNC_DATASYNC completes with res 0 like fdatasync',
    twin: 'fdatasync',
    flags: FSYNC.DATASYNC.value,
  },
] as const;

for (const c of CASES) {
  conformance(c.title, { ops: ['uring.FSYNC'], rule: 'SEMANTICS §3.2' }, async ({ target, scratch }) => {
    const t = await differential(target, scratch, {
      content: [{ seed: 0x0b16, off: 0, len: 8192 }],
      buf: { size: 8 },
      sync: (s, x) => s.syscall(SYSCALLS[c.twin], [arg.fd(x.fd)]),
      async: (s, x) => viaUring(s, { opcode: 'FSYNC', fd: x.fd, fsync_flags: c.flags }),
    });
    expect(t.async.result, 'FSYNC of a written file completes with res 0 (SEMANTICS §3.2)').to.equal(0);
    expect(t.async, `same result and file as ${c.twin}(2)`).to.deep.equal(t.sync);
  });
}
