/**
 * IORING_OP_GETXATTR and SETXATTR refuse bad arguments like getxattr(2) and setxattr(2): an empty name or
 * one longer than XATTR_NAME_MAX is -ERANGE, a path the kernel cannot read is -EFAULT (xattr(7),
 * getxattr(2), setxattr(2); man io_uring_prep_getxattr, io_uring_prep_setxattr).
 */
import * as path from 'path';
import { expect } from 'chai';
import { errno, SYSCALLS } from '../../src/abi';
import { arg, Arg, Program } from '../../src/program/builder';
import { scratchFile } from '../../src/program/sys';
import { setupRing } from '../../src/program/uring';
import { expectSetup, oneShot, resOf } from '../../src/oracle/uring-net';
import { conformance } from '../../src/suite/conformance';

conformance(
  'uring.GETXATTR and SETXATTR: an empty or over-long name is -ERANGE and an unreadable path -EFAULT, like getxattr(2) and setxattr(2)',
  {
    ops: ['uring.GETXATTR', 'uring.SETXATTR'],
    rule: 'getxattr(2), setxattr(2) (ERANGE: name empty or longer than XATTR_NAME_MAX; EFAULT); man io_uring_prep_getxattr, io_uring_prep_setxattr',
  },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 4 });
    const file = path.posix.join(scratch, 'xattr-args');
    const f = scratchFile(s, scratch, 'xattr-args');
    const value = p.data(Buffer.from('v'));
    const out = p.buf(16);
    const str = (x: string): Arg => arg.buf(p.cstr(x));
    const cases = [
      { what: 'an empty name', name: str(''), path: str(file), want: -errno.ERANGE },
      { what: 'a 256-byte name', name: str('user.' + 'n'.repeat(251)), path: str(file), want: -errno.ERANGE },
      { what: 'an unreadable path', name: str('user.kasync'), path: arg.bad(), want: -errno.EFAULT },
    ];
    const runs = cases.map((c, i) => ({
      c,
      getSync: s.syscall(SYSCALLS.getxattr, [c.path, c.name, arg.buf(out), 16]),
      get: oneShot(
        s,
        h,
        { opcode: 'GETXATTR', addr: c.name, addr2: arg.buf(out), len: 16, addr3: c.path },
        BigInt(0x2e0 + 2 * i),
      ),
      setSync: s.syscall(SYSCALLS.setxattr, [c.path, c.name, arg.buf(value), 1, 0]),
      set: oneShot(
        s,
        h,
        { opcode: 'SETXATTR', addr: c.name, addr2: arg.buf(value), len: 1, addr3: c.path },
        BigInt(0x2e1 + 2 * i),
      ),
    }));
    const v = await target.run(p);
    expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
    expectSetup(v, [f.step], 'scratch file');
    for (const r of runs) {
      expect([v.ret(r.getSync), v.ret(r.setSync)], `getxattr(2), setxattr(2) with ${r.c.what}`).to.deep.equal([
        r.c.want,
        r.c.want,
      ]);
      expect(resOf(v, r.get), `GETXATTR with ${r.c.what}: like getxattr(2)`).to.equal(r.c.want);
      expect(resOf(v, r.set), `SETXATTR with ${r.c.what}: like setxattr(2)`).to.equal(r.c.want);
    }
  },
);
