/**
 * A linked request is punted to io-wq only when the link head completes, so it takes the credentials
 * the submitting task has then, not those of the io_uring_enter that submitted it (SEMANTICS §3.8:
 * creds are captured at punt time, in the submitter's context).
 */
import { expect } from 'chai';
import { AT, errno, IOSQE, O, POLL_EV, SYSCALLS } from '../../../src/abi';
import { arg, Program, Sequence, StepRef } from '../../../src/program/builder';
import { pipe2 } from '../../../src/program/sys';
import type { TraceView } from '../../../src/program/trace';
import { reap, setupRing, sqe, submit } from '../../../src/program/uring';
import { conformance } from '../../../src/suite/conformance';
import { credFixture, dropToNobody, regainRoot, seteuidNobody } from '../../../src/oracle/creds';

const RO = O.RDONLY.value | O.CLOEXEC.value;

/**
 * In a forked child: POLL_ADD on an empty pipe linked to an IOSQE_ASYNC OPENAT of the 0600 file,
 * submitted after `before`; then `between`, an openat(2) of the same file, a write that fires the
 * poll, and the reap. The getter returns the OPENAT's CQE res and the child's own openat result.
 */
function linked(p: Program, secret: string, before: (c: Sequence) => StepRef[], between: (c: Sequence) => StepRef[]) {
  const s = p.main;
  const child = p.seq();
  const { r, w } = pipe2(child);
  const h = setupRing(child, { entries: 4 });
  const pre = before(child);
  const sub = submit(child, h, [
    sqe({ opcode: 'POLL_ADD', flags: IOSQE.IO_LINK.value, fd: r, poll32_events: POLL_EV.IN.value, user_data: 1 }),
    sqe({
      opcode: 'OPENAT',
      flags: IOSQE.ASYNC.value,
      fd: AT.FDCWD.value,
      addr: arg.buf(p.cstr(secret)),
      open_flags: RO,
      user_data: 2,
    }),
  ]);
  const early = reap(child, h, 0, 4, 0);
  const mid = between(child);
  const own = child.syscall(SYSCALLS.openat, [AT.FDCWD.value, arg.buf(p.cstr(secret)), RO, 0]);
  const one = p.data(Buffer.from('x'));
  const wr = child.syscall(SYSCALLS.write, [arg.fd(w), arg.buf(one), 1]);
  const late = reap(child, h, 2, 4, 5000);
  const pid = p.pid();
  const fork = s.fork(child, pid);
  const wait = s.wait(pid, 8000);
  return (v: TraceView) => {
    expect([v.ret(fork) > 0, v.ret(wait) > 0], 'fork and reap the child').to.deep.equal([true, true]);
    expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
    expect(
      [...pre, ...mid].map((x) => v.ret(x)),
      'the credential changes succeed',
    ).to.deep.equal([...pre, ...mid].map(() => 0));
    expect(v.ret(sub.enter), 'both SQEs consumed').to.equal(2);
    expect(v.step(early).cqes, 'nothing completes before the pipe is written: the poll waits').to.deep.equal([]);
    expect(v.ret(wr), 'the write fires the poll').to.equal(1);
    const got = new Map(v.step(late).cqes.map((q) => [q.userData, q.res]));
    expect(got.get(1n), 'POLL_ADD completes with POLLIN').to.equal(POLL_EV.IN.value);
    return { openat: got.get(2n)!, own: v.ret(own) };
  };
}

conformance(
  'uring: an IOSQE_ASYNC OPENAT linked behind a POLL_ADD runs as 65534 when root dropped before the poll fired',
  { ops: ['uring.OPENAT', 'uring.POLL_ADD'], rule: 'SEMANTICS §3.8', needs: { root: true } },
  async ({ target, scratch }) => {
    const p = new Program();
    const fx = credFixture(p.main, scratch, []);
    const get = linked(
      p,
      fx.secret,
      () => [],
      (c) => dropToNobody(c),
    );
    const v = await target.run(p);
    for (const st of fx.steps) expect(v.ret(st), 'fixture step (as root)').to.be.at.least(0);
    const r = get(v);
    expect(r.own, "the dropped process's own openat: -EACCES").to.equal(-errno.EACCES);
    // measured on 6.1, 6.12 and 6.18: the link is punted from task_work after the drop, with the new creds
    expect(
      r.openat,
      'submitted as root, punted after the drop: the OPENAT runs as 65534, -EACCES (SEMANTICS §3.8, punt time)',
    ).to.equal(-errno.EACCES);
  },
);

conformance(
  'uring: an IOSQE_ASYNC OPENAT linked behind a POLL_ADD runs as root when euid 65534 regained 0 before the poll fired',
  { ops: ['uring.OPENAT', 'uring.POLL_ADD'], rule: 'SEMANTICS §3.8', needs: { root: true } },
  async ({ target, scratch }) => {
    const p = new Program();
    const fx = credFixture(p.main, scratch, []);
    // the saved uid stays 0, so the process can go back: the reverse of the drop above
    const get = linked(
      p,
      fx.secret,
      (c) => [c.syscall(SYSCALLS.setgroups, [0, 0], { stopOnError: true }), ...seteuidNobody(c)],
      (c) => regainRoot(c),
    );
    const v = await target.run(p);
    for (const st of fx.steps) expect(v.ret(st), 'fixture step (as root)').to.be.at.least(0);
    const r = get(v);
    expect(r.own, 'the process, back at euid 0, opens the file itself').to.be.at.least(0);
    // measured on 6.1, 6.12 and 6.18
    expect(
      r.openat,
      'submitted as euid 65534, punted after euid 0 came back: the OPENAT runs as root (SEMANTICS §3.8, punt time)',
    ).to.be.at.least(0);
  },
);
