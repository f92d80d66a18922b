/**
 * Socket ops on paths the basic twins do not take: ACCEPT into a fixed-file slot and its refusals,
 * ACCEPT with IORING_ACCEPT_DONTWAIT, SEND with a destination address (sendto), BIND of an AF_UNIX path,
 * CONNECT of an O_NONBLOCK socket to a full AF_UNIX backlog, RECVMSG with a provided buffer and the
 * msghdr's iovec limit. man io_uring_prep_accept(3), io_uring_prep_sendto(3), io_uring_prep_bind(3),
 * io_uring_prep_connect(3), io_uring_prep_recvmsg(3); the twins accept4(2), sendto(2), bind(2), connect(2).
 */
import * as path from 'path';
import { expect } from 'chai';
import { ACCEPT, AF, AT, errno, IOSQE, SOCK_FLAG, SOCK_TYPE, SYSCALLS, URING_CONST } from '../../src/abi';
import { arg, Program, Sequence } from '../../src/program/builder';
import { setupRing } from '../../src/program/uring';
import { providedBuffers, provideSpec, registerFiles, statxDump } from '../../src/oracle/uring-files';
import { conformance } from '../../src/suite/conformance';
import {
  expectSetup,
  flagMissing,
  getsockname,
  loopbackAddr,
  loopbackReady,
  msghdr,
  NET,
  oneShot,
  resOf,
  socketpair,
  tcpListener,
  tcpSocket,
} from '../../src/oracle/uring-net';

const CLOEXEC = SOCK_FLAG.CLOEXEC.value;

conformance(
  'uring.ACCEPT into a fixed-file slot (file_index) installs the connection there; SOCK_CLOEXEC or a multishot into a fixed slot is -EINVAL',
  {
    ops: ['uring.ACCEPT', 'uring.RECV'],
    rule: 'man io_uring_prep_accept_direct(3) (file_index = slot + 1, res 0 on success; the multishot variant only with IORING_FILE_INDEX_ALLOC); kernel io_uring/net.c io_accept_prep (no SOCK_CLOEXEC for a direct descriptor)',
  },
  async ({ target, skip }) => {
    await loopbackReady(target, skip);
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 8 });
    const reg = registerFiles(s, h, [-1, -1]);
    const l = tcpListener(s);
    const c = tcpSocket(s);
    const conn = s.syscall(SYSCALLS.connect, [arg.fd(c.fd), arg.buf(l.addr), NET.SOCKADDR_IN_SIZE]);
    const acc = oneShot(s, h, { opcode: 'ACCEPT', fd: l.fd, file_index: 2 }, 0x4a0n);
    const msg = p.data(Buffer.from('direct'));
    const sent = s.syscall(SYSCALLS.write, [arg.fd(c.fd), arg.buf(msg), 6]);
    const dst = p.buf(16);
    const fixedRecv = { opcode: 'RECV' as const, fd: 1, addr: arg.buf(dst), len: 16, flags: IOSQE.FIXED_FILE.value };
    const recv = oneShot(s, h, fixedRecv, 0x4a1n);
    const dump = s.dump(dst, 0, 6);
    const cloexec = oneShot(s, h, { opcode: 'ACCEPT', fd: l.fd, file_index: 1, accept_flags: CLOEXEC }, 0x4a2n);
    const multi = oneShot(
      s,
      h,
      { opcode: 'ACCEPT', fd: l.fd, file_index: 1, ioprio: ACCEPT.MULTISHOT.value },
      0x4a3n,
    );
    const v = await target.run(p);
    expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
    expect(v.ret(reg), 'a sparse table of two fixed files').to.equal(0);
    expectSetup(v, [...l.steps, c.step, conn, sent], 'listener and client');
    expect(resOf(v, acc), 'ACCEPT into slot 1 (file_index 2): 0, not an fd').to.equal(0);
    expect(resOf(v, recv), 'RECV through fixed file 1 reads what the client sent').to.equal(6);
    expect(v.step(dump).dump!.toString(), 'the bytes').to.equal('direct');
    expect(resOf(v, cloexec), 'SOCK_CLOEXEC with a fixed slot: -EINVAL').to.equal(-errno.EINVAL);
    expect(resOf(v, multi), 'multishot ACCEPT into one fixed slot: -EINVAL').to.equal(-errno.EINVAL);
  },
);

