/**
 * IORING_REGISTER_EVENTFD (5.2), EVENTFD_ASYNC (5.6) and UNREGISTER_EVENTFD: an eventfd the kernel signals
 * when it posts CQEs, muted by IORING_CQ_EVENTFD_DISABLED (5.8) in the CQ ring's flags. Man io_uring_register(2):
 * the count is no CQE count (several CQEs may signal once), only "a CQE was posted"; so each check reads the
 * eventfd without blocking and asks whether it was signalled at all (a signal an io-wq worker owes is polled for first).
 */
import { expect } from 'chai';
import { CQ_FLAG, EFD, errno, IO_URING_PARAMS_LAYOUT, IOSQE, POLL_EV, POLLFD_LAYOUT, REGISTER, SYSCALLS } from '../../src/abi';
import { encodeStruct, place } from '../../src/program/struct';
import { arg, Fd, Program, Sequence, StepRef } from '../../src/program/builder';
import { pipe2 } from '../../src/program/sys';
import type { TraceView } from '../../src/program/trace';
import { setupRing } from '../../src/program/uring';
import { fdArray, requireSetup, UringRunner, writeBytes } from '../../src/oracle/uring-files';
import type { Target } from '../../src/target/target';
import { conformance } from '../../src/suite/conformance';

/** An eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC): a read of an unsignalled one is -EAGAIN. */
function eventfd(s: Sequence): { fd: Fd; step: StepRef } {
  const fd = s.program.fd();
  const step = s.syscall(SYSCALLS.eventfd2, [0, EFD.NONBLOCK.value | EFD.CLOEXEC.value], { fd });
  return { fd, step };
}

/** read(2) of the eventfd's counter (resetting it): the count, or the -errno (-EAGAIN: never signalled). */
function drain(s: Sequence, fd: Fd): (v: TraceView) => number {
  const b = s.program.buf(8);
  const read = s.syscall(SYSCALLS.read, [arg.fd(fd), arg.buf(b), 8]);
  const dump = s.dump(b);
  return (v) => {
    const r = v.ret(read);
    return r === 8 ? Number(v.step(dump).dump!.readBigUInt64LE(0)) : r;
  };
}

/**
 * poll(2) for the eventfd to become readable, up to `ms`: a completion an io-wq worker posts can be reaped before
 * the worker signals the eventfd (the CQ tail is committed first), so a signal that must come is waited for.
 */
function awaitSignal(s: Sequence, fd: Fd, ms = 2000): void {
  const pfd = s.program.buf(POLLFD_LAYOUT.size);
  place(s, pfd, 0, encodeStruct(POLLFD_LAYOUT, { fd: arg.fd(fd), events: POLL_EV.IN.value }));
  s.syscall(SYSCALLS.poll, [arg.buf(pfd), 1, ms]);
}

/** io_uring_register(ring, op, &fd, 1) for EVENTFD / EVENTFD_ASYNC; UNREGISTER_EVENTFD takes no argument. */
function registerEventfd(s: Sequence, u: UringRunner, op: 'EVENTFD' | 'EVENTFD_ASYNC', fd: Fd | number): StepRef {
  return s.syscall(SYSCALLS.io_uring_register, [arg.ring(u.h.ring), REGISTER[op].value, arg.buf(fdArray(s, [fd])), 1]);
}
function unregisterEventfd(s: Sequence, u: UringRunner): StepRef {
  return s.syscall(SYSCALLS.io_uring_register, [arg.ring(u.h.ring), REGISTER.UNREGISTER_EVENTFD.value, 0, 0]);
}

/** `cq_off.flags` as this kernel reports it in io_uring_params: where the CQ ring's flags word is. */
async function cqFlagsOffset(target: Target): Promise<number> {
  const p = new Program();
  const h = setupRing(p.main, { entries: 4 });
  const v = await target.run(p);
  if (v.ret(h.setup) < 0) throw new Error(`setup failed: io_uring_setup returned ${v.ret(h.setup)}`);
  return v.step(h.paramsDump).dump!.readUInt32LE(IO_URING_PARAMS_LAYOUT.fields['cq_off.flags'].offset);
}

