/**
 * Timeouts beyond the single relative timer: a pending LINK_TIMEOUT re-armed through TIMEOUT_REMOVE with
 * IORING_TIMEOUT_UPDATE | IORING_LINK_TIMEOUT_UPDATE (5.15), a timer on CLOCK_REALTIME
 * (IORING_TIMEOUT_REALTIME, 5.15), and two completion-count timeouts queued out of target order
 * (SEMANTICS §3.10; man io_uring_prep_timeout, io_uring_prep_timeout_update, io_uring_prep_link_timeout).
 */
import { expect } from 'chai';
import { errno, IOSQE, TIMEOUT } from '../../src/abi';
import { arg, Program } from '../../src/program/builder';
import { pipe2, timespecMs } from '../../src/program/sys';
import { nopSqes, reap, setupRing, sqe, submit } from '../../src/program/uring';
import { conformance } from '../../src/suite/conformance';
import { byUserData, expectSetup, flagMissing, reaped } from '../../src/oracle/uring-net';

conformance(
  'uring.TIMEOUT_REMOVE with IORING_LINK_TIMEOUT_UPDATE re-arms a pending LINK_TIMEOUT: 10 s becomes 20 ms, the linked READ is cancelled then; an unknown one is -ENOENT',
  {
    ops: ['uring.TIMEOUT_REMOVE', 'uring.LINK_TIMEOUT', 'uring.READ'],
    rule: 'man io_uring_prep_timeout_update (IORING_LINK_TIMEOUT_UPDATE updates a linked timeout); SEMANTICS §3.10 (timer fires first: target -ECANCELED, timeout -ETIME), §3.9 (-ENOENT when not found)',
  },
  async ({ target, caps, skip }) => {
    const [READ, LT, UPD, MISS] = [0x8a0n, 0x8a1n, 0x8a2n, 0x8a3n];
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 8 });
    const pipe = pipe2(s);
    const buf = p.buf(64);
    const sub = submit(s, h, [
      sqe({ opcode: 'READ', fd: pipe.r, addr: arg.buf(buf), len: 64, flags: IOSQE.IO_LINK.value, user_data: READ }),
      sqe({ opcode: 'LINK_TIMEOUT', fd: -1, addr: arg.buf(timespecMs(s, 10_000)), len: 1, user_data: LT }),
    ]);
    const idle = reap(s, h, 0, 4, 0);
    const flags = TIMEOUT.UPDATE.value | TIMEOUT.LINK_TIMEOUT_UPDATE.value;
    const ts = arg.buf(timespecMs(s, 20));
    const upd = submit(s, h, [
      sqe({ opcode: 'TIMEOUT_REMOVE', fd: -1, addr: LT, addr2: ts, timeout_flags: flags, user_data: UPD }),
      sqe({ opcode: 'TIMEOUT_REMOVE', fd: -1, addr: 0x5eed, addr2: ts, timeout_flags: flags, user_data: MISS }),
    ]);
    // well inside the 10 s the timeout was armed with
    const got = reap(s, h, 4, 8, 3000);
    const more = reap(s, h, 0, 8, 0);
    const v = await target.run(p);
    expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
    expectSetup(v, [pipe.step], 'pipe');
    expect(v.ret(sub.enter), 'READ and LINK_TIMEOUT submitted').to.equal(2);
    expect(v.step(idle).cqes, 'an empty pipe and a 10 s timeout: nothing yet').to.deep.equal([]);
    expect(v.ret(upd.enter), 'both updates submitted').to.equal(2);
    const cqes = byUserData(reaped(v, got, more));
    const miss = flagMissing(caps, TIMEOUT.LINK_TIMEOUT_UPDATE, cqes.find((c) => c[0] === UPD)?.[1]);
    if (miss) skip(miss);
    expect(
      cqes,
      'the update 0 and the unknown one -ENOENT; 20 ms later the timeout fires: READ -ECANCELED, LINK_TIMEOUT -ETIME',
    ).to.deep.equal([
      [READ, -errno.ECANCELED],
      [LT, -errno.ETIME],
      [UPD, 0],
      [MISS, -errno.ENOENT],
    ]);
  },
);

