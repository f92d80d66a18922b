/**
 * Task exit cancels only the exiting task's tracked requests (SEMANTICS §3.11 "Task exit"): a READ a forked
 * child submitted on the parent's ring, waiting on an empty pipe, outlives the child. When the pipe then gets
 * data, the request's completion work can no longer run in its (dead) task: it runs from the fallback worker,
 * where the request is failed with -ECANCELED instead of reading (SEMANTICS §3.11, "Those requests fail"), so
 * the byte stays in the pipe. Measured on 6.1, 6.12 and 6.18.
 */
import { expect } from 'chai';
import * as path from 'path';
import { errno, O, POLL_EV, SYSCALLS } from '../../src/abi';
import { arg, Program } from '../../src/program/builder';
import { waitStatus } from '../../src/oracle/exit';
import { mkfifo, openat, pipe2 } from '../../src/program/sys';
import { reap, setupRing, sqe, submit } from '../../src/program/uring';
import { requireSetup } from '../../src/oracle/uring-files';
import { blockedFifoOpen } from '../../src/oracle/uring-paths';
import { conformance } from '../../src/suite/conformance';
import { ERESTARTSYS_LEAK } from '../../src/suite/known-bugs';

conformance(
  "uring a forked child's READ on the parent's ring survives the child's exit and then completes with -ECANCELED, reading nothing",
  { ops: ['uring.READ'], rule: 'SEMANTICS §3.11 (task exit; shared ring)' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const pipe = pipe2(s, O.CLOEXEC.value | O.NONBLOCK.value);
    const h = setupRing(s, { entries: 4 });
    const child = p.seq();
    const sub = submit(child, h, [
      sqe({ opcode: 'READ', fd: pipe.r, addr: arg.buf(p.buf(16)), len: 16, off: -1n, user_data: 0x31 }),
    ]);
    const pid = p.pid();
    s.fork(child, pid);
    const wait = s.wait(pid, 5000);
    const early = reap(s, h, 0, 4, 0);
    const wr = s.syscall(SYSCALLS.write, [arg.fd(pipe.w), arg.buf(p.data(Buffer.from('z'))), 1]);
    const c = reap(s, h, 1, 4, 5000);
    const left = s.syscall(SYSCALLS.read, [arg.fd(pipe.r), arg.buf(p.buf(16)), 16]);
    const v = await target.run(p);
    requireSetup(v, [
      { what: 'pipe2', step: pipe.step },
      { what: 'io_uring_setup', step: h.setup },
    ]);
    expect(waitStatus(v.step(wait).ret2), 'the child exited 0').to.deep.equal({ exited: 0 });
    expect(v.step(sub.enter, 1).ret, "the child's READ is consumed").to.equal(1n);
    expect(v.step(early).cqes, "the child's exit did not complete it: the pipe is empty").to.deep.equal([]);
    expect(v.ret(wr), 'write of one byte').to.equal(1);
    expect(
      v.step(c).cqes.map((x) => [Number(x.userData), x.res]),
      'the READ completes with -ECANCELED',
    ).to.deep.equal([[0x31, -errno.ECANCELED]]);
    expect(v.ret(left), 'the byte is still in the pipe').to.equal(1);
  },
);

conformance(
  "uring a forked child's IOSQE_ASYNC OPENAT blocked in its io-wq on a FIFO is interrupted when the child exits: no fd, the open ends with an error",
  {
    ops: ['uring.OPENAT'],
    rule: "SEMANTICS §3.11 (task exit tears down the task's io-wq); man 7 fifo",
    knownBug: ERESTARTSYS_LEAK,
  },
  async (ctx) => {
    const { target, scratch } = ctx;
    const p = new Program();
    const s = p.main;
    const fifo = path.posix.join(scratch, 'fifo');
    const made = mkfifo(s, fifo);
    const h = setupRing(s, { entries: 4 });
    const child = p.seq();
    const sub = submit(child, h, [
      blockedFifoOpen(p, fifo, 0x41),
    ]);
    // the open waits for a writer in the child's io-wq (200 ms), then the child exits
    const waited = reap(child, h, 0, 4, 200);
    const pid = p.pid();
    s.fork(child, pid);
    const wait = s.wait(pid, 5000);
    const c = reap(s, h, 1, 4, 5000);
    // no reader is left: a non-blocking open for writing fails with ENXIO (man 7 fifo)
    const w = openat(s, fifo, O.WRONLY.value | O.NONBLOCK.value | O.CLOEXEC.value);
    const v = await target.run(p);
    requireSetup(v, [
      { what: 'mknodat of the FIFO', step: made, want: 0 },
      { what: 'io_uring_setup', step: h.setup },
    ]);
    expect(waitStatus(v.step(wait).ret2), 'the child exited 0').to.deep.equal({ exited: 0 });
    expect(v.step(sub.enter, 1).ret, "the child's OPENAT is consumed").to.equal(1n);
    expect(v.step(waited, 1).cqes, 'no writer: the open waits while the child lives').to.deep.equal([]);
    const got = v.step(c).cqes.map((x) => [Number(x.userData), x.res]);
    expect(got.length, 'the OPENAT completes once').to.equal(1);
    expect([-errno.EINTR, -errno.ECANCELED], `the open is interrupted, not an fd (got ${got[0][1]})`).to.include(
      got[0][1],
    );
    ctx.note(`the open ended with ${got[0][1]}`);
    expect(v.ret(w.step), 'no reader left on the FIFO: ENXIO').to.equal(-errno.ENXIO);
  },
);

conformance(
  "uring a forked child's POLL_ADD on a ring fd (a tracked request) is cancelled by the child's exit: -ECANCELED without the ring getting ready",
  {
    ops: ['uring.POLL_ADD'],
    rule: "SEMANTICS §3.11 (task exit cancels the task's tracked requests: those holding io_uring files)",
  },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 4 });
    const other = setupRing(s, { entries: 4 });
    const child = p.seq();
    // POLLIN on the other ring's fd: it has no CQE, so the poll waits; it holds an io_uring file
    const sub = submit(child, h, [
      sqe({ opcode: 'POLL_ADD', fd: arg.ring(other.ring), poll32_events: POLL_EV.IN.value, user_data: 0x51 }),
    ]);
    const armed = reap(child, h, 0, 4, 0);
    const pid = p.pid();
    s.fork(child, pid);
    const wait = s.wait(pid, 5000);
    const c = reap(s, h, 1, 4, 5000);
    const v = await target.run(p);
    requireSetup(v, [
      { what: 'io_uring_setup', step: h.setup },
      { what: 'io_uring_setup of the other ring', step: other.setup },
    ]);
    expect(waitStatus(v.step(wait).ret2), 'the child exited 0').to.deep.equal({ exited: 0 });
    expect(v.step(sub.enter, 1).ret, "the child's POLL_ADD is consumed").to.equal(1n);
    expect(v.step(armed, 1).cqes, 'the other ring is not ready: the poll waits').to.deep.equal([]);
    expect(
      v.step(c).cqes.map((x) => [Number(x.userData), x.res]),
      "the child's exit cancelled it",
    ).to.deep.equal([[0x51, -errno.ECANCELED]]);
  },
);
