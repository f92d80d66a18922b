/**
 * IORING_OP_STATX (5.6) against statx(2): sqe->fd is the dirfd, addr the path, statx_flags the flags,
 * len the mask and addr2 the struct statx (SEMANTICS §3.2).
 */
import * as path from 'path';
import { expect } from 'chai';
import { AT, errno, STATX, STATX_LAYOUT, SYSCALLS } from '../../src/abi';
import { arg, ArgLike, Buf, Fd, Program } from '../../src/program/builder';
import { pwrite, scratchFile } from '../../src/program/sys';
import { requireSetup, UringRunner } from '../../src/oracle/uring-files';
import { conformance } from '../../src/suite/conformance';

/** struct statx without stx_atime: reading a path may touch it between the two calls. */
function withoutAtime(b: Buffer): Buffer {
  const c = Buffer.from(b);
  c.fill(0, STATX_LAYOUT.fields.stx_atime.offset, STATX_LAYOUT.fields.stx_atime.offset + 16);
  return c;
}

conformance(
  'uring.STATX fills the same struct statx as statx for paths, symlinks and AT_EMPTY_PATH on an fd',
  { ops: ['uring.STATX'], rule: 'man 2 statx' },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    const file = path.posix.join(scratch, 'f');
    const { fd, step: made } = scratchFile(s, scratch, 'f');
    const data = p.buf(1000);
    s.fillPattern(data, 0, 1000, 0x0f70);
    const wrote = pwrite(s, fd, data, 1000, 0);
    const link = path.posix.join(scratch, 'l');
    const mkLink = s.syscall(SYSCALLS.symlinkat, [arg.buf(p.cstr('f')), AT.FDCWD.value, arg.buf(p.cstr(link))]);
    const u = new UringRunner(s);
    const all = STATX.BASIC_STATS.value | STATX.BTIME.value;
    const cases: { what: string; dirfd: ArgLike | Fd; path: string; flags: number; mask: number }[] = [
      { what: 'a path, STATX_BASIC_STATS|STATX_BTIME', dirfd: AT.FDCWD.value, path: file, flags: 0, mask: all },
      { what: 'a path, STATX_SIZE only', dirfd: AT.FDCWD.value, path: file, flags: 0, mask: STATX.SIZE.value },
      { what: 'a symlink, followed', dirfd: AT.FDCWD.value, path: link, flags: 0, mask: all },
      {
        what: 'a symlink with AT_SYMLINK_NOFOLLOW',
        dirfd: AT.FDCWD.value,
        path: link,
        flags: AT.SYMLINK_NOFOLLOW.value,
        mask: all,
      },
      { what: 'an fd with AT_EMPTY_PATH', dirfd: fd, path: '', flags: AT.EMPTY_PATH.value, mask: all },
      { what: 'a missing path', dirfd: AT.FDCWD.value, path: `${file}-missing`, flags: 0, mask: all },
      { what: 'mask STATX__RESERVED', dirfd: AT.FDCWD.value, path: file, flags: 0, mask: STATX._RESERVED.value },
      { what: 'flags 0x80000000 (undefined)', dirfd: AT.FDCWD.value, path: file, flags: 0x80000000, mask: all },
      {
        what: 'AT_STATX_FORCE_SYNC|AT_STATX_DONT_SYNC',
        dirfd: AT.FDCWD.value,
        path: file,
        flags: AT.STATX_SYNC_TYPE.value,
        mask: all,
      },
    ];
    const runs = cases.map((c) => {
      const name = p.cstr(c.path);
      const dirfd =
        typeof c.dirfd === 'object' && 'kind' in c.dirfd && c.dirfd.kind === 'fd'
          ? arg.fd(c.dirfd)
          : (c.dirfd as ArgLike);
      const bufs: Buf[] = [p.buf(STATX_LAYOUT.size), p.buf(STATX_LAYOUT.size)];
      const sync = s.syscall(SYSCALLS.statx, [dirfd, arg.buf(name), c.flags, c.mask, arg.buf(bufs[0])]);
      const async = u.res({
        opcode: 'STATX',
        fd: c.dirfd as Fd,
        addr: arg.buf(name),
        statx_flags: c.flags,
        len: c.mask,
        addr2: arg.buf(bufs[1]),
      });
      return { ...c, sync, async, dumps: bufs.map((b) => s.dump(b)) };
    });
    const badPath = [
      s.syscall(SYSCALLS.statx, [AT.FDCWD.value, arg.bad(), 0, all, arg.buf(p.buf(STATX_LAYOUT.size))]),
      u.res({
        opcode: 'STATX',
        fd: AT.FDCWD.value,
        addr: arg.bad(),
        len: all,
        addr2: arg.buf(p.buf(STATX_LAYOUT.size)),
      }),
    ] as const;
    const v = await target.run(p);
    requireSetup(v, [
      { what: 'creation of f', step: made },
      { what: 'pwrite of f', step: wrote, want: 1000 },
      { what: 'symlinkat', step: mkLink },
    ]);
    for (const c of runs) {
      const res = c.async(v);
      expect(res, `STATX of ${c.what} returns what statx(2) returns (man 2 statx)`).to.equal(v.ret(c.sync));
      if (res !== 0) continue;
      const [a, b] = c.dumps.map((d) => withoutAtime(v.step(d).dump!));
      expect(b.toString('hex'), `STATX of ${c.what}: the same struct statx, stx_atime aside`).to.equal(
        a.toString('hex'),
      );
    }
    const errs = Object.fromEntries(runs.filter((c) => v.ret(c.sync) < 0).map((c) => [c.what, v.ret(c.sync)]));
    expect(errs, 'the error cases fail as statx(2) documents').to.deep.equal({
      'a missing path': -errno.ENOENT,
      'mask STATX__RESERVED': -errno.EINVAL,
      'flags 0x80000000 (undefined)': -errno.EINVAL,
      'AT_STATX_FORCE_SYNC|AT_STATX_DONT_SYNC': -errno.EINVAL,
    });
    expect([v.ret(badPath[0]), badPath[1](v)], 'statx(2) and STATX of an unreadable path: -EFAULT').to.deep.equal([
      -errno.EFAULT,
      -errno.EFAULT,
    ]);
  },
);
