/**
 * io_uring_enter's arguments: undefined flags, an fd that is no ring, IORING_ENTER_EXT_ARG's struct and
 * signal mask, IORING_ENTER_ABS_TIMER (6.12) and min_wait_usec (IORING_FEAT_MIN_TIMEOUT, 6.12).
 * Man io_uring_enter(2); SEMANTICS §3.5.
 */
import { expect } from 'chai';
import {
  ENTER,
  entriesOf,
  errno,
  FEAT,
  GETEVENTS_ARG_LAYOUT,
  KERNEL_SIGSET,
  KERNEL_TIMESPEC_LAYOUT,
  POLL_EV,
  releasedBy,
  SYSCALLS,
} from '../../src/abi';
import { arg, Program, Sequence } from '../../src/program/builder';
import { encodeStruct, place } from '../../src/program/struct';
import { close, pipe2 } from '../../src/program/sys';
import type { TraceView } from '../../src/program/trace';
import { enter, nopSqes, reap, RingHandle, setupRing, sqe, submit } from '../../src/program/uring';
import { conformance } from '../../src/suite/conformance';

/** The lowest io_uring_enter flag bit above every IORING_ENTER_* this project knows. */
const UNDEFINED_ENTER = 2 * Math.max(...entriesOf(ENTER).map((f) => f.value));
const WAIT = ENTER.GETEVENTS.value | ENTER.EXT_ARG.value;

/** An io_uring_getevents_arg with a timeout of `ns` (and the other fields given), as an argument. */
function getevents(
  s: Sequence,
  ns: bigint,
  rest: { sigmask?: ReturnType<typeof arg.buf>; sigmask_sz?: number; min_wait_usec?: number } = {},
) {
  const p = s.program;
  const ts = p.buf(KERNEL_TIMESPEC_LAYOUT.size);
  place(s, ts, 0, encodeStruct(KERNEL_TIMESPEC_LAYOUT, { tv_sec: ns / 1_000_000_000n, tv_nsec: ns % 1_000_000_000n }));
  const ga = p.buf(GETEVENTS_ARG_LAYOUT.size);
  place(s, ga, 0, encodeStruct(GETEVENTS_ARG_LAYOUT, { ts: arg.buf(ts), ...rest }));
  return arg.buf(ga);
}

/**
 * A ring with one poll armed on an empty pipe: a wait on it can only end by its timeout. `finish()` writes
 * the pipe and reaps the poll's CQE (every consumed SQE completes: SEMANTICS §3.13).
 */
function idleRing(s: Sequence): { h: RingHandle; finish: () => void } {
  const { r, w } = pipe2(s);
  const h = setupRing(s, { entries: 4 });
  submit(s, h, [sqe({ opcode: 'POLL_ADD', fd: r, poll32_events: POLL_EV.IN.value, user_data: 0xee })]);
  const finish = () => {
    s.syscall(SYSCALLS.write, [arg.fd(w), arg.buf(s.program.data(Buffer.from('x'))), 1]);
    reap(s, h, 1, 4);
  };
  return { h, finish };
}

const elapsedMs = (v: TraceView, st: Parameters<TraceView['step']>[0]) => {
  const x = v.step(st);
  return Number(x.t1Ns - x.t0Ns) / 1e6;
};

conformance(
  'uring.enter refuses an undefined flag (-EINVAL), an fd that is no ring (-EOPNOTSUPP) and a closed fd (-EBADF)',
  { ops: ['uring.enter', 'uring.NOP'], rule: 'man io_uring_enter(2) ERRORS; SEMANTICS §3.5' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 4 });
    const b = p.buf(h.sqeSize);
    place(s, b, 0, nopSqes(1)[0]);
    const queued = s.uringQueue(h.ring, b, 0, 1);
    const badFlag = enter(s, h, 1, 0, UNDEFINED_ENTER);
    const { r, w } = pipe2(s);
    const notRing = s.syscall(SYSCALLS.io_uring_enter, [arg.fd(r), 1, 0, 0, 0, 0]);
    close(s, w);
    const closed = s.syscall(SYSCALLS.io_uring_enter, [arg.fd(w), 1, 0, 0, 0, 0]);
    // none of the refusals consumed the NOP: this enter does
    const ok = enter(s, h, 1, 1, ENTER.GETEVENTS.value);
    const c = reap(s, h, 1, 2);
    const v = await target.run(p);
    expect(v.ret(queued), 'one NOP queued').to.equal(1);
    expect(v.ret(badFlag), `flags 0x${UNDEFINED_ENTER.toString(16)}, no IORING_ENTER_* bit: -EINVAL`).to.equal(
      -errno.EINVAL,
    );
    expect(v.ret(notRing), 'a pipe fd: -EOPNOTSUPP (fd does not refer to an io_uring instance)').to.equal(
      -errno.EOPNOTSUPP,
    );
    expect(v.ret(closed), 'a closed fd: -EBADF').to.equal(-errno.EBADF);
    expect(v.ret(ok), 'the refused calls consumed nothing: the NOP is submitted now').to.equal(1);
    expect(v.step(c).cqes.map((q) => [q.userData, q.res])).to.deep.equal([[1n, 0]]);
  },
);