conformance(
  'uring.ACCEPT with IORING_ACCEPT_DONTWAIT on a listener with no connection completes with -EAGAIN like accept4(2) on a non-blocking socket',
  { ops: ['uring.ACCEPT'], rule: 'man io_uring_prep_accept(3) (IORING_ACCEPT_DONTWAIT, 6.10); accept4(2) EAGAIN' },
  async ({ target, caps, skip }) => {
    await loopbackReady(target, skip);
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 4 });
    const l = tcpListener(s);
    // the twin: accept4(2) on a listener opened O_NONBLOCK
    const nl = p.fd();
    const nb = SOCK_TYPE.STREAM.value | CLOEXEC | SOCK_FLAG.NONBLOCK.value;
    const nsock = s.syscall(SYSCALLS.socket, [AF.INET.value, nb, 0], { fd: nl });
    const nbind = s.syscall(SYSCALLS.bind, [arg.fd(nl), arg.buf(p.data(loopbackAddr())), NET.SOCKADDR_IN_SIZE]);
    const nlisten = s.syscall(SYSCALLS.listen, [arg.fd(nl), 8]);
    const twin = s.syscall(SYSCALLS.accept4, [arg.fd(nl), 0, 0, CLOEXEC]);
    const acc = oneShot(s, h, { opcode: 'ACCEPT', fd: l.fd, ioprio: ACCEPT.DONTWAIT.value }, 0x4b0n);
    const v = await target.run(p);
    expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
    expectSetup(v, [...l.steps, nsock, nbind, nlisten], 'listeners');
    expect(v.ret(twin), 'accept4(2) on an O_NONBLOCK listener: -EAGAIN').to.equal(-errno.EAGAIN);
    const res = resOf(v, acc);
    const miss = flagMissing(caps, ACCEPT.DONTWAIT, res);
    if (miss) skip(miss);
    expect(res, 'ACCEPT with IORING_ACCEPT_DONTWAIT: -EAGAIN instead of waiting').to.equal(-errno.EAGAIN);
  },
);

conformance(
  'uring.SEND with a destination address (sendto) delivers a datagram from an unconnected UDP socket like sendto(2)',
  { ops: ['uring.SEND'], rule: 'man io_uring_prep_sendto(3) (addr2 = sockaddr, addr_len); sendto(2)' },
  async ({ target, skip }) => {
    await loopbackReady(target, skip);
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 4 });
    const udp = (s: Sequence) => {
      const fd = s.program.fd();
      return { fd, step: s.syscall(SYSCALLS.socket, [AF.INET.value, SOCK_TYPE.DGRAM.value | CLOEXEC, 0], { fd }) };
    };
    const [rx, tx] = [udp(s), udp(s)];
    const addr = p.data(loopbackAddr());
    const bind = s.syscall(SYSCALLS.bind, [arg.fd(rx.fd), arg.buf(addr), NET.SOCKADDR_IN_SIZE]);
    const name = getsockname(s, rx.fd, addr);
    const a = p.data(Buffer.from('twin'));
    const b = p.data(Buffer.from('ring!'));
    const sync = s.syscall(SYSCALLS.sendto, [arg.fd(tx.fd), arg.buf(a), 4, 0, arg.buf(addr), NET.SOCKADDR_IN_SIZE]);
    const send = oneShot(
      s,
      h,
      { opcode: 'SEND', fd: tx.fd, addr: arg.buf(b), len: 5, addr2: arg.buf(addr), addr_len: NET.SOCKADDR_IN_SIZE },
      0x4c0n,
    );
    const got = [p.buf(16), p.buf(16)].map((d) => ({
      read: s.syscall(SYSCALLS.recvfrom, [arg.fd(rx.fd), arg.buf(d), 16, 0, 0, 0]),
      dump: s.dump(d),
    }));
    const v = await target.run(p);
    expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
    expectSetup(v, [rx.step, tx.step, bind, name], 'UDP sockets');
    expect(v.ret(sync), 'sendto(2) of 4 bytes').to.equal(4);
    expect(resOf(v, send), 'SEND with a destination address: 5 bytes, like sendto(2)').to.equal(5);
    const texts = got.map((g) => v.step(g.dump).dump!.subarray(0, v.ret(g.read)).toString());
    expect(texts, 'the receiver gets both datagrams, in order').to.deep.equal(['twin', 'ring!']);
  },
);

