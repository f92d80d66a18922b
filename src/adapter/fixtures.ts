/**
 * One representative twin fixture per system call an adapter may map: the synchronous call and the
 * adapter's request run in one program on identical copies of the same world (a file and a buffer, a
 * directory tree, a pipe), and what each did is compared (the differential oracle).
 */
import * as path from 'path';
import { AT, FALLOC_FL, O, POLL_EV, STATX, STATX_LAYOUT, SYSCALLS } from '../abi';
import { classOf, syscallClass } from '../abi/whitelist';
import { arg, ArgLike, Program, Sequence } from '../program/builder';
import { pipe2 } from '../program/sys';
import type { Target } from '../target/target';
import { differential, iovecs, TwinSide } from '../oracle/differential';
import { buildTree, checkSetup, PathSide, snapshot, str, TreeEntry } from '../oracle/uring-paths';
import { AsyncAdapter, runOnce } from './types';

/** What both sides did, as comparable data, and what the comparison covers. */
export interface TwinResult {
  sync: unknown;
  async: unknown;
  /** What the outcomes hold, for the assertion message. */
  covers: string;
}

/** A fixture: runs the system call both ways and returns both outcomes. */
export type TwinFixture = (target: Target, scratch: string, adapter: AsyncAdapter) => Promise<TwinResult>;

/** fd results differ in number between the sides; what counts is that both made one. */
const fdOrErr = (r: number): number | 'an fd' => (r >= 0 ? 'an fd' : r);

/** A file-and-buffer fixture through {@link differential}: `args` builds the call's arguments for one side. */
function fileTwin(
  nr: number,
  args: (s: Sequence, x: TwinSide) => ArgLike[],
  content = [{ seed: 0x3117, off: 0, len: 1000 }],
  fill?: { seed: number; pos?: number },
  normalize: (r: number) => unknown = (r) => r,
): TwinFixture {
  return async (target, scratch, adapter) => {
    const t = await differential(target, scratch, {
      content,
      buf: { size: 8192, fill },
      sync: (s, x) => s.syscall(nr, args(s, x)),
      async: (s, x) => runOnce(adapter, s, { nr, args: args(s, x) }),
    });
    const n = (o: typeof t.sync) => ({ ...o, result: normalize(o.result) });
    return { sync: n(t.sync), async: n(t.async), covers: 'result, buffer, file size and bytes' };
  };
}

/** Fixture tree of each side of a path twin. */
const TREE: TreeEntry[] = [{ file: 'f', size: 300 }, { dir: 'd' }, { symlink: 'l', target: 'f' }];
const LOOK = ['f', 'g', 'h', 'd', 'e', 'l', 'm', 'n'];

/** A directory-tree fixture: the same tree twice, the call on each side, then each tree's state. */
function treeTwin(nr: number, args: (p: Program, x: PathSide) => ArgLike[], fdResult = false): TwinFixture {
  return async (target, scratch, adapter) => {
    const p = new Program();
    const s = p.main;
    const checks: Parameters<typeof buildTree>[3] = [];
    const sides = (['sync', 'async'] as const).map((name): PathSide => {
      const dir = path.posix.join(scratch, name);
      return { name, dir, dirfd: buildTree(s, dir, TREE, checks) };
    });
    const sync = s.syscall(nr, args(p, sides[0]));
    const async = runOnce(adapter, s, { nr, args: args(p, sides[1]) });
    const snaps = sides.map((x) => snapshot(s, x.dirfd, LOOK, ['.', 'd'], checks));
    const v = await target.run(p);
    checkSetup(v, checks);
    const norm = fdResult ? fdOrErr : (r: number) => r;
    return {
      sync: { result: norm(v.ret(sync)), tree: snaps[0](v) },
      async: { result: norm(async(v)), tree: snaps[1](v) },
      covers: 'result and the tree afterwards (paths, types, modes, links, listings)',
    };
  };
}

/** poll(2) of a pipe holding data: the result and the pollfd's revents. */
const pollTwin: TwinFixture = async (target, _scratch, adapter) => {
  const p = new Program();
  const s = p.main;
  const sides = [0, 1].map(() => {
    const { r, w, step } = pipe2(s);
    const wr = s.syscall(SYSCALLS.write, [arg.fd(w), arg.buf(p.data(Buffer.from('abc'))), 3]);
    const pfd = p.buf(8);
    s.patch(pfd, 0, 4, arg.fd(r));
    s.patch(pfd, 4, 2, POLL_EV.IN.value);
    return { pfd, steps: [step, wr] };
  });
  const nr = SYSCALLS.poll;
  const sync = s.syscall(nr, [arg.buf(sides[0].pfd), 1, -1]);
  const async = runOnce(adapter, s, { nr, args: [arg.buf(sides[1].pfd), 1, -1] });
  const dumps = sides.map((x) => s.dump(x.pfd));
  const v = await target.run(p);
  for (const st of sides.flatMap((x) => x.steps))
    if (v.ret(st) < 0) throw new Error(`fixture failed: pipe2/write returned ${v.ret(st)}`);
  const revents = (i: number) => v.step(dumps[i]).dump!.readUInt16LE(6);
  return {
    sync: { result: v.ret(sync), revents: revents(0) },
    async: { result: async(v), revents: revents(1) },
    covers: "result and the pollfd's revents",
  };
};

