/**
 * IORING_REGISTER_CLOCK (6.12): the clock io_uring_enter's wait timeouts are measured on, CLOCK_MONOTONIC (the
 * default) or CLOCK_BOOTTIME. Man io_uring_register(2): a struct io_uring_clock_register as arg, nr_args 0; any
 * other clock, a non-zero reserved word or nr_args other than 0 is -EINVAL.
 */
import { expect } from 'chai';
import {
  CLOCK,
  CLOCK_REGISTER_LAYOUT,
  ENTER,
  errno,
  GETEVENTS_ARG_LAYOUT,
  KERNEL_TIMESPEC_LAYOUT,
  REGISTER,
  releasedBy,
  SYSCALLS,
} from '../../src/abi';
import { arg, ArgLike, Program, Sequence, StepRef } from '../../src/program/builder';
import { encodeStruct, place } from '../../src/program/struct';
import { enter, RingHandle, setupRing } from '../../src/program/uring';
import { conformance } from '../../src/suite/conformance';

function registerClock(
  s: Sequence,
  h: RingHandle,
  clockid: number,
  opts: { resv?: number; nr?: number; a?: ArgLike } = {},
): StepRef {
  const b = s.program.buf(CLOCK_REGISTER_LAYOUT.size);
  place(s, b, 0, encodeStruct(CLOCK_REGISTER_LAYOUT, { clockid }));
  if (opts.resv) s.patch(b, CLOCK_REGISTER_LAYOUT.fields.__resv.offset, 4, opts.resv);
  return s.syscall(SYSCALLS.io_uring_register, [
    arg.ring(h.ring),
    REGISTER.CLOCK.value,
    opts.a ?? arg.buf(b),
    opts.nr ?? 0,
  ]);
}

conformance(
  'uring.register CLOCK takes CLOCK_MONOTONIC and CLOCK_BOOTTIME, refuses other clocks, and times enter waits on it',
  { ops: ['uring.register', 'uring.enter'], rule: 'man 2 io_uring_register (IORING_REGISTER_CLOCK)' },
  async ({ target, caps, skip }) => {
    if (!releasedBy(REGISTER.CLOCK.since!, caps.kernel))
      skip(`IORING_REGISTER_CLOCK is ${REGISTER.CLOCK.since}, kernel ${caps.kernel}`);
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 4 });
    const boot = registerClock(s, h, CLOCK.BOOTTIME.value);
    // a 20 ms wait for a completion that never comes ends at its timeout, measured on CLOCK_BOOTTIME
    const ts = p.buf(KERNEL_TIMESPEC_LAYOUT.size);
    place(s, ts, 0, encodeStruct(KERNEL_TIMESPEC_LAYOUT, { tv_sec: 0, tv_nsec: 20_000_000 }));
    const ga = p.buf(GETEVENTS_ARG_LAYOUT.size);
    place(s, ga, 0, encodeStruct(GETEVENTS_ARG_LAYOUT, { ts: arg.buf(ts) }));
    const WAIT = ENTER.GETEVENTS.value | ENTER.EXT_ARG.value;
    const waited = enter(s, h, 0, 1, WAIT, arg.buf(ga), GETEVENTS_ARG_LAYOUT.size);
    const mono = registerClock(s, h, CLOCK.MONOTONIC.value);
    const waitedMono = enter(s, h, 0, 1, WAIT, arg.buf(ga), GETEVENTS_ARG_LAYOUT.size);
    const realtime = registerClock(s, h, CLOCK.REALTIME.value);
    const resv = registerClock(s, h, CLOCK.MONOTONIC.value, { resv: 1 });
    const nr = registerClock(s, h, CLOCK.MONOTONIC.value, { nr: 1 });
    const nul = registerClock(s, h, CLOCK.MONOTONIC.value, { a: 0 });
    const bad = registerClock(s, h, CLOCK.MONOTONIC.value, { a: arg.bad() });
    const v = await target.run(p);
    expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
    expect(v.ret(boot), 'IORING_REGISTER_CLOCK of CLOCK_BOOTTIME').to.equal(0);
    expect(v.ret(waited), 'a 20 ms wait on CLOCK_BOOTTIME with nothing to complete: -ETIME').to.equal(-errno.ETIME);
    expect(v.ret(mono), 'IORING_REGISTER_CLOCK of CLOCK_MONOTONIC').to.equal(0);
    expect(v.ret(waitedMono), 'and the same wait on CLOCK_MONOTONIC: -ETIME').to.equal(-errno.ETIME);
    expect(v.ret(realtime), 'CLOCK_REALTIME: -EINVAL').to.equal(-errno.EINVAL);
    expect(v.ret(resv), 'a non-zero reserved word: -EINVAL').to.equal(-errno.EINVAL);
    expect(v.ret(nr), 'nr_args 1: -EINVAL').to.equal(-errno.EINVAL);
    expect(v.ret(nul), 'a NULL argument: -EINVAL').to.equal(-errno.EINVAL);
    expect(v.ret(bad), 'an argument the kernel cannot read: -EFAULT').to.equal(-errno.EFAULT);
  },
);
