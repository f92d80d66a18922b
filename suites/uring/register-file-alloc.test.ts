/**
 * IORING_REGISTER_FILE_ALLOC_RANGE (6.0) and IORING_FILE_INDEX_ALLOC (5.19): OPENAT and SOCKET asked to
 * install their file as a direct descriptor in a free slot the kernel picks, inside the range set.
 * Man io_uring_register(2) and io_uring_prep_openat_direct(3): the CQE's res is the slot chosen, -ENFILE when
 * none is free.
 */
import { expect } from 'chai';
import {
  AF,
  AT,
  errno,
  FILE_INDEX_RANGE_LAYOUT,
  IOSQE,
  O,
  REGISTER,
  SOCK_TYPE,
  SYSCALLS,
  URING_CONST,
} from '../../src/abi';
import { arg, Program, Sequence, StepRef } from '../../src/program/builder';
import { patternBytes } from '../../src/program/pattern';
import { encodeStruct, place } from '../../src/program/struct';
import { pwrite, scratchFile } from '../../src/program/sys';
import type { RingHandle } from '../../src/program/uring';
import { fdArray, registerFiles, requireSetup, UringRunner } from '../../src/oracle/uring-files';
import { conformance } from '../../src/suite/conformance';

const ALLOC = URING_CONST.FILE_INDEX_ALLOC.value >>> 0;

/** IORING_REGISTER_FILE_ALLOC_RANGE with a struct io_uring_file_index_range. */
function allocRange(s: Sequence, h: RingHandle, off: number, len: number, resv = 0): StepRef {
  const b = s.program.buf(FILE_INDEX_RANGE_LAYOUT.size);
  place(s, b, 0, encodeStruct(FILE_INDEX_RANGE_LAYOUT, { off, len, resv }));
  return s.syscall(SYSCALLS.io_uring_register, [arg.ring(h.ring), REGISTER.FILE_ALLOC_RANGE.value, arg.buf(b), 0]);
}

conformance(
  'uring.OPENAT and SOCKET with IORING_FILE_INDEX_ALLOC take free slots inside IORING_REGISTER_FILE_ALLOC_RANGE',
  {
    ops: ['uring.register', 'uring.OPENAT', 'uring.SOCKET', 'uring.CLOSE', 'uring.READ'],
    rule: 'man 2 io_uring_register (IORING_REGISTER_FILE_ALLOC_RANGE), man 3 io_uring_prep_openat_direct',
  },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    const { fd, step: open } = scratchFile(s, scratch, 'f');
    const data = p.buf(64);
    s.fillPattern(data, 0, 64, 0x7d01);
    const wrote = pwrite(s, fd, data, 64, 0);
    const path = p.cstr(`${scratch}/f`);
    const u = new UringRunner(s);
    const reg = registerFiles(s, u.h, [-1, -1, -1, -1, -1, -1]);
    const range = allocRange(s, u.h, 2, 2);
    const openat = () =>
      u.res({
        opcode: 'OPENAT',
        fd: AT.FDCWD.value,
        addr: arg.buf(path),
        open_flags: O.RDONLY.value,
        file_index: ALLOC,
      });
    const first = [openat(), openat()];
    const full = openat();
    const b = p.buf(64);
    const readFirst = u.res({
      opcode: 'READ',
      flags: IOSQE.FIXED_FILE.value,
      fd: 2,
      addr: arg.buf(b),
      len: 64,
      off: 0,
    });
    const dump = s.dump(b);
    // CLOSE of a direct descriptor names slot + 1 in file_index; slot 3 is then the only free one in the range
    const closed = u.res({ opcode: 'CLOSE', file_index: 4 });
    const sock = u.res({
      opcode: 'SOCKET',
      fd: AF.UNIX.value,
      off: SOCK_TYPE.STREAM.value,
      len: 0,
      file_index: ALLOC,
    });
    // errors of the range itself
    const pastTable = allocRange(s, u.h, 4, 3);
    const resv = allocRange(s, u.h, 0, 1, 1);
    const overflow = allocRange(s, u.h, 0xffffffff, 2);
    const bare = new UringRunner(s, { entries: 4 });
    const noTable = allocRange(s, bare.h, 0, 1);
    const v = await target.run(p);
    requireSetup(v, [
      { what: 'open of the file', step: open },
      { what: 'pwrite of the file', step: wrote, want: 64 },
      { what: 'IORING_REGISTER_FILES of 6 empty slots', step: reg },
    ]);
    expect(v.ret(range), 'IORING_REGISTER_FILE_ALLOC_RANGE of slots 2..3').to.equal(0);
    expect(
      first.map((r) => r(v)).sort(),
      'two OPENATs with IORING_FILE_INDEX_ALLOC return the two slots of the range',
    ).to.deep.equal([2, 3]);
    expect(full(v), 'a third: the range is full, -ENFILE').to.equal(-errno.ENFILE);
    expect(readFirst(v), 'a FIXED_FILE READ of slot 2 reads the opened file').to.equal(64);
    expect(v.step(dump).dump!.equals(patternBytes(0x7d01, 0, 64)), 'with its bytes').to.equal(true);
    expect(closed(v), 'CLOSE of direct descriptor 3').to.equal(0);
    expect(sock(v), 'SOCKET with IORING_FILE_INDEX_ALLOC gets the freed slot 3').to.equal(3);
    expect(v.ret(pastTable), 'a range past the end of the 6-slot table: -EINVAL').to.equal(-errno.EINVAL);
    expect(v.ret(resv), 'a range with resv set: -EINVAL').to.equal(-errno.EINVAL);
    expect(v.ret(overflow), 'off + len overflowing 32 bits: -EOVERFLOW').to.equal(-errno.EOVERFLOW);
    expect(v.ret(noTable), 'a range on a ring with no file table: -EINVAL').to.equal(-errno.EINVAL);
  },
);

