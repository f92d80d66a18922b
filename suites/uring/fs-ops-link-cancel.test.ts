/**
 * The path operations (MKDIRAT, UNLINKAT, RENAMEAT, LINKAT, SYMLINKAT) copy their paths in at submission; when
 * a link they sit in fails before they run, each completes with -ECANCELED and does nothing (SEMANTICS §3.10
 * "Links"; man io_uring_enter(2) IOSQE_IO_LINK). A path that cannot be read, in either position, fails the
 * SQE with -EFAULT like the syscall (man 2 renameat2, man 2 link, man 2 symlink: EFAULT).
 */
import { expect } from 'chai';
import * as path from 'path';
import { AT, errno, IOSQE, O, SYSCALLS } from '../../src/abi';
import { arg, Program } from '../../src/program/builder';
import { openat, scratchFile } from '../../src/program/sys';
import { reap, setupRing, sqe, submit } from '../../src/program/uring';
import { requireSetup } from '../../src/oracle/uring-files';
import { conformance } from '../../src/suite/conformance';

const LINK = IOSQE.IO_LINK.value;

conformance(
  'uring path operations linked behind a failing request complete with -ECANCELED and leave the directory as it was',
  {
    ops: ['uring.READ', 'uring.MKDIRAT', 'uring.UNLINKAT', 'uring.RENAMEAT', 'uring.LINKAT', 'uring.SYMLINKAT'],
    rule: 'SEMANTICS §3.10 Links; man io_uring_enter(2) IOSQE_IO_LINK',
  },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    const { step: made } = scratchFile(s, scratch, 'a');
    const at = (name: string) => arg.buf(p.cstr(path.posix.join(scratch, name)));
    const h = setupRing(s, { entries: 8 });
    const fdcwd = AT.FDCWD.value;
    // the head reads from fd -1: -EBADF at issue, after every member of the link was prepared
    const chain = [
      sqe({ opcode: 'READ', flags: LINK, fd: -1, addr: arg.buf(p.buf(8)), len: 8, user_data: 1 }),
      sqe({ opcode: 'MKDIRAT', flags: LINK, fd: fdcwd, addr: at('d'), len: 0o755, user_data: 2 }),
      sqe({ opcode: 'UNLINKAT', flags: LINK, fd: fdcwd, addr: at('a'), user_data: 3 }),
      sqe({ opcode: 'RENAMEAT', flags: LINK, fd: fdcwd, addr: at('a'), len: fdcwd, addr2: at('b'), user_data: 4 }),
      sqe({ opcode: 'LINKAT', flags: LINK, fd: fdcwd, addr: at('a'), len: fdcwd, addr2: at('c'), user_data: 5 }),
      sqe({ opcode: 'SYMLINKAT', fd: fdcwd, addr: at('a'), addr2: at('s'), user_data: 6 }),
    ];
    const sub = submit(s, h, chain, chain.length);
    const c = reap(s, h, chain.length, 8);
    const look = ['a', 'd', 'b', 'c', 's'].map(
      (n) => [n, openat(s, path.posix.join(scratch, n), O.RDONLY.value | O.NOFOLLOW.value | O.CLOEXEC.value)] as const,
    );
    const v = await target.run(p);
    requireSetup(v, [
      { what: 'creation of a', step: made },
      { what: 'io_uring_setup', step: h.setup },
      { what: 'io_uring_enter', step: sub.enter, want: chain.length },
    ]);
    expect(
      v
        .step(c)
        .cqes.map((x) => [Number(x.userData), x.res])
        .sort((a, b) => a[0] - b[0]),
      'the head fails with -EBADF, each linked path operation with -ECANCELED',
    ).to.deep.equal([[1, -errno.EBADF], ...[2, 3, 4, 5, 6].map((u) => [u, -errno.ECANCELED])]);
    expect(
      look.map(([n, o]) => [n, Math.min(v.ret(o.step), 0)]),
      'a is still there; no d, b, c or s was made',
    ).to.deep.equal([
      ['a', 0],
      ['d', -errno.ENOENT],
      ['b', -errno.ENOENT],
      ['c', -errno.ENOENT],
      ['s', -errno.ENOENT],
    ]);
  },
);

conformance(
  'uring.RENAMEAT with an unreadable new path, uring.LINKAT with an unreadable old path and uring.SYMLINKAT with an unreadable link path fail with -EFAULT like the syscalls',
  {
    ops: ['uring.RENAMEAT', 'uring.LINKAT', 'uring.SYMLINKAT'],
    rule: 'man 2 renameat2, man 2 link, man 2 symlink EFAULT; SEMANTICS §3.2',
  },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    const { step: made } = scratchFile(s, scratch, 'f');
    const at = (name: string) => arg.buf(p.cstr(path.posix.join(scratch, name)));
    const fdcwd = AT.FDCWD.value;
    const cases: [string, Parameters<typeof sqe>[0], number, unknown[]][] = [
      [
        'RENAMEAT f → unreadable',
        { opcode: 'RENAMEAT', fd: fdcwd, addr: at('f'), len: fdcwd, addr2: arg.bad() },
        SYSCALLS.renameat2,
        [fdcwd, at('f'), fdcwd, arg.bad(), 0],
      ],
      [
        'LINKAT unreadable → g',
        { opcode: 'LINKAT', fd: fdcwd, addr: arg.bad(), len: fdcwd, addr2: at('g') },
        SYSCALLS.linkat,
        [fdcwd, arg.bad(), fdcwd, at('g'), 0],
      ],
      [
        'SYMLINKAT f at unreadable',
        { opcode: 'SYMLINKAT', fd: fdcwd, addr: at('f'), addr2: arg.bad() },
        SYSCALLS.symlinkat,
        [at('f'), fdcwd, arg.bad()],
      ],
    ];
    const h = setupRing(s, { entries: 4 });
    const runs = cases.map(([, spec, nr, args], i) => {
      const sub = submit(s, h, [sqe({ ...spec, user_data: i + 1 })], 1);
      const c = reap(s, h, 1, 1);
      const sync = s.syscall(nr, args as never);
      return { sub, c, sync };
    });
    const still = openat(s, path.posix.join(scratch, 'f'), O.RDONLY.value | O.CLOEXEC.value);
    const v = await target.run(p);
    requireSetup(v, [
      { what: 'creation of f', step: made },
      { what: 'io_uring_setup', step: h.setup },
    ]);
    for (const [k, [what]] of cases.entries()) {
      const r = runs[k];
      expect(v.ret(r.sub.enter), `${what}: the SQE is consumed`).to.equal(1);
      expect(
        [v.step(r.c).cqes.map((x) => x.res), v.ret(r.sync)],
        `${what}: -EFAULT, as the syscall returns`,
      ).to.deep.equal([[-errno.EFAULT], -errno.EFAULT]);
    }
    expect(v.ret(still.step), 'f is untouched').to.be.at.least(0);
  },
);