/** A `struct sockaddr_un` for a path (or, starting with NUL, an abstract name) and its length. */
function unixAddr(name: string): Buffer {
  const n = Buffer.from(name);
  const b = Buffer.alloc(2 + n.length + (name.startsWith('\0') ? 0 : 1));
  b.writeUInt16LE(AF.UNIX.value, 0);
  n.copy(b, 2);
  return b;
}

conformance(
  'uring.BIND of an AF_UNIX socket to a path creates the socket file like bind(2); binding the path again is -EADDRINUSE',
  { ops: ['uring.BIND'], rule: 'man io_uring_prep_bind(3); unix(7) (bind creates the socket file; EADDRINUSE if it exists)' },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 4 });
    const unix = () => {
      const fd = p.fd();
      return { fd, step: s.syscall(SYSCALLS.socket, [AF.UNIX.value, SOCK_TYPE.STREAM.value | CLOEXEC, 0], { fd }) };
    };
    const [x, y, z] = [unix(), unix(), unix()];
    const paths = ['sync.sock', 'ring.sock'].map((n) => unixAddr(path.posix.join(scratch, n)));
    const [pa, pb] = paths.map((b) => p.data(b));
    const sync = s.syscall(SYSCALLS.bind, [arg.fd(x.fd), arg.buf(pa), paths[0].length]);
    const bind = oneShot(s, h, { opcode: 'BIND', fd: y.fd, addr: arg.buf(pb), off: paths[1].length }, 0x4d0n);
    const again = oneShot(s, h, { opcode: 'BIND', fd: z.fd, addr: arg.buf(pb), off: paths[1].length }, 0x4d1n);
    // the file is there: statx(2) finds it
    const exists = statxDump(s, AT.FDCWD.value, p.cstr(path.posix.join(scratch, 'ring.sock')), 0, 0).call;
    const v = await target.run(p);
    expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
    expectSetup(v, [x.step, y.step, z.step], 'AF_UNIX sockets');
    expect(v.ret(sync), 'bind(2) to a path').to.equal(0);
    expect(resOf(v, bind), 'BIND to a path: 0 like bind(2)').to.equal(0);
    expect(v.ret(exists), 'the socket file exists afterwards').to.equal(0);
    expect(resOf(v, again), 'BIND of another socket to the same path: -EADDRINUSE').to.equal(-errno.EADDRINUSE);
  },
);

