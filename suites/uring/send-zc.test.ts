/**
 * IORING_OP_SEND_ZC and IORING_OP_SENDMSG_ZC on a 127.0.0.1 TCP connection: the result CQE carries
 * IORING_CQE_F_MORE, then a notification CQE with IORING_CQE_F_NOTIF says the pages are free again; the
 * peer gets what send(2) / sendmsg(2) deliver (man io_uring_prep_send_zc, io_uring_prep_sendmsg_zc).
 */
import { expect } from 'chai';
import { CQE_F, errno, MSG, SOCK_FLAG, SYSCALLS } from '../../src/abi';
import { arg, Buf, Program, Sequence } from '../../src/program/builder';
import type { Cqe } from '../../src/program/trace';
import { patternBytes } from '../../src/program/pattern';
import { scratchFile } from '../../src/program/sys';
import { reap, setupRing, sqe, SqeSpec, submit } from '../../src/program/uring';
import { conformance } from '../../src/suite/conformance';
import { expectSetup, loopbackReady, msghdr, NET, reaped, tcpListener, tcpSocket } from '../../src/oracle/uring-net';

const SEED = 0x5e2c;
const SEGMENTS = [
  [100, 60],
  [0, 40],
] as const;

/** A loopback TCP connection: `client` sends, `server` reads (SEND_ZC needs a socket that supports zerocopy). */
function connection(s: Sequence, l: ReturnType<typeof tcpListener>) {
  const c = tcpSocket(s);
  const conn = s.syscall(SYSCALLS.connect, [arg.fd(c.fd), arg.buf(l.addr), NET.SOCKADDR_IN_SIZE]);
  const server = s.program.fd();
  const acc = s.syscall(SYSCALLS.accept4, [arg.fd(l.fd), 0, 0, SOCK_FLAG.CLOEXEC.value], { fd: server });
  return { client: c.fd, server, setup: [c.step, conn, acc] };
}

/** What the server side of a connection can read now (MSG_DONTWAIT). */
function drain(s: Sequence, server: ReturnType<typeof connection>['server']) {
  const b = s.program.buf(4096);
  return {
    read: s.syscall(SYSCALLS.recvfrom, [arg.fd(server), arg.buf(b), 4096, MSG.DONTWAIT.value, 0, 0]),
    dump: s.dump(b),
  };
}

/** The result CQE (F_MORE) then the notification (F_NOTIF, res 0), both with the request's user_data. */
function expectZcPair(cqes: Cqe[], ud: bigint, want: number, what: string): void {
  expect(
    cqes.map((q) => q.userData),
    `${what}: two CQEs, both with the request's user_data`,
  ).to.deep.equal([ud, ud]);
  const [res, notif] = cqes;
  expect(
    [res.res, res.flags & (CQE_F.MORE.value | CQE_F.NOTIF.value)],
    `${what}: first the result, with F_MORE`,
  ).to.deep.equal([want, CQE_F.MORE.value]);
  expect(
    [notif.res, notif.flags & (CQE_F.MORE.value | CQE_F.NOTIF.value)],
    `${what}: then the notification, F_NOTIF, res 0`,
  ).to.deep.equal([0, CQE_F.NOTIF.value]);
}

for (const kind of ['SEND_ZC', 'SENDMSG_ZC'] as const) {
  const twin = kind === 'SEND_ZC' ? 'send(2)' : 'sendmsg(2)';
  conformance(
    `uring.${kind} posts its result with F_MORE, then a notification with F_NOTIF; the peer gets the data like ${twin}`,
    { ops: [`uring.${kind}`], rule: `man io_uring_prep_${kind.toLowerCase()}` },
    async ({ target, scratch, skip }) => {
      await loopbackReady(target, skip);
      const UD = kind === 'SEND_ZC' ? 0x2c0n : 0x2c1n;
      const BAD = UD + 0x10n;
      const p = new Program();
      const s = p.main;
      const h = setupRing(s, { entries: 8 });
      const src = p.buf(256);
      s.fillPattern(src, 0, 256, SEED);
      const l = tcpListener(s);
      const [a, b] = [connection(s, l), connection(s, l)];
      const file = scratchFile(s, scratch, 'not-a-socket');
      const spec = (fd: SqeSpec['fd'], m: Buf): SqeSpec =>
        kind === 'SEND_ZC'
          ? { opcode: 'SEND_ZC', fd, addr: arg.buf(src), len: 100 }
          : { opcode: 'SENDMSG_ZC', fd, addr: arg.buf(m), len: 1 };
      const sync =
        kind === 'SEND_ZC'
          ? s.syscall(SYSCALLS.sendto, [arg.fd(a.client), arg.buf(src), 100, MSG.NOSIGNAL.value, 0, 0])
          : s.syscall(SYSCALLS.sendmsg, [arg.fd(a.client), arg.buf(msghdr(s, src, SEGMENTS)), MSG.NOSIGNAL.value]);
      const sub = submit(s, h, [
        sqe({ ...spec(b.client, msghdr(s, src, SEGMENTS)), msg_flags: MSG.NOSIGNAL.value, user_data: UD }),
      ]);
      const got = reap(s, h, 2, 4);
      const more = reap(s, h, 0, 4, 20);
      const peers = [a, b].map((x) => drain(s, x.server));
      // a regular file is not a socket: refused before anything is sent
      const badSub = submit(s, h, [sqe({ ...spec(file.fd, msghdr(s, src, SEGMENTS)), user_data: BAD })]);
      const bad = reap(s, h, 1, 4);
      const badMore = reap(s, h, 0, 4, 20);
      const syncBad =
        kind === 'SEND_ZC'
          ? s.syscall(SYSCALLS.sendto, [arg.fd(file.fd), arg.buf(src), 100, 0, 0, 0])
          : s.syscall(SYSCALLS.sendmsg, [arg.fd(file.fd), arg.buf(msghdr(s, src, SEGMENTS)), 0]);
      const v = await target.run(p);
      expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
      expectSetup(v, [...l.steps, ...a.setup, ...b.setup, file.step], 'listener, connections, file');
      expect(v.ret(sync), `${twin} sends the 100 bytes`).to.equal(100);
      expect(v.ret(sub.enter), `${kind} submitted`).to.equal(1);
      expectZcPair(reaped(v, got, more), UD, 100, kind);
      const [x, y] = peers.map((d) => [v.ret(d.read), v.step(d.dump).dump!] as const);
      expect(y[0], `the peer receives as many bytes as ${twin}'s peer`).to.equal(x[0]);
      expect(y[1].equals(x[1]), `the same bytes as ${twin}'s peer`).to.equal(true);
      const want =
        kind === 'SEND_ZC'
          ? patternBytes(SEED, 0, 100)
          : Buffer.concat(SEGMENTS.map(([o, n]) => patternBytes(SEED, o, n)));
      expect(y[1].subarray(0, 100).equals(want), 'the bytes sent').to.equal(true);
      // a request that fails still posts its result with F_MORE and then a notification (measured on
      // 6.1.0-56, 6.12.117, 6.18.44); F_MORE promises the F_NOTIF CQE either way
      expect(v.ret(syncBad), `${twin} on a regular file`).to.equal(-errno.ENOTSOCK);
      expect(v.ret(badSub.enter), `${kind} on a regular file submitted`).to.equal(1);
      expectZcPair(reaped(v, bad, badMore), BAD, -errno.ENOTSOCK, `${kind} on a regular file, -ENOTSOCK like ${twin}`);
    },
  );
}
