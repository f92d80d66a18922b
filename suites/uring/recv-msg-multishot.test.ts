/**
 * Multishot IORING_OP_RECVMSG (6.0): each datagram lands in its own provided buffer behind a
 * struct io_uring_recvmsg_out header, then the sender's name (in the room msg_namelen reserves), then
 * the payload; a datagram too big for the room left is cut with MSG_TRUNC, payloadlen being what
 * recvmsg(2) returns for it (AF_UNIX: the bytes kept). man io_uring_prep_recvmsg_multishot(3), io_uring_recvmsg_validate(3).
 */
import { expect } from 'chai';
import {
  AF,
  CQE_F,
  errno,
  IOSQE,
  MSG,
  RECVMSG_OUT_LAYOUT,
  RECVSEND,
  SOCK_TYPE,
  SYSCALLS,
  URING_CONST,
} from '../../src/abi';
import { arg, Program } from '../../src/program/builder';
import { patternBytes } from '../../src/program/pattern';
import { reap, sqe, submit } from '../../src/program/uring';
import { registerBufRing, UringRunner } from '../../src/oracle/uring-files';
import { expectSetup, MSGHDR, msghdr, NET, socketpair } from '../../src/oracle/uring-net';
import { conformance } from '../../src/suite/conformance';

const SHIFT = URING_CONST.CQE_BUFFER_SHIFT.value;
const O = RECVMSG_OUT_LAYOUT.fields;
const HDR = RECVMSG_OUT_LAYOUT.size;
const [CANCEL, MULTI] = [0x3a5cn, 0x3a5dn];

