/**
 * IORING_OP_MSG_RING from another thread to a ring set up with IORING_SETUP_SINGLE_ISSUER |
 * IORING_SETUP_DEFER_TASKRUN: only the target's own task may post its CQEs, so the kernel hands the message
 * to that task (6.1 still posts directly); what the target sees must not change: the data CQE, and the file installed
 * with SEND_FD with its CQE, once the target task waits for completions. man io_uring_prep_msg_ring(3),
 * io_uring_prep_msg_ring_fd(3), io_uring_setup(2) IORING_SETUP_DEFER_TASKRUN.
 */
import { expect } from 'chai';
import { IOSQE, MSG_RING_CMD } from '../../src/abi';
import { arg, Program } from '../../src/program/builder';
import { pread, pwrite, scratchFile } from '../../src/program/sys';
import { reap, setupRing, sqe, submit } from '../../src/program/uring';
import { registerFiles, requireSetup, UringRunner } from '../../src/oracle/uring-files';
import { byUserData, flagMissing } from '../../src/oracle/uring-net';
import { conformance, needSetupFlags } from '../../src/suite/conformance';

const TEXT = Buffer.from('posted by another thread');
const [DATA_UD, FD_UD, SENT_DATA, SENT_FD] = [0x7e01n, 0x7e02n, 0x7e11n, 0x7e12n];

conformance(
  'uring.MSG_RING from another thread to a DEFER_TASKRUN ring: the data CQE and the SEND_FD file arrive when it waits',
  {
    ops: ['uring.MSG_RING', 'uring.READ'],
    rule: 'man io_uring_prep_msg_ring(3), io_uring_prep_msg_ring_fd(3); io_uring_setup(2) DEFER_TASKRUN',
  },
  async (ctx) => {
    const flags = needSetupFlags(ctx, 'SINGLE_ISSUER', 'DEFER_TASKRUN');
    const p = new Program();
    const s = p.main;
    const { fd, step: open } = scratchFile(s, ctx.scratch, 'f');
    const data = p.data(TEXT);
    const wrote = pwrite(s, fd, data, TEXT.length, 0);
    const a = setupRing(s, { entries: 8 });
    const b = new UringRunner(s, { flags });
    const regA = registerFiles(s, a, [fd]);
    const regB = registerFiles(s, b.h, [-1, -1]);
    // another thread sends both messages on ring A and does not wait: the SEND_FD may complete only
    // once ring B's task has installed the file
    const t = p.seq();
    const sub = submit(t, a, [
      sqe({
        opcode: 'MSG_RING',
        fd: arg.ring(b.h.ring),
        addr: MSG_RING_CMD.DATA.value,
        len: 5,
        off: DATA_UD,
        user_data: SENT_DATA,
      }),
      sqe({
        opcode: 'MSG_RING',
        fd: arg.ring(b.h.ring),
        addr: MSG_RING_CMD.SEND_FD.value,
        addr3: 0,
        file_index: 1 + 1,
        off: FD_UD,
        user_data: SENT_FD,
      }),
    ]);
    const join = s.threads([t], 5000);
    // ring B's own task waits: the messages are delivered
    const onB = [reap(s, b.h, 2, 4), reap(s, b.h, 0, 4, 0)];
    const onA = [reap(s, a, 2, 4), reap(s, a, 0, 4, 0)];
    const got = p.buf(64);
    const read = b.run({ opcode: 'READ', flags: IOSQE.FIXED_FILE.value, fd: 1, addr: arg.buf(got), len: 64, off: 0 });
    const gotDump = s.dump(got);
    const twin = p.buf(64);
    const twinRead = pread(s, fd, twin, 64, 0);
    const twinDump = s.dump(twin);
    const v = await ctx.target.run(p);
    requireSetup(v, [
      { what: 'open', step: open },
      { what: 'pwrite', step: wrote, want: TEXT.length },
      { what: 'io_uring_setup of ring A', step: a.setup },
      { what: 'REGISTER_FILES on ring A', step: regA, want: 0 },
      { what: 'REGISTER_FILES on ring B', step: regB, want: 0 },
      { what: 'pread', step: twinRead, want: TEXT.length },
    ]);
    expect(v.ret(join), 'the sending thread ran').to.equal(1);
    expect(v.ret(sub.enter), 'both MSG_RINGs submitted from the other thread').to.equal(2);
    const sent = byUserData(onA.flatMap((r) => v.step(r).cqes));
    const why = flagMissing(ctx.caps, MSG_RING_CMD.SEND_FD, sent.find((x) => x[0] === SENT_FD)?.[1]);
    if (why) ctx.skip(why);
    expect(sent, 'ring A: both messages succeed').to.deep.equal([
      [SENT_DATA, 0],
      [SENT_FD, 0],
    ]);
    expect(
      byUserData(onB.flatMap((r) => v.step(r).cqes)),
      'ring B: the data CQE (res from len) and the SEND_FD CQE (res 0)',
    ).to.deep.equal([
      [DATA_UD, 5],
      [FD_UD, 0],
    ]);
    expect(read(v).res, 'READ through ring B slot 1: what pread(2) read').to.equal(TEXT.length);
    expect(v.step(gotDump).dump!.equals(v.step(twinDump).dump!), 'the same bytes').to.equal(true);
  },
);
