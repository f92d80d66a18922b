/** IORING_OP_NOP: the smallest round trip through the rings (SEMANTICS §3.2, §3.3). */
import { expect } from 'chai';
import { Program } from '../../src/program/builder';
import { reap, setupRing, sqe, submit } from '../../src/program/uring';
import { conformance } from '../../src/suite/conformance';

/** All 64 bits in use, the top one set: user_data must come back untouched. */
const USER_DATA = 0xdead_beef_cafe_f00dn;

conformance(
  'uring.NOP completes with res 0 and its user_data',
  { ops: ['uring.NOP'], rule: 'SEMANTICS §3.3' },
  async ({ target }) => {
    const p = new Program();
    const h = setupRing(p.main, { entries: 4 });
    const sub = submit(p.main, h, [sqe({ opcode: 'NOP', user_data: USER_DATA })], 1);
    const c = reap(p.main, h, 1, 2);
    const v = await target.run(p);
    expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
    expect(v.ret(sub.enter), 'io_uring_enter consumes the SQE (SEMANTICS §3.5)').to.equal(1);
    expect(
      v.step(c).cqes.map((q) => [q.userData, q.res]),
      "one CQE with res 0 and the SQE's user_data (SEMANTICS §3.3)",
    ).to.deep.equal([[USER_DATA, 0]]);
  },
);
