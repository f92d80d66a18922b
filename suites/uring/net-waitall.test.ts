/**
 * MSG_WAITALL on io_uring's socket ops (man io_uring_prep_send, io_uring_prep_recv: `flags` are the
 * send(2)/recv(2) flags, MSG_WAITALL included): on a stream socket RECV/RECVMSG wait for the whole
 * length across partial arrivals and stop short only at EOF, SEND/SENDMSG (and their zerocopy twins)
 * push the whole buffer through a send buffer far smaller than it; on a datagram socket MSG_WAITALL
 * waits for nothing, and a short or truncated datagram counts as a short transfer that fails a link
 * (SEMANTICS §3.10).
 */
import { expect } from 'chai';
import { CQE_F, errno, IOSQE, MSG, SHUT, SO, SOCK_FLAG, SOCK_TYPE, SOCKET_CONST, SYSCALLS } from '../../src/abi';
import { arg, Buf, Fd, Program, Sequence } from '../../src/program/builder';
import { reap, setupRing, sqe, submit } from '../../src/program/uring';
import { conformance } from '../../src/suite/conformance';
import {
  byUserData,
  expectSetup,
  loopbackReady,
  MSGHDR,
  msghdr,
  NET,
  reaped,
  socketpair,
  tcpListener,
  tcpSocket,
} from '../../src/oracle/uring-net';

const SEED = 0x3a11;
const WAITALL = MSG.WAITALL.value;

/** setsockopt(fd, SOL_SOCKET, opt, &value, 4). */
function setIntOpt(s: Sequence, fd: Fd, opt: number, value: number) {
  const b = s.program.buf(4);
  s.patch(b, 0, 4, value);
  return s.syscall(SYSCALLS.setsockopt, [arg.fd(fd), SOCKET_CONST.SOL_SOCKET.value, opt, arg.buf(b), 4]);
}

/** write(2) of `n` pattern bytes from stream position `pos` (a buffer of their own). */
function writePattern(s: Sequence, fd: Fd, pos: number, n: number) {
  const b = s.program.buf(n);
  s.fillPattern(b, 0, n, SEED, pos);
  return s.syscall(SYSCALLS.write, [arg.fd(fd), arg.buf(b), n]);
}

conformance(
  'uring.RECV and RECVMSG with MSG_WAITALL on a stream socket wait for the whole length across partial arrivals, and stop short only at EOF',
  {
    ops: ['uring.RECV', 'uring.RECVMSG'],
    rule: 'man io_uring_prep_recv, io_uring_prep_recvmsg (flags as recv(2)); recv(2) MSG_WAITALL',
  },
  async ({ target }) => {
    const [RECV, RECVMSG, EOF] = [0x3a0n, 0x3a1n, 0x3a2n];
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 8 });
    const pairs = [socketpair(s), socketpair(s), socketpair(s), socketpair(s)];
    const bufs = pairs.map(() => p.buf(100));
    const early = pairs.map((x) => writePattern(s, x.x, 0, 30));
    const sub = submit(s, h, [
      sqe({ opcode: 'RECV', fd: pairs[0].y, addr: arg.buf(bufs[0]), len: 100, msg_flags: WAITALL, user_data: RECV }),
      sqe({
        opcode: 'RECVMSG',
        fd: pairs[1].y,
        addr: arg.buf(msghdr(s, bufs[1], [[0, 100]])),
        len: 1,
        msg_flags: WAITALL,
        user_data: RECVMSG,
      }),
      sqe({ opcode: 'RECV', fd: pairs[2].y, addr: arg.buf(bufs[2]), len: 100, msg_flags: WAITALL, user_data: EOF }),
    ]);
    // 30 of 100 bytes are there: none of the three may complete yet
    const pending = reap(s, h, 0, 4, 100);
    const late = [0, 1].map((i) => writePattern(s, pairs[i].x, 30, 70));
    // the third connection ends after its 30 bytes
    const shut = s.syscall(SYSCALLS.shutdown, [arg.fd(pairs[2].x), SHUT.WR.value]);
    const done = reap(s, h, 3, 4);
    // recv(2) with MSG_WAITALL on the same shape: 30 bytes then EOF
    const twinShut = s.syscall(SYSCALLS.shutdown, [arg.fd(pairs[3].x), SHUT.WR.value]);
    const twin = s.syscall(SYSCALLS.recvfrom, [arg.fd(pairs[3].y), arg.buf(bufs[3]), 100, WAITALL, 0, 0]);
    const checks = bufs.map((b, i) => s.verify(b, 0, i < 2 ? 100 : 30, SEED));
    const v = await target.run(p);
    expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
    expectSetup(v, [...pairs.map((x) => x.step), ...early, ...late, shut, twinShut], 'socketpairs and writes');
    expect(v.ret(sub.enter), 'three SQEs submitted').to.equal(3);
    expect(v.step(pending).cqes, 'with 30 of 100 bytes there, no MSG_WAITALL receive completes').to.deep.equal([]);
    expect(
      byUserData(v.step(done).cqes),
      'RECV and RECVMSG complete with all 100 bytes; at EOF after 30 bytes RECV completes with the 30 (recv(2) MSG_WAITALL)',
    ).to.deep.equal([
      [RECV, 100],
      [RECVMSG, 100],
      [EOF, 30],
    ]);
    expect(v.ret(twin), 'recv(2) with MSG_WAITALL: 30 bytes, then EOF').to.equal(30);
    for (const [i, what] of ['RECV', 'RECVMSG', 'RECV at EOF', 'recv(2) at EOF'].entries())
      expect(v.step(checks[i]).verify!.mismatches, `${what}: the bytes in order`).to.equal(0);
  },
);

