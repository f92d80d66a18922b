/** IOSQE_IO_DRAIN and IOSQE_CQE_SKIP_SUCCESS (SEMANTICS §3.4, §3.5). */
import { expect } from 'chai';
import { errno, FEAT, IOSQE, SYSCALLS } from '../../src/abi';
import { arg, Program } from '../../src/program/builder';
import { pipe2 } from '../../src/program/sys';
import { reap, setupRing, sqe, submit } from '../../src/program/uring';
import { conformance } from '../../src/suite/conformance';
import { byUserData, reaped } from '../../src/oracle/uring-net';

conformance(
  'uring.NOP with IOSQE_IO_DRAIN starts only after every earlier request completed',
  { ops: ['uring.NOP', 'uring.READ'], rule: 'SEMANTICS §3.4' },
  async ({ target }) => {
    const [READ_B, NOP_FREE, READ_A, NOP_DRAIN] = [1n, 2n, 3n, 4n];
    const p = new Program();
    const s = p.main;
    const [a, b] = [pipe2(s), pipe2(s)];
    const h = setupRing(s, { entries: 8 });
    const src = p.buf(8);
    const read = (fd: typeof a.r, ud: bigint) =>
      sqe({ opcode: 'READ', fd, addr: arg.buf(p.buf(8)), len: 8, user_data: ud });
    // without the flag a NOP does not wait for the pending read before it
    const free = submit(s, h, [read(b.r, READ_B), sqe({ opcode: 'NOP', user_data: NOP_FREE })]);
    const c1 = reap(s, h, 1, 8, 1000);
    const drained = submit(s, h, [
      read(a.r, READ_A),
      sqe({ opcode: 'NOP', flags: IOSQE.IO_DRAIN.value, user_data: NOP_DRAIN }),
    ]);
    const c2 = reap(s, h, 0, 8, 50);
    const wa = s.syscall(SYSCALLS.write, [arg.fd(a.w), arg.buf(src), 8]);
    const c3 = reap(s, h, 1, 8, 1000);
    const c3more = reap(s, h, 0, 8, 50);
    const wb = s.syscall(SYSCALLS.write, [arg.fd(b.w), arg.buf(src), 8]);
    const c4 = reap(s, h, 2, 8, 2000);
    const c4more = reap(s, h, 0, 8, 0);
    const v = await target.run(p);
    expect([v.ret(a.step), v.ret(b.step), v.ret(h.setup) >= 0], 'two pipes, ring').to.deep.equal([0, 0, true]);
    expect([v.ret(free.enter), v.ret(drained.enter)], 'both batches submitted').to.deep.equal([2, 2]);
    expect([v.ret(wa), v.ret(wb)], 'the writes').to.deep.equal([8, 8]);
    expect(byUserData(reaped(v, c1)), 'the plain NOP completes while the read before it waits').to.deep.equal([
      [NOP_FREE, 0],
    ]);
    expect(v.step(c2).cqes, 'the drained NOP waits for both pending reads (SEMANTICS §3.4)').to.deep.equal([]);
    expect(byUserData(reaped(v, c3, c3more)), 'read A done; the NOP still waits for read B').to.deep.equal([
      [READ_A, 8],
    ]);
    expect(
      reaped(v, c4, c4more).map((q) => [q.userData, q.res]),
      'read B completes, and only then the drained NOP (SEMANTICS §3.4)',
    ).to.deep.equal([
      [READ_B, 8],
      [NOP_DRAIN, 0],
    ]);
  },
);

conformance(
  'uring IOSQE_CQE_SKIP_SUCCESS posts no CQE on success and one on failure; IO_DRAIN afterwards is -EOPNOTSUPP',
  { ops: ['uring.NOP', 'uring.READ'], rule: 'SEMANTICS §3.4' },
  async ({ target, caps, skip }) => {
    if (!(caps.uring.features & FEAT.CQE_SKIP.value)) skip('io_uring_params.features lacks IORING_FEAT_CQE_SKIP');
    const skipf = IOSQE.CQE_SKIP_SUCCESS.value;
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 8 });
    const b = p.buf(8);
    const sub = submit(s, h, [
      sqe({ opcode: 'NOP', flags: skipf, user_data: 1 }),
      sqe({ opcode: 'READ', flags: skipf, fd: -1, addr: arg.buf(b), len: 8, user_data: 2 }),
      sqe({ opcode: 'NOP', user_data: 3 }),
    ]);
    const got = reap(s, h, 2, 8, 1000);
    const more = reap(s, h, 0, 8, 50);
    // a ring that has seen CQE_SKIP_SUCCESS cannot drain any more: it cannot count completions
    const drain = submit(s, h, [sqe({ opcode: 'NOP', flags: IOSQE.IO_DRAIN.value, user_data: 4 })], 1);
    const dc = reap(s, h, 1, 8, 1000);
    const dmore = reap(s, h, 0, 8, 0);
    const v = await target.run(p);
    expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
    expect([v.ret(sub.enter), v.ret(drain.enter)], 'three SQEs, then one').to.deep.equal([3, 1]);
    expect(
      byUserData(reaped(v, got, more)),
      'no CQE for the NOP that succeeded; the failing READ and the plain NOP post theirs (SEMANTICS §3.4)',
    ).to.deep.equal([
      [2n, -errno.EBADF],
      [3n, 0],
    ]);
    expect(
      byUserData(reaped(v, dc, dmore)),
      'IO_DRAIN after CQE_SKIP_SUCCESS: -EOPNOTSUPP (SEMANTICS §3.5)',
    ).to.deep.equal([[4n, -errno.EOPNOTSUPP]]);
  },
);
