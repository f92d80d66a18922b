/** IORING_OP_SOCKET against socket(2): the same socket, the same errors (man io_uring_prep_socket). */
import { expect } from 'chai';
import { AF, errno, SOCK_FLAG, SOCK_TYPE, SYSCALLS } from '../../src/abi';
import { arg, Program } from '../../src/program/builder';
import { setupRing } from '../../src/program/uring';
import { conformance } from '../../src/suite/conformance';
import { NET, oneShot, resOf, sockoptInt, sockoptValue } from '../../src/oracle/uring-net';

/** domain, type (with SOCK_* flags), protocol: two that work and three socket(2) refuses. */
const CASES = [
  { what: 'AF_INET SOCK_STREAM', domain: AF.INET.value, type: SOCK_TYPE.STREAM.value, proto: 0, want: 'fd' },
  { what: 'AF_UNIX SOCK_DGRAM', domain: AF.UNIX.value, type: SOCK_TYPE.DGRAM.value, proto: 0, want: 'fd' },
  { what: 'an unknown family', domain: 9999, type: SOCK_TYPE.STREAM.value, proto: 0, want: -errno.EAFNOSUPPORT },
  {
    what: 'an unknown type flag',
    domain: AF.INET.value,
    type: SOCK_TYPE.STREAM.value | 0x100,
    proto: 0,
    want: -errno.EINVAL,
  },
  {
    what: 'UDP as the protocol of a stream',
    domain: AF.INET.value,
    type: SOCK_TYPE.STREAM.value,
    proto: NET.IPPROTO_UDP,
    want: -errno.EPROTONOSUPPORT,
  },
] as const;

conformance(
  'uring.SOCKET makes the socket socket(2) makes and fails like it',
  { ops: ['uring.SOCKET'], rule: 'man io_uring_prep_socket' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 4 });
    const runs = CASES.map((c, i) => {
      const type = c.type | SOCK_FLAG.CLOEXEC.value;
      const [fs, fa] = [p.fd(), p.fd()];
      const sync = s.syscall(SYSCALLS.socket, [c.domain, type, c.proto], { fd: fs });
      // liburing io_uring_prep_socket: fd = domain, off = type, len = protocol
      const one = oneShot(s, h, { opcode: 'SOCKET', fd: c.domain, off: type, len: c.proto }, BigInt(0x50c0 + i));
      s.setSlot(fa, arg.res(one.userData)); // the new fd, closed with the program
      const opts = [fs, fa].map((fd) =>
        [NET.SO_DOMAIN, NET.SO_TYPE, NET.SO_PROTOCOL].map((o) => {
          const g = sockoptInt(s, fd, o);
          return { g, dump: s.dump(g.val) };
        }),
      );
      return { c, sync, one, opts };
    });
    const v = await target.run(p);
    expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
    for (const r of runs) {
      const sync = v.ret(r.sync);
      const res = resOf(v, r.one);
      if (r.c.want === 'fd') {
        expect(sync, `socket(2) of ${r.c.what}`).to.be.at.least(0);
        expect(res, `SOCKET of ${r.c.what} completes with a new fd (man io_uring_prep_socket)`).to.be.at.least(0);
        const [syncOpts, ringOpts] = r.opts.map((os) => os.map((o) => sockoptValue(v, o.g, o.dump)));
        expect(ringOpts, `SOCKET of ${r.c.what}: same SO_DOMAIN, SO_TYPE, SO_PROTOCOL as socket(2)`).to.deep.equal(
          syncOpts,
        );
        expect(ringOpts.slice(0, 2), `the socket is ${r.c.what}`).to.deep.equal([r.c.domain, r.c.type]);
      } else {
        expect(sync, `socket(2) of ${r.c.what}`).to.equal(r.c.want);
        expect(res, `SOCKET of ${r.c.what} fails like socket(2) (man io_uring_prep_socket)`).to.equal(sync);
      }
    }
  },
);
