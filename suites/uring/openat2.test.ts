/**
 * IORING_OP_OPENAT2 (5.6) against openat2(2): sqe->addr is the path, addr2 the struct open_how and len
 * its size (man io_uring_prep_openat2); RESOLVE_* flags and the extensible-struct size rules.
 */
import * as path from 'path';
import { expect } from 'chai';
import { errno, O, OPEN_HOW_LAYOUT, RESOLVE, SYSCALLS } from '../../src/abi';
import { arg, Buf, Program, Sequence } from '../../src/program/builder';
import { patternBytes } from '../../src/program/pattern';
import { encodeStruct, FieldValue, place } from '../../src/program/struct';
import { openat, pwrite, scratchFile } from '../../src/program/sys';
import { requireSetup, UringRunner } from '../../src/oracle/uring-files';
import { conformance } from '../../src/suite/conformance';

/** A struct open_how in a buffer of `size` bytes (bytes past 24 are `tail`). */
function openHow(
  s: Sequence,
  how: { flags: FieldValue; mode?: number; resolve?: number },
  size = OPEN_HOW_LAYOUT.size,
  tail = 0,
): Buf {
  const b = s.program.buf(Math.max(size, OPEN_HOW_LAYOUT.size));
  place(s, b, 0, encodeStruct(OPEN_HOW_LAYOUT, { flags: how.flags, mode: how.mode ?? 0, resolve: how.resolve ?? 0 }));
  if (tail) s.fillByte(b, OPEN_HOW_LAYOUT.size, size - OPEN_HOW_LAYOUT.size, tail);
  return b;
}

const RDONLY = O.RDONLY.value | O.CLOEXEC.value;

