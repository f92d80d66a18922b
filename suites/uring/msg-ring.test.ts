/** IORING_OP_MSG_RING (5.18): a CQE posted on another ring (man io_uring_prep_msg_ring). */
import { expect } from 'chai';
import { errno, MSG_RING_CMD } from '../../src/abi';
import { arg, Program } from '../../src/program/builder';
import { pipe2 } from '../../src/program/sys';
import { reap, setupRing, sqe, submit } from '../../src/program/uring';
import { conformance } from '../../src/suite/conformance';
import { byUserData, reaped } from '../../src/oracle/uring-net';

const [SENDER, TO_PIPE] = [0x40n, 0x41n];
/** What the target ring's CQE must carry: user_data from sqe->off, res from sqe->len. */
const [POSTED_UD, POSTED_RES] = [0xbeef_0001n, 0x1234];

conformance(
  'uring.MSG_RING posts a CQE with the given user_data and res on the target ring; to a pipe it fails with -EBADFD',
  { ops: ['uring.MSG_RING'], rule: 'man io_uring_prep_msg_ring' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const { r, step: pipe } = pipe2(s);
    const a = setupRing(s, { entries: 4 });
    const b = setupRing(s, { entries: 4 });
    // liburing io_uring_prep_msg_ring: fd = target ring, addr = IORING_MSG_DATA, len = res, off = user_data
    const msg = { opcode: 'MSG_RING', addr: MSG_RING_CMD.DATA.value, len: POSTED_RES, off: POSTED_UD } as const;
    const sub = submit(
      s,
      a,
      [sqe({ ...msg, fd: arg.ring(b.ring), user_data: SENDER }), sqe({ ...msg, fd: r, user_data: TO_PIPE })],
      2,
    );
    const onA = reap(s, a, 2, 4);
    const moreA = reap(s, a, 0, 4, 0);
    const onB = reap(s, b, 1, 4);
    const moreB = reap(s, b, 0, 4, 0);
    const v = await target.run(p);
    expect([v.ret(pipe), v.ret(a.setup) >= 0, v.ret(b.setup) >= 0], 'pipe2 and two rings').to.deep.equal([
      0,
      true,
      true,
    ]);
    expect(v.ret(sub.enter), 'both MSG_RINGs submitted on ring A').to.equal(2);
    expect(
      byUserData(reaped(v, onA, moreA)),
      'on ring A: the message 0, the one to a pipe -EBADFD (man io_uring_prep_msg_ring)',
    ).to.deep.equal([
      [SENDER, 0],
      [TO_PIPE, -errno.EBADFD],
    ]);
    expect(
      reaped(v, onB, moreB).map((q) => [q.userData, q.res]),
      'on ring B: one CQE with the user_data and res the message carried',
    ).to.deep.equal([[POSTED_UD, POSTED_RES]]);
  },
);