conformance(
  'uring.RECV and RECVMSG with MSG_WAITALL on a datagram socket take one datagram; a short or truncated one fails the link',
  {
    ops: ['uring.RECV', 'uring.RECVMSG', 'uring.NOP'],
    rule: 'recv(2) MSG_WAITALL (no effect on datagram sockets beyond one datagram); SEMANTICS §3.10 (a short transfer fails the link: the rest -ECANCELED)',
  },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 16 });
    const dg = SOCK_TYPE.DGRAM.value;
    const cases = [
      { what: 'RECV of a 30-byte datagram into 100 bytes', op: 'RECV' as const, size: 30, want: 30, trunc: false },
      {
        what: 'RECVMSG of a 30-byte datagram into 100 bytes',
        op: 'RECVMSG' as const,
        size: 30,
        want: 30,
        trunc: false,
      },
      { what: 'RECV of a 200-byte datagram into 100 bytes', op: 'RECV' as const, size: 200, want: 100, trunc: true },
      {
        what: 'RECVMSG of a 200-byte datagram into 100 bytes',
        op: 'RECVMSG' as const,
        size: 200,
        want: 100,
        trunc: true,
      },
      // the control: a datagram that fills the buffer exactly is not short, and the link goes on
      { what: 'RECV of a 100-byte datagram into 100 bytes', op: 'RECV' as const, size: 100, want: 100, trunc: false },
    ];
    const runs = cases.map((c, i) => {
      const pair = socketpair(s, dg);
      const sent = writePattern(s, pair.x, 0, c.size);
      const b = p.buf(100);
      const m = msghdr(s, b, [[0, 100]]);
      const ud = BigInt(0x3b0 + 2 * i);
      const spec =
        c.op === 'RECV'
          ? { opcode: 'RECV' as const, fd: pair.y, addr: arg.buf(b), len: 100 }
          : { opcode: 'RECVMSG' as const, fd: pair.y, addr: arg.buf(m), len: 1 };
      const sub = submit(s, h, [
        sqe({ ...spec, msg_flags: WAITALL, flags: IOSQE.IO_LINK.value, user_data: ud }),
        sqe({ opcode: 'NOP', user_data: ud + 1n }),
      ]);
      const got = reap(s, h, 2, 4);
      const flags = s.dump(m, MSGHDR.flags, 4);
      const check = s.verify(b, 0, c.want, SEED);
      return { c, ud, setup: [pair.step, sent], sub, got, flags, check };
    });
    const v = await target.run(p);
    expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
    for (const r of runs) {
      expectSetup(v, r.setup, `fixture of "${r.c.what}"`);
      expect(v.ret(r.sub.enter), `${r.c.what}: both SQEs submitted`).to.equal(2);
      const short = r.c.want < 100 || r.c.trunc;
      expect(
        byUserData(v.step(r.got).cqes),
        `${r.c.what}: ${r.c.want} bytes; the linked NOP ${short ? 'is cancelled (SEMANTICS §3.10)' : 'runs'}`,
      ).to.deep.equal([
        [r.ud, r.c.want],
        [r.ud + 1n, short ? -errno.ECANCELED : 0],
      ]);
      expect(v.step(r.check).verify!.mismatches, `${r.c.what}: the datagram's bytes`).to.equal(0);
      if (r.c.op === 'RECVMSG')
        expect(
          v.step(r.flags).dump!.readUInt32LE(0) & MSG.TRUNC.value,
          `${r.c.what}: MSG_TRUNC in msg_flags exactly when the datagram was cut (recvmsg(2))`,
        ).to.equal(r.c.trunc ? MSG.TRUNC.value : 0);
    }
  },
);

