/**
 * IORING_OP_URING_CMD on the one safe target every kernel has — a socket, whose SOCKET_URING_OP_SIOCINQ
 * (6.7) answers like ioctl(SIOCINQ) — and on a file without a ->uring_cmd (refused); IORING_OP_RECV_ZC
 * on a ring with no zero-copy receive queue registered (refused: a real zcrx needs a NIC with header
 * split, which no VM or loopback has). man io_uring_prep_cmd(3), io_uring_prep_recv_zc(3); io_uring/cmd_net.c, zcrx.c.
 */
import { expect } from 'chai';
import { AF, errno, QUEUE_IOCTL, SOCK_FLAG, SOCK_TYPE, SOCKET_URING_OP, SYSCALLS } from '../../src/abi';
import { arg, Program } from '../../src/program/builder';
import { scratchFile } from '../../src/program/sys';
import { setupRing } from '../../src/program/uring';
import { loopbackAddr, oneShot, resOf } from '../../src/oracle/uring-net';
import { conformance } from '../../src/suite/conformance';

/** SIOCINQ is FIONREAD (`<linux/sockios.h>`). */
const SIOCINQ = QUEUE_IOCTL.FIONREAD.value;

/** Kernel release as [major, minor]. */
const release = (k: string) => k.split(/[.-]/).slice(0, 2).map(Number) as [number, number];

conformance(
  'uring.URING_CMD SOCKET_URING_OP_SIOCINQ on a UDP socket answers like ioctl(SIOCINQ) (6.7+; -EOPNOTSUPP before)',
  { ops: ['uring.URING_CMD'], rule: 'man io_uring_prep_cmd(3); io_uring/cmd_net.c (6.7)' },
  async ({ target, caps }) => {
    const p = new Program();
    const s = p.main;
    const fd = p.fd();
    s.syscall(SYSCALLS.socket, [AF.INET.value, SOCK_TYPE.DGRAM.value | SOCK_FLAG.CLOEXEC.value, 0], { fd });
    const addr = p.data(loopbackAddr(0));
    const len = p.buf(4);
    s.bytes(len, 0, Buffer.from([16, 0, 0, 0]));
    const bind = s.syscall(SYSCALLS.bind, [arg.fd(fd), arg.buf(addr), 16]);
    s.syscall(SYSCALLS.getsockname, [arg.fd(fd), arg.buf(addr), arg.buf(len)]);
    // a 5-byte datagram to itself: SIOCINQ is the size of the next datagram
    const data = p.data(Buffer.from('hello'));
    const sent = s.syscall(SYSCALLS.sendto, [arg.fd(fd), arg.buf(data), 5, 0, arg.buf(addr), 16]);
    const inq = p.buf(4);
    const ioctl = s.syscall(SYSCALLS.ioctl, [arg.fd(fd), SIOCINQ, arg.buf(inq)]);
    const inqDump = s.dump(inq);
    const h = setupRing(s, { entries: 4 });
    const cmd = oneShot(s, h, { opcode: 'URING_CMD', fd, cmd_op: SOCKET_URING_OP.SIOCINQ.value }, 0x51n);
    const v = await target.run(p);
    expect([v.ret(bind), v.ret(sent), v.ret(ioctl)], 'bind, sendto and ioctl(SIOCINQ) of the fixture').to.deep.equal([0, 5, 0]);
    const twin = v.step(inqDump).dump!.readInt32LE(0);
    expect(twin, 'ioctl(SIOCINQ) sees the datagram').to.equal(5);
    const [major, minor] = release(caps.kernel);
    const hasSocketCmds = major > 6 || (major === 6 && minor >= 7);
    expect(resOf(v, cmd), hasSocketCmds ? 'res is what ioctl(SIOCINQ) returned' : 'no socket commands before 6.7: -EOPNOTSUPP').to.equal(
      hasSocketCmds ? twin : -errno.EOPNOTSUPP,
    );
  },
);

conformance(
  'uring.URING_CMD on a regular file (no ->uring_cmd) completes with -EOPNOTSUPP',
  { ops: ['uring.URING_CMD'], rule: 'man io_uring_prep_cmd(3); io_uring/uring_cmd.c' },
  async ({ target, scratch }) => {
    const p = new Program();
    const { fd } = scratchFile(p.main, scratch, 'plain');
    const h = setupRing(p.main, { entries: 4 });
    const cmd = oneShot(p.main, h, { opcode: 'URING_CMD', fd, cmd_op: 0 }, 0x52n);
    expect(resOf(await target.run(p), cmd)).to.equal(-errno.EOPNOTSUPP);
  },
);

conformance(
  'uring.RECV_ZC on a ring with no zero-copy receive queue registered completes with -EINVAL',
  { ops: ['uring.RECV_ZC'], rule: 'man io_uring_prep_recv_zc(3); io_uring/zcrx.c (6.15)' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const fd = p.fd();
    s.syscall(SYSCALLS.socket, [AF.INET.value, SOCK_TYPE.STREAM.value | SOCK_FLAG.CLOEXEC.value, 0], { fd });
    const h = setupRing(s, { entries: 4 });
    const zc = oneShot(s, h, { opcode: 'RECV_ZC', fd, zcrx_ifq_idx: 0 }, 0x53n);
    expect(resOf(await target.run(p), zc), 'no zcrx interface queue: refused at prep').to.equal(-errno.EINVAL);
  },
);