conformance(
  'uring.enter with IORING_ENTER_EXT_ARG: a wrong argsz or sigmask_sz is -EINVAL; a valid sigmask waits out the timeout (-ETIME)',
  { ops: ['uring.enter', 'uring.POLL_ADD'], rule: 'man io_uring_enter(2) IORING_ENTER_EXT_ARG; SEMANTICS §3.5' },
  async ({ target, caps, skip }) => {
    if (!(caps.uring.features & FEAT.EXT_ARG.value)) skip(`probe: kernel ${caps.kernel} lacks IORING_FEAT_EXT_ARG`);
    const p = new Program();
    const s = p.main;
    const { h, finish } = idleRing(s);
    const ns = 50_000_000n;
    const plain = getevents(s, ns);
    const shortArg = enter(s, h, 0, 1, WAIT, plain, GETEVENTS_ARG_LAYOUT.size - 8);
    const longArg = enter(s, h, 0, 1, WAIT, plain, GETEVENTS_ARG_LAYOUT.size + 8);
    // an empty signal set of the kernel's sigset size, and the same with a size that is not
    const set = arg.buf(p.buf(KERNEL_SIGSET.SIZE.value));
    const badSig = enter(
      s,
      h,
      0,
      1,
      WAIT,
      getevents(s, ns, { sigmask: set, sigmask_sz: KERNEL_SIGSET.SIZE.value / 2 }),
      GETEVENTS_ARG_LAYOUT.size,
    );
    const sig = enter(
      s,
      h,
      0,
      1,
      WAIT,
      getevents(s, ns, { sigmask: set, sigmask_sz: KERNEL_SIGSET.SIZE.value }),
      GETEVENTS_ARG_LAYOUT.size,
    );
    finish();
    const v = await target.run(p);
    expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
    expect(v.ret(shortArg), 'argsz smaller than struct io_uring_getevents_arg: -EINVAL').to.equal(-errno.EINVAL);
    expect(v.ret(longArg), 'argsz larger than struct io_uring_getevents_arg: -EINVAL').to.equal(-errno.EINVAL);
    expect(v.ret(badSig), 'sigmask_sz other than the kernel sigset size: -EINVAL').to.equal(-errno.EINVAL);
    expect(v.ret(sig), 'with a signal mask the wait still ends at its timeout: -ETIME').to.equal(-errno.ETIME);
    expect(elapsedMs(v, sig), 'it waited the 50 ms timeout').to.be.within(45, 5000);
  },
);

conformance(
  'uring.enter with IORING_ENTER_ABS_TIMER takes the timeout as a CLOCK_MONOTONIC time: one in the past ends the wait at once',
  {
    ops: ['uring.enter', 'uring.POLL_ADD'],
    rule: 'man io_uring_enter(2) IORING_ENTER_ABS_TIMER (6.12); SEMANTICS §3.5',
  },
  async ({ target, caps, skip }) => {
    if (!releasedBy(ENTER.ABS_TIMER.since!, caps.kernel))
      skip(`IORING_ENTER_ABS_TIMER is ${ENTER.ABS_TIMER.since}+, kernel ${caps.kernel}`);
    const p = new Program();
    const s = p.main;
    const { h, finish } = idleRing(s);
    // 0.3 s: as a relative timeout a wait of 0.3 s; as an absolute CLOCK_MONOTONIC time long past on a
    // system that has been up longer than that
    const ns = 300_000_000n;
    const rel = enter(s, h, 0, 1, WAIT, getevents(s, ns), GETEVENTS_ARG_LAYOUT.size);
    const abs = enter(s, h, 0, 1, WAIT | ENTER.ABS_TIMER.value, getevents(s, ns), GETEVENTS_ARG_LAYOUT.size);
    finish();
    const v = await target.run(p);
    expect(v.ret(rel), 'relative: -ETIME').to.equal(-errno.ETIME);
    expect(elapsedMs(v, rel), 'relative: after the 300 ms').to.be.within(290, 10_000);
    expect(v.ret(abs), 'absolute: -ETIME').to.equal(-errno.ETIME);
    expect(elapsedMs(v, abs), 'absolute time in the past: no wait').to.be.below(150);
  },
);

conformance(
  'uring.enter with min_wait_usec returns after the minimum wait once one CQE is posted, short of min_complete',
  {
    ops: ['uring.enter', 'uring.NOP', 'uring.POLL_ADD'],
    rule: 'man io_uring_enter(2) min_wait_usec, IORING_FEAT_MIN_TIMEOUT (6.12)',
  },
  async ({ target, caps, skip }) => {
    if (!(caps.uring.features & FEAT.MIN_TIMEOUT.value))
      skip(`probe: kernel ${caps.kernel} lacks IORING_FEAT_MIN_TIMEOUT`);
    const p = new Program();
    const s = p.main;
    const { h, finish } = idleRing(s);
    const nop = submit(s, h, nopSqes(1));
    // two completions wanted, one will come: 100 ms minimum wait, 5 s overall
    const w = enter(
      s,
      h,
      0,
      2,
      WAIT,
      getevents(s, 5_000_000_000n, { min_wait_usec: 100_000 }),
      GETEVENTS_ARG_LAYOUT.size,
    );
    const c = reap(s, h, 1, 1, 0);
    finish();
    const v = await target.run(p);
    expect(v.ret(nop.enter), 'the NOP is submitted').to.equal(1);
    expect(v.ret(w), 'the wait ends without error').to.equal(0);
    expect(elapsedMs(v, w), 'after the 100 ms minimum wait, long before the 5 s timeout').to.be.within(95, 2500);
    expect(
      v.step(c).cqes.map((q) => [q.userData, q.res]),
      'the NOP’s CQE is there',
    ).to.deep.equal([[1n, 0]]);
  },
);