conformance(
  'uring.CONNECT of an O_NONBLOCK AF_UNIX socket to a listener whose backlog is full completes with -EAGAIN like connect(2)',
  { ops: ['uring.CONNECT'], rule: 'man io_uring_prep_connect(3); connect(2) EAGAIN (AF_UNIX: "insufficient entries in the routing cache" / full backlog, unix(7))' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 4 });
    const unix = (flags = 0) => {
      const fd = p.fd();
      const t = SOCK_TYPE.STREAM.value | CLOEXEC | flags;
      return { fd, step: s.syscall(SYSCALLS.socket, [AF.UNIX.value, t, 0], { fd }) };
    };
    const l = unix();
    const name = unixAddr(`\0kasync-h2-${process.pid}-${Date.now()}`);
    const addr = p.data(name);
    const bind = s.syscall(SYSCALLS.bind, [arg.fd(l.fd), arg.buf(addr), name.length]);
    const listen = s.syscall(SYSCALLS.listen, [arg.fd(l.fd), 0]);
    const nb = SOCK_FLAG.NONBLOCK.value;
    const [first, second, third] = [unix(nb), unix(nb), unix(nb)];
    // backlog 0: the first connection fills the queue
    const c1 = s.syscall(SYSCALLS.connect, [arg.fd(first.fd), arg.buf(addr), name.length]);
    const c2 = s.syscall(SYSCALLS.connect, [arg.fd(second.fd), arg.buf(addr), name.length]);
    const c3 = oneShot(s, h, { opcode: 'CONNECT', fd: third.fd, addr: arg.buf(addr), off: name.length }, 0x4e0n);
    const v = await target.run(p);
    expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
    expectSetup(v, [l.step, bind, listen, first.step, second.step, third.step], 'listener and sockets');
    expect(v.ret(c1), 'the first connect(2) is queued').to.equal(0);
    expect(v.ret(c2), 'connect(2) to the full backlog: -EAGAIN').to.equal(-errno.EAGAIN);
    expect(resOf(v, c3), 'CONNECT to the full backlog: -EAGAIN like connect(2)').to.equal(-errno.EAGAIN);
  },
);

conformance(
  'uring.RECVMSG with IOSQE_BUFFER_SELECT takes at most the one iovec’s length into a provided buffer; two iovecs are -EINVAL',
  {
    ops: ['uring.RECVMSG', 'uring.PROVIDE_BUFFERS'],
    rule: 'man io_uring_prep_recvmsg(3) with provided buffers (the buffer comes from the group; the msghdr gives the length); kernel io_uring/net.c io_msg_copy_hdr (more than one iovec with a provided buffer: -EINVAL)',
  },
  async ({ target }) => {
    const GID = 11;
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 8 });
    const pb = providedBuffers(s, GID, 0, 2, 64);
    const provide = oneShot(s, h, provideSpec(pb), 0x4f0n);
    const pair = socketpair(s);
    const src = p.data(Buffer.from('0123456789abcdefghij'));
    const w = s.syscall(SYSCALLS.write, [arg.fd(pair.x), arg.buf(src), 20]);
    const unused = p.buf(64);
    const one = msghdr(s, unused, [[0, 10]]);
    const two = msghdr(s, unused, [
      [0, 10],
      [10, 10],
    ]);
    const sel = { opcode: 'RECVMSG' as const, fd: pair.y, len: 1, flags: IOSQE.BUFFER_SELECT.value, buf_group: GID };
    const r1 = oneShot(s, h, { ...sel, addr: arg.buf(one) }, 0x4f1n);
    const r2 = oneShot(s, h, { ...sel, addr: arg.buf(two) }, 0x4f2n);
    const dump = s.dump(pb.mem, 0, 10);
    const v = await target.run(p);
    expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
    expectSetup(v, [pair.step, w], 'socketpair and write');
    expect(resOf(v, provide), 'PROVIDE_BUFFERS').to.equal(0);
    expect(resOf(v, r1), 'RECVMSG with one 10-byte iovec: 10 of the 20 bytes').to.equal(10);
    const flags = v.step(r1.reap).cqes[0].flags;
    expect(flags >>> URING_CONST.CQE_BUFFER_SHIFT.value, 'into provided buffer 0').to.equal(0);
    expect(v.step(dump).dump!.toString(), 'the first 10 bytes').to.equal('0123456789');
    expect(resOf(v, r2), 'RECVMSG with two iovecs and a provided buffer: -EINVAL').to.equal(-errno.EINVAL);
  },
);
