/**
 * IORING_OP_URING_CMD socket commands (6.7): SOCKET_URING_OP_SIOCOUTQ answers like ioctl(SIOCOUTQ),
 * SOCKET_URING_OP_GETSOCKOPT like getsockopt(2) (res: the option's length), SOCKET_URING_OP_SETSOCKOPT
 * like setsockopt(2); only SOL_SOCKET is served by GETSOCKOPT. man io_uring_prep_cmd_sock(3).
 */
import { expect } from 'chai';
import {
  AF,
  errno,
  QUEUE_IOCTL,
  releasedBy,
  SO,
  SOCK_FLAG,
  SOCK_TYPE,
  SOCKET_CONST,
  SOCKET_URING_OP,
  SYSCALLS,
} from '../../src/abi';
import { arg, Fd, Program, Sequence, StepRef } from '../../src/program/builder';
import { UringRunner } from '../../src/oracle/uring-files';
import { expectSetup } from '../../src/oracle/uring-net';
import { conformance } from '../../src/suite/conformance';

const SOL = SOCKET_CONST.SOL_SOCKET.value;
/** IPPROTO_IP (`<netinet/in.h>`): a level other than SOL_SOCKET. */
const IPPROTO_IP = 0;

const udp = (s: Sequence): { fd: Fd; step: StepRef } => {
  const fd = s.program.fd();
  const step = s.syscall(SYSCALLS.socket, [AF.INET.value, SOCK_TYPE.DGRAM.value | SOCK_FLAG.CLOEXEC.value, 0], { fd });
  return { fd, step };
};

/** An int option buffer and its length word. */
function intOpt(s: Sequence, value = 0) {
  const val = s.program.buf(4);
  s.patch(val, 0, 4, value);
  const len = s.program.buf(4);
  s.patch(len, 0, 4, 4);
  return { val, len };
}

