/** IORING_OP_TIMEOUT_REMOVE: removing and updating a pending TIMEOUT by user_data (SEMANTICS §3.9, §3.10). */
import { expect } from 'chai';
import { errno, TIMEOUT } from '../../src/abi';
import { arg, Program } from '../../src/program/builder';
import { reap, setupRing, sqe, submit } from '../../src/program/uring';
import { timespecMs } from '../../src/program/sys';
import { conformance } from '../../src/suite/conformance';
import { byUserData, elapsedMs, reaped } from '../../src/oracle/uring-net';

const [T, R] = [0x7e1n, 0x7e2n];

conformance(
  'uring.TIMEOUT_REMOVE of a pending TIMEOUT completes with 0 and the timeout with -ECANCELED',
  { ops: ['uring.TIMEOUT_REMOVE', 'uring.TIMEOUT'], rule: 'SEMANTICS §3.9' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 4 });
    const arm = submit(s, h, [
      sqe({ opcode: 'TIMEOUT', fd: -1, addr: arg.buf(timespecMs(s, 10_000)), len: 1, user_data: T }),
    ]);
    const idle = reap(s, h, 0, 4, 0);
    // liburing io_uring_prep_timeout_remove: addr = the timeout's user_data
    const rm = submit(s, h, [sqe({ opcode: 'TIMEOUT_REMOVE', fd: -1, addr: T, user_data: R })], 2);
    const got = reap(s, h, 2, 4, 2000);
    const more = reap(s, h, 0, 4, 0);
    const v = await target.run(p);
    expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
    expect([v.ret(arm.enter), v.ret(rm.enter)], 'TIMEOUT, then TIMEOUT_REMOVE submitted').to.deep.equal([1, 1]);
    expect(v.step(idle).cqes, 'the 10 s timeout is pending').to.deep.equal([]);
    expect(
      byUserData(reaped(v, got, more)),
      'remove 0, the timeout -ECANCELED, once each (SEMANTICS §3.9)',
    ).to.deep.equal([
      [T, -errno.ECANCELED],
      [R, 0],
    ]);
  },
);

conformance(
  'uring.TIMEOUT_REMOVE of an unknown user_data completes with -ENOENT, with and without IORING_TIMEOUT_UPDATE',
  { ops: ['uring.TIMEOUT_REMOVE'], rule: 'SEMANTICS §3.9' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 4 });
    const ts = arg.buf(timespecMs(s, 10));
    const sub = submit(
      s,
      h,
      [
        sqe({ opcode: 'TIMEOUT_REMOVE', fd: -1, addr: 0x5eed, user_data: R }),
        sqe({
          opcode: 'TIMEOUT_REMOVE',
          fd: -1,
          addr: 0x5eed,
          addr2: ts,
          timeout_flags: TIMEOUT.UPDATE.value,
          user_data: R + 1n,
        }),
      ],
      2,
    );
    const got = reap(s, h, 2, 4);
    const more = reap(s, h, 0, 4, 0);
    const v = await target.run(p);
    expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
    expect(v.ret(sub.enter), 'both submitted').to.equal(2);
    expect(byUserData(reaped(v, got, more)), 'no timeout has that user_data: -ENOENT (SEMANTICS §3.9)').to.deep.equal([
      [R, -errno.ENOENT],
      [R + 1n, -errno.ENOENT],
    ]);
  },
);

conformance(
  'uring.TIMEOUT_REMOVE with IORING_TIMEOUT_UPDATE shortens a 10 s TIMEOUT to 20 ms',
  { ops: ['uring.TIMEOUT_REMOVE', 'uring.TIMEOUT'], rule: 'SEMANTICS §3.9' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 4 });
    const arm = submit(s, h, [
      sqe({ opcode: 'TIMEOUT', fd: -1, addr: arg.buf(timespecMs(s, 10_000)), len: 1, user_data: T }),
    ]);
    // liburing io_uring_prep_timeout_update: addr = user_data, addr2 = the new timespec
    const upd = submit(s, h, [
      sqe({
        opcode: 'TIMEOUT_REMOVE',
        fd: -1,
        addr: T,
        addr2: arg.buf(timespecMs(s, 20)),
        timeout_flags: TIMEOUT.UPDATE.value,
        user_data: R,
      }),
    ]);
    const got = reap(s, h, 2, 4, 5000);
    const more = reap(s, h, 0, 4, 0);
    const v = await target.run(p);
    expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
    expect([v.ret(arm.enter), v.ret(upd.enter)], 'TIMEOUT, then the update submitted').to.deep.equal([1, 1]);
    expect(byUserData(reaped(v, got, more)), 'update 0; then -ETIME (SEMANTICS §3.10)').to.deep.equal([
      [T, -errno.ETIME],
      [R, 0],
    ]);
    const ms = elapsedMs(v.step(upd.enter), v.step(got));
    expect(ms, 'it fired on the new 20 ms, not the old 10 s').to.be.within(20, 5000);
  },
);