conformance(
  'uring.FILES_UPDATE at offset IORING_FILE_INDEX_ALLOC installs fds in free slots and writes the slots back',
  { ops: ['uring.FILES_UPDATE', 'uring.READ'], rule: 'man 3 io_uring_prep_files_update (IORING_FILE_INDEX_ALLOC)' },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    const { fd, step: open } = scratchFile(s, scratch, 'f');
    const data = p.buf(64);
    s.fillPattern(data, 0, 64, 0x7d02);
    const wrote = pwrite(s, fd, data, 64, 0);
    const u = new UringRunner(s);
    const reg = registerFiles(s, u.h, [-1, -1, -1, -1]);
    const range = allocRange(s, u.h, 1, 2);
    // three fds for a two-slot range: two are installed, and the count says so
    const fds = fdArray(s, [fd, fd, fd]);
    const update = u.res({ opcode: 'FILES_UPDATE', fd: -1, addr: arg.buf(fds), len: 3, off: ALLOC });
    const written = s.dump(fds);
    const b = p.buf(64);
    const read = u.res({ opcode: 'READ', flags: IOSQE.FIXED_FILE.value, fd: 2, addr: arg.buf(b), len: 64, off: 0 });
    const dump = s.dump(b);
    const full = u.res({ opcode: 'FILES_UPDATE', fd: -1, addr: arg.buf(fdArray(s, [fd])), len: 1, off: ALLOC });
    const notOpen = u.res({ opcode: 'FILES_UPDATE', fd: -1, addr: arg.buf(fdArray(s, [9999])), len: 1, off: ALLOC });
    const bare = new UringRunner(s, { entries: 4 });
    const noTable = bare.res({ opcode: 'FILES_UPDATE', fd: -1, addr: arg.buf(fdArray(s, [fd])), len: 1, off: ALLOC });
    const v = await target.run(p);
    requireSetup(v, [
      { what: 'open of the file', step: open },
      { what: 'pwrite of the file', step: wrote, want: 64 },
      { what: 'IORING_REGISTER_FILES of 4 empty slots', step: reg },
      { what: 'IORING_REGISTER_FILE_ALLOC_RANGE of slots 1..2', step: range },
    ]);
    expect(update(v), 'FILES_UPDATE of 3 fds into a 2-slot range: 2 installed').to.equal(2);
    const w = v.step(written).dump!;
    expect(
      [w.readInt32LE(0), w.readInt32LE(4)].sort(),
      'the slots chosen are written over the first two fds',
    ).to.deep.equal([1, 2]);
    expect(read(v), 'a FIXED_FILE READ of slot 2 reads the file').to.equal(64);
    expect(v.step(dump).dump!.equals(patternBytes(0x7d02, 0, 64)), 'with its bytes').to.equal(true);
    expect(full(v), 'the range full: -ENFILE').to.equal(-errno.ENFILE);
    expect(notOpen(v), 'fd 9999 (not open): -EBADF').to.equal(-errno.EBADF);
    expect(noTable(v), 'no file table: -ENXIO').to.equal(-errno.ENXIO);
  },
);

