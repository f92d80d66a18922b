/**
 * Read paths the plain READ/READV tests leave out, each checked against its synchronous twin or the documented
 * result: READ_FIXED of /proc/self/mem (a file with ->read only, so the registered buffer is filled a segment at a
 * time) and a READ there at an unmapped address (-EIO, man 5 proc /proc/pid/mem); READV with IOSQE_BUFFER_SELECT
 * (exactly one iovec, whose length is the read length; the buffer comes from the group: man io_uring_enter(2)
 * IOSQE_BUFFER_SELECT) and with two iovecs (-EINVAL); a 16-segment READV twice on one ring (like preadv(2)); a
 * READ with an I/O priority (sqe->ioprio as ioprio_set(2) encodes it) and with an undefined class (-EINVAL).
 * SEMANTICS §3.2.
 */
import * as path from 'path';
import { expect } from 'chai';
import { CQE_F, errno, IOPRIO, IOPRIO_CLASS, IOSQE, O, SYSCALLS, URING_CONST } from '../../src/abi';
import { arg, Program } from '../../src/program/builder';
import { patternBytes } from '../../src/program/pattern';
import { iovecs } from '../../src/oracle/differential';
import { providedBuffers, provideSpec, registerBuffers, requireSetup, UringRunner } from '../../src/oracle/uring-files';
import { openat, pwrite, scratchFile } from '../../src/program/sys';
import { conformance } from '../../src/suite/conformance';

const SEED = 0x0c70;
/** An address in the first page, which is never mapped. */
const UNMAPPED = 8;

conformance(
  'uring.READ_FIXED of /proc/self/mem fills the registered buffer like pread; READ at an unmapped address is -EIO like pread',
  { ops: ['uring.READ_FIXED', 'uring.READ'], rule: 'man 5 proc /proc/pid/mem; SEMANTICS §3.2' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const { fd, step: open } = openat(s, path.posix.join('/proc/self', 'mem'), O.RDONLY.value | O.CLOEXEC.value);
    const u = new UringRunner(s, { entries: 8 });
    const src = p.buf(512, 64);
    s.fillPattern(src, 0, 512, SEED);
    const fixed = p.buf(4096, 4096);
    const reg = registerBuffers(s, u.h, [fixed]);
    const rf = u.run({
      opcode: 'READ_FIXED',
      fd,
      addr: arg.buf(fixed, 100),
      len: 300,
      off: arg.buf(src, 10),
      buf_index: 0,
    });
    const got = s.dump(fixed, 100, 300);
    // an address in the first page, never mapped (mmap_min_addr); a PROT_NONE page would be read (FOLL_FORCE)
    const sync = s.syscall(SYSCALLS.pread64, [arg.fd(fd), arg.buf(p.buf(64)), 64, UNMAPPED]);
    const bad = u.run({ opcode: 'READ', fd, addr: arg.buf(p.buf(64)), len: 64, off: UNMAPPED });
    const v = await target.run(p);
    requireSetup(v, [
      { what: 'open of /proc/self/mem', step: open },
      { what: 'IORING_REGISTER_BUFFERS', step: reg, want: 0 },
    ]);
    expect(rf(v).res, 'READ_FIXED: all 300 bytes').to.equal(300);
    expect(
      v.step(got).dump!.equals(patternBytes(SEED, 10, 300)),
      'the source bytes, in the registered buffer',
    ).to.equal(true);
    expect([bad(v).res, v.ret(sync)], 'unmapped address: -EIO, as pread returns').to.deep.equal([
      -errno.EIO,
      -errno.EIO,
    ]);
  },
);

