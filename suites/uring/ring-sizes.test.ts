/**
 * io_uring_setup's ring sizes: entries are rounded up to a power of two and the CQ is twice the SQ by
 * default; IORING_SETUP_CQSIZE takes cq_entries (not fewer than the SQ entries, not more than the
 * maximum unless IORING_SETUP_CLAMP); zero entries are refused. IORING_SETUP_NO_SQARRAY (6.6) rings take
 * SQEs in ring order through any number of wraps. Man io_uring_setup(2); SEMANTICS §3.4.
 */
import { expect } from 'chai';
import { errno, IO_URING_PARAMS_LAYOUT, SETUP } from '../../src/abi';
import { Program } from '../../src/program/builder';
import type { TraceView } from '../../src/program/trace';
import { nopSqes, reap, RingHandle, setupRing, submit } from '../../src/program/uring';
import { conformance, needSetupFlags } from '../../src/suite/conformance';

/** IORING_MAX_ENTRIES and IORING_MAX_CQ_ENTRIES (2 × it), as man io_uring_setup(2) states them. */
const MAX_ENTRIES = 32768;
const MAX_CQ_ENTRIES = 2 * MAX_ENTRIES;

const F = IO_URING_PARAMS_LAYOUT.fields;
const sizes = (v: TraceView, h: RingHandle) => {
  const d = v.step(h.paramsDump).dump!;
  return [d.readUInt32LE(F.sq_entries.offset), d.readUInt32LE(F.cq_entries.offset)];
};

conformance(
  'uring.setup rounds entries up to a power of two with a CQ twice the SQ; IORING_SETUP_CQSIZE sets the CQ within its bounds',
  {
    ops: ['uring.setup', 'uring.NOP'],
    rule: 'man io_uring_setup(2) entries, IORING_SETUP_CQSIZE, IORING_SETUP_CLAMP; SEMANTICS §3.4',
  },
  async (ctx) => {
    const cq = needSetupFlags(ctx, 'CQSIZE');
    const clamp = needSetupFlags(ctx, 'CLAMP');
    const p = new Program();
    const s = p.main;
    const zero = setupRing(s, { entries: 0 });
    const five = setupRing(s, { entries: 5 });
    const nops = submit(s, five, nopSqes(8), 8);
    const got = reap(s, five, 8, 16);
    const cq100 = setupRing(s, { entries: 8, flags: cq, cqEntries: 100 });
    const cqSmall = setupRing(s, { entries: 8, flags: cq, cqEntries: 4 });
    const cqZero = setupRing(s, { entries: 8, flags: cq, cqEntries: 0 });
    const cqHuge = setupRing(s, { entries: 8, flags: cq, cqEntries: MAX_CQ_ENTRIES + 1 });
    const cqClamped = setupRing(s, { entries: 8, flags: cq | clamp, cqEntries: MAX_CQ_ENTRIES + 1 });
    const v = await ctx.target.run(p);
    expect(v.ret(zero.setup), 'zero entries: -EINVAL').to.equal(-errno.EINVAL);
    expect(v.ret(five.setup), '5 entries: a ring').to.be.at.least(0);
    expect(sizes(v, five), '5 entries: an SQ of 8, a CQ of 16').to.deep.equal([8, 16]);
    expect(v.ret(nops.enter), 'the rounded-up SQ takes 8 SQEs at once').to.equal(8);
    expect(v.step(got).cqes.length, 'and all 8 complete').to.equal(8);
    expect(v.ret(cq100.setup), 'CQSIZE 100').to.be.at.least(0);
    expect(sizes(v, cq100), 'CQSIZE 100: the CQ rounded up to 128, the SQ 8').to.deep.equal([8, 128]);
    expect(v.ret(cqSmall.setup), 'CQSIZE smaller than the SQ: -EINVAL').to.equal(-errno.EINVAL);
    expect(v.ret(cqZero.setup), 'CQSIZE 0: -EINVAL').to.equal(-errno.EINVAL);
    expect(v.ret(cqHuge.setup), `CQSIZE past ${MAX_CQ_ENTRIES} without CLAMP: -EINVAL`).to.equal(-errno.EINVAL);
    expect(v.ret(cqClamped.setup), 'with CLAMP').to.be.at.least(0);
    expect(sizes(v, cqClamped)[1], `with CLAMP the CQ is clamped to ${MAX_CQ_ENTRIES}`).to.equal(MAX_CQ_ENTRIES);
  },
);

conformance(
  'uring.setup with IORING_SETUP_NO_SQARRAY: SQEs are taken in ring order through several wraps of the SQ',
  { ops: ['uring.setup', 'uring.NOP'], rule: 'man io_uring_setup(2) IORING_SETUP_NO_SQARRAY (6.6); SEMANTICS §3.4' },
  async (ctx) => {
    const flags = needSetupFlags(ctx, 'NO_SQARRAY');
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 4, flags });
    // 5 batches of 3 on a 4-entry SQ: the tail wraps the ring three times
    const batches = [0, 1, 2, 3, 4].map((b) => {
      const sub = submit(s, h, nopSqes(3, 10 * b + 1), 3);
      return { sub, c: reap(s, h, 3, 4) };
    });
    const v = await ctx.target.run(p);
    expect(v.ret(h.setup), 'io_uring_setup with NO_SQARRAY').to.be.at.least(0);
    expect(h.flags & SETUP.NO_SQARRAY.value, 'the program set the flag').to.not.equal(0);
    batches.forEach(({ sub, c }, b) => {
      expect(v.ret(sub.enter), `batch ${b}: 3 consumed`).to.equal(3);
      expect(
        v
          .step(c)
          .cqes.map((q) => [Number(q.userData), q.res])
          .sort((x, y) => x[0] - y[0]),
        `batch ${b}: exactly its own NOPs complete, each once`,
      ).to.deep.equal([1, 2, 3].map((i) => [10 * b + i, 0]));
    });
  },
);
