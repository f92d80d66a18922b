/**
 * IORING_OP_URING_CMD (SOCKET_URING_OP_SIOCINQ on a UDP socket, 6.7) under every ring and SQE shape that
 * changes how the command is issued: 128-byte SQEs, 32-byte CQEs (extra words zero), IOSQE_ASYNC (the
 * SQE copied for the worker), IORING_URING_CMD_FIXED with a registered buffer (which SIOCINQ does not
 * use), and an IOPOLL ring (a socket cannot be polled for completions: -EOPNOTSUPP).
 * man io_uring_prep_cmd(3), io_uring_setup(2) (IORING_SETUP_IOPOLL, SQE128, CQE32), io_uring_register(2).
 */
import { expect } from 'chai';
import {
  AF,
  errno,
  IOSQE,
  QUEUE_IOCTL,
  releasedBy,
  SOCK_FLAG,
  SOCK_TYPE,
  SOCKET_URING_OP,
  SYSCALLS,
  URING_CMD,
} from '../../src/abi';
import { arg, Program } from '../../src/program/builder';
import { setupRing } from '../../src/program/uring';
import { registerBuffers } from '../../src/oracle/uring-files';
import { expectSetup, getsockname, loopbackAddr, NET, oneShot, resOf } from '../../src/oracle/uring-net';
import { conformance, needSetupFlags } from '../../src/suite/conformance';

conformance(
  'uring.URING_CMD SIOCINQ answers like ioctl(SIOCINQ) on SQE128 and CQE32 rings, with IOSQE_ASYNC and with IORING_URING_CMD_FIXED; on an IOPOLL ring -EOPNOTSUPP',
  {
    ops: ['uring.URING_CMD'],
    rule: 'man io_uring_prep_cmd(3) (IORING_URING_CMD_FIXED: buf_index names a registered buffer); io_uring_setup(2) (IOPOLL: only files that support polled completion, else -EOPNOTSUPP); io_uring/cmd_net.c (6.7)',
  },
  async (ctx) => {
    const { target, caps, skip } = ctx;
    const since = SOCKET_URING_OP.SIOCINQ.since!;
    if (!releasedBy(since, caps.kernel)) skip(`socket uring_cmd ops arrived in ${since}; kernel ${caps.kernel}`);
    const big = needSetupFlags(ctx, 'SQE128');
    const wide = needSetupFlags(ctx, 'CQE32');
    const iopoll = needSetupFlags(ctx, 'IOPOLL');
    const p = new Program();
    const s = p.main;
    const fd = p.fd();
    const udp = SOCK_TYPE.DGRAM.value | SOCK_FLAG.CLOEXEC.value;
    const sock = s.syscall(SYSCALLS.socket, [AF.INET.value, udp, 0], { fd });
    const addr = p.data(loopbackAddr(0));
    const bind = s.syscall(SYSCALLS.bind, [arg.fd(fd), arg.buf(addr), NET.SOCKADDR_IN_SIZE]);
    const name = getsockname(s, fd, addr);
    // a 5-byte datagram to itself: SIOCINQ is the size of the next datagram
    const data = p.data(Buffer.from('hello'));
    const sent = s.syscall(SYSCALLS.sendto, [arg.fd(fd), arg.buf(data), 5, 0, arg.buf(addr), NET.SOCKADDR_IN_SIZE]);
    const inq = p.buf(4);
    const ioctl = s.syscall(SYSCALLS.ioctl, [arg.fd(fd), QUEUE_IOCTL.FIONREAD.value, arg.buf(inq)]);
    const inqDump = s.dump(inq);
    const cmd = { opcode: 'URING_CMD' as const, fd, cmd_op: SOCKET_URING_OP.SIOCINQ.value };
    const h128 = setupRing(s, { entries: 4, flags: big });
    const onBig = oneShot(s, h128, cmd, 0x1c0n);
    const h32 = setupRing(s, { entries: 4, flags: wide });
    const onWide = oneShot(s, h32, cmd, 0x1c1n);
    const h = setupRing(s, { entries: 8 });
    const async = oneShot(s, h, { ...cmd, flags: IOSQE.ASYNC.value }, 0x1c2n);
    const reg = registerBuffers(s, h, [p.buf(4096, 4096)]);
    const fixed = oneShot(s, h, { ...cmd, uring_cmd_flags: URING_CMD.FIXED.value, buf_index: 0 }, 0x1c3n);
    const hp = setupRing(s, { entries: 4, flags: iopoll });
    const polled = oneShot(s, hp, cmd, 0x1c5n);
    const v = await target.run(p);
    expectSetup(v, [sock, bind, name, sent, ioctl], 'socket, datagram and ioctl');
    for (const r of [h128, h32, h, hp]) expect(v.ret(r.setup), 'io_uring_setup').to.be.at.least(0);
    const twin = v.step(inqDump).dump!.readInt32LE(0);
    expect(twin, 'ioctl(SIOCINQ) sees the 5-byte datagram').to.equal(5);
    expect(resOf(v, onBig), 'on an SQE128 ring: what ioctl(SIOCINQ) returned').to.equal(twin);
    expect(resOf(v, onWide), 'on a CQE32 ring: what ioctl(SIOCINQ) returned').to.equal(twin);
    expect(v.step(onWide.reap).cqes[0].big, 'the CQE32 extra words: zero').to.satisfy(
      (b: [bigint, bigint] | undefined) => b === undefined || b.every((x) => x === 0n),
    );
    expect(resOf(v, async), 'with IOSQE_ASYNC (issued by a worker): the same').to.equal(twin);
    expect(v.ret(reg), 'IORING_REGISTER_BUFFERS').to.equal(0);
    expect(resOf(v, fixed), 'with IORING_URING_CMD_FIXED and buffer 0: the same').to.equal(twin);
    expect(resOf(v, polled), 'on an IOPOLL ring: a socket has no polled completion, -EOPNOTSUPP').to.equal(
      -errno.EOPNOTSUPP,
    );
  },
);