conformance(
  'uring.READV with IOSQE_BUFFER_SELECT reads into a provided buffer up to its one iovec length; two iovecs are -EINVAL',
  { ops: ['uring.READV', 'uring.PROVIDE_BUFFERS'], rule: 'man io_uring_enter(2) IOSQE_BUFFER_SELECT; SEMANTICS §3.2' },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    const f = scratchFile(s, scratch, 'bsel');
    const src = p.buf(256);
    s.fillPattern(src, 0, 256, SEED + 1);
    const w = pwrite(s, f.fd, src, 256, 0);
    const u = new UringRunner(s, { entries: 8 });
    const pb = providedBuffers(s, 7, 40, 2, 128);
    const prov = u.run(provideSpec(pb));
    // the iovec's base is not used, its length (100) is the read length
    const one = u.run({
      opcode: 'READV',
      flags: IOSQE.BUFFER_SELECT.value,
      fd: f.fd,
      addr: arg.buf(iovecs(s, p.buf(8), [[0, 100]])),
      len: 1,
      off: 0,
      buf_group: 7,
    });
    const two = u.run({
      opcode: 'READV',
      flags: IOSQE.BUFFER_SELECT.value,
      fd: f.fd,
      addr: arg.buf(iovecs(s, p.buf(8), [[0, 50], [0, 50]])),
      len: 2,
      off: 0,
      buf_group: 7,
    });
    const mem = s.dump(pb.mem);
    const v = await target.run(p);
    requireSetup(v, [
      { what: 'open of the file', step: f.step },
      { what: 'pwrite of 256 bytes', step: w, want: 256 },
    ]);
    expect(prov(v).res, 'PROVIDE_BUFFERS of 2 buffers: 0').to.equal(0);
    const c = one(v);
    expect(c.res, 'one iovec of 100 bytes: 100 bytes read').to.equal(100);
    expect(c.flags & CQE_F.BUFFER.value, 'IORING_CQE_F_BUFFER is set').to.equal(CQE_F.BUFFER.value);
    const bid = c.flags >>> URING_CONST.CQE_BUFFER_SHIFT.value;
    expect([40, 41], 'a buffer id of the group').to.include(bid);
    const at = (bid - 40) * 128;
    expect(
      v.step(mem).dump!.subarray(at, at + 100).equals(patternBytes(SEED + 1, 0, 100)),
      'the file bytes in that buffer',
    ).to.equal(true);
    expect(two(v).res, 'two iovecs with IOSQE_BUFFER_SELECT: -EINVAL').to.equal(-errno.EINVAL);
  },
);

conformance(
  'uring.READV of 16 iovecs, twice on one ring, and READ with an I/O priority read what preadv and pread read; an undefined ioprio class is -EINVAL',
  { ops: ['uring.READV', 'uring.READ'], rule: 'man 2 preadv; man 2 ioprio_set; man io_uring_enter(2) ioprio' },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    const f = scratchFile(s, scratch, 'segs');
    const src = p.buf(4096);
    s.fillPattern(src, 0, 4096, SEED + 2);
    const w = pwrite(s, f.fd, src, 4096, 0);
    const u = new UringRunner(s, { entries: 8 });
    // 16 segments of 100 bytes each, in reverse order over the buffer
    const segs = Array.from({ length: 16 }, (_, i) => [(15 - i) * 100, 100] as const);
    const bufs = [0, 1, 2].map(() => p.buf(1600));
    const sync = s.syscall(SYSCALLS.preadv, [arg.fd(f.fd), arg.buf(iovecs(s, bufs[0], segs)), 16, 300, 0]);
    const reads = [1, 2].map((k) =>
      u.run({ opcode: 'READV', fd: f.fd, addr: arg.buf(iovecs(s, bufs[k], segs)), len: 16, off: 300 }),
    );
    const dumps = bufs.map((b) => s.dump(b));
    const CLASS = IOPRIO.CLASS_SHIFT.value;
    const pr = p.buf(512);
    const prio = u.run({
      opcode: 'READ',
      fd: f.fd,
      addr: arg.buf(pr),
      len: 512,
      off: 1000,
      ioprio: (IOPRIO_CLASS.BE.value << CLASS) | 4,
    });
    const prDump = s.dump(pr);
    const undefinedClass = u.run({
      opcode: 'READ',
      fd: f.fd,
      addr: arg.buf(p.buf(16)),
      len: 16,
      off: 0,
      ioprio: IOPRIO_CLASS.INVALID.value << CLASS,
    });
    const v = await target.run(p);
    requireSetup(v, [
      { what: 'open of the file', step: f.step },
      { what: 'pwrite of 4096 bytes', step: w, want: 4096 },
    ]);
    expect([v.ret(sync), ...reads.map((r) => r(v).res)], 'preadv and both READVs: 1600 bytes').to.deep.equal([
      1600, 1600, 1600,
    ]);
    const b = dumps.map((d) => v.step(d).dump!);
    expect([b[1].equals(b[0]), b[2].equals(b[0])], 'the same bytes in the same places as preadv').to.deep.equal([
      true,
      true,
    ]);
    expect(
      b[0].subarray(1500, 1600).equals(patternBytes(SEED + 2, 300, 100)),
      'first segment, last in memory',
    ).to.equal(true);
    expect(prio(v).res, 'READ with ioprio best-effort level 4: 512 bytes').to.equal(512);
    expect(v.step(prDump).dump!.equals(patternBytes(SEED + 2, 1000, 512)), 'the file bytes').to.equal(true);
    expect(undefinedClass(v).res, 'READ with ioprio class 7: -EINVAL').to.equal(-errno.EINVAL);
  },
);
