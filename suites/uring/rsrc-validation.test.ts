/**
 * What IORING_REGISTER_FILES / BUFFERS (and their *2 and update forms) refuse, and what a registered buffer of
 * several pages gives READ_FIXED at an offset inside it. Man io_uring_register(2) (EBADF, EFAULT, EINVAL), the
 * kernel's buffer validation (io_uring/rsrc.c: a NULL base, more than 1 GiB, an end past 2^64 is -EOVERFLOW).
 */
import { expect } from 'chai';
import {
  errno,
  IOSQE,
  IOVEC_LAYOUT,
  REGISTER,
  RSRC_REGISTER_LAYOUT,
  RSRC_UPDATE2_LAYOUT,
  SYSCALLS,
  URING_CONST,
} from '../../src/abi';
import { arg, ArgLike, Buf, Program, Sequence, StepRef } from '../../src/program/builder';
import { patternBytes } from '../../src/program/pattern';
import { encodeStruct, place } from '../../src/program/struct';
import { pwrite, scratchFile } from '../../src/program/sys';
import type { RingHandle } from '../../src/program/uring';
import { fdArray, registerFiles, requireSetup, UringRunner } from '../../src/oracle/uring-files';
import { conformance } from '../../src/suite/conformance';

const GiB = 1 << 30;

/** IORING_REGISTER_BUFFERS of one raw iovec { base, len }. */
function registerIovec(s: Sequence, h: RingHandle, base: ArgLike, len: number | bigint): StepRef {
  const iov = s.program.buf(IOVEC_LAYOUT.size);
  place(s, iov, 0, encodeStruct(IOVEC_LAYOUT, { iov_base: base, iov_len: len }));
  return s.syscall(SYSCALLS.io_uring_register, [arg.ring(h.ring), REGISTER.BUFFERS.value, arg.buf(iov), 1]);
}

/** IORING_REGISTER_FILES2 / BUFFERS2 of `nr` entries at `data` with `tags` (0: none). */
function register2(
  s: Sequence,
  h: RingHandle,
  op: 'FILES2' | 'BUFFERS2',
  nr: number,
  data: ArgLike,
  tags: ArgLike = 0,
): StepRef {
  const b = s.program.buf(RSRC_REGISTER_LAYOUT.size);
  place(s, b, 0, encodeStruct(RSRC_REGISTER_LAYOUT, { nr, data, tags }));
  return s.syscall(SYSCALLS.io_uring_register, [
    arg.ring(h.ring),
    REGISTER[op].value,
    arg.buf(b),
    RSRC_REGISTER_LAYOUT.size,
  ]);
}

function u64s(s: Sequence, values: number[]): Buf {
  const b = s.program.buf(8 * values.length);
  values.forEach((x, i) => s.patch(b, 8 * i, 8, x));
  return b;
}

