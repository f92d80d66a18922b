/** IORING_OP_UNLINKAT against unlinkat(2): files, AT_REMOVEDIR, errors, and the tree afterwards (SEMANTICS §3.2). */
import { expect } from 'chai';
import { arg } from '../../src/program/builder';
import { AT, errno, SYSCALLS } from '../../src/abi';
import { expectPathTwin, PathCase, pathTwin, str } from '../../src/oracle/uring-paths';
import { conformance } from '../../src/suite/conformance';

/** unlinkat(dir, name, flags) on one side, UNLINKAT with the same arguments on the other. */
function unlink(what: string, name: string, flags = 0, dirfd?: number): PathCase {
  return {
    what,
    sync: (s, x) => s.syscall(SYSCALLS.unlinkat, [dirfd ?? arg.fd(x.dirfd), str(s.program, name), flags]),
    async: (p, x) => ({ opcode: 'UNLINKAT', fd: dirfd ?? x.dirfd, addr: str(p, name), unlink_flags: flags }),
  };
}

conformance(
  'uring.UNLINKAT removes files and directories like unlinkat(2), errors included',
  { ops: ['uring.UNLINKAT'], rule: 'man 2 unlink' },
  async ({ target, scratch }) => {
    const R = AT.REMOVEDIR.value;
    const t = await pathTwin(target, scratch, {
      tree: [
        { file: 'f' },
        { file: 'g', size: 7 },
        { symlink: 'l', target: 'g' },
        { dir: 'e' },
        { dir: 'd' },
        { file: 'd/x' },
        { file: 'k' },
      ],
      cases: [
        unlink('unlink of a file', 'f'),
        unlink('unlink of a name already gone', 'f'),
        unlink('unlink of a symlink (not its target)', 'l'),
        unlink('AT_REMOVEDIR of an empty directory', 'e', R),
        unlink('AT_REMOVEDIR of a non-empty directory', 'd', R),
        unlink('AT_REMOVEDIR of a file', 'g', R),
        unlink('unlink of a directory without AT_REMOVEDIR', 'd'),
        unlink('unlink through a file as a directory', 'g/x'),
        unlink('flag AT_SYMLINK_NOFOLLOW, not allowed here', 'k', AT.SYMLINK_NOFOLLOW.value),
        unlink('relative path with dirfd -1', 'k', 0, -1),
        {
          what: 'path at an unmapped address',
          sync: (s, x) => s.syscall(SYSCALLS.unlinkat, [arg.fd(x.dirfd), arg.bad(), 0]),
          async: (_p, x) => ({ opcode: 'UNLINKAT', fd: x.dirfd, addr: arg.bad() }),
        },
      ],
      look: ['f', 'g', 'l', 'e', 'd', 'd/x', 'k'],
      list: ['.', 'd'],
    });
    expectPathTwin(
      t,
      {
        'unlink of a file': 0,
        'unlink of a name already gone': -errno.ENOENT,
        'unlink of a symlink (not its target)': 0,
        'AT_REMOVEDIR of an empty directory': 0,
        'AT_REMOVEDIR of a non-empty directory': -errno.ENOTEMPTY,
        'AT_REMOVEDIR of a file': -errno.ENOTDIR,
        'unlink of a directory without AT_REMOVEDIR': -errno.EISDIR,
        'unlink through a file as a directory': -errno.ENOTDIR,
        'flag AT_SYMLINK_NOFOLLOW, not allowed here': -errno.EINVAL,
        'relative path with dirfd -1': -errno.EBADF,
        'path at an unmapped address': -errno.EFAULT,
      },
      'man 2 unlink',
      'unlinkat(2)',
    );
    expect(t.async.listings['.'], 'f, l and e are gone; d, g and k stay (man 2 unlink)').to.deep.equal([
      'd:dir',
      'g:file',
      'k:file',
    ]);
  },
);