/** A loopback TCP connection made with connect(2) and accept4(2). */
function tcpConnection(s: Sequence, l: ReturnType<typeof tcpListener>) {
  const c = tcpSocket(s);
  const conn = s.syscall(SYSCALLS.connect, [arg.fd(c.fd), arg.buf(l.addr), NET.SOCKADDR_IN_SIZE]);
  const server = s.program.fd();
  const acc = s.syscall(SYSCALLS.accept4, [arg.fd(l.fd), 0, 0, SOCK_FLAG.CLOEXEC.value], { fd: server });
  return { x: c.fd, y: server, setup: [c.step, conn, acc] };
}

/** A connected AF_UNIX stream pair, in the shape of {@link tcpConnection}. */
function unixPair(s: Sequence) {
  const x = socketpair(s);
  return { x: x.x, y: x.y, setup: [x.step] };
}

/** 256 KiB: far more than the smallest send buffer (SOCK_MIN_SNDBUF, a few KiB) holds. */
const BIG = 256 << 10;

for (const op of ['SEND', 'SENDMSG', 'SEND_ZC', 'SENDMSG_ZC'] as const) {
  const zc = op.endsWith('_ZC');
  conformance(
    `uring.${op} with MSG_WAITALL sends a buffer far larger than the socket's send buffer whole, to a RECV with MSG_WAITALL`,
    {
      ops: [`uring.${op}`, 'uring.RECV'],
      rule: `man io_uring_prep_${op.toLowerCase()} (MSG_WAITALL among the flags; the result is the bytes sent${zc ? ', then an F_NOTIF CQE' : ''}); recv(2) MSG_WAITALL`,
    },
    async ({ target, skip }) => {
      if (zc) await loopbackReady(target, skip);
      const [SEND, RECV] = [0x3c0n, 0x3c1n];
      const p = new Program();
      const s = p.main;
      const h = setupRing(s, { entries: 8 });
      // zerocopy needs a socket that supports it: TCP; the plain ops use an AF_UNIX stream pair
      const l = zc ? tcpListener(s) : undefined;
      const pair = l ? tcpConnection(s, l) : unixPair(s);
      const fixture = [...(l?.steps ?? []), ...pair.setup];
      // SO_SNDBUF 1: the kernel raises it to its minimum (socket(7)), a few KiB; on AF_UNIX the peer's
      // SO_RCVBUF too (TCP keeps its default: a tiny receive window only slows the test down)
      const opts = [
        setIntOpt(s, pair.x, SO.SNDBUF.value, 1),
        ...(zc ? [] : [setIntOpt(s, pair.y, SO.RCVBUF.value, 1)]),
      ];
      const src = p.buf(BIG, 4096);
      s.fillPattern(src, 0, BIG, SEED);
      const dst: Buf = p.buf(BIG, 4096);
      const m = msghdr(s, src, [[0, BIG]]);
      const sendSpec =
        op === 'SEND' || op === 'SEND_ZC'
          ? { opcode: op, fd: pair.x, addr: arg.buf(src), len: BIG }
          : { opcode: op, fd: pair.x, addr: arg.buf(m), len: 1 };
      const sub = submit(s, h, [
        sqe({ ...sendSpec, msg_flags: WAITALL | MSG.NOSIGNAL.value, user_data: SEND }),
        sqe({ opcode: 'RECV', fd: pair.y, addr: arg.buf(dst), len: BIG, msg_flags: WAITALL, user_data: RECV }),
      ]);
      const got = reap(s, h, zc ? 3 : 2, 4);
      const more = reap(s, h, 0, 4, 0);
      const check = s.verify(dst, 0, BIG, SEED);
      const v = await target.run(p);
      expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
      expectSetup(v, [...fixture, ...opts], 'sockets and options');
      expect(v.ret(sub.enter), 'both SQEs submitted').to.equal(2);
      const cqes = reaped(v, got, more);
      const main = cqes.filter((q) => !(q.flags & CQE_F.NOTIF.value));
      expect(
        byUserData(main),
        `${op} completes with all ${BIG} bytes, and RECV with MSG_WAITALL receives them all`,
      ).to.deep.equal([
        [SEND, BIG],
        [RECV, BIG],
      ]);
      if (zc)
        expect(
          cqes.filter((q) => q.flags & CQE_F.NOTIF.value).map((q) => [q.userData, q.res]),
          `${op}: one notification CQE, res 0 (man io_uring_prep_send_zc)`,
        ).to.deep.equal([[SEND, 0]]);
      expect(v.step(check).verify!.mismatches, 'the bytes arrive whole and in order').to.equal(0);
    },
  );
}