conformance(
  'uring.OPENAT2 resolves paths like openat2 under RESOLVE_* flags and open_how sizes',
  { ops: ['uring.OPENAT2'], rule: 'man 2 openat2' },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    const dir = path.posix.join(scratch, 'd');
    const mk = s.syscall(SYSCALLS.mkdirat, [-100, arg.buf(p.cstr(dir)), 0o755]);
    const { fd: f, step: made } = scratchFile(s, dir, 'f');
    const data = p.buf(64);
    s.fillPattern(data, 0, 64, 0x0f60);
    const wrote = pwrite(s, f, data, 64, 0);
    const { fd: dirfd, step: openDir } = openat(s, dir, O.RDONLY.value | O.DIRECTORY.value | O.CLOEXEC.value);
    const link = s.syscall(SYSCALLS.symlinkat, [arg.buf(p.cstr('f')), arg.fd(dirfd), arg.buf(p.cstr('l'))]);
    const u = new UringRunner(s);
    const { BENEATH, IN_ROOT, NO_SYMLINKS } = RESOLVE;
    const cases: { what: string; path: string; how: Buf; size: number; want: number | 'fd' }[] = [
      {
        what: 'RESOLVE_BENEATH on a name inside the directory',
        path: 'f',
        how: openHow(s, { flags: RDONLY, resolve: BENEATH.value }),
        size: 24,
        want: 'fd',
      },
      {
        what: 'RESOLVE_BENEATH on ../d/f',
        path: '../d/f',
        how: openHow(s, { flags: RDONLY, resolve: BENEATH.value }),
        size: 24,
        want: -errno.EXDEV,
      },
      {
        what: 'RESOLVE_IN_ROOT on /f (the directory is /)',
        path: '/f',
        how: openHow(s, { flags: RDONLY, resolve: IN_ROOT.value }),
        size: 24,
        want: 'fd',
      },
      {
        what: 'RESOLVE_NO_SYMLINKS through a symlink',
        path: 'l',
        how: openHow(s, { flags: RDONLY, resolve: NO_SYMLINKS.value }),
        size: 24,
        want: -errno.ELOOP,
      },
      { what: 'a symlink without RESOLVE flags', path: 'l', how: openHow(s, { flags: RDONLY }), size: 24, want: 'fd' },
      {
        what: 'RESOLVE_BENEATH|RESOLVE_IN_ROOT together',
        path: 'f',
        how: openHow(s, { flags: RDONLY, resolve: BENEATH.value | IN_ROOT.value }),
        size: 24,
        want: -errno.EINVAL,
      },
      {
        what: 'resolve bit 0x80 (undefined)',
        path: 'f',
        how: openHow(s, { flags: RDONLY, resolve: 0x80 }),
        size: 24,
        want: -errno.EINVAL,
      },
      {
        what: 'flags bit 40 (undefined)',
        path: 'f',
        how: openHow(s, { flags: BigInt(RDONLY) | (1n << 40n) }),
        size: 24,
        want: -errno.EINVAL,
      },
      {
        what: 'a mode without O_CREAT',
        path: 'f',
        how: openHow(s, { flags: RDONLY, mode: 0o600 }),
        size: 24,
        want: -errno.EINVAL,
      },
      {
        what: 'open_how size 8 (below OPEN_HOW_SIZE_VER0)',
        path: 'f',
        how: openHow(s, { flags: RDONLY }),
        size: 8,
        want: -errno.EINVAL,
      },
      {
        what: 'open_how size 32 with a zero tail',
        path: 'f',
        how: openHow(s, { flags: RDONLY }, 32),
        size: 32,
        want: 'fd',
      },
      {
        what: 'open_how size 32 with a nonzero tail',
        path: 'f',
        how: openHow(s, { flags: RDONLY }, 32, 0xff),
        size: 32,
        want: -errno.E2BIG,
      },
    ];
    const runs = cases.map((c) => {
      const name = p.cstr(c.path);
      const syncFd = p.fd();
      const sync = s.syscall(SYSCALLS.openat2, [arg.fd(dirfd), arg.buf(name), arg.buf(c.how), c.size], { fd: syncFd });
      const id = u.nextId;
      const async = u.res({ opcode: 'OPENAT2', fd: dirfd, addr: arg.buf(name), addr2: arg.buf(c.how), len: c.size });
      // an fd from either side must read the file's bytes; the OPENAT2 one is then closed
      const back = [p.buf(64), p.buf(64)];
      const read = [
        s.syscall(SYSCALLS.pread64, [arg.fd(syncFd), arg.buf(back[0]), 64, 0]),
        s.syscall(SYSCALLS.pread64, [arg.res(id), arg.buf(back[1]), 64, 0]),
      ];
      const dumps = back.map((b) => s.dump(b));
      s.syscall(SYSCALLS.close, [arg.res(id)]);
      return { ...c, sync, async, read, dumps };
    });
    const v = await target.run(p);
    requireSetup(v, [
      { what: 'mkdirat', step: mk },
      { what: 'creation of d/f', step: made },
      { what: 'pwrite of d/f', step: wrote, want: 64 },
      { what: 'open of d', step: openDir },
      { what: 'symlinkat d/l -> f', step: link },
    ]);
    for (const c of runs) {
      const sync = v.ret(c.sync);
      const async = c.async(v);
      if (c.want === 'fd') {
        expect(sync, `openat2(2) with ${c.what} opens`).to.be.at.least(0);
        expect(async, `OPENAT2 with ${c.what} opens like openat2(2)`).to.be.at.least(0);
        for (const i of [0, 1]) {
          expect(v.ret(c.read[i]), `${c.what}: the ${i ? 'OPENAT2' : 'openat2(2)'} fd reads the file`).to.equal(64);
          expect(v.step(c.dumps[i]).dump!.equals(patternBytes(0x0f60, 0, 64)), `${c.what}: it is d/f`).to.equal(true);
        }
      } else {
        expect(sync, `openat2(2) with ${c.what}`).to.equal(c.want);
        expect(async, `OPENAT2 with ${c.what} fails like openat2(2)`).to.equal(c.want);
      }
    }
  },
);
