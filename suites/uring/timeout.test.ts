/** IORING_OP_TIMEOUT: relative, count-based, absolute and multishot timeouts; what prep refuses (SEMANTICS §3.10). */
import { expect } from 'chai';
import { CQE_F, errno, KERNEL_TIMESPEC_LAYOUT, TIMEOUT } from '../../src/abi';
import { arg, Buf, Program, Sequence } from '../../src/program/builder';
import { encodeStruct, place } from '../../src/program/struct';
import { reap, setupRing, sqe, submit } from '../../src/program/uring';
import { timespecMs } from '../../src/program/sys';
import { conformance } from '../../src/suite/conformance';
import { byUserData, elapsedMs, flagMissing, reaped } from '../../src/oracle/uring-net';

/** A timespec of raw seconds and nanoseconds (absolute times, negative fields). */
function rawTimespec(s: Sequence, sec: bigint | number, nsec: number): Buf {
  const b = s.program.buf(KERNEL_TIMESPEC_LAYOUT.size);
  place(s, b, 0, encodeStruct(KERNEL_TIMESPEC_LAYOUT, { tv_sec: sec, tv_nsec: nsec }));
  return b;
}

conformance(
  'uring.TIMEOUT of 100 ms completes with -ETIME after 100 ms, not before',
  { ops: ['uring.TIMEOUT'], rule: 'SEMANTICS §3.10' },
  async ({ target }) => {
    const T = 0x71n;
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 4 });
    // liburing io_uring_prep_timeout: addr = timespec, len = 1, off = count
    const sub = submit(s, h, [
      sqe({ opcode: 'TIMEOUT', fd: -1, addr: arg.buf(timespecMs(s, 100)), len: 1, user_data: T }),
    ]);
    const early = reap(s, h, 0, 4, 20);
    const fired = reap(s, h, 1, 4, 5000);
    const v = await target.run(p);
    expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
    expect(v.ret(sub.enter), 'TIMEOUT submitted').to.equal(1);
    expect(v.step(early).cqes, 'nothing after 20 ms').to.deep.equal([]);
    expect(
      v.step(fired).cqes.map((q) => [q.userData, q.res]),
      'the timer fires: -ETIME (SEMANTICS §3.10)',
    ).to.deep.equal([[T, -errno.ETIME]]);
    expect(elapsedMs(v.step(sub.enter), v.step(fired)), 'not before its 100 ms').to.be.at.least(100);
  },
);

conformance(
  'uring.TIMEOUT with a count of 2 completes with 0 after 2 other completions',
  { ops: ['uring.TIMEOUT', 'uring.NOP'], rule: 'SEMANTICS §3.10' },
  async ({ target }) => {
    const T = 0x72n;
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 8 });
    // 10 s: the count, not the timer, must end it
    const arm = submit(s, h, [
      sqe({ opcode: 'TIMEOUT', fd: -1, addr: arg.buf(timespecMs(s, 10_000)), len: 1, off: 2, user_data: T }),
      sqe({ opcode: 'NOP', user_data: 1 }),
    ]);
    const one = reap(s, h, 1, 4, 1000);
    const still = reap(s, h, 0, 4, 20);
    const second = submit(s, h, [sqe({ opcode: 'NOP', user_data: 2 })]);
    const both = reap(s, h, 2, 4, 5000);
    const more = reap(s, h, 0, 4, 0);
    const v = await target.run(p);
    expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
    expect([v.ret(arm.enter), v.ret(second.enter)], 'TIMEOUT and NOP, then a second NOP submitted').to.deep.equal([
      2, 1,
    ]);
    expect(byUserData(reaped(v, one, still)), 'after one completion only the NOP is there').to.deep.equal([[1n, 0]]);
    expect(
      byUserData(reaped(v, both, more)),
      'the second completion satisfies the count: the timeout completes with 0 (SEMANTICS §3.10)',
    ).to.deep.equal([
      [2n, 0],
      [T, 0],
    ]);
    expect(elapsedMs(v.step(second.enter), v.step(both)), 'long before its 10 s timer').to.be.below(5000);
  },
);

