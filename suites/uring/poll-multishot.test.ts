/**
 * IORING_OP_POLL_ADD with IORING_POLL_ADD_MULTI: a CQE with IORING_CQE_F_MORE per readiness event until
 * removed, or until it terminates by itself (a full CQ ring) with a last CQE without F_MORE (SEMANTICS §3.2).
 */
import { expect } from 'chai';
import { arg, Program, StepRef } from '../../src/program/builder';
import { CQE_F, ENTER, errno, O, POLL, POLL_EV, SQ_FLAG, SYSCALLS } from '../../src/abi';
import { enter, reap, setupRing, sqe, submit } from '../../src/program/uring';
import { pipe2 } from '../../src/program/sys';
import { QueueRing, showResult } from '../../src/oracle/uring-paths';
import { conformance } from '../../src/suite/conformance';

const ROUNDS = 3;

conformance(
  'uring.POLL_ADD with IORING_POLL_ADD_MULTI posts a CQE with IORING_CQE_F_MORE per readiness event until removed',
  { ops: ['uring.POLL_ADD', 'uring.POLL_REMOVE'], rule: 'man io_uring_prep_poll_multishot' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const msg = p.data(Buffer.from('x'));
    const sink = p.buf(8);
    const pipe = pipe2(s, O.CLOEXEC.value | O.NONBLOCK.value);
    const r = new QueueRing(s);
    const IN = POLL_EV.IN.value;
    const e1 = r.queue([[1n, { opcode: 'POLL_ADD', fd: pipe.r, poll32_events: IN, len: POLL.ADD_MULTI.value }]]);
    const armed = r.reap(0);
    // each round: the pipe goes from empty to readable (one wakeup), then is drained again
    const rounds: { write: StepRef; reap: StepRef; read: StepRef }[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const write = s.syscall(SYSCALLS.write, [arg.fd(pipe.w), arg.buf(msg), 1]);
      const reap = r.reap(1);
      const read = s.syscall(SYSCALLS.read, [arg.fd(pipe.r), arg.buf(sink), 8]);
      rounds.push({ write, reap, read });
    }
    const quiet = r.reap(0);
    const e2 = r.queue([[2n, { opcode: 'POLL_REMOVE', fd: -1, addr: 1n }]]);
    const ended = r.reap(2);
    const write = s.syscall(SYSCALLS.write, [arg.fd(pipe.w), arg.buf(msg), 1]);
    const after = r.reap(0);
    const v = await target.run(p);
    expect(v.ret(pipe.step), 'pipe2').to.equal(0);
    expect([v.ret(e1), v.ret(e2)], 'io_uring_enter consumes every SQE').to.deep.equal([1, 1]);
    expect(v.step(armed).cqes, 'nothing ready yet: no CQE').to.deep.equal([]);
    rounds.forEach((x, i) => {
      expect([v.ret(x.write), v.ret(x.read)], `round ${i + 1}: one byte written and read back`).to.deep.equal([1, 1]);
      expect(
        v.step(x.reap).cqes.map((c) => [c.userData, showResult(c.res), c.flags & CQE_F.MORE.value]),
        `round ${i + 1}: one CQE, POLLIN, with IORING_CQE_F_MORE (the poll stays armed)`,
      ).to.deep.equal([[1n, showResult(IN), CQE_F.MORE.value]]);
    });
    expect(v.step(quiet).cqes, 'no CQE without a new readiness event').to.deep.equal([]);
    expect(
      v.step(ended).cqes.map((c) => [c.userData, showResult(c.res), c.flags & CQE_F.MORE.value]),
      'POLL_REMOVE: the multishot poll ends with -ECANCELED and no F_MORE, the remove with 0 (SEMANTICS §3.9)',
    ).to.have.deep.members([
      [1n, showResult(-errno.ECANCELED), 0],
      [2n, '0', 0],
    ]);
    expect(v.ret(write), 'a later write lands').to.equal(1);
    expect(v.step(after).cqes, 'and produces no CQE: the poll is gone').to.deep.equal([]);
  },
);

conformance(
  'uring.POLL_ADD with IORING_POLL_ADD_MULTI ends when the CQ ring is full: its last, overflowed CQE has no F_MORE',
  { ops: ['uring.POLL_ADD'], rule: 'man io_uring_prep_poll_multishot' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const msg = p.data(Buffer.from('x'));
    const sink = p.buf(8);
    const pipe = pipe2(s, O.CLOEXEC.value | O.NONBLOCK.value);
    // one SQ entry: a CQ ring of 2
    const h = setupRing(s, { entries: 1 });
    const sub = submit(s, h, [
      sqe({
        opcode: 'POLL_ADD',
        fd: pipe.r,
        poll32_events: POLL_EV.IN.value,
        len: POLL.ADD_MULTI.value,
        user_data: 1n,
      }),
    ]);
    // four readiness events, nothing reaped in between
    const io: StepRef[] = [];
    for (let i = 0; i < 4; i++)
      io.push(
        s.syscall(SYSCALLS.write, [arg.fd(pipe.w), arg.buf(msg), 1]),
        s.syscall(SYSCALLS.read, [arg.fd(pipe.r), arg.buf(sink), 8]),
      );
    const state = s.uringState(h.ring);
    const inRing = reap(s, h, 0, 16, 0);
    // io_uring_enter(GETEVENTS) flushes the overflow list into the ring
    const flush = enter(s, h, 0, 0, ENTER.GETEVENTS.value);
    const flushed = reap(s, h, 0, 16, 0);
    const later = s.syscall(SYSCALLS.write, [arg.fd(pipe.w), arg.buf(msg), 1]);
    const after = reap(s, h, 1, 16, 300);
    const v = await target.run(p);
    expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
    expect(v.ret(sub.enter), 'io_uring_enter consumes the SQE').to.equal(1);
    expect(
      io.map((x) => v.ret(x)),
      'each byte written and read back',
    ).to.deep.equal(Array(8).fill(1));
    const ring = v.step(state).ring!;
    expect(ring.cqEntries, 'a CQ ring of 2 entries').to.equal(2);
    const view = (st: StepRef) =>
      v.step(st).cqes.map((c) => [c.userData, showResult(c.res), c.flags & CQE_F.MORE.value]);
    const IN = showResult(POLL_EV.IN.value);
    const MORE = CQE_F.MORE.value;
    // measured on 6.1.0-56, 6.12.117 and 6.18.44: the 3rd event finds the CQ full and ends the poll
    expect(view(inRing), 'the first two events fill the CQ ring, each with F_MORE').to.deep.equal([
      [1n, IN, MORE],
      [1n, IN, MORE],
    ]);
    expect(
      ring.sqFlags & SQ_FLAG.CQ_OVERFLOW.value,
      'a CQE waits in the overflow list (IORING_SQ_CQ_OVERFLOW)',
    ).to.equal(SQ_FLAG.CQ_OVERFLOW.value);
    expect(v.ret(flush), 'io_uring_enter(GETEVENTS) of nothing returns 0').to.equal(0);
    expect(
      view(flushed),
      "the overflowed CQE is the poll's last: POLLIN without F_MORE; the 4th event posted nothing",
    ).to.deep.equal([[1n, IN, 0]]);
    expect(v.ret(later), 'a later write lands').to.equal(1);
    expect(view(after), 'and produces no CQE: the poll has terminated').to.deep.equal([]);
  },
);
