/**
 * IORING_OP_SETXATTR, GETXATTR, FSETXATTR and FGETXATTR against their syscalls: user.* attributes,
 * XATTR_CREATE / XATTR_REPLACE, size queries, ERANGE and ENODATA (SEMANTICS §3.2; man 2 setxattr, getxattr).
 */
import { expect } from 'chai';
import * as path from 'path';
import { arg, Arg, Buf, Fd, Program, Sequence, StepRef } from '../../src/program/builder';
import { describeErrno, errno, O, SYSCALLS, XATTR } from '../../src/abi';
import { buildTree, checkSetup, readXattrs, showResult, SoloRing, str } from '../../src/oracle/uring-paths';
import type { ResultOf } from '../../src/oracle/differential';
import { SqeSpec } from '../../src/program/uring';
import { conformance } from '../../src/suite/conformance';
import type { Target } from '../../src/target/target';

/** Why the scratch filesystem cannot hold user.* xattrs (tmpfs before 6.6), or undefined if it can. */
async function userXattrRefusal(target: Target, scratch: string): Promise<string | undefined> {
  const p = new Program();
  const s = p.main;
  const file = path.posix.join(scratch, 'xattr-probe');
  const fd = p.fd();
  const open = s.syscall(SYSCALLS.openat, [-100, str(p, file), O.RDWR.value | O.CREAT.value | O.CLOEXEC.value, 0o644], {
    fd,
  });
  const set = s.syscall(SYSCALLS.setxattr, [str(p, file), str(p, 'user.kasync.probe'), str(p, '1'), 1, 0]);
  s.syscall(SYSCALLS.unlinkat, [-100, str(p, file), 0]);
  const v = await target.run(p);
  if (v.ret(open) < 0) throw new Error(`xattr probe: open failed with ${describeErrno(-v.ret(open))}`);
  const r = v.ret(set);
  if (r === -errno.EOPNOTSUPP)
    return 'the scratch filesystem refuses user.* xattrs (setxattr(2): EOPNOTSUPP; tmpfs has them from 6.6)';
  if (r < 0) throw new Error(`xattr probe: setxattr(2) failed with ${describeErrno(-r)}`);
  return undefined;
}

/** Where an xattr call is aimed: a path (setxattr, SETXATTR) or an fd (fsetxattr, FSETXATTR). */
type By = 'path' | 'fd';

/** What one side of an xattr case works on. */
interface XSide {
  file: string;
  fd: Fd;
}

/** One xattr call on both sides; `size` bytes of value buffer per side, compared afterwards. */
interface XCase {
  what: string;
  want: number;
  sync(s: Sequence, x: XSide, value: Buf): StepRef;
  async(p: Program, x: XSide, value: Buf): Omit<SqeSpec, 'user_data'>;
  /** The value buffer (filled with 0xa5 first); its bytes after the call are compared. */
  size: number;
  /** Bytes written into the value buffer before the call (set calls). */
  value?: string;
}

function setCase(by: By, what: string, name: string, value: string, flags: number, want: number, file?: string): XCase {
  const n = (p: Program): Arg => str(p, name);
  const target = (x: XSide) => file ?? x.file;
  return {
    what,
    want,
    size: Math.max(1, value.length),
    value,
    sync: (s, x, b) =>
      by === 'path'
        ? s.syscall(SYSCALLS.setxattr, [str(s.program, target(x)), n(s.program), arg.buf(b), value.length, flags])
        : s.syscall(SYSCALLS.fsetxattr, [arg.fd(x.fd), n(s.program), arg.buf(b), value.length, flags]),
    async: (p, x, b) =>
      by === 'path'
        ? {
            opcode: 'SETXATTR',
            addr: n(p),
            addr2: arg.buf(b),
            len: value.length,
            addr3: str(p, target(x)),
            xattr_flags: flags,
          }
        : { opcode: 'FSETXATTR', fd: x.fd, addr: n(p), addr2: arg.buf(b), len: value.length, xattr_flags: flags },
  };
}

function getCase(by: By, what: string, name: string, size: number, want: number, file?: string): XCase {
  const target = (x: XSide) => file ?? x.file;
  return {
    what,
    want,
    size: Math.max(1, size),
    sync: (s, x, b) =>
      by === 'path'
        ? s.syscall(SYSCALLS.getxattr, [str(s.program, target(x)), str(s.program, name), arg.buf(b), size])
        : s.syscall(SYSCALLS.fgetxattr, [arg.fd(x.fd), str(s.program, name), arg.buf(b), size]),
    async: (p, x, b) =>
      by === 'path'
        ? { opcode: 'GETXATTR', addr: str(p, name), addr2: arg.buf(b), len: size, addr3: str(p, target(x)) }
        : { opcode: 'FGETXATTR', fd: x.fd, addr: str(p, name), addr2: arg.buf(b), len: size },
  };
}

