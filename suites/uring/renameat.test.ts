/** IORING_OP_RENAMEAT against renameat2(2): renames, flags and errors, and the tree afterwards (SEMANTICS §3.2). */
import { expect } from 'chai';
import { arg } from '../../src/program/builder';
import { errno, RENAME, SYSCALLS } from '../../src/abi';
import { expectPathTwin, PathCase, pathTwin, str, twoPathCase } from '../../src/oracle/uring-paths';
import { conformance } from '../../src/suite/conformance';

/** A rename flag no kernel defines (above RENAME_WHITEOUT). */
const UNDEFINED_RENAME_FLAG = 1 << 7;

/** renameat2(dir, from, dir, to, flags) on one side, RENAMEAT with the same arguments on the other. */
const rename = (what: string, from: string, to: string, flags = 0, dirfd?: number): PathCase =>
  twoPathCase(SYSCALLS.renameat2, 'RENAMEAT', 'rename_flags', what, from, to, flags, dirfd);

conformance(
  'uring.RENAMEAT renames like renameat2(2), flags and errors included',
  { ops: ['uring.RENAMEAT'], rule: 'man 2 rename' },
  async ({ target, scratch }) => {
    const t = await pathTwin(target, scratch, {
      // sizes tell the files apart after the exchange and the replacing rename
      tree: [
        { file: 'a', size: 10 },
        { file: 'b', size: 20 },
        { file: 'c', size: 30 },
        { dir: 'd' },
        { file: 'd/x' },
        { dir: 'e' },
      ],
      cases: [
        rename('rename a to a2', 'a', 'a2'),
        rename('rename of a missing source', 'missing', 'z'),
        rename('RENAME_NOREPLACE onto an existing b', 'a2', 'b', RENAME.NOREPLACE.value),
        rename('RENAME_EXCHANGE of a2 and b', 'a2', 'b', RENAME.EXCHANGE.value),
        rename('RENAME_EXCHANGE with a missing target', 'a2', 'missing', RENAME.EXCHANGE.value),
        rename('rename c over b (replaces it)', 'c', 'b'),
        rename('RENAME_NOREPLACE | RENAME_EXCHANGE', 'a2', 'b', RENAME.NOREPLACE.value | RENAME.EXCHANGE.value),
        rename(`undefined flag 0x${UNDEFINED_RENAME_FLAG.toString(16)}`, 'a2', 'y', UNDEFINED_RENAME_FLAG),
        rename('rename of the empty directory e over the non-empty d', 'e', 'd', 0),
        rename('rename of a file over a directory', 'b', 'e', 0),
        rename('relative path with dirfd -1', 'a2', 'y', 0, -1),
        {
          what: 'old path at an unmapped address',
          sync: (s, x) =>
            s.syscall(SYSCALLS.renameat2, [arg.fd(x.dirfd), arg.bad(), arg.fd(x.dirfd), str(s.program, 'y'), 0]),
          async: (p, x) => ({
            opcode: 'RENAMEAT',
            fd: x.dirfd,
            addr: arg.bad(),
            len: arg.fd(x.dirfd),
            addr2: str(p, 'y'),
          }),
        },
      ],
      look: ['a', 'a2', 'b', 'c', 'd', 'd/x', 'e', 'y', 'z'],
      list: ['.', 'd', 'e'],
    });
    expectPathTwin(
      t,
      {
        'rename a to a2': 0,
        'rename of a missing source': -errno.ENOENT,
        'RENAME_NOREPLACE onto an existing b': -errno.EEXIST,
        'RENAME_EXCHANGE of a2 and b': 0,
        'RENAME_EXCHANGE with a missing target': -errno.ENOENT,
        'rename c over b (replaces it)': 0,
        'RENAME_NOREPLACE | RENAME_EXCHANGE': -errno.EINVAL,
        [`undefined flag 0x${UNDEFINED_RENAME_FLAG.toString(16)}`]: -errno.EINVAL,
        'rename of the empty directory e over the non-empty d': -errno.ENOTEMPTY,
        'rename of a file over a directory': -errno.EISDIR,
        'relative path with dirfd -1': -errno.EBADF,
        'old path at an unmapped address': -errno.EFAULT,
      },
      'man 2 rename',
      'renameat2(2)',
    );
    expect(t.async.listings['.'], 'a became a2 and c replaced b (man 2 rename)').to.deep.equal([
      'a2:file',
      'b:file',
      'd:dir',
      'e:dir',
    ]);
    expect(t.async.paths.a2.size, 'a2 holds the old b after the exchange (RENAME_EXCHANGE)').to.equal(20);
    expect(t.async.paths.b.size, 'b holds the old c after the replacing rename').to.equal(30);
  },
);