conformance(
  'uring.TIMEOUT with IORING_TIMEOUT_REALTIME: a relative 20 ms timer on CLOCK_REALTIME expires with -ETIME',
  { ops: ['uring.TIMEOUT'], rule: 'SEMANTICS §3.10 (REALTIME 1<<3, 5.15; -ETIME when the timer fires)' },
  async ({ target, caps, skip }) => {
    const T = 0x8b0n;
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 4 });
    const sub = submit(s, h, [
      sqe({
        opcode: 'TIMEOUT',
        fd: -1,
        addr: arg.buf(timespecMs(s, 20)),
        len: 1,
        timeout_flags: TIMEOUT.REALTIME.value,
        user_data: T,
      }),
    ]);
    const got = reap(s, h, 1, 4, 3000);
    const v = await target.run(p);
    expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
    expect(v.ret(sub.enter), 'TIMEOUT submitted').to.equal(1);
    const cqes = byUserData(v.step(got).cqes);
    const miss = flagMissing(caps, TIMEOUT.REALTIME, cqes[0]?.[1]);
    if (miss) skip(miss);
    expect(cqes, 'the timer fires: -ETIME').to.deep.equal([[T, -errno.ETIME]]);
  },
);

conformance(
  'uring.TIMEOUT by completion count: two queued with the later target first each complete with 0 when their count of other completions is reached',
  { ops: ['uring.TIMEOUT', 'uring.NOP'], rule: 'SEMANTICS §3.10 (off = completion-count target; 0 when satisfied by completions)' },
  async ({ target }) => {
    const [FAR, NEAR, TIMER, RM] = [0x8c0n, 0x8c1n, 0x8c2n, 0x8c3n];
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 16 });
    const ts = (ms: number) => arg.buf(timespecMs(s, ms));
    // a pure 10 s timer first: count timeouts are ordered among themselves, past it
    const arm = submit(s, h, [
      sqe({ opcode: 'TIMEOUT', fd: -1, addr: ts(10_000), len: 1, user_data: TIMER }),
      sqe({ opcode: 'TIMEOUT', fd: -1, addr: ts(10_000), len: 1, off: 3, user_data: FAR }),
      sqe({ opcode: 'TIMEOUT', fd: -1, addr: ts(10_000), len: 1, off: 1, user_data: NEAR }),
    ]);
    const idle = reap(s, h, 0, 8, 0);
    const one = submit(s, h, nopSqes(1, 0x8d0), 2);
    const r1 = reap(s, h, 2, 8, 3000);
    const two = submit(s, h, nopSqes(2, 0x8d1), 3);
    const r2 = reap(s, h, 3, 8, 3000);
    const more = reap(s, h, 0, 8, 0);
    const rm = submit(s, h, [sqe({ opcode: 'TIMEOUT_REMOVE', fd: -1, addr: TIMER, user_data: RM })], 2);
    const gone = reap(s, h, 2, 8, 3000);
    const v = await target.run(p);
    expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
    expect(
      [v.ret(arm.enter), v.ret(one.enter), v.ret(two.enter), v.ret(rm.enter)],
      'all submitted',
    ).to.deep.equal([3, 1, 2, 1]);
    expect(v.step(idle).cqes, 'no completions yet: both timeouts wait').to.deep.equal([]);
    expect(byUserData(v.step(r1).cqes), 'one completion: the off=1 timeout is satisfied (0)').to.deep.equal([
      [NEAR, 0],
      [0x8d0n, 0],
    ]);
    expect(
      byUserData(reaped(v, r2, more)),
      'three completions besides timeouts: the off=3 timeout is satisfied (0)',
    ).to.deep.equal([
      [FAR, 0],
      [0x8d1n, 0],
      [0x8d2n, 0],
    ]);
    expect(byUserData(v.step(gone).cqes), 'the pure timer never counted: removed, -ECANCELED').to.deep.equal([
      [TIMER, -errno.ECANCELED],
      [RM, 0],
    ]);
  },
);
