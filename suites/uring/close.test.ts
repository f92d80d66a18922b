/**
 * IORING_OP_CLOSE (5.6) against close(2), and its direct-descriptor form (sqe->file_index, 5.15),
 * SEMANTICS §3.2.
 */
import { expect } from 'chai';
import { errno, IOSQE, SYSCALLS } from '../../src/abi';
import { arg, Program } from '../../src/program/builder';
import { close, pread, scratchFile } from '../../src/program/sys';
import { registerFiles, requireSetup, UringRunner } from '../../src/oracle/uring-files';
import { conformance } from '../../src/suite/conformance';

conformance(
  'uring.CLOSE closes an fd like close, and a second CLOSE of it fails with -EBADF',
  { ops: ['uring.CLOSE'], rule: 'man 2 close' },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    const { fd: a, step: openA } = scratchFile(s, scratch, 'a');
    const { fd: b, step: openB } = scratchFile(s, scratch, 'b');
    const buf = p.buf(16);
    const u = new UringRunner(s);
    // the twin: close(2) twice, and a pread in between
    const sync = [close(s, b), pread(s, b, buf, 16, 0), close(s, b)];
    const first = u.res({ opcode: 'CLOSE', fd: a });
    const readAfter = pread(s, a, buf, 16, 0);
    const second = u.res({ opcode: 'CLOSE', fd: a });
    // close(2) of the slot too, so the executor forgets a number it no longer owns
    const forget = close(s, a);
    const minus = [s.syscall(SYSCALLS.close, [-1]), u.res({ opcode: 'CLOSE', fd: -1 })] as const;
    const v = await target.run(p);
    requireSetup(v, [
      { what: 'open of a', step: openA },
      { what: 'open of b', step: openB },
    ]);
    expect(
      sync.map((x) => v.ret(x)),
      'close(2), then pread and close(2) of the closed fd',
    ).to.deep.equal([0, -errno.EBADF, -errno.EBADF]);
    expect(
      [first(v), v.ret(readAfter), second(v)],
      'CLOSE, then pread and CLOSE of the closed fd: the same as close(2) (man 2 close)',
    ).to.deep.equal([0, -errno.EBADF, -errno.EBADF]);
    expect(v.ret(forget), 'the fd is gone from the table').to.equal(-errno.EBADF);
    expect([v.ret(minus[0]), minus[1](v)], 'close(-1) and CLOSE of fd -1: -EBADF').to.deep.equal([
      -errno.EBADF,
      -errno.EBADF,
    ]);
  },
);

conformance(
  'uring.CLOSE refuses to close the io_uring fd itself with -EBADF',
  { ops: ['uring.CLOSE'], rule: 'man 3 io_uring_prep_close' },
  async ({ target }) => {
    // io_close(): closing a ring through itself would drop the last reference under the request
    const p = new Program();
    const s = p.main;
    const u = new UringRunner(s);
    const res = u.res({ opcode: 'CLOSE', fd: arg.ring(u.h.ring) });
    const nop = u.res({ opcode: 'NOP' });
    const v = await target.run(p);
    expect(res(v), 'CLOSE of the ring fd: -EBADF').to.equal(-errno.EBADF);
    expect(nop(v), 'the ring still works').to.equal(0);
  },
);

conformance(
  'uring.CLOSE of a fixed-file slot empties the slot and leaves the fd open',
  { ops: ['uring.CLOSE', 'uring.READ'], rule: 'man 3 io_uring_prep_close_direct' },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    const { fd, step: open } = scratchFile(s, scratch, 'f');
    const buf = p.buf(16);
    const u = new UringRunner(s);
    const reg = registerFiles(s, u.h, [fd, -1]);
    const FIXED = IOSQE.FIXED_FILE.value;
    const before = u.res({ opcode: 'READ', flags: FIXED, fd: 0, addr: arg.buf(buf), len: 16, off: 0 });
    // file_index is the slot + 1 (0 means "not a direct descriptor")
    const closeSlot = u.res({ opcode: 'CLOSE', file_index: 1 });
    const after = u.res({ opcode: 'READ', flags: FIXED, fd: 0, addr: arg.buf(buf), len: 16, off: 0 });
    const again = u.res({ opcode: 'CLOSE', file_index: 1 });
    const both = u.res({ opcode: 'CLOSE', fd, file_index: 1 });
    const stillOpen = pread(s, fd, buf, 16, 0);
    const v = await target.run(p);
    requireSetup(v, [
      { what: 'open', step: open },
      { what: 'IORING_REGISTER_FILES', step: reg },
    ]);
    expect(before(v), 'a FIXED_FILE READ of slot 0 reads the empty file: 0').to.equal(0);
    expect(closeSlot(v), 'CLOSE with file_index 1 empties slot 0: 0').to.equal(0);
    expect(after(v), 'a FIXED_FILE READ of the emptied slot: -EBADF (SEMANTICS §3.4)').to.equal(-errno.EBADF);
    expect(again(v), 'CLOSE of the empty slot: -EBADF').to.equal(-errno.EBADF);
    expect(both(v), 'CLOSE with both fd and file_index: -EINVAL').to.equal(-errno.EINVAL);
    expect(v.ret(stillOpen), 'the normal fd that was registered is still open').to.equal(0);
  },
);
