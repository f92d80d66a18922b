/** IORING_OP_OPENAT against openat(2) (SEMANTICS §3.2). */
import * as path from 'path';
import { expect } from 'chai';
import { AT, errno, O, SYSCALLS } from '../../src/abi';
import { arg, Program } from '../../src/program/builder';
import { openat } from '../../src/program/sys';
import { TWIN_USER_DATA, viaUring } from '../../src/oracle/differential';
import { conformance } from '../../src/suite/conformance';

conformance(
  'uring.OPENAT of a missing path fails with -ENOENT like openat',
  { ops: ['uring.OPENAT'], rule: 'SEMANTICS §3.2' },
  async ({ target, scratch }) => {
    const missing = path.posix.join(scratch, 'missing');
    const flags = O.RDONLY.value | O.CLOEXEC.value;
    const p = new Program();
    const s = p.main;
    const { step: sync } = openat(s, missing, flags, 0);
    const async = viaUring(s, {
      opcode: 'OPENAT',
      fd: AT.FDCWD.value,
      addr: arg.buf(p.cstr(missing)),
      open_flags: flags,
      len: 0,
    });
    // should the open succeed after all, its fd must not outlive the program
    s.syscall(SYSCALLS.close, [arg.res(TWIN_USER_DATA)]);
    const v = await target.run(p);
    expect(v.ret(sync), 'openat(2) of a missing path fails with -ENOENT').to.equal(-errno.ENOENT);
    expect(async(v), "the CQE carries openat's error: -ENOENT (SEMANTICS §3.1, §3.2)").to.equal(v.ret(sync));
  },
);