conformance(
  'uring.TIMEOUT with IORING_TIMEOUT_ABS fires at its CLOCK_MONOTONIC time, not before; one in the past at once',
  { ops: ['uring.TIMEOUT'], rule: 'SEMANTICS §3.10' },
  async ({ target }) => {
    // the executor's steps are timed with CLOCK_MONOTONIC, the clock ABS uses by default: a first program
    // reads it, the second arms a timer 500 ms after that
    const probe = new Program();
    const nap = probe.main.sleep(1);
    const now = (await target.run(probe)).step(nap).t1Ns;
    const at = now + 500_000_000n;
    const [FUTURE, PAST] = [0x73n, 0x74n];
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 4 });
    const abs = TIMEOUT.ABS.value;
    const sub = submit(s, h, [
      sqe({
        opcode: 'TIMEOUT',
        fd: -1,
        addr: arg.buf(rawTimespec(s, at / 1_000_000_000n, Number(at % 1_000_000_000n))),
        len: 1,
        timeout_flags: abs,
        user_data: FUTURE,
      }),
      sqe({
        opcode: 'TIMEOUT',
        fd: -1,
        addr: arg.buf(rawTimespec(s, 0, 0)),
        len: 1,
        timeout_flags: abs,
        user_data: PAST,
      }),
    ]);
    const first = reap(s, h, 1, 4, 5000);
    const second = reap(s, h, 1, 4, 5000);
    const v = await target.run(p);
    expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
    expect(v.ret(sub.enter), 'both TIMEOUTs submitted').to.equal(2);
    expect(byUserData(reaped(v, first, second)), 'both fire: -ETIME, once each (SEMANTICS §3.10)').to.deep.equal([
      [FUTURE, -errno.ETIME],
      [PAST, -errno.ETIME],
    ]);
    // when the program started before `at` (always so far), the past one is reaped first, at once
    if (v.step(sub.enter).t1Ns < at)
      expect(
        v.step(first).cqes.map((q) => q.userData),
        'the time already past fires first',
      ).to.deep.equal([PAST]);
    const when = [first, second].find((r) => v.step(r).cqes.some((q) => q.userData === FUTURE))!;
    expect(v.step(when).t1Ns >= at, 'the future one not before its absolute time').to.equal(true);
  },
);

conformance(
  'uring.TIMEOUT with IORING_TIMEOUT_MULTISHOT fires 3 times, with F_MORE on all but the last',
  { ops: ['uring.TIMEOUT'], rule: 'SEMANTICS §3.10' },
  async ({ target, caps, skip }) => {
    const T = 0x75n;
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 4 });
    // liburing: with MULTISHOT, off is the number of times to fire (0: until cancelled)
    const sub = submit(s, h, [
      sqe({
        opcode: 'TIMEOUT',
        fd: -1,
        addr: arg.buf(timespecMs(s, 20)),
        len: 1,
        off: 3,
        timeout_flags: TIMEOUT.MULTISHOT.value,
        user_data: T,
      }),
    ]);
    const got = [0, 1, 2].map(() => reap(s, h, 1, 4, 5000));
    const more = reap(s, h, 0, 4, 60);
    const v = await target.run(p);
    expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
    expect(v.ret(sub.enter), 'TIMEOUT submitted').to.equal(1);
    const cqes = reaped(v, ...got, more);
    const missing = flagMissing(caps, TIMEOUT.MULTISHOT, cqes[0]?.res);
    if (missing) skip(missing);
    expect(
      cqes.map((q) => [q.userData, q.res, q.flags & CQE_F.MORE.value]),
      'three -ETIME, F_MORE on the first two, none after the last (SEMANTICS §3.10)',
    ).to.deep.equal([
      [T, -errno.ETIME, CQE_F.MORE.value],
      [T, -errno.ETIME, CQE_F.MORE.value],
      [T, -errno.ETIME, 0],
    ]);
  },
);

conformance(
  'uring.TIMEOUT with len 2, a negative tv_sec or two clocks completes with -EINVAL',
  { ops: ['uring.TIMEOUT'], rule: 'SEMANTICS §3.10' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 8 });
    const ts = arg.buf(timespecMs(s, 10));
    const cases = [
      { ud: 0x76n, what: 'len 2', spec: { addr: ts, len: 2 } },
      { ud: 0x77n, what: 'tv_sec -1', spec: { addr: arg.buf(rawTimespec(s, -1, 0)), len: 1 } },
      {
        ud: 0x78n,
        what: 'BOOTTIME and REALTIME',
        spec: { addr: ts, len: 1, timeout_flags: TIMEOUT.BOOTTIME.value | TIMEOUT.REALTIME.value },
      },
    ];
    const subs = cases.map((c) => submit(s, h, [sqe({ opcode: 'TIMEOUT', fd: -1, ...c.spec, user_data: c.ud })]));
    const got = reap(s, h, cases.length, 8, 2000);
    const more = reap(s, h, 0, 8, 0);
    const v = await target.run(p);
    expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
    for (const sub of subs) expect(v.ret(sub.enter), 'each TIMEOUT is consumed').to.equal(1);
    expect(byUserData(reaped(v, got, more)), 'each completes at once with -EINVAL (SEMANTICS §3.10)').to.deep.equal(
      cases.map((c) => [c.ud, -errno.EINVAL]),
    );
  },
);
