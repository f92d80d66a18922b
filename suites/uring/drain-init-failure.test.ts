/**
 * IOSQE_IO_DRAIN when a later SQE of the same batch fails before it is issued (an unknown SQE flag: -EINVAL from
 * io_uring_enter's submission, SEMANTICS §3.5). The drained request must still start only after every earlier
 * request completed, and must complete (SEMANTICS §3.4, man 2 io_uring_enter IOSQE_IO_DRAIN). Found by
 * `kasync fuzz` on debian:6.12; on 6.1 and 6.12 the failed SQE's CQE throws the drain accounting off by one
 * (docs/KERNEL-NOTES.md), so those kernels carry it as a known kernel bug.
 */
import { expect } from 'chai';
import { errno, IOSQE, POLL_EV, SYSCALLS } from '../../src/abi';
import { arg, Program } from '../../src/program/builder';
import { pipe2 } from '../../src/program/sys';
import { reap, setupRing, sqe, submit } from '../../src/program/uring';
import { reaped } from '../../src/oracle/uring-net';
import { conformance } from '../../src/suite/conformance';
import { DRAIN_AFTER_INIT_FAILURE, DRAIN_AFTER_INIT_FAILURE_HANG } from '../../src/suite/known-bugs';

/** A bit above every IOSQE_* flag: io_uring_enter refuses the SQE with -EINVAL before issuing it. */
const UNKNOWN_FLAG = 2 * Math.max(...Object.values(IOSQE).map((f) => f.value));

/**
 * Submits [first, a drained NOP, an SQE with an unknown flag], reaps what the batch completes by itself (at
 * least `earlyMin` CQEs), writes the pipe, and reaps at least `lateMin` more.
 */
function drainBatch(firstIsPoll: boolean, earlyMin: number, lateMin: number) {
  const [FIRST, DRAINED, BAD] = [1n, 2n, 3n];
  const p = new Program({ deadlineMs: 10_000 });
  const s = p.main;
  const pipe = pipe2(s);
  const h = setupRing(s, { entries: 8 });
  const first = firstIsPoll
    ? sqe({ opcode: 'POLL_ADD', fd: pipe.r, poll32_events: POLL_EV.IN.value, user_data: FIRST })
    : sqe({ opcode: 'NOP', user_data: FIRST });
  const batch = submit(s, h, [
    first,
    sqe({ opcode: 'NOP', flags: IOSQE.IO_DRAIN.value, user_data: DRAINED }),
    sqe({ opcode: 'NOP', flags: UNKNOWN_FLAG, user_data: BAD }),
  ]);
  const early = reap(s, h, earlyMin, 8, 2000);
  const write = s.syscall(SYSCALLS.write, [arg.fd(pipe.w), arg.buf(p.data(Buffer.from([1]))), 1]);
  const late = reap(s, h, lateMin, 8, 2000);
  const rest = reap(s, h, 0, 8, 0);
  return { p, pipe, h, batch, early, write, late, rest, ud: { FIRST, DRAINED, BAD } };
}

conformance(
  'uring.NOP with IOSQE_IO_DRAIN waits for an earlier POLL_ADD although a later SQE of its batch failed (-EINVAL)',
  { ops: ['uring.NOP', 'uring.POLL_ADD'], rule: 'SEMANTICS §3.4, §3.5', knownBug: DRAIN_AFTER_INIT_FAILURE },
  async ({ target }) => {
    const b = drainBatch(true, 1, 2);
    const v = await target.run(b.p);
    expect([v.ret(b.pipe.step), v.ret(b.h.setup) >= 0], 'pipe, ring').to.deep.equal([0, true]);
    expect(v.ret(b.write), 'the pipe write').to.equal(1);
    const early = reaped(v, b.early).map((q) => [q.userData, q.res]);
    const waits = 'before the pipe is written only the refused SQE completes; the drained NOP waits for the poll';
    expect(early, `${waits} (SEMANTICS §3.4)`).to.deep.equal([[b.ud.BAD, -errno.EINVAL]]);
    expect(
      reaped(v, b.late, b.rest).map((q) => [q.userData, q.res]),
      'the write readies the poll, and only then does the drained NOP complete',
    ).to.deep.equal([
      [b.ud.FIRST, POLL_EV.IN.value],
      [b.ud.DRAINED, 0],
    ]);
  },
);

conformance(
  'uring.NOP with IOSQE_IO_DRAIN completes after an earlier NOP although a later SQE of its batch failed (-EINVAL)',
  { ops: ['uring.NOP'], rule: 'SEMANTICS §3.4, §3.5', knownBug: DRAIN_AFTER_INIT_FAILURE_HANG },
  async ({ target }) => {
    const b = drainBatch(false, 3, 0);
    const v = await target.run(b.p);
    expect([v.ret(b.pipe.step), v.ret(b.h.setup) >= 0], 'pipe, ring').to.deep.equal([0, true]);
    const all = reaped(v, b.early, b.late, b.rest).map((q) => [q.userData, q.res]);
    const refused = all.filter(([ud]) => ud === b.ud.BAD);
    expect(refused, 'the refused SQE completes with -EINVAL (SEMANTICS §3.5)').to.deep.equal([[b.ud.BAD, -errno.EINVAL]]);
    expect(
      all.filter(([ud]) => ud !== b.ud.BAD),
      'the NOP, then the drained NOP: every submitted request completes once, the drained one last (SEMANTICS §3.4)',
    ).to.deep.equal([
      [b.ud.FIRST, 0],
      [b.ud.DRAINED, 0],
    ]);
  },
);
