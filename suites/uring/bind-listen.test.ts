/** IORING_OP_BIND and IORING_OP_LISTEN (6.11) against bind(2) and listen(2), on 127.0.0.1 only. */
import { expect } from 'chai';
import { AF, errno, SOCK_FLAG, SOCK_TYPE, SYSCALLS } from '../../src/abi';
import { arg, Fd, Program, Sequence, StepRef } from '../../src/program/builder';
import { scratchFile } from '../../src/program/sys';
import { setupRing } from '../../src/program/uring';
import { conformance } from '../../src/suite/conformance';
import {
  expectSetup,
  getsockname,
  loopbackAddr,
  loopbackReady,
  NET,
  oneShot,
  resOf,
  sockoptInt,
  sockoptValue,
  tcpSocket,
} from '../../src/oracle/uring-net';

/** What a case starts from: a fresh TCP socket, one already bound, a UDP socket, a regular file. */
type Subject = 'tcp' | 'bound' | 'udp' | 'file';

function subject(s: Sequence, scratch: string, kind: Subject, name: string): { fd: Fd; steps: StepRef[] } {
  if (kind === 'file') {
    const f = scratchFile(s, scratch, name);
    return { fd: f.fd, steps: [f.step] };
  }
  if (kind === 'udp') {
    const fd = s.program.fd();
    const step = s.syscall(SYSCALLS.socket, [AF.INET.value, SOCK_TYPE.DGRAM.value | SOCK_FLAG.CLOEXEC.value, 0], {
      fd,
    });
    return { fd, steps: [step] };
  }
  const t = tcpSocket(s);
  if (kind === 'tcp') return { fd: t.fd, steps: [t.step] };
  const a = s.program.data(loopbackAddr());
  return { fd: t.fd, steps: [t.step, s.syscall(SYSCALLS.bind, [arg.fd(t.fd), arg.buf(a), NET.SOCKADDR_IN_SIZE])] };
}

conformance(
  'uring.BIND binds to 127.0.0.1 like bind(2) and fails like it',
  { ops: ['uring.BIND'], rule: 'man io_uring_prep_bind' },
  async ({ target, scratch }) => {
    const cases = [
      { what: '127.0.0.1:0 on a fresh socket', on: 'tcp', len: NET.SOCKADDR_IN_SIZE, want: 0 },
      { what: 'a socket already bound', on: 'bound', len: NET.SOCKADDR_IN_SIZE, want: -errno.EINVAL },
      { what: 'an address length of 8', on: 'tcp', len: 8, want: -errno.EINVAL },
      { what: 'a regular file', on: 'file', len: NET.SOCKADDR_IN_SIZE, want: -errno.ENOTSOCK },
    ] as const;
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 4 });
    const runs = cases.map((c, i) => {
      const [x, y] = [subject(s, scratch, c.on, `bind-sync-${i}`), subject(s, scratch, c.on, `bind-ring-${i}`)];
      const addr = p.data(loopbackAddr());
      const sync = s.syscall(SYSCALLS.bind, [arg.fd(x.fd), arg.buf(addr), c.len]);
      // liburing io_uring_prep_bind: addr = sockaddr, off = addrlen
      const one = oneShot(s, h, { opcode: 'BIND', fd: y.fd, addr: arg.buf(addr), off: c.len }, BigInt(0xb1d0 + i));
      const names = [x.fd, y.fd].map((fd) => {
        const b = p.buf(NET.SOCKADDR_IN_SIZE);
        return { get: getsockname(s, fd, b), dump: s.dump(b) };
      });
      return { c, setup: [...x.steps, ...y.steps], sync, one, names };
    });
    const v = await target.run(p);
    expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
    for (const r of runs) {
      expectSetup(v, r.setup, `fixture of "${r.c.what}"`);
      expect(v.ret(r.sync), `bind(2) of ${r.c.what}`).to.equal(r.c.want);
      expect(resOf(v, r.one), `BIND of ${r.c.what}: the same result as bind(2) (man io_uring_prep_bind)`).to.equal(
        r.c.want,
      );
      if (r.c.on !== 'tcp' || r.c.want !== 0) continue;
      const [a, b] = r.names.map((n) => v.step(n.dump).dump!);
      expect(v.ret(r.names[1].get), 'getsockname of the socket BIND bound').to.equal(0);
      expect(b.readUInt16BE(2), 'BIND to port 0 got a port from the kernel').to.not.equal(0);
      // ports differ: compare the family and the address, zero the port
      const strip = (x: Buffer) => Buffer.concat([x.subarray(0, 2), x.subarray(4)]);
      expect(strip(b).equals(strip(a)), 'bound to 127.0.0.1 like bind(2)').to.equal(true);
    }
  },
);

conformance(
  'uring.LISTEN makes a listening socket like listen(2) and fails like it',
  { ops: ['uring.LISTEN'], rule: 'man io_uring_prep_listen' },
  async ({ target, scratch, skip }) => {
    await loopbackReady(target, skip);
    const cases = [
      { what: 'a bound TCP socket', on: 'bound', want: 0 },
      { what: 'a UDP socket', on: 'udp', want: -errno.EOPNOTSUPP },
      { what: 'a regular file', on: 'file', want: -errno.ENOTSOCK },
    ] as const;
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 4 });
    const runs = cases.map((c, i) => {
      const [x, y] = [subject(s, scratch, c.on, `listen-sync-${i}`), subject(s, scratch, c.on, `listen-ring-${i}`)];
      const sync = s.syscall(SYSCALLS.listen, [arg.fd(x.fd), 4]);
      // liburing io_uring_prep_listen: len = backlog
      const one = oneShot(s, h, { opcode: 'LISTEN', fd: y.fd, len: 4 }, BigInt(0x1150 + i));
      const acc = [x.fd, y.fd].map((fd) => {
        const g = sockoptInt(s, fd, NET.SO_ACCEPTCONN);
        return { g, dump: s.dump(g.val) };
      });
      // a client connects to the socket LISTEN made listen: the handshake completes without accept
      let connect;
      if (c.want === 0) {
        const addr = p.buf(NET.SOCKADDR_IN_SIZE);
        const name = getsockname(s, y.fd, addr);
        const cl = tcpSocket(s);
        connect = {
          name,
          cl: cl.step,
          step: s.syscall(SYSCALLS.connect, [arg.fd(cl.fd), arg.buf(addr), NET.SOCKADDR_IN_SIZE]),
        };
      }
      return { c, setup: [...x.steps, ...y.steps], sync, one, acc, connect };
    });
    const v = await target.run(p);
    expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
    for (const r of runs) {
      expectSetup(v, r.setup, `fixture of "${r.c.what}"`);
      expect(v.ret(r.sync), `listen(2) on ${r.c.what}`).to.equal(r.c.want);
      expect(
        resOf(v, r.one),
        `LISTEN on ${r.c.what}: the same result as listen(2) (man io_uring_prep_listen)`,
      ).to.equal(r.c.want);
      if (r.c.on === 'file') continue;
      const [a, b] = r.acc.map((o) => sockoptValue(v, o.g, o.dump));
      expect(b, `SO_ACCEPTCONN after LISTEN on ${r.c.what}: the same as after listen(2)`).to.equal(a);
      expect(b, `SO_ACCEPTCONN after LISTEN on ${r.c.what}`).to.equal(r.c.want === 0 ? 1 : 0);
      if (r.connect) {
        expectSetup(v, [r.connect.name, r.connect.cl], 'getsockname and client socket');
        expect(v.ret(r.connect.step), 'connect(2) to the socket LISTEN made listen succeeds').to.equal(0);
      }
    }
  },
);