conformance(
  'uring.OPENAT direct into an occupied slot replaces its file; IORING_FILE_INDEX_ALLOC wraps round to a slot freed before the last one taken',
  {
    ops: ['uring.register', 'uring.OPENAT', 'uring.CLOSE', 'uring.READ'],
    rule: 'man 3 io_uring_prep_openat_direct',
  },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    const names = ['a', 'b'];
    const setup = names.map((n, i) => {
      const { fd, step } = scratchFile(s, scratch, n);
      const d = p.buf(64);
      s.fillPattern(d, 0, 64, 0x7d10 + i);
      return [
        { what: `open of ${n}`, step },
        { what: `pwrite of ${n}`, step: pwrite(s, fd, d, 64, 0), want: 64 },
      ];
    });
    const paths = names.map((n) => p.cstr(`${scratch}/${n}`));
    const u = new UringRunner(s);
    const reg = registerFiles(s, u.h, [-1, -1, -1, -1]);
    const range = allocRange(s, u.h, 1, 3);
    const open = (path: number, fileIndex: number) =>
      u.res({
        opcode: 'OPENAT',
        fd: AT.FDCWD.value,
        addr: arg.buf(paths[path]),
        open_flags: O.RDONLY.value,
        file_index: fileIndex,
      });
    const readSlot = (slot: number) => {
      const b = p.buf(64);
      const r = u.res({ opcode: 'READ', flags: IOSQE.FIXED_FILE.value, fd: slot, addr: arg.buf(b), len: 64, off: 0 });
      const d = s.dump(b);
      return (v: Parameters<typeof r>[0]) => [r(v), v.step(d).dump!.equals(patternBytes(0x7d10, 0, 64)) ? 'a' : 'b'];
    };
    // file_index is slot + 1 for a chosen slot
    const first = [open(0, ALLOC), open(0, ALLOC)];
    const into3 = open(0, 4);
    const replace3 = open(1, 4);
    const read3 = readSlot(3);
    const close1 = u.res({ opcode: 'CLOSE', file_index: 2 });
    const wrapped = open(1, ALLOC);
    const v = await target.run(p);
    requireSetup(v, [
      ...setup.flat(),
      { what: 'IORING_REGISTER_FILES', step: reg },
      { what: 'FILE_ALLOC_RANGE', step: range },
    ]);
    expect(
      first.map((r) => r(v)),
      'the first two allocations',
    ).to.deep.equal([1, 2]);
    expect([into3(v), replace3(v)], 'OPENAT into slot 3, twice: 0 each time').to.deep.equal([0, 0]);
    expect(read3(v), 'slot 3 now holds the second file opened into it').to.deep.equal([64, 'b']);
    expect(close1(v), 'CLOSE of slot 1').to.equal(0);
    // the next allocation looks after slot 2, finds slot 3 taken and the range's end, and wraps round to slot 1
    expect(wrapped(v), 'an allocation with slots 2 and 3 taken gets slot 1').to.equal(1);
  },
);
