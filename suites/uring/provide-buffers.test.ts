/**
 * IORING_OP_PROVIDE_BUFFERS / REMOVE_BUFFERS (5.7) and IOSQE_BUFFER_SELECT: a READ picks a provided
 * buffer, names it in cqe->flags (IORING_CQE_F_BUFFER, id << IORING_CQE_BUFFER_SHIFT) and holds what
 * pread(2) reads (SEMANTICS §3.3, §3.4).
 */
import { expect } from 'chai';
import { CQE_F, errno, IOSQE, URING_CONST } from '../../src/abi';
import { Program } from '../../src/program/builder';
import { pread, pwrite, scratchFile } from '../../src/program/sys';
import { providedBuffers, provideSpec, requireSetup, UringRunner } from '../../src/oracle/uring-files';
import { conformance } from '../../src/suite/conformance';

const SHIFT = URING_CONST.CQE_BUFFER_SHIFT.value;
const SELECT = IOSQE.BUFFER_SELECT.value;

conformance(
  'uring.READ with IOSQE_BUFFER_SELECT fills a provided buffer, reports its id, and -ENOBUFS once the group is empty',
  { ops: ['uring.PROVIDE_BUFFERS', 'uring.REMOVE_BUFFERS', 'uring.READ'], rule: 'SEMANTICS §3.3' },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    const { fd, step: open } = scratchFile(s, scratch, 'f');
    const data = p.buf(256);
    s.fillPattern(data, 0, 256, 0x0f80);
    const wrote = pwrite(s, fd, data, 256, 0);
    // the twin: pread of the same ranges into a plain buffer
    const twin = p.buf(128);
    const twinRead = [pread(s, fd, twin, 64, 0, 0), pread(s, fd, twin, 64, 64, 64)];
    const twinDump = s.dump(twin);
    const u = new UringRunner(s);
    const pb = providedBuffers(s, 7, 10, 4, 64);
    const provide = u.res(provideSpec(pb));
    const read = (off: number, group = pb.group) =>
      u.run({ opcode: 'READ', flags: SELECT, fd, buf_group: group, len: 64, off });
    const reads = [read(0), read(64)];
    const mem = s.dump(pb.mem);
    const remove = u.res({ opcode: 'REMOVE_BUFFERS', fd: 10, buf_group: pb.group });
    const empty = read(128);
    const removeEmpty = u.res({ opcode: 'REMOVE_BUFFERS', fd: 1, buf_group: pb.group });
    const never = read(0, 99);
    const removeNever = u.res({ opcode: 'REMOVE_BUFFERS', fd: 1, buf_group: 99 });
    const v = await target.run(p);
    requireSetup(v, [
      { what: 'open', step: open },
      { what: 'pwrite', step: wrote, want: 256 },
      ...twinRead.map((step) => ({ what: 'pread', step, want: 64 })),
    ]);
    expect(provide(v), 'PROVIDE_BUFFERS of 4 buffers: 0').to.equal(0);
    const ids: number[] = [];
    for (const [i, r] of reads.entries()) {
      const c = r(v);
      expect(c.res, `READ ${i} with BUFFER_SELECT reads 64 bytes like pread(2)`).to.equal(64);
      expect(c.flags & CQE_F.BUFFER.value, `READ ${i}: IORING_CQE_F_BUFFER is set (SEMANTICS §3.3)`).to.equal(
        CQE_F.BUFFER.value,
      );
      const id = c.flags >>> SHIFT;
      expect(id, `READ ${i}: the buffer id is one of those provided, 10..13`).to.be.within(10, 13);
      const got = v.step(mem).dump!.subarray((id - 10) * 64, (id - 9) * 64);
      expect(
        got.equals(v.step(twinDump).dump!.subarray(i * 64, (i + 1) * 64)),
        `READ ${i}: buffer ${id} holds what pread(2) read`,
      ).to.equal(true);
      ids.push(id);
    }
    expect(ids[0], 'each READ takes its own buffer').to.not.equal(ids[1]);
    expect(remove(v), 'REMOVE_BUFFERS of up to 10 removes the 2 left and returns 2').to.equal(2);
    expect(empty(v).res, 'READ with BUFFER_SELECT on the emptied group: -ENOBUFS').to.equal(-errno.ENOBUFS);
    expect(empty(v).flags & CQE_F.BUFFER.value, 'no buffer reported with -ENOBUFS').to.equal(0);
    // the emptied group still exists: nothing to remove is 0, not -ENOENT (measured on 6.1, 6.12, 6.18)
    expect(removeEmpty(v), 'REMOVE_BUFFERS of the emptied group removes nothing: 0').to.equal(0);
    expect(removeNever(v), 'REMOVE_BUFFERS of a group never provided: -ENOENT').to.equal(-errno.ENOENT);
    expect(never(v).res, 'READ with BUFFER_SELECT on a group never provided: -ENOBUFS').to.equal(-errno.ENOBUFS);
  },
);

conformance(
  'uring.PROVIDE_BUFFERS and REMOVE_BUFFERS reject a count of 0; IOSQE_BUFFER_SELECT on FSYNC is -EOPNOTSUPP',
  { ops: ['uring.PROVIDE_BUFFERS', 'uring.REMOVE_BUFFERS', 'uring.FSYNC'], rule: 'SEMANTICS §3.4' },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    const { fd, step: open } = scratchFile(s, scratch, 'f');
    const u = new UringRunner(s);
    const pb = providedBuffers(s, 2, 0, 4, 64);
    const cases = [
      // io_provide_buffers_prep: a count of 0 (or above the id space) is -E2BIG; remove's is -EINVAL
      { what: 'PROVIDE_BUFFERS of 0 buffers', res: u.res({ ...provideSpec(pb), fd: 0 }), want: -errno.E2BIG },
      {
        what: 'REMOVE_BUFFERS of 0 buffers',
        res: u.res({ opcode: 'REMOVE_BUFFERS', fd: 0, buf_group: 2 }),
        want: -errno.EINVAL,
      },
      {
        what: 'FSYNC with IOSQE_BUFFER_SELECT',
        res: u.res({ opcode: 'FSYNC', flags: SELECT, fd, buf_group: 2 }),
        want: -errno.EOPNOTSUPP,
      },
    ];
    const v = await target.run(p);
    requireSetup(v, [{ what: 'open', step: open }]);
    for (const c of cases) expect(c.res(v), c.what).to.equal(c.want);
  },
);
