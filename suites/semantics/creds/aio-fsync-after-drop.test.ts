/**
 * Legacy AIO checks permissions when the fd is opened: IOCB_CMD_FSYNC and FDSYNC on a 0600 root file
 * opened before the process dropped to uid 65534 still complete with 0, like fsync(2) (SEMANTICS §1.6).
 */
import { expect } from 'chai';
import { AT, errno, O, SYSCALLS } from '../../../src/abi';
import { aioGetevents, aioSetup, aioSubmit, iocb } from '../../../src/program/aio';
import { arg, Program } from '../../../src/program/builder';
import { conformance } from '../../../src/suite/conformance';
import { credFixture, dropToNobody } from '../../../src/oracle/creds';

conformance(
  'aio.FSYNC and aio.FDSYNC on a root file opened before a drop to uid 65534 complete with 0, like fsync and fdatasync',
  { ops: ['aio.FSYNC', 'aio.FDSYNC'], rule: 'SEMANTICS §1.6', needs: { root: true } },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    const fx = credFixture(s, scratch, []);
    const child = p.seq();
    const fd = p.fd();
    const open = child.syscall(
      SYSCALLS.openat,
      [AT.FDCWD.value, arg.buf(p.cstr(fx.secret)), O.RDWR.value | O.CLOEXEC.value, 0],
      { fd },
    );
    const drop = dropToNobody(child);
    const again = child.syscall(SYSCALLS.openat, [
      AT.FDCWD.value,
      arg.buf(p.cstr(fx.secret)),
      O.RDWR.value | O.CLOEXEC.value,
      0,
    ]);
    const fsync = child.syscall(SYSCALLS.fsync, [arg.fd(fd)]);
    const fdatasync = child.syscall(SYSCALLS.fdatasync, [arg.fd(fd)]);
    const { ctx, setup } = aioSetup(child, 4);
    const sub = aioSubmit(child, ctx, [
      iocb({ opcode: 'FSYNC', fd, aio_data: 1 }),
      iocb({ opcode: 'FDSYNC', fd, aio_data: 2 }),
    ]);
    const ev = aioGetevents(child, ctx, 2, 4);
    const pid = p.pid();
    const fork = s.fork(child, pid);
    const wait = s.wait(pid, 8000);
    const v = await target.run(p);
    for (const st of fx.steps) expect(v.ret(st), 'fixture step (as root)').to.be.at.least(0);
    expect([v.ret(fork) > 0, v.ret(wait) > 0], 'fork and reap the child').to.deep.equal([true, true]);
    expect(v.ret(open), 'the child opens the 0600 file as root').to.be.at.least(0);
    expect(
      drop.map((d) => v.ret(d)),
      'setgroups, setresgid, setresuid to 65534',
    ).to.deep.equal([0, 0, 0]);
    expect(v.ret(again), 'after the drop the file cannot be opened again: -EACCES').to.equal(-errno.EACCES);
    expect([v.ret(fsync), v.ret(fdatasync)], 'fsync(2) and fdatasync(2) on the old fd: 0').to.deep.equal([0, 0]);
    expect(v.ret(setup), 'io_setup as 65534').to.equal(0);
    expect(v.ret(sub.submit), 'io_submit takes both').to.equal(2);
    expect(
      v
        .step(ev)
        .events.map((e) => [e.data, e.res])
        .sort((a, b) => Number(a[0] - b[0])),
      'both complete with res 0: the fd was checked at open, not at submit (SEMANTICS §1.6)',
    ).to.deep.equal([
      [1n, 0n],
      [2n, 0n],
    ]);
  },
);
