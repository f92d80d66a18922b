/**
 * Per-SQE validation: an SQE the kernel cannot accept is still consumed and completes with -EINVAL;
 * it is never an io_uring_enter error (SEMANTICS §3.1, §3.5, §3.13 checklist 1 and 3).
 */
import { expect } from 'chai';
import { entriesOf, errno, IOSQE } from '../../src/abi';
import { Program } from '../../src/program/builder';
import { reap, setupRing, sqe, SqeSpec, submit } from '../../src/program/uring';
import { conformance } from '../../src/suite/conformance';
import type { Target } from '../../src/target/target';

/** The lowest sqe->flags bit above every IOSQE_* (bit 7 today, undefined). */
const UNDEFINED_IOSQE = 2 * Math.max(...entriesOf(IOSQE).map((f) => f.value));

/** Submit one SQE alone; the io_uring_enter result and every CQE. */
async function submitOne(target: Target, spec: SqeSpec): Promise<{ enter: number; cqes: [bigint, number][] }> {
  const p = new Program();
  const h = setupRing(p.main, { entries: 4 });
  const sub = submit(p.main, h, [sqe(spec)], 1);
  const c = reap(p.main, h, 1, 4);
  const more = reap(p.main, h, 0, 4, 0);
  const v = await target.run(p);
  expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
  return { enter: v.ret(sub.enter), cqes: [...v.step(c).cqes, ...v.step(more).cqes].map((q) => [q.userData, q.res]) };
}

conformance(
  'uring.enter of opcode last_op + 1 consumes the SQE and completes it with -EINVAL',
  { ops: ['uring.enter'], rule: 'SEMANTICS §3.13' },
  async ({ target, caps }) => {
    const op = caps.uring.lastOp + 1;
    const r = await submitOne(target, { opcode: op, user_data: 1 });
    expect(
      r.enter,
      `opcode ${op} (IORING_OP_LAST) is consumed: io_uring_enter returns 1 (SEMANTICS §3.13 checklist 1)`,
    ).to.equal(1);
    expect(r.cqes, `one CQE with res -EINVAL for opcode ${op} (SEMANTICS §3.5)`).to.deep.equal([[1n, -errno.EINVAL]]);
  },
);

conformance(
  'uring.NOP with undefined sqe->flags bit 7 completes with -EINVAL',
  { ops: ['uring.NOP'], rule: 'SEMANTICS §3.4' },
  async ({ target }) => {
    const r = await submitOne(target, { opcode: 'NOP', flags: UNDEFINED_IOSQE, user_data: 1 });
    expect(r.enter, 'the SQE is consumed: io_uring_enter returns 1 (SEMANTICS §3.5)').to.equal(1);
    expect(
      r.cqes,
      `one CQE with res -EINVAL for flags 0x${UNDEFINED_IOSQE.toString(16)} (SEMANTICS §3.13 checklist 3)`,
    ).to.deep.equal([[1n, -errno.EINVAL]]);
  },
);
