/** IORING_OP_SYMLINKAT against symlinkat(2): the target stored as given, and errors (SEMANTICS §3.2). */
import { expect } from 'chai';
import { arg } from '../../src/program/builder';
import { errno, SYSCALLS } from '../../src/abi';
import { expectPathTwin, PathCase, pathTwin, str } from '../../src/oracle/uring-paths';
import { conformance } from '../../src/suite/conformance';

/** symlinkat(target, dir, name) on one side, SYMLINKAT with the same arguments on the other. */
function symlink(what: string, linkTarget: string, name: string, dirfd?: number): PathCase {
  return {
    what,
    sync: (s, x) =>
      s.syscall(SYSCALLS.symlinkat, [str(s.program, linkTarget), dirfd ?? arg.fd(x.dirfd), str(s.program, name)]),
    async: (p, x) => ({ opcode: 'SYMLINKAT', fd: dirfd ?? x.dirfd, addr: str(p, linkTarget), addr2: str(p, name) }),
  };
}

/** A dangling target with every kind of component: stored byte for byte, never resolved. */
const DANGLING = '../nowhere/./x//y/..';

conformance(
  'uring.SYMLINKAT stores the target like symlinkat(2), errors included',
  { ops: ['uring.SYMLINKAT'], rule: 'man 2 symlink' },
  async ({ target, scratch }) => {
    const t = await pathTwin(target, scratch, {
      tree: [{ file: 'f', size: 3 }, { dir: 'd' }],
      cases: [
        symlink('symlink to f', 'f', 'l1'),
        symlink('dangling symlink', DANGLING, 'd/l2'),
        symlink('symlink over an existing file', 'f', 'f'),
        symlink('symlink with an empty target', '', 'l3'),
        symlink('symlink in a missing directory', 'f', 'missing/l4'),
        symlink('relative link path with dirfd -1', 'f', 'l5', -1),
        {
          what: 'target at an unmapped address',
          sync: (s, x) => s.syscall(SYSCALLS.symlinkat, [arg.bad(), arg.fd(x.dirfd), str(s.program, 'l6')]),
          async: (p, x) => ({ opcode: 'SYMLINKAT', fd: x.dirfd, addr: arg.bad(), addr2: str(p, 'l6') }),
        },
      ],
      look: ['f', 'l1', 'd/l2', 'l3', 'l5', 'l6'],
      list: ['.', 'd'],
    });
    expectPathTwin(
      t,
      {
        'symlink to f': 0,
        'dangling symlink': 0,
        'symlink over an existing file': -errno.EEXIST,
        'symlink with an empty target': -errno.ENOENT,
        'symlink in a missing directory': -errno.ENOENT,
        'relative link path with dirfd -1': -errno.EBADF,
        'target at an unmapped address': -errno.EFAULT,
      },
      'man 2 symlink',
      'symlinkat(2)',
    );
    expect(t.async.paths.l1, 'l1 is a symlink whose readlinkat target is "f"').to.include({
      type: 'symlink',
      link: 'f',
    });
    expect(t.async.paths['d/l2'], 'the dangling target is stored as given').to.include({
      type: 'symlink',
      link: DANGLING,
    });
    expect(t.async.paths.f.type, 'f is still the regular file').to.equal('file');
  },
);
