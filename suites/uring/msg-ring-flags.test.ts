/**
 * IORING_OP_MSG_RING data messages: IORING_MSG_RING_FLAGS_PASS (6.3) puts sqe->file_index in the target
 * CQE's flags; fields a data message does not use must be 0; a ring created disabled (IORING_SETUP_R_DISABLED)
 * takes no message (-EBADFD) until IORING_REGISTER_ENABLE_RINGS. man io_uring_prep_msg_ring(3),
 * io_uring_prep_msg_ring_cqe_flags(3), io_uring_register(2).
 */
import { expect } from 'chai';
import { errno, MSG_RING, MSG_RING_CMD, REGISTER, releasedBy, SYSCALLS } from '../../src/abi';
import { arg, Program } from '../../src/program/builder';
import { reap, setupRing } from '../../src/program/uring';
import { registerFiles, requireSetup, UringRunner } from '../../src/oracle/uring-files';
import { flagMissing } from '../../src/oracle/uring-net';
import { needSetupFlags, conformance } from '../../src/suite/conformance';
import { scratchFile } from '../../src/program/sys';

const DATA = MSG_RING_CMD.DATA.value;

conformance(
  'uring.MSG_RING with IORING_MSG_RING_FLAGS_PASS posts the CQE with sqe->file_index as its flags (6.3)',
  { ops: ['uring.MSG_RING'], rule: 'man io_uring_prep_msg_ring_cqe_flags(3)' },
  async ({ target, caps, skip }) => {
    const FLAGS = 0x5a5a_0000;
    const p = new Program();
    const s = p.main;
    const a = new UringRunner(s);
    const b = setupRing(s, { entries: 4 });
    const msg = { opcode: 'MSG_RING', fd: arg.ring(b.ring), addr: DATA, len: 77, off: 0x7a55n } as const;
    const pass = a.res({ ...msg, msg_ring_flags: MSG_RING.FLAGS_PASS.value, file_index: FLAGS });
    const onB = [reap(s, b, 1, 4), reap(s, b, 0, 4, 0)];
    const v = await target.run(p);
    requireSetup(v, [{ what: 'io_uring_setup of ring B', step: b.setup }]);
    const why = flagMissing(caps, MSG_RING.FLAGS_PASS, pass(v));
    if (why) skip(why);
    expect(pass(v), 'the sender completes with 0').to.equal(0);
    expect(
      onB.flatMap((r) => v.step(r).cqes).map((q) => [q.userData, q.res, q.flags >>> 0]),
      'ring B gets user_data from off, res from len, flags from file_index',
    ).to.deep.equal([[0x7a55n, 77, FLAGS >>> 0]]);
  },
);

conformance(
  'uring.MSG_RING data messages refuse unused fields and unknown commands with -EINVAL and post nothing',
  { ops: ['uring.MSG_RING'], rule: 'man io_uring_prep_msg_ring(3); io_uring/msg_ring.c' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const a = new UringRunner(s);
    const b = setupRing(s, { entries: 4 });
    const msg = { opcode: 'MSG_RING', fd: arg.ring(b.ring), addr: DATA, len: 1, off: 0xdan } as const;
    const cases = [
      { what: 'addr3 (a source fd) set', spec: { ...msg, addr3: 1 } },
      { what: 'file_index set without FLAGS_PASS', spec: { ...msg, file_index: 1 } },
      { what: 'an unknown msg_ring_flags bit (bit 7)', spec: { ...msg, msg_ring_flags: 1 << 7 } },
      { what: 'an unknown command (addr 9)', spec: { ...msg, addr: 9 } },
      { what: 'buf_index set', spec: { ...msg, buf_index: 1 } },
    ].map((c) => ({ ...c, res: a.res(c.spec) }));
    const ok = a.res(msg);
    const onB = [reap(s, b, 1, 4), reap(s, b, 0, 4, 0)];
    const v = await target.run(p);
    requireSetup(v, [{ what: 'io_uring_setup of ring B', step: b.setup }]);
    for (const c of cases) expect(c.res(v), `MSG_RING with ${c.what}`).to.equal(-errno.EINVAL);
    expect(ok(v), 'the plain message: 0').to.equal(0);
    expect(
      onB.flatMap((r) => v.step(r).cqes).map((q) => [q.userData, q.res]),
      'ring B holds only the plain message',
    ).to.deep.equal([[0xdan, 1]]);
  },
);

conformance(
  'uring.MSG_RING to a ring created with IORING_SETUP_R_DISABLED: -EBADFD until IORING_REGISTER_ENABLE_RINGS',
  { ops: ['uring.MSG_RING'], rule: 'man io_uring_prep_msg_ring(3); io_uring_register(2) ENABLE_RINGS' },
  async (ctx) => {
    const flags = needSetupFlags(ctx, 'R_DISABLED');
    const p = new Program();
    const s = p.main;
    const { fd, step: open } = scratchFile(s, ctx.scratch, 'f');
    const a = new UringRunner(s);
    const b = setupRing(s, { entries: 4, flags });
    const regA = registerFiles(s, a.h, [fd]);
    const msg = { opcode: 'MSG_RING', fd: arg.ring(b.ring), addr: DATA, len: 3, off: 0xd15n } as const;
    const disabled = a.res(msg);
    const sendFd = a.res({ ...msg, addr: MSG_RING_CMD.SEND_FD.value, len: 0, addr3: 0, file_index: 1 });
    const enable = s.syscall(SYSCALLS.io_uring_register, [arg.ring(b.ring), REGISTER.ENABLE_RINGS.value, 0, 0]);
    const enabled = a.res(msg);
    const onB = [reap(s, b, 1, 4), reap(s, b, 0, 4, 0)];
    const v = await ctx.target.run(p);
    requireSetup(v, [
      { what: 'open', step: open },
      { what: 'io_uring_setup of ring B', step: b.setup },
      { what: 'REGISTER_FILES on ring A', step: regA, want: 0 },
    ]);
    expect(disabled(v), 'a data message to the disabled ring: -EBADFD').to.equal(-errno.EBADFD);
    const why = flagMissing(ctx.caps, MSG_RING_CMD.SEND_FD, sendFd(v));
    // 6.1 has no R_DISABLED check on this path and answers for the missing file table (docs/KERNEL-NOTES.md)
    const sendFdWant = releasedBy('6.12', ctx.caps.kernel) ? [-errno.EBADFD] : [-errno.EBADFD, -errno.ENXIO];
    if (!why) expect(sendFdWant, 'SEND_FD to the disabled ring: -EBADFD').to.include(sendFd(v));
    expect(v.ret(enable), 'IORING_REGISTER_ENABLE_RINGS: 0').to.equal(0);
    expect(enabled(v), 'the same message once enabled: 0').to.equal(0);
    expect(
      onB.flatMap((r) => v.step(r).cqes).map((q) => [q.userData, q.res]),
      'ring B holds only the message sent after enabling',
    ).to.deep.equal([[0xd15n, 3]]);
  },
);