conformance(
  'uring.URING_CMD socket GETSOCKOPT/SETSOCKOPT/SIOCOUTQ answer like getsockopt(2), setsockopt(2), ioctl(SIOCOUTQ) (6.7+)',
  { ops: ['uring.URING_CMD'], rule: 'man io_uring_prep_cmd_sock(3); io_uring/uring_cmd.c (6.7)' },
  async ({ target, caps, note }) => {
    const p = new Program();
    const s = p.main;
    const u = new UringRunner(s);
    const [a, b] = [udp(s), udp(s)];
    const cmd = (fd: Fd, op: number, more: object = {}) => u.run({ opcode: 'URING_CMD', fd, cmd_op: op, ...more });
    // SIOCOUTQ: nothing queued on a fresh socket, whichever way it is asked
    const outq = intOpt(s);
    const ioctl = s.syscall(SYSCALLS.ioctl, [arg.fd(a.fd), QUEUE_IOCTL.TIOCOUTQ.value, arg.buf(outq.val)]);
    const outqDump = s.dump(outq.val);
    const uOutq = cmd(a.fd, SOCKET_URING_OP.SIOCOUTQ.value);
    // GETSOCKOPT of SO_TYPE and SO_DOMAIN against getsockopt(2)
    const gets = [SO.TYPE, SO.DOMAIN].map((o) => {
      const sync = intOpt(s);
      const call = s.syscall(SYSCALLS.getsockopt, [arg.fd(a.fd), SOL, o.value, arg.buf(sync.val), arg.buf(sync.len)]);
      const async_ = intOpt(s);
      const c = cmd(a.fd, SOCKET_URING_OP.GETSOCKOPT.value, {
        level: SOL,
        optname: o.value,
        optval: arg.buf(async_.val),
        optlen: 4,
      });
      return { o, call, c, dumps: [s.dump(sync.val), s.dump(async_.val)] };
    });
    // SETSOCKOPT SO_RCVBUF 8192 on socket b, setsockopt(2) of the same on socket a: both read back the same
    const want = intOpt(s, 8192);
    const setSync = s.syscall(SYSCALLS.setsockopt, [arg.fd(a.fd), SOL, SO.RCVBUF.value, arg.buf(want.val), 4]);
    const setAsync = cmd(b.fd, SOCKET_URING_OP.SETSOCKOPT.value, {
      level: SOL,
      optname: SO.RCVBUF.value,
      optval: arg.buf(want.val),
      optlen: 4,
    });
    const after = [a, b].map((x) => {
      const o = intOpt(s);
      return {
        call: s.syscall(SYSCALLS.getsockopt, [arg.fd(x.fd), SOL, SO.RCVBUF.value, arg.buf(o.val), arg.buf(o.len)]),
        dump: s.dump(o.val),
      };
    });
    // what is refused
    const scratch = intOpt(s);
    const refused = [
      {
        what: 'GETSOCKOPT at level IPPROTO_IP',
        c: cmd(a.fd, SOCKET_URING_OP.GETSOCKOPT.value, {
          level: IPPROTO_IP,
          optname: 1,
          optval: arg.buf(scratch.val),
          optlen: 4,
        }),
        want: -errno.EOPNOTSUPP,
      },
      {
        what: 'GETSOCKOPT of an unknown SOL_SOCKET option (9999)',
        c: cmd(a.fd, SOCKET_URING_OP.GETSOCKOPT.value, {
          level: SOL,
          optname: 9999,
          optval: arg.buf(scratch.val),
          optlen: 4,
        }),
        want: -errno.ENOPROTOOPT,
      },
      { what: 'an unknown socket command (99)', c: cmd(a.fd, 99), want: -errno.EOPNOTSUPP },
    ];
    const v = await target.run(p);
    expectSetup(v, [a.step, b.step, u.h.setup], 'sockets and ring');
    if (!releasedBy('6.7', caps.kernel)) {
      // before 6.7 a socket has no ->uring_cmd: every command is refused the same way
      for (const c of [uOutq, ...gets.map((g) => g.c), setAsync, ...refused.map((r) => r.c)])
        expect(c(v).res, 'no socket commands before 6.7: -EOPNOTSUPP').to.equal(-errno.EOPNOTSUPP);
      note(`kernel ${caps.kernel} predates SOCKET_URING_OP_* (6.7): checked that every command is -EOPNOTSUPP`);
      return;
    }
    expect(v.ret(ioctl), 'ioctl(SIOCOUTQ)').to.equal(0);
    expect(uOutq(v).res, 'SIOCOUTQ: what ioctl(SIOCOUTQ) wrote').to.equal(v.step(outqDump).dump!.readInt32LE(0));
    for (const g of gets) {
      expect(v.ret(g.call), `getsockopt(${g.o.cName})`).to.equal(0);
      expect(g.c(v).res, `GETSOCKOPT ${g.o.cName}: res is the option length, 4`).to.equal(4);
      const [x, y] = g.dumps.map((d) => v.step(d).dump!.readInt32LE(0));
      expect(y, `GETSOCKOPT ${g.o.cName}: the value getsockopt(2) gives`).to.equal(x);
    }
    expect(gets[0].dumps.map((d) => v.step(d).dump!.readInt32LE(0))[0], 'SO_TYPE of a UDP socket').to.equal(
      SOCK_TYPE.DGRAM.value,
    );
    expect([v.ret(setSync), setAsync(v).res], 'setsockopt(2) and SETSOCKOPT of SO_RCVBUF: 0').to.deep.equal([0, 0]);
    expect(
      after.map((x) => v.ret(x.call)),
      'getsockopt(2) of SO_RCVBUF on both sockets',
    ).to.deep.equal([0, 0]);
    const [ra, rb] = after.map((x) => v.step(x.dump).dump!.readInt32LE(0));
    expect(rb, 'SO_RCVBUF read back after SETSOCKOPT: what setsockopt(2) leaves').to.equal(ra);
    for (const r of refused) expect(r.c(v).res, r.what).to.equal(r.want);
  },
);