conformance(
  'uring.register FILES refuses a ring fd, a closed fd and a tag on an empty slot; FILES_UPDATE2 skips IORING_REGISTER_FILES_SKIP',
  {
    ops: ['uring.register', 'uring.READ'],
    rule: 'man 2 io_uring_register (IORING_REGISTER_FILES, IORING_REGISTER_FILES_SKIP)',
  },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    const { fd, step: open } = scratchFile(s, scratch, 'f');
    const data = p.buf(64);
    s.fillPattern(data, 0, 64, 0x7f01);
    const wrote = pwrite(s, fd, data, 64, 0);
    const other = new UringRunner(s, { entries: 4 });
    const cases = [
      { what: 'a ring fd', fds: [arg.ring(other.h.ring)], want: -errno.EBADF },
      { what: 'fd 9999 (not open)', fds: [9999], want: -errno.EBADF },
    ].map((c) => {
      const u = new UringRunner(s, { entries: 4 });
      const fds = s.program.buf(4);
      s.patch(fds, 0, 4, c.fds[0]);
      const st = s.syscall(SYSCALLS.io_uring_register, [arg.ring(u.h.ring), REGISTER.FILES.value, arg.buf(fds), 1]);
      return { ...c, st };
    });
    const t = new UringRunner(s, { entries: 4 });
    const tagOnEmpty = register2(s, t.h, 'FILES2', 2, arg.buf(fdArray(s, [fd, -1])), arg.buf(u64s(s, [1, 2])));
    const unreadable = register2(s, t.h, 'FILES2', 2, arg.bad());
    const u = new UringRunner(s);
    const reg = registerFiles(s, u.h, [fd]);
    const up = s.program.buf(RSRC_UPDATE2_LAYOUT.size);
    const skipFd = fdArray(s, [URING_CONST.REGISTER_FILES_SKIP.value]);
    place(s, up, 0, encodeStruct(RSRC_UPDATE2_LAYOUT, { offset: 0, nr: 1, data: arg.buf(skipFd) }));
    const skipped = s.syscall(SYSCALLS.io_uring_register, [
      arg.ring(u.h.ring),
      REGISTER.FILES_UPDATE2.value,
      arg.buf(up),
      RSRC_UPDATE2_LAYOUT.size,
    ]);
    const b = p.buf(64);
    const read = u.res({ opcode: 'READ', flags: IOSQE.FIXED_FILE.value, fd: 0, addr: arg.buf(b), len: 64, off: 0 });
    const dump = s.dump(b);
    const v = await target.run(p);
    requireSetup(v, [
      { what: 'open of the file', step: open },
      { what: 'pwrite of the file', step: wrote, want: 64 },
      { what: 'IORING_REGISTER_FILES', step: reg },
    ]);
    for (const c of cases) expect(v.ret(c.st), `IORING_REGISTER_FILES of ${c.what}`).to.equal(c.want);
    expect(v.ret(tagOnEmpty), 'FILES2 with a tag on an empty (-1) slot: -EINVAL').to.equal(-errno.EINVAL);
    expect(v.ret(unreadable), 'FILES2 with an fd array the kernel cannot read: -EFAULT').to.equal(-errno.EFAULT);
    expect(v.ret(skipped), 'FILES_UPDATE2 of IORING_REGISTER_FILES_SKIP counts the slot').to.equal(1);
    expect(read(v), 'and leaves it as it was: a FIXED_FILE READ still reads the file').to.equal(64);
    expect(v.step(dump).dump!.equals(patternBytes(0x7f01, 0, 64)), 'with its bytes').to.equal(true);
  },
);

conformance(
  'uring.register BUFFERS refuses a NULL base, more than 1 GiB and a range past 2^64; READ_FIXED deep inside a buffer lands there',
  {
    ops: ['uring.register', 'uring.READ_FIXED'],
    rule: 'man 2 io_uring_register (IORING_REGISTER_BUFFERS), io_uring/rsrc.c',
  },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    const { fd, step: open } = scratchFile(s, scratch, 'f');
    const data = p.buf(64);
    s.fillPattern(data, 0, 64, 0x7f02);
    const wrote = pwrite(s, fd, data, 64, 0);
    const big = p.buf(4 * 4096, 4096);
    const ring = () => new UringRunner(s, { entries: 4 }).h;
    const nul = registerIovec(s, ring(), 0, 4096);
    const huge = registerIovec(s, ring(), arg.buf(big), GiB + 1);
    const wraps = registerIovec(s, ring(), 0xfffffffffffff000n, 8192);
    const unreadable = register2(s, ring(), 'BUFFERS2', 1, arg.bad());
    const u = new UringRunner(s);
    const reg = registerIovec(s, u.h, arg.buf(big), big.size);
    // an address in the third page of the buffer: the kernel skips whole pages of it to get there
    const at = 2 * 4096 + 100;
    const read = u.res({ opcode: 'READ_FIXED', fd, addr: arg.buf(big, at), len: 64, off: 0, buf_index: 0 });
    const dump = s.dump(big, at, 64);
    const v = await target.run(p);
    requireSetup(v, [
      { what: 'open of the file', step: open },
      { what: 'pwrite of the file', step: wrote, want: 64 },
    ]);
    expect(v.ret(nul), 'an iovec with a NULL base and a length: -EFAULT').to.equal(-errno.EFAULT);
    expect(v.ret(huge), 'an iovec of 1 GiB + 1: -EFAULT').to.equal(-errno.EFAULT);
    expect(v.ret(wraps), 'an iovec whose end passes 2^64: -EOVERFLOW').to.equal(-errno.EOVERFLOW);
    expect(v.ret(unreadable), 'BUFFERS2 with an iovec array the kernel cannot read: -EFAULT').to.equal(-errno.EFAULT);
    expect(v.ret(reg), 'IORING_REGISTER_BUFFERS of 4 pages').to.equal(0);
    expect(read(v), 'READ_FIXED into the third page').to.equal(64);
    expect(v.step(dump).dump!.equals(patternBytes(0x7f02, 0, 64)), 'the bytes are where addr says').to.equal(true);
  },
);