const SEGS = [
  [1024, 100],
  [0, 200],
  [2048, 300],
] as const;
const RW = O.RDWR.value | O.CREAT.value | O.CLOEXEC.value;

/** The fixtures, by system call name. */
export const TWIN_FIXTURES: Readonly<Record<string, TwinFixture>> = {
  // 1000-byte file: 4096 asked for at 600, 400 there
  pread64: fileTwin(SYSCALLS.pread64, (_s, x) => [arg.fd(x.fd), arg.buf(x.buf), 4096, 600]),
  // from the file position (0: the fixture writes with pwrite)
  read: fileTwin(SYSCALLS.read, (_s, x) => [arg.fd(x.fd), arg.buf(x.buf), 4096]),
  // 4096 bytes at 2000 grow the file past a gap
  pwrite64: fileTwin(SYSCALLS.pwrite64, (_s, x) => [arg.fd(x.fd), arg.buf(x.buf), 4096, 2000], undefined, { seed: 0x3118 }),
  preadv: fileTwin(SYSCALLS.preadv, (s, x) => [arg.fd(x.fd), arg.buf(iovecs(s, x.buf, SEGS)), SEGS.length, 50]),
  pwritev: fileTwin(SYSCALLS.pwritev, (s, x) => [arg.fd(x.fd), arg.buf(iovecs(s, x.buf, SEGS)), SEGS.length, 700], undefined, {
    seed: 0x3119,
  }),
  fsync: fileTwin(SYSCALLS.fsync, (_s, x) => [arg.fd(x.fd)]),
  fdatasync: fileTwin(SYSCALLS.fdatasync, (_s, x) => [arg.fd(x.fd)]),
  ftruncate: fileTwin(SYSCALLS.ftruncate, (_s, x) => [arg.fd(x.fd), 300]),
  fallocate: fileTwin(SYSCALLS.fallocate, (_s, x) => [arg.fd(x.fd), FALLOC_FL.KEEP_SIZE.value, 0, 65536]),
  // the bytes made resident differ by design (SEMANTICS §2.3): both succeed, the file is unchanged
  readahead: fileTwin(classOf('readahead').nr, (_s, x) => [arg.fd(x.fd), 0, 4096], undefined, undefined, (r) =>
    r >= 0 ? 'success' : r,
  ),
  // statx of the scratch directory, which neither side changes after the fixture is built
  statx: async (target, scratch, adapter) =>
    fileTwin(SYSCALLS.statx, (s, x) => [AT.FDCWD.value, str(s.program, scratch), 0, STATX.BASIC_STATS.value, arg.buf(x.buf)])(
      target,
      scratch,
      adapter,
    ).then((t) => ({ ...t, covers: `${t.covers} (the buffer holds the ${STATX_LAYOUT.size}-byte struct statx)` })),
  openat: treeTwin(SYSCALLS.openat, (p, x) => [arg.fd(x.dirfd), str(p, 'g'), RW, 0o640], true),
  mkdirat: treeTwin(SYSCALLS.mkdirat, (p, x) => [arg.fd(x.dirfd), str(p, 'e'), 0o750]),
  unlinkat: treeTwin(SYSCALLS.unlinkat, (p, x) => [arg.fd(x.dirfd), str(p, 'f'), 0]),
  renameat2: treeTwin(SYSCALLS.renameat2, (p, x) => [arg.fd(x.dirfd), str(p, 'f'), arg.fd(x.dirfd), str(p, 'd/m'), 0]),
  symlinkat: treeTwin(SYSCALLS.symlinkat, (p, x) => [str(p, 'd'), arg.fd(x.dirfd), str(p, 'n')]),
  linkat: treeTwin(SYSCALLS.linkat, (p, x) => [arg.fd(x.dirfd), str(p, 'f'), arg.fd(x.dirfd), str(p, 'h'), 0]),
  poll: pollTwin,
};

/** The fixture for system call `nr`, or undefined. */
export function twinFixture(nr: number): TwinFixture | undefined {
  const c = Object.keys(TWIN_FIXTURES).find((n) => classOf(n).nr === nr);
  return c ? TWIN_FIXTURES[c] : undefined;
}

/** The numbers of the system calls that have a fixture, ascending. */
export function fixtureNumbers(): number[] {
  return Object.keys(TWIN_FIXTURES)
    .map((n) => classOf(n).nr)
    .sort((a, b) => a - b);
}

/** Test-title name of a system call number (`pread64`, or `syscall 999`). */
export function nameOf(nr: number): string {
  return syscallClass(nr)?.name ?? `syscall ${nr}`;
}
