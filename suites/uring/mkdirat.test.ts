/** IORING_OP_MKDIRAT against mkdirat(2): the mode modulo umask, and errors (SEMANTICS §3.2). */
import { expect } from 'chai';
import { arg } from '../../src/program/builder';
import { errno, SYSCALLS } from '../../src/abi';
import { expectPathTwin, PathCase, pathTwin, str } from '../../src/oracle/uring-paths';
import { conformance } from '../../src/suite/conformance';
import { Program } from '../../src/program/builder';
import { readSmallFile } from '../../src/program/sys';
import type { Target } from '../../src/target/target';

/** mkdirat(dir, name, mode) on one side, MKDIRAT with the same arguments on the other. */
function mkdir(what: string, name: string, mode: number, dirfd?: number): PathCase {
  return {
    what,
    sync: (s, x) => s.syscall(SYSCALLS.mkdirat, [dirfd ?? arg.fd(x.dirfd), str(s.program, name), mode]),
    async: (p, x) => ({ opcode: 'MKDIRAT', fd: dirfd ?? x.dirfd, addr: str(p, name), len: mode }),
  };
}

/** The executor's umask, from /proc/self/status (both calls run under it). */
async function umaskOf(target: Target): Promise<number> {
  const p = new Program();
  const r = readSmallFile(p.main, '/proc/self/status', 4096);
  const v = await target.run(p);
  const text = v.step(r.dump).dump!.toString('utf8', 0, Math.max(0, v.ret(r.read)));
  const m = /^Umask:\s*([0-7]+)$/m.exec(text);
  if (!m) throw new Error('no Umask line in /proc/self/status');
  return parseInt(m[1], 8);
}

conformance(
  'uring.MKDIRAT creates directories like mkdirat(2), mode modulo umask, errors included',
  { ops: ['uring.MKDIRAT'], rule: 'man 2 mkdir' },
  async ({ target, scratch }) => {
    const umask = await umaskOf(target);
    const t = await pathTwin(target, scratch, {
      tree: [{ file: 'f' }, { dir: 'd' }],
      cases: [
        mkdir('mkdir mode 0777', 'n', 0o777),
        mkdir('mkdir mode 01750 (sticky)', 'm', 0o1750),
        mkdir('mkdir mode 0', 'z', 0),
        mkdir('mkdir of an existing directory', 'd', 0o755),
        mkdir('mkdir of an existing file', 'f', 0o755),
        mkdir('mkdir in a missing parent', 'missing/x', 0o755),
        mkdir('mkdir below a file', 'f/x', 0o755),
        mkdir('relative path with dirfd -1', 'q', 0o755, -1),
        {
          what: 'path at an unmapped address',
          sync: (s, x) => s.syscall(SYSCALLS.mkdirat, [arg.fd(x.dirfd), arg.bad(), 0o755]),
          async: (_p, x) => ({ opcode: 'MKDIRAT', fd: x.dirfd, addr: arg.bad(), len: 0o755 }),
        },
      ],
      look: ['n', 'm', 'z', 'd', 'f', 'q'],
    });
    expectPathTwin(
      t,
      {
        'mkdir mode 0777': 0,
        'mkdir mode 01750 (sticky)': 0,
        'mkdir mode 0': 0,
        'mkdir of an existing directory': -errno.EEXIST,
        'mkdir of an existing file': -errno.EEXIST,
        'mkdir in a missing parent': -errno.ENOENT,
        'mkdir below a file': -errno.ENOTDIR,
        'relative path with dirfd -1': -errno.EBADF,
        'path at an unmapped address': -errno.EFAULT,
      },
      'man 2 mkdir',
      'mkdirat(2)',
    );
    const perm = (name: string) => t.async.paths[name].perm;
    expect(perm('n'), `mode 0777 & ~umask 0${umask.toString(8)} (man 2 mkdir)`).to.equal(0o777 & ~umask);
    expect(perm('m'), `mode 01750 & ~umask 0${umask.toString(8)}: the sticky bit is kept`).to.equal(0o1750 & ~umask);
    expect(perm('z'), 'mode 0').to.equal(0);
  },
);
