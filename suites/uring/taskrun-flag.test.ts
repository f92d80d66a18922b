/**
 * IORING_SETUP_COOP_TASKRUN | TASKRUN_FLAG (5.19): completion work is not forced on the task by an interrupt;
 * it runs the next time the task enters the kernel, any syscall, and IORING_SQ_TASKRUN is clear again once it
 * ran (man io_uring_setup(2)). An R_DISABLED SQPOLL ring refuses io_uring_enter with -EBADFD until
 * IORING_REGISTER_ENABLE_RINGS, after which its SQ thread takes SQEs (SEMANTICS §3.13 item 4, §3.7).
 */
import { expect } from 'chai';
import { errno, O, POLL_EV, REGISTER, SETUP, SQ_FLAG, SYSCALLS } from '../../src/abi';
import { arg, Program } from '../../src/program/builder';
import { placeAll } from '../../src/program/struct';
import { pipe2 } from '../../src/program/sys';
import { enter, nopSqes, reap, setupRing, sqe, submit } from '../../src/program/uring';
import { requireSetup } from '../../src/oracle/uring-files';
import { byUserData } from '../../src/oracle/uring-net';
import { conformance, needSetupFlags } from '../../src/suite/conformance';

conformance(
  'uring COOP_TASKRUN | TASKRUN_FLAG ring: a poll completion is posted by the next syscall of the task, and IORING_SQ_TASKRUN is clear afterwards',
  {
    ops: ['uring.setup', 'uring.POLL_ADD'],
    rule: 'man io_uring_setup(2) IORING_SETUP_COOP_TASKRUN, IORING_SETUP_TASKRUN_FLAG',
  },
  async (ctx) => {
    const flags = needSetupFlags(ctx, 'COOP_TASKRUN', 'TASKRUN_FLAG');
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 4, flags });
    const pipe = pipe2(s, O.CLOEXEC.value);
    const b = p.buf(64);
    placeAll(s, b, 0, [sqe({ opcode: 'POLL_ADD', fd: pipe.r, poll32_events: POLL_EV.IN.value, user_data: 0x81 })]);
    const q = s.uringQueue(h.ring, b, 0, 1);
    const e = enter(s, h, 1, 0, 0);
    const armed = s.uringState(h.ring);
    const wr = s.syscall(SYSCALLS.write, [arg.fd(pipe.w), arg.buf(p.data(Buffer.from('x'))), 1]);
    const other = s.syscall(SYSCALLS.getpid);
    const after = s.uringState(h.ring);
    const c = reap(s, h, 1, 4);
    const v = await ctx.target.run(p);
    requireSetup(v, [
      { what: 'io_uring_setup', step: h.setup },
      { what: 'pipe2', step: pipe.step },
      { what: 'queue of the POLL_ADD', step: q, want: 1 },
      { what: 'io_uring_enter', step: e, want: 1 },
      { what: 'write to the pipe', step: wr, want: 1 },
    ]);
    expect(v.ret(other), 'getpid').to.be.above(0);
    const a = v.step(armed).ring!;
    expect([a.cqTail - a.cqHead, a.sqFlags & SQ_FLAG.TASKRUN.value], 'armed: no CQE, no TASKRUN').to.deep.equal([0, 0]);
    const st = v.step(after).ring!;
    expect(st.cqTail - st.cqHead, 'after the write and another syscall: the CQE is in the CQ').to.equal(1);
    expect(st.sqFlags & SQ_FLAG.TASKRUN.value, 'the work ran: IORING_SQ_TASKRUN is clear').to.equal(0);
    expect(
      v.step(c).cqes.map((x) => [Number(x.userData), x.res & POLL_EV.IN.value]),
      'the POLL_ADD CQE, with POLLIN',
    ).to.deep.equal([[0x81, POLL_EV.IN.value]]);
  },
);

conformance(
  'uring R_DISABLED SQPOLL ring: io_uring_enter is -EBADFD until ENABLE_RINGS, then the SQ thread runs the SQEs',
  {
    ops: ['uring.setup', 'uring.register', 'uring.NOP'],
    rule: 'SEMANTICS §3.13 item 4, §3.7; man io_uring_register(2)',
  },
  async (ctx) => {
    const flags = needSetupFlags(ctx, 'SQPOLL', 'R_DISABLED');
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 4, flags: flags | SETUP.R_DISABLED.value, sqThreadIdle: 1000 });
    const early = enter(s, h, 0, 0, 0);
    const en = s.syscall(SYSCALLS.io_uring_register, [arg.ring(h.ring), REGISTER.ENABLE_RINGS.value, 0, 0]);
    const sub = submit(s, h, nopSqes(2, 0x91));
    const c = reap(s, h, 2, 4);
    const v = await ctx.target.run(p);
    requireSetup(v, [{ what: 'io_uring_setup (SQPOLL | R_DISABLED)', step: h.setup }]);
    expect(v.ret(early), 'io_uring_enter while disabled: -EBADFD').to.equal(-errno.EBADFD);
    expect(v.ret(en), 'IORING_REGISTER_ENABLE_RINGS').to.equal(0);
    expect(v.ret(sub.enter), 'the SQ thread takes the 2 NOPs').to.equal(2);
    expect(byUserData(v.step(c).cqes), 'both NOPs complete').to.deep.equal([
      [0x91n, 0],
      [0x92n, 0],
    ]);
  },
);
