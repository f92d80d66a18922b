/**
 * IORING_OP_MSG_RING with IORING_MSG_SEND_FD (6.0): a file in the sender's fixed file table is installed
 * in the target ring's table (a given slot, or one the kernel picks), and the target gets a CQE saying so.
 * man io_uring_prep_msg_ring_fd(3), io_uring_prep_msg_ring_fd_alloc(3).
 */
import { expect } from 'chai';
import { errno, IOSQE, MSG_RING_CMD, URING_CONST } from '../../src/abi';
import { arg, Program } from '../../src/program/builder';
import { pread, pwrite, scratchFile } from '../../src/program/sys';
import { reap, setupRing } from '../../src/program/uring';
import { registerFiles, requireSetup, UringRunner } from '../../src/oracle/uring-files';
import { flagMissing } from '../../src/oracle/uring-net';
import { conformance } from '../../src/suite/conformance';

const TEXT = Buffer.from('sent over MSG_RING');
const [UD_SLOT, UD_ALLOC] = [0xfd01n, 0xfd02n];
const SEND_FD = MSG_RING_CMD.SEND_FD.value;

conformance(
  'uring.MSG_RING SEND_FD installs a fixed file in the target ring (slot or allocated), which then reads like the original',
  {
    ops: ['uring.MSG_RING', 'uring.READ'],
    rule: 'man io_uring_prep_msg_ring_fd(3), io_uring_prep_msg_ring_fd_alloc(3)',
  },
  async ({ target, scratch, caps, skip }) => {
    const p = new Program();
    const s = p.main;
    const { fd, step: open } = scratchFile(s, scratch, 'f');
    const data = p.data(TEXT);
    const wrote = pwrite(s, fd, data, TEXT.length, 0);
    const twin = p.buf(64);
    const twinRead = pread(s, fd, twin, 64, 0);
    const twinDump = s.dump(twin);
    const a = new UringRunner(s);
    const b = new UringRunner(s);
    const regA = registerFiles(s, a.h, [fd]);
    // target: 4 empty slots, of which the first install takes slot 2
    const regB = registerFiles(s, b.h, [-1, -1, -1, -1]);
    // liburing: addr = SEND_FD, addr3 = source fixed index, file_index = target slot + 1 (or ALLOC), off = user_data
    const msg = { opcode: 'MSG_RING', fd: arg.ring(b.h.ring), addr: SEND_FD, addr3: 0 } as const;
    const toSlot = a.res({ ...msg, file_index: 2 + 1, off: UD_SLOT });
    const onBSlot = reap(s, b.h, 1, 4);
    const viaSlot = p.buf(64);
    const readSlot = b.run({
      opcode: 'READ',
      flags: IOSQE.FIXED_FILE.value,
      fd: 2,
      addr: arg.buf(viaSlot),
      len: 64,
      off: 0,
    });
    const slotDump = s.dump(viaSlot);
    const alloc = a.res({ ...msg, file_index: URING_CONST.FILE_INDEX_ALLOC.value, off: UD_ALLOC });
    const onBAlloc = [reap(s, b.h, 1, 4), reap(s, b.h, 0, 4, 0)];
    const v = await target.run(p);
    requireSetup(v, [
      { what: 'open', step: open },
      { what: 'pwrite', step: wrote, want: TEXT.length },
      { what: 'pread', step: twinRead, want: TEXT.length },
      { what: 'REGISTER_FILES on ring A', step: regA, want: 0 },
      { what: 'REGISTER_FILES (sparse) on ring B', step: regB, want: 0 },
    ]);
    const why = flagMissing(caps, MSG_RING_CMD.SEND_FD, toSlot(v));
    if (why) skip(why);
    expect(toSlot(v), 'MSG_RING SEND_FD to slot 2: the sender completes with 0').to.equal(0);
    expect(
      v.step(onBSlot).cqes.map((q) => [q.userData, q.res, q.flags]),
      'the target ring gets one CQE: the message user_data, res 0',
    ).to.deep.equal([[UD_SLOT, 0, 0]]);
    expect(readSlot(v).res, 'READ through the target ring slot 2: what pread(2) read').to.equal(TEXT.length);
    expect(
      v.step(slotDump).dump!.equals(v.step(twinDump).dump!),
      'the buffer afterwards is the one pread(2) leaves',
    ).to.equal(true);
    expect(v.step(slotDump).dump!.subarray(0, TEXT.length).equals(TEXT), 'the file content').to.equal(true);
    const slot = alloc(v);
    // "a free slot": which one is the kernel's choice (6.12 and 6.18 search on from the last one used)
    expect([0, 1, 3], 'MSG_RING SEND_FD with IORING_FILE_INDEX_ALLOC: a free slot of the 4 (2 is taken)').to.include(
      slot,
    );
    expect(
      onBAlloc.flatMap((r) => v.step(r).cqes).map((q) => [q.userData, q.res]),
      'the target ring CQE carries the allocated slot as res',
    ).to.deep.equal([[UD_ALLOC, slot]]);
  },
);

conformance(
  'uring.MSG_RING SEND_FD errors: -EBADF (no such source), -EINVAL (own ring, slot out of range), -ENXIO (no table)',
  { ops: ['uring.MSG_RING'], rule: 'man io_uring_prep_msg_ring_fd(3); io_uring/msg_ring.c, filetable.c' },
  async ({ target, scratch, caps, skip }) => {
    const p = new Program();
    const s = p.main;
    const { fd, step: open } = scratchFile(s, scratch, 'f');
    const a = new UringRunner(s);
    const b = new UringRunner(s);
    const noTable = setupRing(s, { entries: 4 });
    const regA = registerFiles(s, a.h, [fd]);
    const regB = registerFiles(s, b.h, [-1, -1]);
    const msg = { opcode: 'MSG_RING', addr: SEND_FD, addr3: 0, file_index: 1, off: 0x5eedn } as const;
    const cases = [
      {
        what: 'a source index with no file (7)',
        spec: { ...msg, fd: arg.ring(b.h.ring), addr3: 7 },
        want: -errno.EBADF,
      },
      { what: 'the sender ring itself as target', spec: { ...msg, fd: arg.ring(a.h.ring) }, want: -errno.EINVAL },
      { what: 'target slot 5 of 2', spec: { ...msg, fd: arg.ring(b.h.ring), file_index: 5 + 1 }, want: -errno.EINVAL },
      { what: 'a target with no file table', spec: { ...msg, fd: arg.ring(noTable.ring) }, want: -errno.ENXIO },
    ].map((c) => ({ ...c, res: a.res(c.spec) }));
    const nothingOnB = reap(s, b.h, 0, 4, 0);
    const v = await target.run(p);
    requireSetup(v, [
      { what: 'open', step: open },
      { what: 'io_uring_setup', step: noTable.setup },
      { what: 'REGISTER_FILES on ring A', step: regA, want: 0 },
      { what: 'REGISTER_FILES on ring B', step: regB, want: 0 },
    ]);
    const why = flagMissing(caps, MSG_RING_CMD.SEND_FD, cases[0].res(v));
    if (why) skip(why);
    for (const c of cases) expect(c.res(v), `MSG_RING SEND_FD with ${c.what}`).to.equal(c.want);
    expect(v.step(nothingOnB).cqes, 'no failed message posts a CQE on the target').to.deep.equal([]);
  },
);
