/** IORING_OP_FTRUNCATE (6.9) against ftruncate(2): sqe->off is the length (man io_uring_prep_ftruncate). */
import { expect } from 'chai';
import * as path from 'path';
import { errno, O, SYSCALLS } from '../../src/abi';
import { arg, Program } from '../../src/program/builder';
import { patternBytes } from '../../src/program/pattern';
import { openat, pipe2, scratchFile } from '../../src/program/sys';
import { differential } from '../../src/oracle/differential';
import { requireSetup, UringRunner } from '../../src/oracle/uring-files';
import { conformance } from '../../src/suite/conformance';

for (const len of [3000, 20000]) {
  conformance(
    `uring.FTRUNCATE to ${len} bytes ${len < 10000 ? 'shrinks' : 'grows'} a file like ftruncate`,
    { ops: ['uring.FTRUNCATE'], rule: 'man 2 ftruncate' },
    async ({ target, scratch }) => {
      const twin = await differential(target, scratch, {
        content: [{ seed: 0x0f40, off: 0, len: 10000 }],
        buf: { size: 8 },
        sync: (s, x) => s.syscall(SYSCALLS.ftruncate, [arg.fd(x.fd), len]),
        async: (s, x) => new UringRunner(s, { entries: 4 }).res({ opcode: 'FTRUNCATE', fd: x.fd, off: len }),
      });
      expect(twin.async.result, 'ftruncate of a regular file: 0 (man 2 ftruncate)').to.equal(0);
      expect(twin.async.size, `the file is ${len} bytes afterwards`).to.equal(len);
      const f = twin.bytes.async.file;
      expect(
        f.subarray(0, Math.min(len, 10000)).equals(patternBytes(0x0f40, 0, Math.min(len, 10000))),
        'the bytes before the cut are kept',
      ).to.equal(true);
      if (len > 10000)
        expect(f.subarray(10000).equals(Buffer.alloc(len - 10000)), 'the extension reads as zeros').to.equal(true);
      expect(twin.async, 'same result, size and bytes as ftruncate(2)').to.deep.equal(twin.sync);
    },
  );
}

conformance(
  'uring.FTRUNCATE fails like ftruncate on a negative length, a read-only fd, a pipe and fd -1',
  { ops: ['uring.FTRUNCATE'], rule: 'man 2 ftruncate' },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    const { fd, step: open } = scratchFile(s, scratch, 'f');
    const { fd: ro, step: openRo } = openat(s, path.posix.join(scratch, 'f'), O.RDONLY.value | O.CLOEXEC.value);
    const { w, step: pipe } = pipe2(s);
    const u = new UringRunner(s);
    const cases = [
      { what: 'length -1', fd, len: -1, want: -errno.EINVAL },
      { what: 'an O_RDONLY fd', fd: ro, len: 0, want: -errno.EINVAL },
      { what: 'a pipe', fd: w, len: 0, want: -errno.EINVAL },
      { what: 'fd -1', fd: -1, len: 0, want: -errno.EBADF },
    ].map((c) => ({
      ...c,
      sync: s.syscall(SYSCALLS.ftruncate, [typeof c.fd === 'number' ? c.fd : arg.fd(c.fd), c.len]),
      async: u.res({ opcode: 'FTRUNCATE', fd: c.fd, off: c.len }),
    }));
    const v = await target.run(p);
    requireSetup(v, [
      { what: 'open', step: open },
      { what: 'open O_RDONLY', step: openRo },
      { what: 'pipe2', step: pipe },
    ]);
    for (const c of cases) {
      expect(v.ret(c.sync), `ftruncate(2) on ${c.what}`).to.equal(c.want);
      expect(c.async(v), `FTRUNCATE on ${c.what} fails like ftruncate(2)`).to.equal(c.want);
    }
  },
);
