/** IOSQE_IO_LINK and IOSQE_IO_HARDLINK when the head of a chain fails at issue (SEMANTICS §3.4, §3.10). */
import { expect } from 'chai';
import { errno, IOSQE } from '../../src/abi';
import { arg, Program } from '../../src/program/builder';
import { reap, setupRing, sqe, submit } from '../../src/program/uring';
import { conformance } from '../../src/suite/conformance';
import type { Target } from '../../src/target/target';

/** READ on fd -1 (user_data 1) carrying `flag`, then NOP (user_data 2); every CQE by user_data. */
async function chain(target: Target, flag: number): Promise<{ enter: number; cqes: [bigint, number][] }> {
  const p = new Program();
  const s = p.main;
  const h = setupRing(s, { entries: 4 });
  const b = p.buf(64);
  const sub = submit(
    s,
    h,
    [
      sqe({ opcode: 'READ', flags: flag, fd: -1, addr: arg.buf(b), len: 64, user_data: 1 }),
      sqe({ opcode: 'NOP', user_data: 2 }),
    ],
    2,
  );
  const c = reap(s, h, 2, 4);
  const more = reap(s, h, 0, 4, 0);
  const v = await target.run(p);
  expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
  const cqes = [...v.step(c).cqes, ...v.step(more).cqes].map((q): [bigint, number] => [q.userData, q.res]);
  return { enter: v.ret(sub.enter), cqes: cqes.sort((x, y) => Number(x[0] - y[0])) };
}

conformance(
  'uring.READ failing with -EBADF at the head of an IOSQE_IO_LINK chain cancels the next with -ECANCELED',
  { ops: ['uring.READ', 'uring.NOP'], rule: 'SEMANTICS §3.10' },
  async ({ target }) => {
    const r = await chain(target, IOSQE.IO_LINK.value);
    expect(r.enter, 'both SQEs are consumed: the bad fd is an issue-time error (SEMANTICS §3.5)').to.equal(2);
    expect(r.cqes, 'READ -EBADF, then the linked NOP -ECANCELED, once each (SEMANTICS §3.10)').to.deep.equal([
      [1n, -errno.EBADF],
      [2n, -errno.ECANCELED],
    ]);
  },
);

conformance(
  'uring.READ failing with -EBADF at the head of an IOSQE_IO_HARDLINK chain does not stop the next',
  { ops: ['uring.READ', 'uring.NOP'], rule: 'SEMANTICS §3.4' },
  async ({ target }) => {
    const r = await chain(target, IOSQE.IO_HARDLINK.value);
    expect(r.enter, 'both SQEs are consumed (SEMANTICS §3.5)').to.equal(2);
    expect(
      r.cqes,
      'READ -EBADF, then the hard-linked NOP runs and completes with 0, once each (SEMANTICS §3.4)',
    ).to.deep.equal([
      [1n, -errno.EBADF],
      [2n, 0],
    ]);
  },
);
