/**
 * IORING_OP_SEND_ZC from a registered buffer (IORING_RECVSEND_FIXED_BUF, `buf_index`): the bytes come
 * from the registered buffer at `addr`, each send posts its result (F_MORE) and then one F_NOTIF CQE, and
 * a `buf_index` past the table fails with -EFAULT (man io_uring_prep_send_zc_fixed, io_uring_register(2)).
 */
import { expect } from 'chai';
import { CQE_F, errno, IOSQE, MSG, RECVSEND, SOCK_FLAG, SYSCALLS } from '../../src/abi';
import { arg, Program, Sequence } from '../../src/program/builder';
import { reap, setupRing, sqe, submit } from '../../src/program/uring';
import { registerBuffers } from '../../src/oracle/uring-files';
import { conformance } from '../../src/suite/conformance';
import { expectSetup, loopbackReady, NET, reaped, tcpListener, tcpSocket } from '../../src/oracle/uring-net';

const SEED = 0x5f1d;
const REG = 64 << 10;
/** [offset in the registered buffer, length]: within one page, across pages, the whole buffer. */
const SENDS = [
  [100, 3000],
  [4000, 20000],
  [0, REG],
] as const;

/** A loopback TCP connection made with connect(2) and accept4(2). */
function tcpConnection(s: Sequence, l: ReturnType<typeof tcpListener>) {
  const c = tcpSocket(s);
  const conn = s.syscall(SYSCALLS.connect, [arg.fd(c.fd), arg.buf(l.addr), NET.SOCKADDR_IN_SIZE]);
  const server = s.program.fd();
  const acc = s.syscall(SYSCALLS.accept4, [arg.fd(l.fd), 0, 0, SOCK_FLAG.CLOEXEC.value], { fd: server });
  return { x: c.fd, y: server, setup: [c.step, conn, acc] };
}

conformance(
  'uring.SEND_ZC with IORING_RECVSEND_FIXED_BUF sends from the registered buffer: a result and a notification per send; a buf_index past the table is -EFAULT',
  {
    ops: ['uring.SEND_ZC', 'uring.RECV'],
    rule: 'man io_uring_prep_send_zc_fixed (buf_index names a registered buffer, addr lies inside it); man io_uring_prep_send_zc (result with F_MORE, then F_NOTIF); io_uring_register(2) IORING_REGISTER_BUFFERS',
  },
  async ({ target, skip }) => {
    await loopbackReady(target, skip);
    const [FIRST, RECV, BAD] = [0x5f0n, 0x5fan, 0x5fbn];
    const total = SENDS.reduce((n, [, len]) => n + len, 0);
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 16 });
    const l = tcpListener(s);
    const c = tcpConnection(s, l);
    const fixed = p.buf(REG, 4096);
    s.fillPattern(fixed, 0, REG, SEED);
    const reg = registerBuffers(s, h, [fixed]);
    const dst = p.buf(total, 4096);
    // linked, so the three go out in order; MSG_WAITALL, so none stops short
    const sub = submit(s, h, [
      ...SENDS.map(([off, len], i) =>
        sqe({
          opcode: 'SEND_ZC',
          fd: c.x,
          addr: arg.buf(fixed, off),
          len,
          ioprio: RECVSEND.FIXED_BUF.value,
          buf_index: 0,
          msg_flags: MSG.WAITALL.value | MSG.NOSIGNAL.value | (i < SENDS.length - 1 ? MSG.MORE.value : 0),
          flags: i < SENDS.length - 1 ? IOSQE.IO_LINK.value : 0,
          user_data: FIRST + BigInt(i),
        }),
      ),
      sqe({ opcode: 'RECV', fd: c.y, addr: arg.buf(dst), len: total, msg_flags: MSG.WAITALL.value, user_data: RECV }),
    ]);
    const got = reap(s, h, 2 * SENDS.length + 1, 16);
    const more = reap(s, h, 0, 16, 0);
    let at = 0;
    const checks = SENDS.map(([off, len]) => {
      const v = s.verify(dst, at, len, SEED, off);
      at += len;
      return v;
    });
    const badSub = submit(s, h, [
      sqe({
        opcode: 'SEND_ZC',
        fd: c.x,
        addr: arg.buf(fixed),
        len: 100,
        ioprio: RECVSEND.FIXED_BUF.value,
        buf_index: 1,
        msg_flags: MSG.NOSIGNAL.value,
        user_data: BAD,
      }),
    ]);
    const bad = reap(s, h, 1, 4);
    const badMore = reap(s, h, 0, 4, 100);
    const v = await target.run(p);
    expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
    expectSetup(v, [...l.steps, ...c.setup], 'listener and connection');
    expect(v.ret(reg), 'IORING_REGISTER_BUFFERS').to.equal(0);
    expect(v.ret(sub.enter), 'all SQEs submitted').to.equal(SENDS.length + 1);
    const cqes = reaped(v, got, more);
    for (const [i, [, len]] of SENDS.entries()) {
      const ud = FIRST + BigInt(i);
      const mine = cqes.filter((q) => q.userData === ud);
      expect(
        mine.map((q) => [q.res, q.flags & (CQE_F.MORE.value | CQE_F.NOTIF.value)]),
        `send ${i}: its result (${len}) with F_MORE, then its notification with F_NOTIF`,
      ).to.deep.equal([
        [len, CQE_F.MORE.value],
        [0, CQE_F.NOTIF.value],
      ]);
    }
    expect(
      cqes.filter((q) => q.userData === RECV).map((q) => q.res),
      'the peer receives every byte',
    ).to.deep.equal([total]);
    for (const [i, c] of checks.entries())
      expect(v.step(c).verify!.mismatches, `send ${i}: the registered buffer's bytes at its offset`).to.equal(0);
    expect(v.ret(badSub.enter), 'the SEND_ZC naming buf_index 1 is submitted').to.equal(1);
    const badCqes = reaped(v, bad, badMore);
    const result = badCqes.filter((q) => !(q.flags & CQE_F.NOTIF.value));
    expect(
      result.map((q) => [q.userData, q.res]),
      'buf_index 1 of a one-buffer table: -EFAULT (io_uring_register(2): fixed buffers by index)',
    ).to.deep.equal([[BAD, -errno.EFAULT]]);
    // F_MORE promises exactly one notification; without it there is none
    expect(
      badCqes.filter((q) => q.flags & CQE_F.NOTIF.value).length,
      'a notification exactly when the result carried F_MORE (man io_uring_prep_send_zc)',
    ).to.equal(result[0].flags & CQE_F.MORE.value ? 1 : 0);
  },
);
