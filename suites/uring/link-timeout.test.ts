/** IORING_OP_LINK_TIMEOUT after a linked READ of a pipe (SEMANTICS §3.10, §3.13 checklist 7). */
import { expect } from 'chai';
import { errno, IOSQE, SYSCALLS } from '../../src/abi';
import { arg, Program } from '../../src/program/builder';
import { pipe2, timespecMs } from '../../src/program/sys';
import { reap, setupRing, sqe, submit } from '../../src/program/uring';
import { conformance } from '../../src/suite/conformance';
import type { Target } from '../../src/target/target';
import { byUserData, reaped } from '../../src/oracle/uring-net';

const [READ, LT] = [0x11n, 0x12n];

/** READ of the pipe (linked) and LINK_TIMEOUT of `ms`; `data` bytes are in the pipe first. */
async function linked(target: Target, data: number, ms: number): Promise<[bigint, number][]> {
  const p = new Program();
  const s = p.main;
  const { r, w, step: pipe } = pipe2(s);
  const b = p.buf(64);
  const wrote = data ? s.syscall(SYSCALLS.write, [arg.fd(w), arg.buf(b), data]) : undefined;
  const h = setupRing(s, { entries: 4 });
  const sub = submit(s, h, [
    sqe({ opcode: 'READ', flags: IOSQE.IO_LINK.value, fd: r, addr: arg.buf(b), len: 64, user_data: READ }),
    // liburing io_uring_prep_link_timeout: addr = timespec, len = 1
    sqe({ opcode: 'LINK_TIMEOUT', fd: -1, addr: arg.buf(timespecMs(s, ms)), len: 1, user_data: LT }),
  ]);
  const got = reap(s, h, 2, 4, 5000);
  const more = reap(s, h, 0, 4, 0);
  const v = await target.run(p);
  expect(v.ret(pipe), 'pipe2').to.equal(0);
  if (wrote) expect(v.ret(wrote), 'the bytes are in the pipe').to.equal(data);
  expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
  expect(v.ret(sub.enter), 'READ and LINK_TIMEOUT submitted').to.equal(2);
  return byUserData(reaped(v, got, more));
}

conformance(
  'uring.LINK_TIMEOUT cancels a linked READ of an empty pipe: READ -ECANCELED, the timeout -ETIME',
  { ops: ['uring.LINK_TIMEOUT', 'uring.READ'], rule: 'SEMANTICS §3.10' },
  async ({ target }) => {
    const cqes = await linked(target, 0, 30);
    expect(
      cqes.map((c) => c[0]),
      'one CQE each',
    ).to.deep.equal([READ, LT]);
    // -EINTR when the read was already running in io-wq (SEMANTICS §3.10); a pipe read is poll-armed
    expect([-errno.ECANCELED, -errno.EINTR], 'the READ is cancelled (SEMANTICS §3.10)').to.include(cqes[0][1]);
    expect(cqes[1][1], 'the link timeout fired: -ETIME (SEMANTICS §3.10)').to.equal(-errno.ETIME);
  },
);

conformance(
  'uring.LINK_TIMEOUT after a READ that completes in time completes with -ECANCELED',
  { ops: ['uring.LINK_TIMEOUT', 'uring.READ'], rule: 'SEMANTICS §3.10' },
  async ({ target }) => {
    const cqes = await linked(target, 10, 5000);
    expect(cqes, 'the READ takes the 10 bytes; the disarmed timeout -ECANCELED (SEMANTICS §3.10)').to.deep.equal([
      [READ, 10],
      [LT, -errno.ECANCELED],
    ]);
  },
);

conformance(
  'uring.LINK_TIMEOUT that follows no linked request completes with -EINVAL',
  { ops: ['uring.LINK_TIMEOUT'], rule: 'SEMANTICS §3.10' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 4 });
    const sub = submit(
      s,
      h,
      [sqe({ opcode: 'LINK_TIMEOUT', fd: -1, addr: arg.buf(timespecMs(s, 10)), len: 1, user_data: LT })],
      1,
    );
    const got = reap(s, h, 1, 4);
    const more = reap(s, h, 0, 4, 0);
    const v = await target.run(p);
    expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
    expect(v.ret(sub.enter), 'the SQE is consumed').to.equal(1);
    expect(byUserData(reaped(v, got, more)), 'nothing to time: -EINVAL (SEMANTICS §3.10)').to.deep.equal([
      [LT, -errno.EINVAL],
    ]);
  },
);
