/**
 * A ring with 32-byte CQEs (IORING_SETUP_CQE32, 5.19) keeps the CQEs that did not fit in its CQ and hands them
 * over, in order and in full (the extra 16 bytes zero for a NOP), once there is room (IORING_FEAT_NODROP: man
 * io_uring_setup(2)); a multishot POLL_ADD on such a ring posts one 32-byte CQE per event, with
 * IORING_CQE_F_MORE (man io_uring_prep_poll_multishot).
 */
import { expect } from 'chai';
import { CQE_F, errno, IOSQE, O, POLL, POLL_EV, SETUP, SYSCALLS } from '../../src/abi';
import { arg, Program } from '../../src/program/builder';
import { placeAll } from '../../src/program/struct';
import { pipe2 } from '../../src/program/sys';
import { enter, reap, setupRing, sqe } from '../../src/program/uring';
import { requireSetup } from '../../src/oracle/uring-files';
import { conformance, needSetupFlags } from '../../src/suite/conformance';

conformance(
  'uring CQE32 ring: CQEs past a full CQ are kept and reaped in order with zero extra words; a multishot POLL_ADD posts a 32-byte CQE with F_MORE per event',
  {
    ops: ['uring.setup', 'uring.NOP', 'uring.POLL_ADD'],
    rule: 'man io_uring_setup(2) IORING_SETUP_CQE32, IORING_FEAT_NODROP',
  },
  async (ctx) => {
    const flags = needSetupFlags(ctx, 'CQE32') | SETUP.CQSIZE.value;
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 1, flags, cqEntries: 2 });
    // 4 NOPs, one per io_uring_enter, into a 2-entry CQ: 2 overflow
    const steps = [1, 2, 3, 4].map((ud) => {
      const b = p.buf(64);
      placeAll(s, b, 0, [sqe({ opcode: 'NOP', user_data: ud })]);
      return [s.uringQueue(h.ring, b, 0, 1), enter(s, h, 1, 0, 0)] as const;
    });
    const full = s.uringState(h.ring);
    const all = [reap(s, h, 2, 2), reap(s, h, 2, 2)];
    // multishot poll on a pipe: two readiness events
    const pipe = pipe2(s, O.CLOEXEC.value);
    const pb = p.buf(64);
    placeAll(s, pb, 0, [
      sqe({
        opcode: 'POLL_ADD',
        fd: pipe.r,
        poll32_events: POLL_EV.IN.value,
        len: POLL.ADD_MULTI.value,
        user_data: 0x70,
      }),
    ]);
    const pq = s.uringQueue(h.ring, pb, 0, 1);
    const pe = enter(s, h, 1, 0, 0);
    const one = p.data(Buffer.from('a'));
    const w1 = s.syscall(SYSCALLS.write, [arg.fd(pipe.w), arg.buf(one), 1]);
    const r1 = reap(s, h, 1, 2);
    const drain = s.syscall(SYSCALLS.read, [arg.fd(pipe.r), arg.buf(p.buf(8)), 8]);
    const w2 = s.syscall(SYSCALLS.write, [arg.fd(pipe.w), arg.buf(one), 1]);
    const r2 = reap(s, h, 1, 2);
    const cancel = p.buf(64);
    placeAll(s, cancel, 0, [sqe({ opcode: 'POLL_REMOVE', addr: 0x70, user_data: 0x71 })]);
    const cq = s.uringQueue(h.ring, cancel, 0, 1);
    const ce = enter(s, h, 1, 0, 0);
    const r3 = reap(s, h, 2, 4);
    const v = await ctx.target.run(p);
    requireSetup(v, [
      { what: 'io_uring_setup (CQE32, 2 CQ entries)', step: h.setup },
      ...steps.flatMap(([q, e], i) => [
        { what: `queue of NOP ${i + 1}`, step: q, want: 1 },
        { what: `io_uring_enter of NOP ${i + 1}`, step: e, want: 1 },
      ]),
      { what: 'pipe2', step: pipe.step },
      { what: 'queue of the POLL_ADD', step: pq, want: 1 },
      { what: 'io_uring_enter of the POLL_ADD', step: pe, want: 1 },
      { what: 'first write', step: w1, want: 1 },
      { what: 'read of the byte', step: drain, want: 1 },
      { what: 'second write', step: w2, want: 1 },
      { what: 'queue of the POLL_REMOVE', step: cq, want: 1 },
      { what: 'io_uring_enter of the POLL_REMOVE', step: ce, want: 1 },
    ]);
    const st = v.step(full).ring!;
    expect(st.cqTail - st.cqHead, 'the CQ is full: 2 CQEs').to.equal(2);
    const cqes = all.flatMap((r) => v.step(r).cqes);
    expect(
      cqes.map((x) => [Number(x.userData), x.res, x.big?.map(Number)]),
      'all 4 NOPs, in order, 32 bytes each with zero extra words',
    ).to.deep.equal([1, 2, 3, 4].map((u) => [u, 0, [0, 0]]));
    for (const [i, r] of [r1, r2].entries()) {
      const c = v.step(r).cqes;
      expect(
        c.map((x) => [Number(x.userData), x.res & POLL_EV.IN.value, x.flags & CQE_F.MORE.value, x.big?.length]),
        `event ${i + 1}: one 32-byte CQE with POLLIN and F_MORE`,
      ).to.deep.equal([[0x70, POLL_EV.IN.value, CQE_F.MORE.value, 2]]);
    }
    expect(
      v
        .step(r3)
        .cqes.map((x) => Number(x.userData))
        .sort(),
      'POLL_REMOVE ends the multishot poll: its CQE and the poll’s last one',
    ).to.deep.equal([0x70, 0x71]);
  },
);

