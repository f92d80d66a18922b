/**
 * A DEFER_TASKRUN ring posts its CQEs only when its task enters the ring, so a registered eventfd is signalled
 * when a completion is queued for the task, to tell the application to enter ("io_uring: signal registered
 * eventfd to process deferred task work", Dylan Yudaken, 6.1), and IORING_SETUP_TASKRUN_FLAG raises
 * IORING_SQ_TASKRUN in the SQ ring's flags until the task ran that work (man io_uring_setup(2)
 * IORING_SETUP_TASKRUN_FLAG, IORING_SETUP_DEFER_TASKRUN; man io_uring_register(2) IORING_REGISTER_EVENTFD).
 */
import { expect } from 'chai';
import { EFD, O, POLL_EV, POLLFD_LAYOUT, REGISTER, SQ_FLAG, SYSCALLS } from '../../src/abi';
import { arg, Program } from '../../src/program/builder';
import { encodeStruct, place, placeAll } from '../../src/program/struct';
import { pipe2 } from '../../src/program/sys';
import { enter, reap, setupRing, sqe } from '../../src/program/uring';
import { fdArray, requireSetup } from '../../src/oracle/uring-files';
import { conformance, needSetupFlags } from '../../src/suite/conformance';

conformance(
  'uring DEFER_TASKRUN ring with a registered eventfd: a completion queued for the task signals the eventfd and sets IORING_SQ_TASKRUN before the CQE is posted',
  {
    ops: ['uring.register', 'uring.POLL_ADD'],
    rule: 'man io_uring_setup(2) IORING_SETUP_DEFER_TASKRUN, IORING_SETUP_TASKRUN_FLAG; man io_uring_register(2) IORING_REGISTER_EVENTFD',
  },
  async (ctx) => {
    const flags = needSetupFlags(ctx, 'SINGLE_ISSUER', 'DEFER_TASKRUN', 'TASKRUN_FLAG');
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 4, flags });
    const efd = p.fd();
    const mk = s.syscall(SYSCALLS.eventfd2, [0, EFD.NONBLOCK.value | EFD.CLOEXEC.value], { fd: efd });
    const reg = s.syscall(SYSCALLS.io_uring_register, [
      arg.ring(h.ring),
      REGISTER.EVENTFD.value,
      arg.buf(fdArray(s, [efd])),
      1,
    ]);
    const pipe = pipe2(s, O.CLOEXEC.value);
    const b = p.buf(64);
    placeAll(s, b, 0, [sqe({ opcode: 'POLL_ADD', fd: pipe.r, poll32_events: POLL_EV.IN.value, user_data: 0x61 })]);
    const q = s.uringQueue(h.ring, b, 0, 1);
    const e = enter(s, h, 1, 0, 0);
    const quiet = s.syscall(SYSCALLS.read, [arg.fd(efd), arg.buf(p.buf(8)), 8]);
    const wr = s.syscall(SYSCALLS.write, [arg.fd(pipe.w), arg.buf(p.data(Buffer.from('x'))), 1]);
    // the signal may be sent from an RCU callback (the wakeup runs in the pipe's wait queue): wait for it
    const pfd = p.buf(POLLFD_LAYOUT.size);
    place(s, pfd, 0, encodeStruct(POLLFD_LAYOUT, { fd: arg.fd(efd), events: POLL_EV.IN.value }));
    const waited = s.syscall(SYSCALLS.poll, [arg.buf(pfd), 1, 5000]);
    const before = s.uringState(h.ring);
    const c = reap(s, h, 1, 4);
    const after = s.uringState(h.ring);
    const v = await ctx.target.run(p);
    requireSetup(v, [
      { what: 'io_uring_setup', step: h.setup },
      { what: 'eventfd2', step: mk },
      { what: 'IORING_REGISTER_EVENTFD', step: reg, want: 0 },
      { what: 'pipe2', step: pipe.step },
      { what: 'queue of the POLL_ADD', step: q, want: 1 },
      { what: 'io_uring_enter', step: e, want: 1 },
      { what: 'write to the pipe', step: wr, want: 1 },
    ]);
    expect(v.ret(quiet), 'nothing completed yet: the eventfd is not signalled (-EAGAIN)').to.be.below(0);
    expect(v.ret(waited), 'the pipe became readable: the eventfd is signalled').to.equal(1);
    const st = v.step(before).ring!;
    expect(st.cqTail - st.cqHead, 'the CQE is not posted until the task enters the ring').to.equal(0);
    expect(st.sqFlags & SQ_FLAG.TASKRUN.value, 'IORING_SQ_TASKRUN is set meanwhile').to.equal(SQ_FLAG.TASKRUN.value);
    expect(
      v.step(c).cqes.map((x) => [Number(x.userData), x.res & POLL_EV.IN.value]),
      'entering the ring posts the POLL_ADD CQE with POLLIN',
    ).to.deep.equal([[0x61, POLL_EV.IN.value]]);
    expect(v.step(after).ring!.sqFlags & SQ_FLAG.TASKRUN.value, 'the work ran: IORING_SQ_TASKRUN is clear').to.equal(0);
  },
);
