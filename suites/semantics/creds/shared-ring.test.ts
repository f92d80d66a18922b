/**
 * A ring fd held by a process with other credentials (inherited by fork: kernels refuse to send an
 * io_uring fd by SCM_RIGHTS, measured below):
 * each process's SQEs run with its own creds, not the ring creator's (SEMANTICS §3.8, §3.11).
 */
import { expect } from 'chai';
import { AF, errno, MSG, O, SOCK_FLAG, SOCK_TYPE, SOCKET_CONST, SYSCALLS } from '../../../src/abi';
import { arg, Arg, Buf, Program, Sequence } from '../../../src/program/builder';
import { pipe2 } from '../../../src/program/sys';
import { setupRing } from '../../../src/program/uring';
import { conformance } from '../../../src/suite/conformance';
import { credFixture, credRound, dropToNobody, expected, Mode, rows, victimTags } from '../../../src/oracle/creds';

const OPS = ['uring.OPENAT', 'uring.MKDIRAT', 'uring.UNLINKAT', 'uring.STATX', 'uring.SETXATTR'];

for (const mode of ['inline', 'async'] as Mode[]) {
  const how = mode === 'inline' ? '' : 'IOSQE_ASYNC ';
  conformance(
    `uring: ${how}SQEs a uid 65534 child submits on its root parent's ring run as 65534, the parent's as root`,
    { ops: OPS, rule: 'SEMANTICS §3.8', needs: { root: true } },
    async ({ target, scratch }) => {
      const p = new Program();
      const s = p.main;
      const fx = credFixture(s, scratch, victimTags(['child', 'parent']));
      const h = setupRing(s, { entries: 4 });
      const child = p.seq();
      const drop = dropToNobody(child);
      const theirs = credRound(child, h, fx, 'child', 0x100, { mode });
      const pid = p.pid();
      const fork = s.fork(child, pid);
      const wait = s.wait(pid, 8000);
      const ours = credRound(s, h, fx, 'parent', 0x200, { mode });
      const v = await target.run(p);
      for (const st of fx.steps) expect(v.ret(st), 'fixture step (as root)').to.be.at.least(0);
      expect(v.ret(h.setup), 'io_uring_setup as root').to.be.at.least(0);
      expect([v.ret(fork) > 0, v.ret(wait) > 0], 'fork and reap the child').to.deep.equal([true, true]);
      expect(
        drop.map((d) => v.ret(d)),
        'setgroups, setresgid, setresuid to 65534 in the child',
      ).to.deep.equal([0, 0, 0]);
      expect(
        rows(theirs(v)),
        "the child's SQEs fail like its system calls: its own creds (SEMANTICS §3.8)",
      ).to.deep.equal(rows(expected('nobody')));
      expect(rows(ours(v)), "the parent's SQEs on the same ring succeed as root (SEMANTICS §3.8)").to.deep.equal(
        rows(expected('root')),
      );
    },
  );
}

/** A msghdr for one byte at `data` and a one-fd SCM_RIGHTS control message (`fd`, or room for one). */
function rightsMsg(seq: Sequence, data: Buf, fd?: Arg): { msg: Buf; cmsg: Buf } {
  const p = seq.program;
  const iov = p.buf(16);
  const cmsg = p.buf(24); // CMSG_SPACE(sizeof(int))
  const msg = p.buf(56); // struct msghdr on x86-64
  seq.patch(iov, 0, 8, arg.buf(data));
  seq.patch(iov, 8, 8, 1);
  seq.patch(cmsg, 0, 8, 20); // CMSG_LEN(sizeof(int))
  seq.patch(cmsg, 8, 4, SOCKET_CONST.SOL_SOCKET.value);
  seq.patch(cmsg, 12, 4, SOCKET_CONST.SCM_RIGHTS.value);
  if (fd) seq.patch(cmsg, 16, 4, fd);
  seq.patch(msg, 16, 8, arg.buf(iov));
  seq.patch(msg, 24, 8, 1);
  seq.patch(msg, 32, 8, arg.buf(cmsg));
  seq.patch(msg, 40, 8, 24);
  return { msg, cmsg };
}

conformance(
  'uring: an io_uring fd cannot be passed by SCM_RIGHTS: sendmsg fails with -EINVAL (a pipe fd passes)',
  { ops: ['uring.setup'], rule: 'SEMANTICS §3.11' },
  async ({ target }) => {
    // SEMANTICS §3.11 speaks of rings shared "via SCM_RIGHTS"; the kernels measured refuse to send them
    // (io_uring/af_unix: "disable sending io_uring over sockets"), so fork is how a ring fd reaches another user
    const p = new Program();
    const s = p.main;
    const sv = p.buf(8);
    const pair = s.syscall(SYSCALLS.socketpair, [
      AF.UNIX.value,
      SOCK_TYPE.STREAM.value | SOCK_FLAG.CLOEXEC.value,
      0,
      arg.buf(sv),
    ]);
    const [mine, theirs] = [p.fd(), p.fd()];
    s.setSlot(mine, arg.load32(sv, 0));
    s.setSlot(theirs, arg.load32(sv, 4));
    const h = setupRing(s, { entries: 4 });
    const { r, step: pipe } = pipe2(s, O.CLOEXEC.value);
    const byte = p.data(Buffer.from('r'));
    const ring = s.syscall(SYSCALLS.sendmsg, [arg.fd(mine), arg.buf(rightsMsg(s, byte, arg.ring(h.ring)).msg), 0]);
    const plain = s.syscall(SYSCALLS.sendmsg, [arg.fd(mine), arg.buf(rightsMsg(s, byte, arg.fd(r)).msg), 0]);
    const rx = rightsMsg(s, p.buf(8));
    const recv = s.syscall(SYSCALLS.recvmsg, [arg.fd(theirs), arg.buf(rx.msg), MSG.CMSG_CLOEXEC.value]);
    const got = p.fd();
    s.setSlot(got, arg.load32(rx.cmsg, 16));
    const v = await target.run(p);
    expect([v.ret(pair), v.ret(h.setup) >= 0, v.ret(pipe)], 'socketpair, io_uring_setup, pipe2').to.deep.equal([
      0,
      true,
      0,
    ]);
    // measured: -EINVAL on 6.1.0-56, 6.12.117 and 6.18.44
    expect(v.ret(ring), 'sendmsg with the ring fd in SCM_RIGHTS: -EINVAL').to.equal(-errno.EINVAL);
    expect(v.ret(plain), 'the same message with a pipe fd is sent').to.equal(1);
    expect(v.ret(recv), 'and received').to.equal(1);
  },
);
