/**
 * IORING_OP_SHUTDOWN against shutdown(2): the peer reads EOF, our writes fail, the same errors
 * (man io_uring_prep_shutdown).
 */
import { expect } from 'chai';
import { errno, MSG, SHUT, SYSCALLS } from '../../src/abi';
import { arg, Fd, Program, StepRef } from '../../src/program/builder';
import { scratchFile } from '../../src/program/sys';
import { setupRing } from '../../src/program/uring';
import { conformance } from '../../src/suite/conformance';
import { expectSetup, oneShot, resOf, socketpair, tcpSocket } from '../../src/oracle/uring-net';

conformance(
  'uring.SHUTDOWN shuts a socket like shutdown(2): the peer reads EOF; errors match',
  { ops: ['uring.SHUTDOWN'], rule: 'man io_uring_prep_shutdown' },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 4 });
    const file = scratchFile(s, scratch, 'not-a-socket');
    const cases = [
      { what: 'SHUT_WR of a connected socket', on: 'pair', how: SHUT.WR.value, want: 0 },
      { what: 'SHUT_RDWR of a connected socket', on: 'pair', how: SHUT.RDWR.value, want: 0 },
      { what: 'an unknown direction (3)', on: 'pair', how: 3, want: -errno.EINVAL },
      { what: 'SHUT_WR of an unconnected TCP socket', on: 'tcp', how: SHUT.WR.value, want: -errno.ENOTCONN },
      { what: 'SHUT_WR of a regular file', on: 'file', how: SHUT.WR.value, want: -errno.ENOTSOCK },
    ] as const;
    const one1 = p.buf(1);
    const runs = cases.map((c, i) => {
      const sides = [0, 1].map(() => {
        if (c.on === 'file') return { fd: file.fd, setup: [file.step] };
        if (c.on === 'tcp') {
          const t = tcpSocket(s);
          return { fd: t.fd, setup: [t.step] };
        }
        const pair = socketpair(s);
        return { fd: pair.x, peer: pair.y, setup: [pair.step] };
      }) as { fd: Fd; peer?: Fd; setup: StepRef[] }[];
      const sync = s.syscall(SYSCALLS.shutdown, [arg.fd(sides[0].fd), c.how]);
      // liburing io_uring_prep_shutdown: len = how
      const one = oneShot(s, h, { opcode: 'SHUTDOWN', fd: sides[1].fd, len: c.how }, BigInt(0x5d0 + i));
      // afterwards: the peer reads without waiting (EOF is 0, an open socket -EAGAIN); we try to send a byte
      const after = sides.map((x) => ({
        peerRead:
          x.peer && s.syscall(SYSCALLS.recvfrom, [arg.fd(x.peer), arg.buf(p.buf(16)), 16, MSG.DONTWAIT.value, 0, 0]),
        send:
          x.peer &&
          s.syscall(SYSCALLS.sendto, [arg.fd(x.fd), arg.buf(one1), 1, MSG.NOSIGNAL.value | MSG.DONTWAIT.value, 0, 0]),
      }));
      return { c, setup: sides.flatMap((x) => x.setup), sync, one, after };
    });
    const v = await target.run(p);
    expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
    for (const r of runs) {
      expectSetup(v, r.setup, `fixture of "${r.c.what}"`);
      expect(v.ret(r.sync), `shutdown(2): ${r.c.what}`).to.equal(r.c.want);
      expect(
        resOf(v, r.one),
        `SHUTDOWN: ${r.c.what}: the same result as shutdown(2) (man io_uring_prep_shutdown)`,
      ).to.equal(r.c.want);
      if (r.c.on !== 'pair') continue;
      const [a, b] = r.after.map((x) => [v.ret(x.peerRead!), v.ret(x.send!)]);
      expect(b, `${r.c.what}: the peer's read and our send afterwards as after shutdown(2)`).to.deep.equal(a);
      if (r.c.want === 0)
        expect(b, `${r.c.what}: the peer reads EOF (0), our send fails with -EPIPE`).to.deep.equal([0, -errno.EPIPE]);
    }
  },
);