/** The cases, in order, for path or fd calls. */
function cases(by: By): XCase[] {
  const { CREATE, REPLACE } = { CREATE: XATTR.CREATE.value, REPLACE: XATTR.REPLACE.value };
  const list = [
    setCase(by, 'set user.a', 'user.a', 'hello', 0, 0),
    setCase(by, 'XATTR_CREATE of the existing user.a', 'user.a', 'world', CREATE, -errno.EEXIST),
    setCase(by, 'XATTR_REPLACE of the missing user.b', 'user.b', 'x', REPLACE, -errno.ENODATA),
    setCase(by, 'XATTR_CREATE of user.b', 'user.b', 'bee', CREATE, 0),
    setCase(by, 'XATTR_REPLACE of user.a', 'user.a', 'again!', REPLACE, 0),
    setCase(by, 'set of an empty value', 'user.c', '', 0, 0),
    setCase(by, 'XATTR_CREATE | XATTR_REPLACE | 4: unknown flag', 'user.d', 'd', CREATE | REPLACE | 4, -errno.EINVAL),
    setCase(by, 'set of a name without a namespace', 'nonamespace', 'n', 0, -errno.EOPNOTSUPP),
    getCase(by, 'get user.a', 'user.a', 64, 6),
    getCase(by, 'get user.a with size 0 (size query)', 'user.a', 0, 6),
    getCase(by, 'get user.a into a 2-byte buffer', 'user.a', 2, -errno.ERANGE),
    getCase(by, 'get of the missing user.missing', 'user.missing', 64, -errno.ENODATA),
    getCase(by, 'get of the empty user.c', 'user.c', 64, 0),
  ];
  if (by === 'path')
    list.push(
      setCase(by, 'set on a missing file', 'user.a', 'm', 0, -errno.ENOENT, '/nonexistent-kasync/f'),
      getCase(by, 'get on a missing file', 'user.a', 64, -errno.ENOENT, '/nonexistent-kasync/f'),
    );
  return list;
}

async function xattrTwin(target: Target, scratch: string, by: By) {
  const p = new Program();
  const s = p.main;
  const checks: { what: string; step: StepRef }[] = [];
  const sides = (['sync', 'async'] as const).map((name) => {
    const dir = path.posix.join(scratch, name);
    buildTree(s, dir, [{ file: 'f' }], checks);
    const file = path.posix.join(dir, 'f');
    const fd = p.fd();
    checks.push({
      what: `open ${file}`,
      step: s.syscall(SYSCALLS.openat, [-100, str(p, file), O.RDWR.value | O.CLOEXEC.value, 0], { fd }),
    });
    return { file, fd };
  });
  const ring = new SoloRing(s);
  const runs = cases(by).map((c) => {
    const bufs = sides.map(() => {
      const b = p.buf(c.size);
      s.fillByte(b, 0, c.size, 0xa5);
      if (c.value) s.bytes(b, 0, Buffer.from(c.value, 'latin1'));
      return b;
    });
    const sync = c.sync(s, sides[0], bufs[0]);
    const async: ResultOf = ring.run(c.async(p, sides[1], bufs[1]));
    return { c, sync, async, dumps: bufs.map((b) => s.dump(b)) };
  });
  const names = ['user.a', 'user.b', 'user.c', 'user.d'];
  const after = sides.map((x) => readXattrs(s, x.file, names));
  const v = await target.run(p);
  checkSetup(v, checks);
  return { runs, v, after: after.map((a) => a(v)) };
}

for (const by of ['path', 'fd'] as const) {
  const [set, get] = by === 'path' ? ['SETXATTR', 'GETXATTR'] : ['FSETXATTR', 'FGETXATTR'];
  const twins = by === 'path' ? 'setxattr(2) and getxattr(2)' : 'fsetxattr(2) and fgetxattr(2)';
  conformance(
    `uring.${set} and uring.${get} set and read user.* xattrs like ${twins}, errors included`,
    { ops: [`uring.${set}`, `uring.${get}`], rule: 'man 2 setxattr' },
    async ({ target, scratch, skip }) => {
      const refusal = await userXattrRefusal(target, scratch);
      if (refusal) skip(refusal);
      const t = await xattrTwin(target, scratch, by);
      for (const r of t.runs) {
        const got = r.async(t.v);
        expect(showResult(got), `${r.c.what}: the CQE result (man 2 setxattr, getxattr)`).to.equal(
          showResult(r.c.want),
        );
        expect(showResult(got), `${r.c.what}: same result as the syscall`).to.equal(showResult(t.v.ret(r.sync)));
        expect(
          t.v.step(r.dumps[1]).dump!.toString('hex'),
          `${r.c.what}: the value buffer afterwards is the same as the syscall's`,
        ).to.equal(t.v.step(r.dumps[0]).dump!.toString('hex'));
      }
      expect(
        t.after[1],
        `the xattrs afterwards (getxattr(2)): user.a "again!", user.b "bee", user.c empty`,
      ).to.deep.equal({
        'user.a': 'again!',
        'user.b': 'bee',
        'user.c': '',
        'user.d': -errno.ENODATA,
      });
      expect(t.after[1], `the same xattrs as after ${twins}`).to.deep.equal(t.after[0]);
    },
  );
}
