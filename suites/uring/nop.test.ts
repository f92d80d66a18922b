/** IORING_OP_NOP: the smallest round trip through the rings, and an injected result (SEMANTICS §3.2, §3.3). */
import { expect } from 'chai';
import { errno, NOP } from '../../src/abi';
import { Program } from '../../src/program/builder';
import { reap, setupRing, sqe, submit } from '../../src/program/uring';
import { conformance } from '../../src/suite/conformance';
import { flagMissing } from '../../src/oracle/uring-net';

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

conformance(
  'uring.NOP with IORING_NOP_INJECT_RESULT completes with the res it carries in len',
  { ops: ['uring.NOP'], rule: 'SEMANTICS §3.2' },
  async ({ target, caps, skip }) => {
    const injected = [-errno.EFAULT, 12345];
    const p = new Program();
    const h = setupRing(p.main, { entries: 4 });
    // io_nop_prep: with INJECT_RESULT, res = (s32) sqe->len
    // one submit each: a kernel that refuses the flag would end a batch at the first
    const subs = injected.map((r, i) =>
      submit(
        p.main,
        h,
        [sqe({ opcode: 'NOP', nop_flags: NOP.INJECT_RESULT.value, len: r, user_data: BigInt(i + 1) })],
        1,
      ),
    );
    const c = reap(p.main, h, 2, 4);
    const v = await target.run(p);
    expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
    expect(
      subs.map((x) => v.ret(x.enter)),
      'each NOP consumed',
    ).to.deep.equal([1, 1]);
    const cqes = v
      .step(c)
      .cqes.map((q): [bigint, number] => [q.userData, q.res])
      .sort((a, b) => Number(a[0] - b[0]));
    // 6.1 refuses nop_flags with -EINVAL
    const missing = flagMissing(caps, NOP.INJECT_RESULT, cqes[0]?.[1]);
    if (missing) skip(missing);
    expect(cqes, 'each NOP completes with the injected res (SEMANTICS §3.2)').to.deep.equal(
      injected.map((r, i) => [BigInt(i + 1), r]),
    );
  },
);
