/** Without IORING_SETUP_SUBMIT_ALL a failing SQE is consumed and ends the batch (SEMANTICS §3.5). */
import { expect } from 'chai';
import { ENTER, entriesOf, errno, IOSQE } from '../../src/abi';
import { Program } from '../../src/program/builder';
import { enter, reap, setupRing, sqe, submit } from '../../src/program/uring';
import { conformance } from '../../src/suite/conformance';

/** The lowest sqe->flags bit above every IOSQE_* (bit 7 today, undefined). */
const UNDEFINED_IOSQE = 2 * Math.max(...entriesOf(IOSQE).map((f) => f.value));

conformance(
  'uring.enter of 3 SQEs with the 2nd invalid consumes 2 and leaves the 3rd in the SQ',
  { ops: ['uring.NOP'], rule: 'SEMANTICS §3.5' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 8 });
    const sub = submit(s, h, [
      sqe({ opcode: 'NOP', user_data: 1 }),
      sqe({ opcode: 'NOP', flags: UNDEFINED_IOSQE, user_data: 2 }),
      sqe({ opcode: 'NOP', user_data: 3 }),
    ]);
    const first = reap(s, h, 2, 4);
    const more = reap(s, h, 0, 4, 0);
    const state = s.uringState(h.ring);
    // the 3rd was left in the SQ, not dropped: a second enter submits it
    const again = enter(s, h, 1, 1, ENTER.GETEVENTS.value);
    const last = reap(s, h, 1, 4);
    const v = await target.run(p);
    expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
    expect(v.ret(sub.queue), 'three SQEs queued').to.equal(3);
    expect(v.ret(sub.enter), 'io_uring_enter returns 2: the failed SQE counts as consumed (SEMANTICS §3.5)').to.equal(
      2,
    );
    // CQE order between requests is not promised: 6.1 posts the failed SQE's CQE before the batched
    // completion of #1, 6.12 and later after it (measured on 6.1.0-56, 6.12.117, 6.18.44)
    const cqes = [...v.step(first).cqes, ...v.step(more).cqes]
      .map((q) => [q.userData, q.res] as [bigint, number])
      .sort((a, b) => Number(a[0] - b[0]));
    expect(cqes, 'CQEs for #1 (0) and #2 (-EINVAL) only, in any order (SEMANTICS §3.5)').to.deep.equal([
      [1n, 0],
      [2n, -errno.EINVAL],
    ]);
    const ring = v.step(state).ring!;
    expect(ring.sqTail - ring.sqHead, 'one SQE still unconsumed in the SQ (SEMANTICS §3.5)').to.equal(1);
    expect(ring.sqDropped, 'nothing dropped').to.equal(0);
    expect(v.ret(again), 'a second io_uring_enter consumes the 3rd').to.equal(1);
    expect(
      v.step(last).cqes.map((q) => [q.userData, q.res]),
      'the 3rd completes normally',
    ).to.deep.equal([[3n, 0]]);
  },
);
