/**
 * IORING_OP_FALLOCATE (5.6) against fallocate(2): sqe->off is the offset, sqe->addr the length and
 * sqe->len the mode (man io_uring_prep_fallocate); result and the file afterwards.
 */
import { expect } from 'chai';
import { errno, FALLOC_FL, SYSCALLS } from '../../src/abi';
import { arg, Program } from '../../src/program/builder';
import { patternBytes } from '../../src/program/pattern';
import { pipe2, scratchFile } from '../../src/program/sys';
import { differential } from '../../src/oracle/differential';
import { requireSetup, UringRunner } from '../../src/oracle/uring-files';
import { conformance } from '../../src/suite/conformance';

const { KEEP_SIZE, PUNCH_HOLE } = FALLOC_FL;

const CASES = [
  { mode: 0, name: 'mode 0', off: 8192, len: 8192, size: 16384 },
  { mode: KEEP_SIZE.value, name: 'FALLOC_FL_KEEP_SIZE', off: 8192, len: 8192, size: 10000 },
  {
    mode: PUNCH_HOLE.value | KEEP_SIZE.value,
    name: 'FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE',
    off: 4096,
    len: 4096,
    size: 10000,
  },
] as const;

for (const c of CASES) {
  conformance(
    `uring.FALLOCATE with ${c.name} changes the file like fallocate`,
    { ops: ['uring.FALLOCATE'], rule: 'man 2 fallocate' },
    async ({ target, scratch, skip }) => {
      // a 10000-byte file: [off, off + len) allocated (extending or not) or punched out
      const twin = await differential(target, scratch, {
        content: [{ seed: 0x0f20, off: 0, len: 10000 }],
        buf: { size: 8 },
        sync: (s, x) => s.syscall(SYSCALLS.fallocate, [arg.fd(x.fd), c.mode, c.off, c.len]),
        async: (s, x) =>
          new UringRunner(s, { entries: 4 }).res({
            opcode: 'FALLOCATE',
            fd: x.fd,
            off: c.off,
            addr: c.len,
            len: c.mode,
          }),
      });
      if (twin.sync.result === -errno.EOPNOTSUPP) skip(`the scratch filesystem does not support fallocate ${c.name}`);
      expect(twin.async.result, `fallocate ${c.name} succeeds (man 2 fallocate)`).to.equal(0);
      expect(twin.async.size, `the file is ${c.size} bytes afterwards`).to.equal(c.size);
      if (c.mode & PUNCH_HOLE.value) {
        const f = twin.bytes.async.file;
        expect(f.subarray(4096, 8192).equals(Buffer.alloc(4096)), 'the punched range reads as zeros').to.equal(true);
        expect(f.subarray(8192).equals(patternBytes(0x0f20, 8192, 1808)), 'the bytes after it are intact').to.equal(
          true,
        );
      }
      expect(twin.async, `same result, size and bytes as fallocate(2) with ${c.name}`).to.deep.equal(twin.sync);
    },
  );
}

conformance(
  'uring.FALLOCATE fails like fallocate on bad modes, lengths, offsets and fds',
  { ops: ['uring.FALLOCATE'], rule: 'man 2 fallocate' },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    const { w, step: pipe } = pipe2(s);
    const { fd, step: open } = scratchFile(s, scratch, 'f');
    const u = new UringRunner(s);
    const cases = [
      // fallocate(2): PUNCH_HOLE must come with KEEP_SIZE, unknown bits are refused: both EOPNOTSUPP
      {
        what: 'FALLOC_FL_PUNCH_HOLE without KEEP_SIZE',
        fd,
        mode: PUNCH_HOLE.value,
        off: 0,
        len: 4096,
        want: -errno.EOPNOTSUPP,
      },
      { what: 'mode 0x8000 (undefined)', fd, mode: 0x8000, off: 0, len: 4096, want: -errno.EOPNOTSUPP },
      { what: 'length 0', fd, mode: 0, off: 0, len: 0, want: -errno.EINVAL },
      { what: 'offset -1', fd, mode: 0, off: -1, len: 4096, want: -errno.EINVAL },
      { what: 'the write end of a pipe', fd: w, mode: 0, off: 0, len: 4096, want: -errno.ESPIPE },
      { what: 'fd -1', fd: -1, mode: 0, off: 0, len: 4096, want: -errno.EBADF },
    ].map((c) => ({
      ...c,
      sync: s.syscall(SYSCALLS.fallocate, [typeof c.fd === 'number' ? c.fd : arg.fd(c.fd), c.mode, c.off, c.len]),
      async: u.res({ opcode: 'FALLOCATE', fd: c.fd, off: c.off, addr: c.len, len: c.mode }),
    }));
    const v = await target.run(p);
    requireSetup(v, [
      { what: 'pipe2', step: pipe },
      { what: 'open', step: open },
    ]);
    for (const c of cases) {
      expect(v.ret(c.sync), `fallocate(2) with ${c.what}`).to.equal(c.want);
      expect(c.async(v), `FALLOCATE with ${c.what} fails like fallocate(2)`).to.equal(c.want);
    }
  },
);
