/**
 * IORING_OP_SENDMSG and IORING_OP_RECVMSG against sendmsg(2) and recvmsg(2) on AF_UNIX socketpairs:
 * gathered and scattered iovecs, msg_flags written back, errors (man io_uring_prep_sendmsg, _recvmsg).
 */
import { expect } from 'chai';
import { errno, MSG, SOCK_TYPE, SYSCALLS } from '../../src/abi';
import { arg, Program } from '../../src/program/builder';
import { patternBytes } from '../../src/program/pattern';
import { scratchFile } from '../../src/program/sys';
import { setupRing } from '../../src/program/uring';
import { conformance } from '../../src/suite/conformance';
import { expectSetup, MSGHDR, msghdr, oneShot, resOf, socketpair } from '../../src/oracle/uring-net';

const SEED = 0x5e9d;
/** Three segments out of buffer order: [offset, length]. */
const SEGMENTS = [
  [200, 40],
  [0, 30],
  [400, 30],
] as const;

conformance(
  'uring.SENDMSG gathers iovecs like sendmsg(2) and fails like it',
  { ops: ['uring.SENDMSG'], rule: 'man io_uring_prep_sendmsg' },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 4 });
    const src = p.buf(512);
    s.fillPattern(src, 0, 512, SEED);
    const file = scratchFile(s, scratch, 'not-a-socket');
    const cases = [
      { what: 'a connected socket', file: false, want: 100 },
      { what: 'a regular file', file: true, want: -errno.ENOTSOCK },
    ];
    const runs = cases.map((c, i) => {
      const pairs = [socketpair(s), socketpair(s)];
      const [fs, fa] = c.file ? [file.fd, file.fd] : [pairs[0].x, pairs[1].x];
      const sync = s.syscall(SYSCALLS.sendmsg, [arg.fd(fs), arg.buf(msghdr(s, src, SEGMENTS)), MSG.NOSIGNAL.value]);
      // liburing io_uring_prep_sendmsg: addr = msghdr, len = 1, msg_flags = flags
      const m = msghdr(s, src, SEGMENTS);
      const one = oneShot(
        s,
        h,
        { opcode: 'SENDMSG', fd: fa, addr: arg.buf(m), len: 1, msg_flags: MSG.NOSIGNAL.value },
        BigInt(0x5e90 + i),
      );
      const got = pairs.map((x) => {
        const b = p.buf(4096);
        return {
          read: s.syscall(SYSCALLS.recvfrom, [arg.fd(x.y), arg.buf(b), 4096, MSG.DONTWAIT.value, 0, 0]),
          dump: s.dump(b),
        };
      });
      return { c, setup: pairs.map((x) => x.step), sync, one, got };
    });
    const v = await target.run(p);
    expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
    expectSetup(v, [file.step], 'scratch file');
    const gathered = Buffer.concat(SEGMENTS.map(([o, n]) => patternBytes(SEED, o, n)));
    for (const r of runs) {
      expectSetup(v, r.setup, 'socketpairs');
      expect(v.ret(r.sync), `sendmsg(2) on ${r.c.what}`).to.equal(r.c.want);
      expect(
        resOf(v, r.one),
        `SENDMSG on ${r.c.what}: the same result as sendmsg(2) (man io_uring_prep_sendmsg)`,
      ).to.equal(r.c.want);
      const [a, b] = r.got.map((g) => [v.ret(g.read), v.step(g.dump).dump!] as const);
      expect(b[0], "the peer receives as many bytes as sendmsg(2)'s peer").to.equal(a[0]);
      expect(b[1].equals(a[1]), 'the same bytes').to.equal(true);
      if (r.c.want > 0) expect(b[1].subarray(0, 100).equals(gathered), 'the iovecs in iovec order').to.equal(true);
    }
  },
);

