/**
 * CQ overflow with IORING_FEAT_NODROP (5.5): when more requests complete than the CQ ring holds, the
 * extra completions wait in the kernel's overflow list — none is lost — and IORING_SQ_CQ_OVERFLOW
 * says so until they are flushed into the ring (SEMANTICS §3.4, §3.5; man io_uring_setup(2),
 * IORING_FEAT_NODROP).
 */
import { expect } from 'chai';
import { ENTER, FEAT, SETUP, SQ_FLAG } from '../../src/abi';
import { Program } from '../../src/program/builder';
import { enter, reap, setupRing, sqe, submit } from '../../src/program/uring';
import { conformance } from '../../src/suite/conformance';

const CQ = 4;
const N = 3 * CQ;

conformance(
  'uring: completions past a full CQ ring are kept (NODROP), flagged with IORING_SQ_CQ_OVERFLOW, and all reaped once',
  { ops: ['uring.NOP', 'uring.setup'], rule: 'SEMANTICS §3.5; man io_uring_setup(2) IORING_FEAT_NODROP' },
  async ({ target, caps, skip }) => {
    if (!(caps.uring.features & FEAT.NODROP.value)) skip(`probe: kernel ${caps.kernel} lacks IORING_FEAT_NODROP`);
    const p = new Program();
    const s = p.main;
    // SQ and CQ of CQ entries each (the CQ may not be smaller than the SQ): three batches of CQ NOPs
    // complete without a reap in between, so two batches' worth must wait outside the ring
    const h = setupRing(s, { entries: CQ, cqEntries: CQ, flags: SETUP.CQSIZE.value });
    const subs = [0, 1, 2].map((b) =>
      submit(s, h, Array.from({ length: CQ }, (_, i) => sqe({ opcode: 'NOP', user_data: b * CQ + i + 1 }))),
    );
    const full = s.uringState(h.ring);
    // take them all, a ring's worth at a time; each enter(GETEVENTS) flushes the overflow list
    const reaps = [];
    for (let got = 0; got < N; got += CQ) {
      reaps.push(reap(s, h, Math.min(CQ, N - got), CQ));
      enter(s, h, 0, 0, ENTER.GETEVENTS.value);
    }
    const drained = s.uringState(h.ring);
    const v = await target.run(p);
    expect(v.ret(h.setup), 'io_uring_setup with a CQ smaller than the SQ (IORING_SETUP_CQSIZE)').to.be.at.least(0);
    expect(subs.map((x) => v.ret(x.enter)), 'each batch of NOPs is consumed whole').to.deep.equal([CQ, CQ, CQ]);
    const ring = v.step(full).ring!;
    expect(ring.cqEntries, 'the CQ ring has the size asked for').to.equal(CQ);
    expect(ring.sqFlags & SQ_FLAG.CQ_OVERFLOW.value, 'IORING_SQ_CQ_OVERFLOW is set while completions wait outside the ring').to.not.equal(0);
    expect(ring.cqOverflow, 'no completion was dropped (cq_overflow counts drops)').to.equal(0);
    const got = reaps.flatMap((r) => v.step(r).cqes.map((c) => [Number(c.userData), c.res]));
    expect(
      got.sort((a, b) => a[0] - b[0]),
      'every NOP completes exactly once with res 0, none lost (IORING_FEAT_NODROP)',
    ).to.deep.equal(Array.from({ length: N }, (_, i) => [i + 1, 0]));
    expect(v.step(drained).ring!.sqFlags & SQ_FLAG.CQ_OVERFLOW.value, 'the flag is cleared once the overflow is flushed').to.equal(0);
  },
);