conformance(
  'uring.register EVENTFD is signalled by completions, not while IORING_CQ_EVENTFD_DISABLED is set, nor after UNREGISTER_EVENTFD',
  { ops: ['uring.register', 'uring.NOP'], rule: 'man 2 io_uring_register (IORING_REGISTER_EVENTFD)' },
  async ({ target }) => {
    const cqFlags = await cqFlagsOffset(target);
    const p = new Program();
    const s = p.main;
    const efd = eventfd(s);
    const u = new UringRunner(s);
    const reg = registerEventfd(s, u, 'EVENTFD', efd.fd);
    const before = drain(s, efd.fd);
    u.batch([{ opcode: 'NOP' }, { opcode: 'NOP' }]);
    const afterNops = drain(s, efd.fd);
    const twice = registerEventfd(s, u, 'EVENTFD', efd.fd);
    // the application sets IORING_CQ_EVENTFD_DISABLED in the CQ ring's flags word: through a pipe, since
    // a program writes ring memory only by handing its address to a syscall
    const pipe = pipe2(s);
    const word = Buffer.alloc(4);
    word.writeUInt32LE(CQ_FLAG.EVENTFD_DISABLED.value);
    const put = writeBytes(s, pipe.w, word);
    const set = s.syscall(SYSCALLS.read, [arg.fd(pipe.r), arg.ringmem(u.h.ring, 1, cqFlags), 4]);
    const state = s.uringState(u.h.ring);
    u.run({ opcode: 'NOP' });
    const whileDisabled = drain(s, efd.fd);
    writeBytes(s, pipe.w, Buffer.alloc(4));
    const clear = s.syscall(SYSCALLS.read, [arg.fd(pipe.r), arg.ringmem(u.h.ring, 1, cqFlags), 4]);
    u.run({ opcode: 'NOP' });
    const reenabled = drain(s, efd.fd);
    const unreg = unregisterEventfd(s, u);
    u.run({ opcode: 'NOP' });
    const afterUnreg = drain(s, efd.fd);
    const unregAgain = unregisterEventfd(s, u);
    const notEventfd = registerEventfd(s, u, 'EVENTFD', pipe.r);
    const notOpen = registerEventfd(s, u, 'EVENTFD', 9999);
    const v = await target.run(p);
    requireSetup(v, [
      { what: 'eventfd2', step: efd.step },
      { what: 'pipe2', step: pipe.step },
      { what: 'write to the pipe', step: put, want: 4 },
      { what: 'read into the CQ flags word', step: set, want: 4 },
      { what: 'read clearing the CQ flags word', step: clear, want: 4 },
    ]);
    expect(v.step(state).ring!.cqFlags, 'the CQ flags word holds IORING_CQ_EVENTFD_DISABLED').to.equal(
      CQ_FLAG.EVENTFD_DISABLED.value,
    );
    expect(v.ret(reg), 'IORING_REGISTER_EVENTFD').to.equal(0);
    expect(before(v), 'no completion yet: the eventfd is not signalled').to.equal(-errno.EAGAIN);
    expect(afterNops(v), 'two NOP completions signal it (a count of 1 or 2)').to.be.within(1, 2);
    expect(v.ret(twice), 'a second IORING_REGISTER_EVENTFD: -EBUSY').to.equal(-errno.EBUSY);
    expect(whileDisabled(v), 'a completion with IORING_CQ_EVENTFD_DISABLED set: no signal').to.equal(-errno.EAGAIN);
    expect(reenabled(v), 'the flag cleared: the next completion signals again').to.equal(1);
    expect(v.ret(unreg), 'IORING_UNREGISTER_EVENTFD').to.equal(0);
    expect(afterUnreg(v), 'after UNREGISTER_EVENTFD a completion signals nothing').to.equal(-errno.EAGAIN);
    expect(v.ret(unregAgain), 'UNREGISTER_EVENTFD with none registered: -ENXIO').to.equal(-errno.ENXIO);
    expect(v.ret(notEventfd), 'registering a pipe, not an eventfd: -EINVAL').to.equal(-errno.EINVAL);
    expect(v.ret(notOpen), 'registering fd 9999 (not open): -EBADF').to.equal(-errno.EBADF);
  },
);

conformance(
  'uring.register EVENTFD_ASYNC is signalled only by completions that did not complete inline',
  { ops: ['uring.register', 'uring.NOP'], rule: 'man 2 io_uring_register (IORING_REGISTER_EVENTFD_ASYNC)' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const efd = eventfd(s);
    const u = new UringRunner(s);
    const reg = registerEventfd(s, u, 'EVENTFD_ASYNC', efd.fd);
    u.run({ opcode: 'NOP' });
    const inline = drain(s, efd.fd);
    // IOSQE_ASYNC sends the NOP to an io-wq worker, so it completes out of line
    u.run({ opcode: 'NOP', flags: IOSQE.ASYNC.value });
    awaitSignal(s, efd.fd);
    const punted = drain(s, efd.fd);
    const v = await target.run(p);
    requireSetup(v, [{ what: 'eventfd2', step: efd.step }]);
    expect(v.ret(reg), 'IORING_REGISTER_EVENTFD_ASYNC').to.equal(0);
    expect(inline(v), 'a NOP completed inline: no signal').to.equal(-errno.EAGAIN);
    expect(punted(v), 'a NOP completed by an io-wq worker (IOSQE_ASYNC): signalled once').to.equal(1);
  },
);