conformance(
  'uring.RECVMSG scatters into iovecs and sets msg_flags like recvmsg(2), and fails like it',
  { ops: ['uring.RECVMSG'], rule: 'man io_uring_prep_recvmsg' },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 4 });
    const src = p.buf(100);
    s.fillPattern(src, 0, 100, SEED + 1);
    const file = scratchFile(s, scratch, 'not-a-socket');
    // a stream fills all three iovecs (100 bytes); a 100-byte datagram into 100 bytes of iovecs is whole,
    // into 40 it is cut and recvmsg reports MSG_TRUNC; an empty socket with MSG_DONTWAIT is -EAGAIN
    const cases = [
      { what: 'a stream socket', type: SOCK_TYPE.STREAM.value, segs: SEGMENTS, write: true, flags: 0, want: 100 },
      {
        what: 'a datagram cut short',
        type: SOCK_TYPE.DGRAM.value,
        segs: SEGMENTS.slice(1),
        write: true,
        flags: 0,
        want: 60,
      },
      {
        what: 'an empty socket with MSG_DONTWAIT',
        type: SOCK_TYPE.STREAM.value,
        segs: SEGMENTS,
        write: false,
        flags: MSG.DONTWAIT.value,
        want: -errno.EAGAIN,
      },
      { what: 'a regular file', type: 0, segs: SEGMENTS, write: false, flags: 0, want: -errno.ENOTSOCK },
    ];
    const runs = cases.map((c, i) => {
      const sides = [0, 1].map(() => {
        const pair = c.type ? socketpair(s, c.type) : undefined;
        const w = pair && c.write ? [s.syscall(SYSCALLS.write, [arg.fd(pair.x), arg.buf(src), 100])] : [];
        const b = p.buf(512);
        s.fillByte(b, 0, 512, 0xa5);
        return {
          fd: pair ? pair.y : file.fd,
          setup: pair ? [pair.step, ...w] : [file.step],
          b,
          m: msghdr(s, b, c.segs),
        };
      });
      const sync = s.syscall(SYSCALLS.recvmsg, [arg.fd(sides[0].fd), arg.buf(sides[0].m), c.flags]);
      const one = oneShot(
        s,
        h,
        { opcode: 'RECVMSG', fd: sides[1].fd, addr: arg.buf(sides[1].m), len: 1, msg_flags: c.flags },
        BigInt(0x4e90 + i),
      );
      const after = sides.map((x) => ({ buf: s.dump(x.b), msg: s.dump(x.m) }));
      return { c, setup: sides.flatMap((x) => x.setup), sync, one, after };
    });
    const v = await target.run(p);
    expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
    for (const r of runs) {
      expectSetup(v, r.setup, `fixture of "${r.c.what}"`);
      expect(v.ret(r.sync), `recvmsg(2) on ${r.c.what}`).to.equal(r.c.want);
      expect(
        resOf(v, r.one),
        `RECVMSG on ${r.c.what}: the same result as recvmsg(2) (man io_uring_prep_recvmsg)`,
      ).to.equal(r.c.want);
      const [a, b] = r.after.map((x) => ({
        buf: v.step(x.buf).dump!,
        flags: v.step(x.msg).dump!.readUInt32LE(MSGHDR.flags),
      }));
      expect(b.buf.equals(a.buf), `${r.c.what}: the iovecs hold what recvmsg(2) put in its own`).to.equal(true);
      expect(b.flags, `${r.c.what}: msg_flags as recvmsg(2) sets them`).to.equal(a.flags);
      if (r.c.type === SOCK_TYPE.DGRAM.value)
        expect(b.flags & MSG.TRUNC.value, 'the datagram was cut: MSG_TRUNC').to.equal(MSG.TRUNC.value);
      if (r.c.want === 100) {
        const scattered = Buffer.concat(SEGMENTS.map(([o, n]) => b.buf.subarray(o, o + n)));
        expect(scattered.equals(patternBytes(SEED + 1, 0, 100)), 'the bytes fill the iovecs in iovec order').to.equal(
          true,
        );
      }
    }
  },
);
