/**
 * IORING_OP_SEND with IOSQE_BUFFER_SELECT and no bundle (6.10): each SEND sends one whole provided buffer
 * of the group, from classic PROVIDE_BUFFERS groups and from buffer rings alike, and names it in the CQE;
 * an empty group is -ENOBUFS. man io_uring_prep_send(3), io_uring_prep_send_bundle(3) (provided buffers
 * for sends, 6.10), io_uring_prep_provide_buffers(3).
 */
import { expect } from 'chai';
import { CQE_F, errno, IOSQE, MSG, RECVSEND, SYSCALLS, URING_CONST } from '../../src/abi';
import { arg, Program } from '../../src/program/builder';
import { patternBytes } from '../../src/program/pattern';
import { providedBuffers, provideSpec, registerBufRing, UringRunner } from '../../src/oracle/uring-files';
import { expectSetup, flagMissing, socketpair } from '../../src/oracle/uring-net';
import { conformance } from '../../src/suite/conformance';

const SHIFT = URING_CONST.CQE_BUFFER_SHIFT.value;

conformance(
  'uring.SEND with IOSQE_BUFFER_SELECT sends one whole provided buffer per request, from a classic group or a ring, and names it; an empty group is -ENOBUFS',
  {
    ops: ['uring.SEND', 'uring.PROVIDE_BUFFERS', 'uring.register'],
    rule: 'man io_uring_prep_send(3) and io_uring_prep_send_bundle(3) (IOSQE_BUFFER_SELECT for sends, 6.10: the buffer is taken from the group; CQE F_BUFFER with its id); ENOBUFS when the group is empty',
  },
  async ({ target, caps, skip }) => {
    const [LEGACY, RING, SIZE, SEED] = [21, 22, 16, 0x5e1d];
    const p = new Program();
    const s = p.main;
    const u = new UringRunner(s);
    const pair = socketpair(s);
    const pb = providedBuffers(s, LEGACY, 0, 2, SIZE);
    s.fillPattern(pb.mem, 0, 2 * SIZE, SEED);
    const provide = u.res(provideSpec(pb));
    const ring = registerBufRing(s, u.h, RING, 2, SIZE);
    s.fillPattern(ring.mem, 0, 2 * SIZE, SEED, 2 * SIZE);
    const select = { opcode: 'SEND' as const, fd: pair.x, len: 0, flags: IOSQE.BUFFER_SELECT.value };
    const send = (group: number) => u.run({ ...select, buf_group: group, msg_flags: MSG.NOSIGNAL.value });
    const sends = [send(LEGACY), send(LEGACY), send(LEGACY), send(RING), send(RING), send(RING)];
    const got = p.buf(256);
    const recv = s.syscall(SYSCALLS.recvfrom, [arg.fd(pair.y), arg.buf(got), 256, MSG.DONTWAIT.value, 0, 0]);
    const dump = s.dump(got, 0, 4 * SIZE);
    const v = await target.run(p);
    expectSetup(v, [pair.step, u.h.setup, ring.reg], 'socketpair, ring and buffer ring');
    const first = sends[0](v);
    // before 6.10 SEND takes no IOSQE_BUFFER_SELECT at all: -EOPNOTSUPP (RECVSEND.BUNDLE came in the same release)
    const why = flagMissing(caps, RECVSEND.BUNDLE, first.res, -errno.EOPNOTSUPP);
    if (why) skip(why);
    expect(provide(v), 'PROVIDE_BUFFERS of two buffers').to.equal(0);
    const cqes = sends.map((c) => c(v));
    const expected = [
      ['classic', 0],
      ['classic', 1],
      ['ring', 0],
      ['ring', 1],
    ];
    const sent: Buffer[] = [];
    for (const [i, c] of [cqes[0], cqes[1], cqes[3], cqes[4]].entries()) {
      const [kind] = expected[i];
      expect(c.res, `SEND ${i + 1} from the ${kind} group: one whole buffer, ${SIZE} bytes`).to.equal(SIZE);
      expect(c.flags & CQE_F.BUFFER.value, `SEND ${i + 1}: F_BUFFER`).to.equal(CQE_F.BUFFER.value);
      const bid = c.flags >>> SHIFT;
      expect(bid, `SEND ${i + 1}: a buffer id of the group (0 or 1)`).to.be.oneOf([0, 1]);
      // the bytes sent are that buffer's: classic buffers hold pattern 0..31, ring buffers 32..63
      sent.push(patternBytes(SEED, (kind === 'ring' ? 2 * SIZE : 0) + bid * SIZE, SIZE));
    }
    expect(
      [cqes[0], cqes[1]].map((c) => c.flags >>> SHIFT).sort(),
      'the two classic SENDs use both buffers',
    ).to.deep.equal([0, 1]);
    expect(
      [cqes[3], cqes[4]].map((c) => c.flags >>> SHIFT),
      'the ring SENDs take the ring in order',
    ).to.deep.equal([0, 1]);
    expect(
      [cqes[2].res, cqes[5].res],
      'a third SEND on each emptied group: -ENOBUFS',
    ).to.deep.equal([-errno.ENOBUFS, -errno.ENOBUFS]);
    expect(v.ret(recv), 'the peer receives the four buffers').to.equal(4 * SIZE);
    expect(v.step(dump).dump!.equals(Buffer.concat(sent)), 'each buffer’s bytes, in send order').to.equal(true);
  },
);