conformance(
  'uring.RECVMSG multishot writes io_uring_recvmsg_out, the sender name and the payload per datagram; MSG_TRUNC when cut',
  { ops: ['uring.RECVMSG', 'uring.ASYNC_CANCEL', 'uring.register'], rule: 'man io_uring_prep_recvmsg_multishot(3)' },
  async ({ target }) => {
    const [BGID, SIZE, N, NAMELEN, SEED] = [3, 128, 4, 32, 0x3e59];
    const p = new Program();
    const s = p.main;
    const u = new UringRunner(s);
    const pair = socketpair(s, SOCK_TYPE.DGRAM.value);
    // the sender binds an abstract AF_UNIX name (no file; unique per run), so there is a name to report
    const name = Buffer.concat([Buffer.from([0]), Buffer.from(`kasync-rm-${process.pid}-${Date.now() % 1e6}`)]);
    const addr = Buffer.alloc(2 + name.length);
    addr.writeUInt16LE(AF.UNIX.value, 0);
    name.copy(addr, 2);
    const bind = s.syscall(SYSCALLS.bind, [arg.fd(pair.x), arg.buf(p.data(addr)), addr.length]);
    const ring = registerBufRing(s, u.h, BGID, N, SIZE);
    // the msghdr only sizes the name and control room: NAMELEN bytes of name, no control data
    const m = p.buf(NET.MSGHDR_SIZE);
    s.patch(m, MSGHDR.namelen, 4, NAMELEN);
    const arm = submit(s, u.h, [
      sqe({
        opcode: 'RECVMSG',
        fd: pair.y,
        addr: arg.buf(m),
        flags: IOSQE.BUFFER_SELECT.value,
        ioprio: RECVSEND.RECV_MULTISHOT.value,
        buf_group: BGID,
        user_data: MULTI,
      }),
    ]);
    const idle = reap(s, u.h, 0, 4, 0);
    const src = p.buf(200);
    s.fillPattern(src, 0, 200, SEED);
    const room = SIZE - HDR - NAMELEN;
    const sizes = [10, 25, 200];
    const msgs = sizes.map((n) => ({
      n,
      w: s.syscall(SYSCALLS.write, [arg.fd(pair.x), arg.buf(src), n]),
      got: reap(s, u.h, 1, 4),
    }));
    const cancel = submit(s, u.h, [sqe({ opcode: 'ASYNC_CANCEL', addr: MULTI, user_data: CANCEL })], 2);
    const ends = [reap(s, u.h, 2, 4), reap(s, u.h, 0, 4, 0)];
    const dump = s.dump(ring.mem);
    // the twin: recvmsg(2) of the 200-byte datagram into the same payload room
    const pair2 = socketpair(s, SOCK_TYPE.DGRAM.value);
    const w2 = s.syscall(SYSCALLS.write, [arg.fd(pair2.x), arg.buf(src), 200]);
    const into = p.buf(room);
    const m2 = msghdr(s, into, [[0, room]]);
    const sync = s.syscall(SYSCALLS.recvmsg, [arg.fd(pair2.y), arg.buf(m2), 0]);
    const m2Dump = s.dump(m2);
    const v = await target.run(p);
    expectSetup(v, [pair.step, bind, u.h.setup, ring.reg, pair2.step, w2], 'socketpair, bind, ring and buffer ring');
    const twin = { ret: v.ret(sync), trunc: (v.step(m2Dump).dump!.readUInt32LE(MSGHDR.flags) & MSG.TRUNC.value) !== 0 };
    expect(twin, 'recvmsg(2) of 200 bytes into 80: 80, MSG_TRUNC').to.deep.equal({ ret: room, trunc: true });
    expect(v.ret(arm.enter), 'the multishot RECVMSG is submitted').to.equal(1);
    expect(v.step(idle).cqes, 'no datagram yet: no CQE').to.deep.equal([]);
    const mem = v.step(dump).dump!;
    const bids = msgs.map((x, k) => {
      expect(v.ret(x.w), `datagram ${k} sent`).to.equal(x.n);
      const cqes = v.step(x.got).cqes;
      expect(
        cqes.map((q) => q.userData),
        `datagram ${k}: one CQE of the multishot RECVMSG`,
      ).to.deep.equal([MULTI]);
      const q = cqes[0];
      const kept = Math.min(x.n, room);
      expect(q.res, `datagram ${k}: res is the bytes used in the buffer (header, name room, payload)`).to.equal(
        HDR + NAMELEN + kept,
      );
      expect(q.flags & (CQE_F.MORE.value | CQE_F.BUFFER.value), `datagram ${k}: F_MORE and F_BUFFER`).to.equal(
        CQE_F.MORE.value | CQE_F.BUFFER.value,
      );
      const bid = q.flags >>> SHIFT;
      const b = mem.subarray(bid * SIZE, (bid + 1) * SIZE);
      expect(
        {
          namelen: b.readUInt32LE(O.namelen.offset),
          controllen: b.readUInt32LE(O.controllen.offset),
          payloadlen: b.readUInt32LE(O.payloadlen.offset),
          trunc: (b.readUInt32LE(O.flags.offset) & MSG.TRUNC.value) !== 0,
        },
        `datagram ${k}: io_uring_recvmsg_out`,
      ).to.deep.equal({ namelen: addr.length, controllen: 0, payloadlen: kept, trunc: x.n > room });
      expect(b.subarray(HDR, HDR + addr.length).equals(addr), `datagram ${k}: the sender's sockaddr_un`).to.equal(true);
      expect(
        b.subarray(HDR + NAMELEN, HDR + NAMELEN + kept).equals(patternBytes(SEED, 0, kept)),
        `datagram ${k}: the payload (its first ${kept} bytes)`,
      ).to.equal(true);
      return bid;
    });
    expect(new Set(bids).size, 'each datagram took its own buffer').to.equal(sizes.length);
    expect(v.ret(cancel.enter), 'ASYNC_CANCEL submitted').to.equal(1);
    const end = ends.flatMap((r) => v.step(r).cqes);
    expect(
      end
        .map((q) => [q.userData, q.res, q.flags & CQE_F.MORE.value])
        .sort((a, b) => Number(BigInt(a[0]) - BigInt(b[0]))),
      'the cancel completes with 0; the multishot RECVMSG ends with -ECANCELED, without F_MORE',
    ).to.deep.equal([
      [CANCEL, 0, 0],
      [MULTI, -errno.ECANCELED, 0],
    ]);
  },
);
