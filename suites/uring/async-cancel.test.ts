/** IORING_OP_ASYNC_CANCEL by user_data (SEMANTICS §3.9, §3.13 checklist 6). */
import { expect } from 'chai';
import { errno, POLL_EV } from '../../src/abi';
import { Program } from '../../src/program/builder';
import { pipe2 } from '../../src/program/sys';
import { reap, setupRing, sqe, submit } from '../../src/program/uring';
import { conformance } from '../../src/suite/conformance';

const POLL_UD = 1n;
const CANCEL_UD = 2n;

conformance(
  'uring.ASYNC_CANCEL of a POLL_ADD on an empty pipe completes with 0 and the poll with -ECANCELED',
  { ops: ['uring.ASYNC_CANCEL', 'uring.POLL_ADD'], rule: 'SEMANTICS §3.9' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const { r, step: pipe } = pipe2(s);
    const h = setupRing(s, { entries: 4 });
    const poll = submit(s, h, [
      sqe({ opcode: 'POLL_ADD', fd: r, poll32_events: POLL_EV.IN.value, user_data: POLL_UD }),
    ]);
    const armed = reap(s, h, 0, 4, 0);
    const cancel = submit(s, h, [sqe({ opcode: 'ASYNC_CANCEL', addr: POLL_UD, user_data: CANCEL_UD })], 1);
    const c = reap(s, h, 2, 4);
    const more = reap(s, h, 0, 4, 0);
    const v = await target.run(p);
    expect(v.ret(pipe), 'pipe2').to.equal(0);
    expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
    expect(v.ret(poll.enter), 'POLL_ADD submitted').to.equal(1);
    expect(v.step(armed).cqes, 'nothing to read: the poll stays armed').to.deep.equal([]);
    expect(v.ret(cancel.enter), 'ASYNC_CANCEL submitted').to.equal(1);
    const cqes = [...v.step(c).cqes, ...v.step(more).cqes]
      .map((q): [bigint, number] => [q.userData, q.res])
      .sort((x, y) => Number(x[0] - y[0]));
    expect(cqes, 'exactly one CQE each: the poll -ECANCELED, the cancel 0 (SEMANTICS §3.9)').to.deep.equal([
      [POLL_UD, -errno.ECANCELED],
      [CANCEL_UD, 0],
    ]);
  },
);

conformance(
  'uring.ASYNC_CANCEL of an unknown user_data completes with -ENOENT',
  { ops: ['uring.ASYNC_CANCEL'], rule: 'SEMANTICS §3.9' },
  async ({ target }) => {
    const p = new Program();
    const h = setupRing(p.main, { entries: 4 });
    const sub = submit(p.main, h, [sqe({ opcode: 'ASYNC_CANCEL', addr: 0x5eed, user_data: CANCEL_UD })], 1);
    const c = reap(p.main, h, 1, 4);
    const more = reap(p.main, h, 0, 4, 0);
    const v = await target.run(p);
    expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
    expect(v.ret(sub.enter), 'ASYNC_CANCEL submitted').to.equal(1);
    const cqes = [...v.step(c).cqes, ...v.step(more).cqes].map((q) => [q.userData, q.res]);
    expect(cqes, 'nothing in flight matches: one CQE with -ENOENT (SEMANTICS §3.9)').to.deep.equal([
      [CANCEL_UD, -errno.ENOENT],
    ]);
  },
);
