/**
 * Multishot IORING_OP_RECVMSG with control data and tight rooms: msg_controllen reserves room for
 * ancillary data (here SCM_CREDENTIALS of a SO_PASSCRED socket), a name room smaller than the sender's
 * address keeps its start while `namelen` reports the whole length, and MSG_TRUNC in the flags makes
 * `payloadlen` the datagram's full size though only the room is filled.
 * man io_uring_prep_recvmsg_multishot(3), io_uring_recvmsg_validate(3); unix(7) SO_PASSCRED; recv(2) MSG_TRUNC.
 */
import { expect } from 'chai';
import {
  AF,
  CQE_F,
  IOSQE,
  MSG,
  RECVMSG_OUT_LAYOUT,
  RECVSEND,
  SO_CRED,
  SOCK_TYPE,
  SOCKET_CONST,
  SYSCALLS,
} from '../../src/abi';
import { arg, Program } from '../../src/program/builder';
import { patternBytes } from '../../src/program/pattern';
import { reap, sqe, submit } from '../../src/program/uring';
import { registerBufRing, UringRunner } from '../../src/oracle/uring-files';
import { expectSetup, MSGHDR, NET, socketpair } from '../../src/oracle/uring-net';
import { conformance } from '../../src/suite/conformance';

const O = RECVMSG_OUT_LAYOUT.fields;
const HDR = RECVMSG_OUT_LAYOUT.size;
const [SO_PASSCRED, SCM_CREDENTIALS] = [SO_CRED.SO_PASSCRED.value, SO_CRED.SCM_CREDENTIALS.value];
/** CMSG_SPACE(sizeof(struct ucred)) on x86-64, and CMSG_LEN of it. */
const [CRED_SPACE, CRED_LEN] = [32, 28];

conformance(
  'uring.RECVMSG multishot with control room gets SCM_CREDENTIALS; a short name room keeps the start of the name; with MSG_TRUNC payloadlen is the full datagram',
  {
    ops: ['uring.RECVMSG', 'uring.register'],
    rule: 'man io_uring_prep_recvmsg_multishot(3) (io_uring_recvmsg_out: namelen and payloadlen as recvmsg(2) reports them, controllen the control bytes used); unix(7) SO_PASSCRED; recv(2) MSG_TRUNC',
  },
  async ({ target }) => {
    const [BGID, SIZE, N, NAMELEN, SEED] = [5, 256, 2, 4, 0x3c59];
    const p = new Program();
    const s = p.main;
    const u = new UringRunner(s);
    const pair = socketpair(s, SOCK_TYPE.DGRAM.value);
    const name = Buffer.from(`\0kasync-cm-${process.pid}-${Date.now() % 1e6}`);
    const addr = Buffer.alloc(2 + name.length);
    addr.writeUInt16LE(AF.UNIX.value, 0);
    name.copy(addr, 2);
    const bind = s.syscall(SYSCALLS.bind, [arg.fd(pair.x), arg.buf(p.data(addr)), addr.length]);
    const one = p.buf(4);
    s.patch(one, 0, 4, 1);
    const sol = SOCKET_CONST.SOL_SOCKET.value;
    const cred = s.syscall(SYSCALLS.setsockopt, [arg.fd(pair.y), sol, SO_PASSCRED, arg.buf(one), 4]);
    const pid = s.syscall(SYSCALLS.getpid, []);
    const ring = registerBufRing(s, u.h, BGID, N, SIZE);
    const m = p.buf(NET.MSGHDR_SIZE);
    s.patch(m, MSGHDR.namelen, 4, NAMELEN);
    s.patch(m, MSGHDR.controllen, 8, CRED_SPACE);
    const MULTI = 0x3c50n;
    const arm = submit(s, u.h, [
      sqe({
        opcode: 'RECVMSG',
        fd: pair.y,
        addr: arg.buf(m),
        msg_flags: MSG.TRUNC.value,
        flags: IOSQE.BUFFER_SELECT.value,
        ioprio: RECVSEND.RECV_MULTISHOT.value,
        buf_group: BGID,
        user_data: MULTI,
      }),
    ]);
    const src = p.buf(SIZE);
    s.fillPattern(src, 0, SIZE, SEED);
    const room = SIZE - HDR - NAMELEN - CRED_SPACE;
    const sent = s.syscall(SYSCALLS.write, [arg.fd(pair.x), arg.buf(src), SIZE]);
    const got = reap(s, u.h, 1, 4);
    const cancel = submit(s, u.h, [sqe({ opcode: 'ASYNC_CANCEL', addr: MULTI, user_data: MULTI + 1n })], 2);
    const ends = reap(s, u.h, 2, 4);
    const dump = s.dump(ring.mem);
    const v = await target.run(p);
    expectSetup(v, [pair.step, bind, cred, u.h.setup, ring.reg, sent], 'sockets, SO_PASSCRED, ring and buffer ring');
    expect(v.ret(arm.enter), 'the multishot RECVMSG is submitted').to.equal(1);
    const cqes = v.step(got).cqes;
    expect(cqes.map((q) => q.userData), 'one CQE for the datagram').to.deep.equal([MULTI]);
    const q = cqes[0];
    expect(q.flags & CQE_F.MORE.value, 'F_MORE: still armed').to.equal(CQE_F.MORE.value);
    expect(q.res, 'res: the bytes used in the buffer (header, name room, control room, kept payload)').to.equal(
      HDR + NAMELEN + CRED_SPACE + room,
    );
    const bid = q.flags >>> 16;
    const b = v.step(dump).dump!.subarray(bid * SIZE, (bid + 1) * SIZE);
    expect(
      {
        namelen: b.readUInt32LE(O.namelen.offset),
        controllen: b.readUInt32LE(O.controllen.offset),
        payloadlen: b.readUInt32LE(O.payloadlen.offset),
        trunc: (b.readUInt32LE(O.flags.offset) & MSG.TRUNC.value) !== 0,
      },
      'io_uring_recvmsg_out: the full name length, the control bytes used, the full datagram size, MSG_TRUNC',
    ).to.deep.equal({ namelen: addr.length, controllen: CRED_SPACE, payloadlen: SIZE, trunc: true });
    expect(b.subarray(HDR, HDR + NAMELEN).equals(addr.subarray(0, NAMELEN)), 'the first bytes of the name').to.equal(
      true,
    );
    const c = b.subarray(HDR + NAMELEN, HDR + NAMELEN + CRED_SPACE);
    expect(
      [Number(c.readBigUInt64LE(0)), c.readInt32LE(8), c.readInt32LE(12), c.readInt32LE(16)],
      'a SOL_SOCKET / SCM_CREDENTIALS cmsg with the sender’s pid',
    ).to.deep.equal([CRED_LEN, SOCKET_CONST.SOL_SOCKET.value, SCM_CREDENTIALS, v.ret(pid)]);
    const payload = b.subarray(HDR + NAMELEN + CRED_SPACE, HDR + NAMELEN + CRED_SPACE + room);
    expect(payload.equals(patternBytes(SEED, 0, room)), 'the first bytes of the payload').to.equal(true);
    expect(v.ret(cancel.enter), 'ASYNC_CANCEL submitted').to.equal(1);
    expect(v.step(ends).cqes.length, 'the cancel and the end of the multishot').to.equal(2);
  },
);
