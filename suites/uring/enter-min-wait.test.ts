/**
 * min_wait_usec of struct io_uring_getevents_arg (IORING_FEAT_MIN_TIMEOUT, 6.12) when no CQE comes: after the
 * minimum wait the wait goes on until the overall timeout, then -ETIME; a minimum wait longer than the timeout
 * is still waited in full ("the minimum amount of time" to wait), then -ETIME (man io_uring_enter(2)
 * min_wait_usec; SEMANTICS §3.5 "-ETIME: EXT_ARG timeout"; measured on 6.12 and 6.18). The same on a
 * DEFER_TASKRUN ring.
 */
import { expect } from 'chai';
import { ENTER, errno, FEAT, GETEVENTS_ARG_LAYOUT, KERNEL_TIMESPEC_LAYOUT, POLL_EV, SYSCALLS } from '../../src/abi';
import { arg, Program, Sequence } from '../../src/program/builder';
import { encodeStruct, place } from '../../src/program/struct';
import { pipe2 } from '../../src/program/sys';
import { enter, reap, setupRing, sqe, submit } from '../../src/program/uring';
import { requireSetup } from '../../src/oracle/uring-files';
import { conformance, needSetupFlags } from '../../src/suite/conformance';

/** A getevents argument: overall timeout and minimum wait, in ms. */
function getevents(s: Sequence, timeoutMs: number, minWaitMs: number) {
  const p = s.program;
  const ns = BigInt(timeoutMs) * 1_000_000n;
  const ts = p.buf(KERNEL_TIMESPEC_LAYOUT.size);
  place(s, ts, 0, encodeStruct(KERNEL_TIMESPEC_LAYOUT, { tv_sec: ns / 1_000_000_000n, tv_nsec: ns % 1_000_000_000n }));
  const ga = p.buf(GETEVENTS_ARG_LAYOUT.size);
  place(s, ga, 0, encodeStruct(GETEVENTS_ARG_LAYOUT, { ts: arg.buf(ts), min_wait_usec: minWaitMs * 1000 }));
  return arg.buf(ga);
}

for (const defer of [false, true]) {
  conformance(
    `uring.enter min_wait_usec with no CQE coming${defer ? ' on a DEFER_TASKRUN ring' : ''}: -ETIME at the overall timeout, or after a longer minimum wait`,
    {
      ops: ['uring.enter', 'uring.POLL_ADD'],
      rule: 'man io_uring_enter(2) min_wait_usec, IORING_FEAT_MIN_TIMEOUT (6.12); SEMANTICS §3.5',
    },
    async (ctx) => {
      if (!(ctx.caps.uring.features & FEAT.MIN_TIMEOUT.value))
        ctx.skip(`probe: kernel ${ctx.caps.kernel} lacks IORING_FEAT_MIN_TIMEOUT`);
      const flags = defer ? needSetupFlags(ctx, 'SINGLE_ISSUER', 'DEFER_TASKRUN') : 0;
      const p = new Program();
      const s = p.main;
      const { r, w, step: mk } = pipe2(s);
      const h = setupRing(s, { entries: 4, flags });
      // a poll on an empty pipe: nothing completes while the waits run
      const sub = submit(s, h, [sqe({ opcode: 'POLL_ADD', fd: r, poll32_events: POLL_EV.IN.value, user_data: 0xe1 })]);
      const WAIT = ENTER.GETEVENTS.value | ENTER.EXT_ARG.value;
      const size = GETEVENTS_ARG_LAYOUT.size;
      const shortMin = enter(s, h, 0, 1, WAIT, getevents(s, 300, 50), size);
      const longMin = enter(s, h, 0, 1, WAIT, getevents(s, 200, 400), size);
      const wr = s.syscall(SYSCALLS.write, [arg.fd(w), arg.buf(p.data(Buffer.from('x'))), 1]);
      const c = reap(s, h, 1, 4);
      const v = await ctx.target.run(p);
      requireSetup(v, [
        { what: 'pipe2', step: mk },
        { what: 'io_uring_setup', step: h.setup },
        { what: 'io_uring_enter of the POLL_ADD', step: sub.enter, want: 1 },
        { what: 'write to the pipe', step: wr, want: 1 },
      ]);
      const ms = (st: typeof shortMin) => Number(v.step(st).t1Ns - v.step(st).t0Ns) / 1e6;
      expect(v.ret(shortMin), 'min 50 ms, timeout 300 ms: -ETIME').to.equal(-errno.ETIME);
      expect(ms(shortMin), 'it waited the whole 300 ms, not just the minimum').to.be.within(290, 2500);
      expect(v.ret(longMin), 'min 400 ms, timeout 200 ms: -ETIME').to.equal(-errno.ETIME);
      expect(ms(longMin), 'it waited the 400 ms minimum').to.be.within(390, 2500);
      expect(
        v.step(c).cqes.map((x) => [Number(x.userData), x.res & POLL_EV.IN.value]),
        'the poll completes once the pipe has data',
      ).to.deep.equal([[0xe1, POLL_EV.IN.value]]);
    },
  );
}

conformance(
  'uring.enter GETEVENTS | EXT_ARG whose timespec pointer is unreadable fails with -EFAULT when it has to wait',
  { ops: ['uring.enter'], rule: 'man io_uring_enter(2) EFAULT; SEMANTICS §3.5' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 4 });
    const ga = p.buf(GETEVENTS_ARG_LAYOUT.size);
    place(s, ga, 0, encodeStruct(GETEVENTS_ARG_LAYOUT, { ts: arg.bad() }));
    const WAIT = ENTER.GETEVENTS.value | ENTER.EXT_ARG.value;
    const e = enter(s, h, 0, 1, WAIT, arg.buf(ga), GETEVENTS_ARG_LAYOUT.size);
    const v = await target.run(p);
    requireSetup(v, [{ what: 'io_uring_setup', step: h.setup }]);
    expect(v.ret(e), 'no CQE, a timespec that cannot be read: -EFAULT').to.equal(-errno.EFAULT);
  },
);
