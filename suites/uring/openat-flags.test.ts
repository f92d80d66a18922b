/**
 * IORING_OP_OPENAT (5.6) against openat(2) beyond a missing path: O_CREAT|O_EXCL, O_DIRECTORY, the
 * mode of a created file, and an fd from the CQE that reads the file (SEMANTICS §3.2).
 */
import * as path from 'path';
import { expect } from 'chai';
import { AT, errno, O, STATX, STATX_LAYOUT, SYSCALLS } from '../../src/abi';
import { arg, Program } from '../../src/program/builder';
import { patternBytes } from '../../src/program/pattern';
import { openat, pwrite, scratchFile } from '../../src/program/sys';
import { requireSetup, statxDump, UringRunner } from '../../src/oracle/uring-files';
import { conformance } from '../../src/suite/conformance';

const RULE = 'man 2 openat';

conformance(
  'uring.OPENAT fails like openat: -EEXIST (O_CREAT|O_EXCL), -ENOTDIR (O_DIRECTORY), -EISDIR (O_CREAT of dir/)',
  { ops: ['uring.OPENAT'], rule: RULE },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    const file = path.posix.join(scratch, 'f');
    const { step: made } = scratchFile(s, scratch, 'f');
    const u = new UringRunner(s);
    const cases = [
      {
        what: 'O_CREAT|O_EXCL on an existing file',
        flags: O.RDWR.value | O.CREAT.value | O.EXCL.value,
        want: -errno.EEXIST,
      },
      { what: 'O_DIRECTORY on a regular file', flags: O.RDONLY.value | O.DIRECTORY.value, want: -errno.ENOTDIR },
      {
        what: 'O_CREAT on a trailing slash',
        flags: O.RDWR.value | O.CREAT.value,
        path: `${file}-dir/`,
        want: -errno.EISDIR,
      },
    ].map((c) => {
      const f = O.CLOEXEC.value | c.flags;
      const at = c.path ?? file;
      const id = u.nextId;
      const r = {
        ...c,
        sync: openat(s, at, f, 0o600).step,
        async: u.res({ opcode: 'OPENAT', fd: AT.FDCWD.value, addr: arg.buf(p.cstr(at)), open_flags: f, len: 0o600 }),
      };
      // should an open succeed after all, its fd must not outlive the program
      s.syscall(SYSCALLS.close, [arg.res(id)]);
      return r;
    });
    const v = await target.run(p);
    requireSetup(v, [{ what: 'creation of the file', step: made }]);
    for (const c of cases) {
      expect(v.ret(c.sync), `openat(2) with ${c.what}`).to.equal(c.want);
      expect(c.async(v), `OPENAT with ${c.what} fails like openat(2) (SEMANTICS §3.1)`).to.equal(c.want);
    }
  },
);

conformance(
  'uring.OPENAT with O_CREAT|O_EXCL creates a file with the mode openat gives, and its fd reads and writes it',
  { ops: ['uring.OPENAT'], rule: RULE },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    const flags = O.RDWR.value | O.CREAT.value | O.EXCL.value | O.CLOEXEC.value;
    const { fd: syncFd, step: sync } = openat(s, path.posix.join(scratch, 'sync'), flags, 0o640);
    const u = new UringRunner(s);
    const id = u.nextId;
    const async = u.res({
      opcode: 'OPENAT',
      fd: AT.FDCWD.value,
      addr: arg.buf(p.cstr(path.posix.join(scratch, 'async'))),
      open_flags: flags,
      len: 0o640,
    });
    const data = p.buf(1000);
    s.fillPattern(data, 0, 1000, 0x0f50);
    // the CQE's res is the new fd: write through it, read back through it, then close it
    const wrote = [
      pwrite(s, syncFd, data, 1000, 0),
      s.syscall(SYSCALLS.pwrite64, [arg.res(id), arg.buf(data), 1000, 0]),
    ];
    const back = [p.buf(1000), p.buf(1000)];
    const read = [
      s.syscall(SYSCALLS.pread64, [arg.fd(syncFd), arg.buf(back[0]), 1000, 0]),
      s.syscall(SYSCALLS.pread64, [arg.res(id), arg.buf(back[1]), 1000, 0]),
    ];
    const dumps = back.map((b) => s.dump(b));
    const closed = s.syscall(SYSCALLS.close, [arg.res(id)]);
    const mode = ['sync', 'async'].map((n) =>
      statxDump(s, AT.FDCWD.value, p.cstr(path.posix.join(scratch, n)), 0, STATX.BASIC_STATS.value),
    );
    const v = await target.run(p);
    expect(v.ret(sync), 'openat(2) with O_CREAT|O_EXCL of a new file').to.be.at.least(0);
    expect(async(v), 'OPENAT with O_CREAT|O_EXCL of a new file returns an fd (SEMANTICS §3.2)').to.be.at.least(0);
    expect(
      wrote.map((w) => v.ret(w)),
      'both fds take a 1000-byte pwrite',
    ).to.deep.equal([1000, 1000]);
    expect(
      read.map((r) => v.ret(r)),
      'both fds give the 1000 bytes back',
    ).to.deep.equal([1000, 1000]);
    expect(
      v.step(dumps[1]).dump!.equals(patternBytes(0x0f50, 0, 1000)),
      'the bytes read through the OPENAT fd are those written',
    ).to.equal(true);
    expect(v.ret(closed), 'the OPENAT fd is a real descriptor: close(2) takes it').to.equal(0);
    const st = mode.map((m) => {
      const b = v.step(m.dump).dump!;
      return {
        call: v.ret(m.call),
        mode: b.readUInt16LE(STATX_LAYOUT.fields.stx_mode.offset),
        size: Number(b.readBigUInt64LE(STATX_LAYOUT.fields.stx_size.offset)),
      };
    });
    expect(st[1], "the file OPENAT created has the same mode (after umask) and size as openat(2)'s").to.deep.equal(
      st[0],
    );
  },
);
