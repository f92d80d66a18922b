/**
 * IORING_OP_SEND_ZC with IORING_SEND_ZC_REPORT_USAGE (6.1): the notification CQE's res says whether the
 * kernel had to copy the data after all (IORING_NOTIF_USAGE_ZC_COPIED). Over loopback the receiver is
 * local and the pages are copied on delivery, so the bit is set; without the flag, res is 0.
 * man io_uring_prep_send_zc(3), io_uring_enter(2).
 */
import { expect } from 'chai';
import { CQE_F, errno, MSG, RECVSEND, SOCK_FLAG, SYSCALLS, URING_CONST } from '../../src/abi';
import { arg, Program } from '../../src/program/builder';
import { reap, setupRing, sqe, submit } from '../../src/program/uring';
import { conformance } from '../../src/suite/conformance';
import { expectSetup, flagMissing, loopbackReady, NET, tcpListener, tcpSocket } from '../../src/oracle/uring-net';

const COPIED = URING_CONST.NOTIF_USAGE_ZC_COPIED.value >>> 0;
const [PLAIN, USAGE, BAD] = [0x2c01n, 0x2c02n, 0x2c03n];

conformance(
  'uring.SEND_ZC with IORING_SEND_ZC_REPORT_USAGE: the notification res has IORING_NOTIF_USAGE_ZC_COPIED over loopback',
  { ops: ['uring.SEND_ZC'], rule: 'man io_uring_prep_send_zc(3) IORING_SEND_ZC_REPORT_USAGE' },
  async ({ target, caps, skip }) => {
    await loopbackReady(target, skip);
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 8 });
    const l = tcpListener(s);
    const c = tcpSocket(s);
    const conn = s.syscall(SYSCALLS.connect, [arg.fd(c.fd), arg.buf(l.addr), NET.SOCKADDR_IN_SIZE]);
    const server = p.fd();
    const acc = s.syscall(SYSCALLS.accept4, [arg.fd(l.fd), 0, 0, SOCK_FLAG.CLOEXEC.value], { fd: server });
    const src = p.buf(256);
    s.fillPattern(src, 0, 256, 0x2c);
    // `want` CQEs: the result and the notification, or only the result of a refused request
    const send = (ud: bigint, ioprio: number, want: number) => {
      const sub = submit(s, h, [
        sqe({ opcode: 'SEND_ZC', fd: c.fd, addr: arg.buf(src), len: 256, ioprio, user_data: ud }),
      ]);
      return { sub, cqes: [reap(s, h, want, 4), reap(s, h, 0, 4, 0)] };
    };
    const plain = send(PLAIN, 0, 2);
    const usage = send(USAGE, RECVSEND.SEND_ZC_REPORT_USAGE.value, 2);
    const bad = send(BAD, 1 << 7, 1);
    const got = p.buf(1024);
    const recv = s.syscall(SYSCALLS.recvfrom, [arg.fd(server), arg.buf(got), 1024, MSG.DONTWAIT.value, 0, 0]);
    const late = reap(s, h, 0, 4, 0);
    const v = await target.run(p);
    expectSetup(v, [h.setup, ...l.steps, c.step, conn, acc], 'ring and loopback connection');
    const cqesOf = (x: typeof plain) => x.cqes.flatMap((r) => v.step(r).cqes);
    const [p0, p1] = cqesOf(plain);
    expect([p0.userData, p0.res, p0.flags & CQE_F.MORE.value], 'SEND_ZC: 256 bytes, F_MORE').to.deep.equal([
      PLAIN,
      256,
      CQE_F.MORE.value,
    ]);
    expect(
      [p1.userData, p1.res, p1.flags & CQE_F.NOTIF.value],
      'without REPORT_USAGE the notification res is 0',
    ).to.deep.equal([PLAIN, 0, CQE_F.NOTIF.value]);
    const u = cqesOf(usage);
    const why = flagMissing(caps, RECVSEND.SEND_ZC_REPORT_USAGE, u[0]?.res);
    if (why) skip(why);
    expect([u[0].userData, u[0].res], 'SEND_ZC with REPORT_USAGE: 256 bytes').to.deep.equal([USAGE, 256]);
    expect([u[1].userData, u[1].flags & CQE_F.NOTIF.value], 'then its notification').to.deep.equal([
      USAGE,
      CQE_F.NOTIF.value,
    ]);
    expect(u[1].res >>> 0, 'the notification res: IORING_NOTIF_USAGE_ZC_COPIED, the loopback peer got a copy').to.equal(
      COPIED,
    );
    // a refused request: -EINVAL; a notification follows exactly when the result has F_MORE (6.18 posts one,
    // the man page's rule covers both)
    const b = [...cqesOf(bad), ...v.step(late).cqes];
    expect([b[0].userData, b[0].res], 'an unknown ioprio bit: -EINVAL').to.deep.equal([BAD, -errno.EINVAL]);
    const more = (b[0].flags & CQE_F.MORE.value) !== 0;
    expect(
      b.slice(1).map((q) => [q.userData, q.res, q.flags & CQE_F.NOTIF.value]),
      more ? 'F_MORE on the -EINVAL: a notification follows' : 'no F_MORE: no notification',
    ).to.deep.equal(more ? [[BAD, 0, CQE_F.NOTIF.value]] : []);
    expect(v.ret(recv), 'the peer received both sends').to.equal(512);
  },
);
