/**
 * Another ring as the target of a request: MSG_RING to an IOPOLL ring (its CQ is filled under its own
 * lock), and a multishot POLL_ADD on a ring's fd, which the kernel ends after one event because ring
 * wakeups carry EPOLL_URING_WAKE (a multishot poll there would feed on its own completions).
 * man io_uring_prep_msg_ring(3), io_uring_prep_poll_multishot(3); kernel commit 4464853277d0
 * ("io_uring: pass in EPOLL_URING_WAKE for eventfd signaling and wakeups").
 */
import { expect } from 'chai';
import { CQE_F, MSG_RING_CMD, POLL, POLL_EV } from '../../src/abi';
import { arg, Program } from '../../src/program/builder';
import { nopSqes, reap, setupRing, sqe, submit } from '../../src/program/uring';
import { byUserData, reaped } from '../../src/oracle/uring-net';
import { conformance, needSetupFlags } from '../../src/suite/conformance';

conformance(
  'uring.MSG_RING to an IOPOLL ring posts the CQE there',
  { ops: ['uring.MSG_RING'], rule: 'man io_uring_prep_msg_ring(3) (a CQE with the given user_data and res on the target ring)' },
  async (ctx) => {
    const [SENDER, UD, RES] = [0x5a0n, 0x5a1n, 77];
    const iopoll = needSetupFlags(ctx, 'IOPOLL');
    const p = new Program();
    const s = p.main;
    const a = setupRing(s, { entries: 4 });
    const b = setupRing(s, { entries: 4, flags: iopoll });
    const sub = submit(s, a, [
      sqe({
        opcode: 'MSG_RING',
        fd: arg.ring(b.ring),
        addr: MSG_RING_CMD.DATA.value,
        len: RES,
        off: UD,
        user_data: SENDER,
      }),
    ]);
    const onA = reap(s, a, 1, 4);
    const onB = reap(s, b, 1, 4);
    const moreB = reap(s, b, 0, 4, 0);
    const v = await ctx.target.run(p);
    expect([v.ret(a.setup) >= 0, v.ret(b.setup) >= 0], 'a plain and an IOPOLL ring').to.deep.equal([true, true]);
    expect(v.ret(sub.enter), 'MSG_RING submitted').to.equal(1);
    expect(byUserData(v.step(onA).cqes), 'the sender: 0').to.deep.equal([[SENDER, 0]]);
    expect(
      byUserData(reaped(v, onB, moreB)),
      'the IOPOLL ring: one CQE with the user_data and res sent',
    ).to.deep.equal([[UD, RES]]);
  },
);

conformance(
  'uring.POLL_ADD multishot on another ring’s fd: its first completion ends the poll (one POLLIN CQE without F_MORE)',
  {
    ops: ['uring.POLL_ADD', 'uring.NOP'],
    rule: 'man io_uring_prep_poll_multishot(3) (no F_MORE: the poll is no longer armed); kernel commit 4464853277d0 (a wakeup with EPOLL_URING_WAKE turns a multishot poll into a single-shot one)',
  },
  async ({ target }) => {
    const POLLER = 0x5b0n;
    const p = new Program();
    const s = p.main;
    const a = setupRing(s, { entries: 4 });
    const b = setupRing(s, { entries: 8 });
    const IN = POLL_EV.IN.value;
    const arm = submit(s, a, [
      sqe({
        opcode: 'POLL_ADD',
        fd: arg.ring(b.ring),
        poll32_events: IN,
        len: POLL.ADD_MULTI.value,
        user_data: POLLER,
      }),
    ]);
    const idle = reap(s, a, 0, 4, 0);
    // a CQE on ring B (left unreaped) makes its fd readable
    const nop1 = submit(s, b, nopSqes(1, 0x5c0));
    const first = reap(s, a, 1, 4);
    const nop2 = submit(s, b, nopSqes(1, 0x5c1));
    const after = reap(s, a, 0, 4, 50);
    const onB = reap(s, b, 2, 4);
    const v = await target.run(p);
    expect([v.ret(a.setup) >= 0, v.ret(b.setup) >= 0], 'two rings').to.deep.equal([true, true]);
    expect([v.ret(arm.enter), v.ret(nop1.enter), v.ret(nop2.enter)], 'all submitted').to.deep.equal([1, 1, 1]);
    expect(v.step(idle).cqes, "ring B's CQ is empty: no event").to.deep.equal([]);
    expect(
      v.step(first).cqes.map((q) => [q.userData, q.res & IN, q.flags & CQE_F.MORE.value]),
      'a CQE on ring B: one POLLIN CQE, without F_MORE (the poll ended)',
    ).to.deep.equal([[POLLER, IN, 0]]);
    expect(v.step(after).cqes, 'a second CQE on ring B: nothing more').to.deep.equal([]);
    expect(v.step(onB).cqes.length, "ring B's two NOPs").to.equal(2);
  },
);
