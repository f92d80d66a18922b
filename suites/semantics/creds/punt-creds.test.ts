/**
 * io-wq takes the submitter's credentials when a request is punted (SEMANTICS §3.8): an IOSQE_ASYNC
 * request still waiting in io-wq when its submitter drops to uid 65534 runs as root.
 */
import { expect } from 'chai';
import * as path from 'path';
import { AT, errno, IOSQE, O, REGISTER, SYSCALLS } from '../../../src/abi';
import { arg, Program } from '../../../src/program/builder';
import { reap, setupRing, sqe, submit } from '../../../src/program/uring';
import { conformance } from '../../../src/suite/conformance';
import { credFixture, dropToNobody, mkfifo } from '../../../src/oracle/creds';

conformance(
  'uring: an IOSQE_ASYNC OPENAT waiting in io-wq when its submitter drops to uid 65534 runs as root',
  { ops: ['uring.OPENAT', 'uring.register'], rule: 'SEMANTICS §3.8', needs: { root: true } },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    const fx = credFixture(s, scratch, []);
    const fifo = path.posix.join(scratch, 'fifo');
    const made = mkfifo(s, fifo);
    const str = (x: string) => arg.buf(p.cstr(x));
    const RO = O.RDONLY.value | O.CLOEXEC.value;
    const child = p.seq();
    const h = setupRing(child, { entries: 4 });
    // one bound io-wq worker: the OPENAT of the secret file waits behind the open of a FIFO that has no writer yet
    const limits = p.buf(8);
    child.patch(limits, 0, 4, 1);
    const max = child.syscall(SYSCALLS.io_uring_register, [
      arg.ring(h.ring),
      REGISTER.IOWQ_MAX_WORKERS.value,
      arg.buf(limits),
      2,
    ]);
    const a = IOSQE.ASYNC.value;
    const sub = submit(child, h, [
      sqe({ opcode: 'OPENAT', flags: a, fd: AT.FDCWD.value, addr: str(fifo), open_flags: RO, user_data: 1 }),
      sqe({ opcode: 'OPENAT', flags: a, fd: AT.FDCWD.value, addr: str(fx.secret), open_flags: RO, user_data: 2 }),
    ]);
    const early = reap(child, h, 0, 4, 0);
    const drop = dropToNobody(child);
    const own = child.syscall(SYSCALLS.openat, [AT.FDCWD.value, str(fx.secret), RO, 0]);
    // a blocking open: it meets the worker's open for reading whenever that starts
    const writer = child.syscall(SYSCALLS.openat, [AT.FDCWD.value, str(fifo), O.WRONLY.value | O.CLOEXEC.value, 0]);
    const late = reap(child, h, 2, 4, 5000);
    const pid = p.pid();
    const fork = s.fork(child, pid);
    const wait = s.wait(pid, 8000);
    const v = await target.run(p);
    for (const st of [...fx.steps, ...made]) expect(v.ret(st), 'fixture step (as root)').to.be.at.least(0);
    expect([v.ret(fork) > 0, v.ret(wait) > 0], 'fork and reap the child').to.deep.equal([true, true]);
    expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
    expect(v.ret(max), 'IORING_REGISTER_IOWQ_MAX_WORKERS').to.equal(0);
    expect(v.ret(sub.enter), 'both SQEs consumed').to.equal(2);
    expect(v.step(early).cqes, 'nothing has completed before the drop: both wait in io-wq').to.deep.equal([]);
    expect(
      drop.map((d) => v.ret(d)),
      'setgroups, setresgid, setresuid to 65534',
    ).to.deep.equal([0, 0, 0]);
    expect(v.ret(own), "the dropped process's own openat of the 0600 file: -EACCES").to.equal(-errno.EACCES);
    expect(v.ret(writer), 'the FIFO writer opens (it releases the worker)').to.be.at.least(0);
    const got = new Map(v.step(late).cqes.map((q) => [q.userData, q.res]));
    expect(got.get(1n), 'the FIFO open completes with a descriptor').to.be.at.least(0);
    expect(
      got.get(2n),
      'the OPENAT punted while root runs as root after the drop: creds are taken at punt time (SEMANTICS §3.8)',
    ).to.be.at.least(0);
  },
);
