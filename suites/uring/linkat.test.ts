/** IORING_OP_LINKAT against linkat(2): link counts, AT_SYMLINK_FOLLOW, and errors (SEMANTICS §3.2). */
import { expect } from 'chai';
import { arg } from '../../src/program/builder';
import { AT, errno, SYSCALLS } from '../../src/abi';
import { expectPathTwin, PathCase, pathTwin, str, twoPathCase } from '../../src/oracle/uring-paths';
import { conformance } from '../../src/suite/conformance';

/** linkat(dir, from, dir, to, flags) on one side, LINKAT with the same arguments on the other. */
const link = (what: string, from: string, to: string, flags = 0, dirfd?: number): PathCase =>
  twoPathCase(SYSCALLS.linkat, 'LINKAT', 'hardlink_flags', what, from, to, flags, dirfd);

conformance(
  'uring.LINKAT makes hard links like linkat(2), errors included',
  { ops: ['uring.LINKAT'], rule: 'man 2 link' },
  async ({ target, scratch }) => {
    const t = await pathTwin(target, scratch, {
      tree: [{ file: 'f', size: 5 }, { file: 'g' }, { symlink: 'l', target: 'f' }, { dir: 'd' }],
      cases: [
        link('link f to h', 'f', 'h'),
        link('link onto an existing name', 'f', 'g'),
        link('link of a missing name', 'missing', 'm'),
        link('link of a directory', 'd', 'dd'),
        link('link of the symlink itself', 'l', 'ls'),
        link('link through the symlink with AT_SYMLINK_FOLLOW', 'l', 'lf', AT.SYMLINK_FOLLOW.value),
        link('flag AT_REMOVEDIR, not allowed here', 'f', 'x', AT.REMOVEDIR.value),
        link('relative path with dirfd -1', 'f', 'y', 0, -1),
        {
          what: 'new path at an unmapped address',
          sync: (s, x) =>
            s.syscall(SYSCALLS.linkat, [arg.fd(x.dirfd), str(s.program, 'f'), arg.fd(x.dirfd), arg.bad(), 0]),
          async: (p, x) => ({
            opcode: 'LINKAT',
            fd: x.dirfd,
            addr: str(p, 'f'),
            len: arg.fd(x.dirfd),
            addr2: arg.bad(),
          }),
        },
      ],
      look: ['f', 'h', 'g', 'l', 'ls', 'lf', 'd', 'dd', 'm', 'x', 'y'],
    });
    expectPathTwin(
      t,
      {
        'link f to h': 0,
        'link onto an existing name': -errno.EEXIST,
        'link of a missing name': -errno.ENOENT,
        'link of a directory': -errno.EPERM,
        'link of the symlink itself': 0,
        'link through the symlink with AT_SYMLINK_FOLLOW': 0,
        'flag AT_REMOVEDIR, not allowed here': -errno.EINVAL,
        'relative path with dirfd -1': -errno.EBADF,
        'new path at an unmapped address': -errno.EFAULT,
      },
      'man 2 link',
      'linkat(2)',
    );
    const P = t.async.paths;
    expect(P.h.inode, 'h is the same inode as f').to.equal(P.f.inode);
    expect(P.lf.inode, 'AT_SYMLINK_FOLLOW linked the target f, not the symlink').to.equal(P.f.inode);
    expect(P.f.nlink, 'f has three names: f, h, lf').to.equal(3);
    expect(P.ls, 'without AT_SYMLINK_FOLLOW the symlink itself is linked').to.include({
      type: 'symlink',
      link: 'f',
      nlink: 2,
    });
  },
);