conformance(
  'uring CQEs that overflow a full CQ from a batch, from io-wq and from a multishot poll are all kept and reaped in order',
  {
    ops: ['uring.setup', 'uring.NOP', 'uring.POLL_ADD'],
    rule: 'man io_uring_setup(2) IORING_FEAT_NODROP; SEMANTICS §3.13 (each consumed SQE completes once)',
  },
  async (ctx) => {
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 2, flags: SETUP.CQSIZE.value, cqEntries: 2 });
    const pipe = pipe2(s, O.CLOEXEC.value);
    const batch = (sqes: ReturnType<typeof sqe>[]) => {
      const b = p.buf(64 * sqes.length);
      placeAll(s, b, 0, sqes);
      return [s.uringQueue(h.ring, b, 0, sqes.length), enter(s, h, sqes.length, 0, 0)] as const;
    };
    // 2 NOPs fill the CQ; 2 more in one batch overflow; one punted to io-wq overflows from there
    const steps = [
      batch([sqe({ opcode: 'NOP', user_data: 1 }), sqe({ opcode: 'NOP', user_data: 2 })]),
      batch([sqe({ opcode: 'NOP', user_data: 3 }), sqe({ opcode: 'NOP', user_data: 4 })]),
      batch([sqe({ opcode: 'NOP', flags: IOSQE.ASYNC.value, user_data: 5 })]),
      batch([
        sqe({
          opcode: 'POLL_ADD',
          fd: pipe.r,
          poll32_events: POLL_EV.IN.value,
          len: POLL.ADD_MULTI.value,
          user_data: 6,
        }),
      ]),
    ];
    // the io-wq NOP and the poll event complete while the CQ is still full: they overflow too
    const wr = s.syscall(SYSCALLS.write, [arg.fd(pipe.w), arg.buf(p.data(Buffer.from('a'))), 1]);
    const got = [reap(s, h, 2, 2), reap(s, h, 2, 2), reap(s, h, 2, 2)];
    const rm = batch([sqe({ opcode: 'POLL_REMOVE', addr: 6, user_data: 7 })]);
    const last = [reap(s, h, 1, 4), reap(s, h, 0, 4, 200)];
    const v = await ctx.target.run(p);
    requireSetup(v, [
      { what: 'io_uring_setup (2 CQ entries)', step: h.setup },
      { what: 'pipe2', step: pipe.step },
      ...[...steps, rm].flatMap(([q, e], i) => [
        { what: `queue ${i}`, step: q },
        { what: `io_uring_enter ${i}`, step: e },
      ]),
      { what: 'write to the pipe', step: wr, want: 1 },
    ]);
    expect(
      [...steps, rm].map(([q, e]) => [v.ret(q), v.ret(e)]),
      'every batch queued and consumed',
    ).to.deep.equal([
      [2, 2],
      [2, 2],
      [1, 1],
      [1, 1],
      [1, 1],
    ]);
    const raw = got.flatMap((r) => v.step(r).cqes);
    const cqes = raw.map((x) => [Number(x.userData), x.res]);
    expect(
      cqes.slice(0, 4),
      'the 2 NOPs in the CQ, then the 2 that overflowed from their batch, in order',
    ).to.deep.equal([1, 2, 3, 4].map((u) => [u, 0]));
    expect(
      cqes
        .slice(4)
        .map((x) => x[0])
        .sort(),
      'then the io-wq NOP and the poll event',
    ).to.deep.equal([5, 6]);
    // a multishot poll whose CQE had to go on the overflow list may end there (no F_MORE): then POLL_REMOVE
    // finds nothing (-ENOENT); if it stayed armed, POLL_REMOVE ends it (0) and it posts its last CQE
    const armed = (raw.find((x) => x.userData === 6n)!.flags & CQE_F.MORE.value) !== 0;
    ctx.note(`multishot poll still armed after its overflowed CQE: ${armed}`);
    expect(
      last
        .flatMap((r) => v.step(r).cqes)
        .map((x) => [Number(x.userData), x.userData === 7n ? x.res : 'end'])
        .sort(),
      armed ? 'POLL_REMOVE (0) ends the armed poll' : 'POLL_REMOVE finds the ended poll gone (-ENOENT)',
    ).to.deep.equal(armed ? [[6, 'end'], [7, 0]] : [[7, -errno.ENOENT]]);
  },
);
