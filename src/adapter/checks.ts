/**
 * The whitelist checks, as functions of an adapter, so that suites/semantics/whitelist (kernel
 * interfaces) and test/whitelist.test.ts (a userspace reference and broken variants of it) run the
 * same code. Each failure names the rule it rests on.
 */
import { AssertionError, expect } from 'chai';
import * as path from 'path';
import { AT, describeErrno, errno, KERNEL_SIGSET, O, POLL_EV, SIG_HOW, SYSCALLS, WAIT } from '../abi';
import { classOf, MUST_REJECT, MUST_REJECT_ATTEMPTS, SyscallClass, syscallClass } from '../abi/whitelist';
import { arg, ArgLike, Program, Sequence, StepRef } from '../program/builder';
import { pipe2 } from '../program/sys';
import type { TraceView } from '../program/trace';
import { buildTree, checkSetup, PathSide, snapshot, str, TreeEntry } from '../oracle/uring-paths';
import type { Target } from '../target/target';
import { nameOf, twinFixture } from './fixtures';
import type { AsyncAdapter, Completion, Reader, SyscallRequest } from './types';

/**
 * Ways an interface may refuse a request (SEMANTICS §4.1): -EINVAL unknown, -EACCES restricted,
 * -EOPNOTSUPP compiled out; acall's -ENOSYS.
 */
export const REFUSALS: readonly number[] = [errno.EINVAL, errno.EACCES, errno.EOPNOTSUPP, errno.ENOSYS].map((e) => -e);

/** Fail with every problem in the message itself (chai abbreviates arrays in its own). */
function noProblems(problems: readonly string[], what: string): void {
  if (problems.length) throw new AssertionError(`${what}: ${problems.join('; ')}`, { actual: problems, expected: [] });
}

const show = (r: number): string => (r < 0 ? `-${describeErrno(r)}` : String(r));

/** The mapped system call `nr` agrees with its synchronous twin on a representative fixture. */
export async function checkTwin(target: Target, scratch: string, adapter: AsyncAdapter, nr: number): Promise<void> {
  const c = syscallClass(nr);
  expect(c?.class, `${adapter.name} maps ${nameOf(nr)}, which must be async-safe (SEMANTICS §4.1)`).to.equal('async-safe');
  const fx = twinFixture(nr);
  if (!fx) throw new AssertionError(`${adapter.name} maps ${nameOf(nr)} but no twin fixture checks it (src/adapter/fixtures.ts)`);
  const t = await fx(target, scratch, adapter);
  const what = `${adapter.name}: ${nameOf(nr)} agrees with ${nameOf(nr)}(2): ${t.covers} (${adapter.rule})`;
  expect(t.async, what).to.deep.equal(t.sync);
}

/** A fixed-table adapter expresses no must-reject system call, and maps only async-safe ones (SEMANTICS §4.1). */
export function checkNoMustRejectExpressible(adapter: AsyncAdapter): void {
  const reachable = MUST_REJECT.filter((c) => adapter.expresses(c.nr)).map((c) => `${c.name} (${c.reason})`);
  noProblems(reachable, `${adapter.name} must not express a must-reject system call (SEMANTICS §4.1)`);
  const unsafe = adapter
    .mapped()
    .filter((nr) => syscallClass(nr)?.class !== 'async-safe')
    .map(nameOf);
  noProblems(unsafe, `${adapter.name} maps only async-safe system calls (SEMANTICS §4.1)`);
}

/** Arguments for an attempt at a must-reject call (src/abi/whitelist.ts, MUST_REJECT_ATTEMPTS). */
function mustRejectArgs(p: Program, c: SyscallClass, pid: ArgLike): ArgLike[] {
  return (MUST_REJECT_ATTEMPTS[c.name] ?? []).map((a) => {
    if (a === 'bad') return arg.bad();
    if (a === 'pid') return pid;
    if (a === 'missing-path') return arg.buf(p.cstr('/nonexistent/kasync-whitelist'));
    if (a === 'root-path') return arg.buf(p.cstr('/'));
    return a;
  });
}

/** The process's identity and state, to compare before and after the attempts. */
function identity(s: Sequence): (v: TraceView) => Record<string, string | number> {
  const p = s.program;
  const ids = [classOf('getresuid').nr, classOf('getresgid').nr].map((nr) => {
    const b = p.buf(12);
    s.syscall(nr, [arg.buf(b), arg.buf(b, 4), arg.buf(b, 8)]);
    return s.dump(b);
  });
  const mask = p.buf(KERNEL_SIGSET.SIZE.value);
  s.syscall(SYSCALLS.rt_sigprocmask, [SIG_HOW.BLOCK.value, 0, arg.buf(mask), KERNEL_SIGSET.SIZE.value]);
  const maskDump = s.dump(mask);
  const cwd = p.buf(4096);
  const cwdStep = s.syscall(classOf('getcwd').nr, [arg.buf(cwd), 4096]);
  const cwdDump = s.dump(cwd);
  const pid = s.syscall(SYSCALLS.getpid, []);
  return (v) => ({
    'uid (real, effective, saved)': v.step(ids[0]).dump!.toString('hex'),
    'gid (real, effective, saved)': v.step(ids[1]).dump!.toString('hex'),
    'signal mask': v.step(maskDump).dump!.toString('hex'),
    cwd: v.step(cwdDump).dump!.toString('utf8', 0, Math.max(0, v.ret(cwdStep))),
    pid: v.ret(pid),
  });
}

/** Judge refusals: each request refused at submission, or completed once with a refusal. Problems, one line each. */
function refusalProblems(
  v: TraceView,
  tried: { what: string; sub: Reader; ud: bigint }[],
  done: (v: TraceView) => Completion[],
): string[] {
  const problems: string[] = [];
  let completions: Completion[] | undefined;
  try {
    completions = done(v);
  } catch {
    completions = undefined;
  }
  for (const t of tried) {
    let r: number;
    try {
      r = t.sub(v);
    } catch {
      problems.push(`${t.what}: the program did not get past its submission`);
      continue;
    }
    if (r < 0) {
      if (!REFUSALS.includes(r)) problems.push(`${t.what}: submission failed with ${show(r)}, not a refusal`);
      continue;
    }
    const mine = (completions ?? []).filter((c) => c.userData === t.ud);
    if (mine.length !== 1) problems.push(`${t.what}: accepted, then completed ${mine.length} times`);
    else if (!REFUSALS.includes(mine[0].res)) problems.push(`${t.what}: ran, result ${show(mine[0].res)}`);
  }
  return problems;
}

const died = (v: TraceView): string =>
  v.trace.status === 'ok' ? '' : ` [trace ${v.trace.status}, runner wait status ${v.trace.exitStatus}: ${v.trace.message}]`;

/**
 * A by-number adapter refuses every must-reject system call (SEMANTICS §4.1) — at submission or
 * with a refusal completion — and the attempts leave no trace: same ids, signal mask, cwd and pid
 * afterwards, no child process, and the program still running.
 */
export async function checkMustRejectRefused(target: Target, adapter: AsyncAdapter): Promise<void> {
  // in programs of BATCH attempts: each request costs buffers and ring or context slots
  for (let i = 0; i < MUST_REJECT.length; i += BATCH) await mustRejectBatch(target, adapter, MUST_REJECT.slice(i, i + BATCH));
}

/** Attempts per program in {@link checkMustRejectRefused}. */
const BATCH = 30;

async function mustRejectBatch(target: Target, adapter: AsyncAdapter, batch: readonly SyscallClass[]): Promise<void> {
  const p = new Program();
  // if an attempt ran it could end or change the process: never inside the Node process
  p.markProcessLevel('whitelist: attempts at must-reject system calls');
  const s = p.main;
  const pidBuf = p.buf(8);
  s.syscall(SYSCALLS.getpid, [], { store: pidBuf });
  const before = identity(s);
  const sess = adapter.session(s);
  const tried = batch.map((c, i) => {
    const ud = 0x4e10_0000n + BigInt(i);
    const req: SyscallRequest = { nr: c.nr, args: mustRejectArgs(p, c, arg.load32(pidBuf, 0)) };
    return { what: `${c.name} (${c.nr}, ${c.reason})`, sub: sess.submit(req, ud), ud };
  });
  sess.release();
  const done = sess.finish(0);
  const after = identity(s);
  const child = s.syscall(classOf('wait4').nr, [-1, 0, WAIT.NOHANG.value, 0]);
  const v = await target.run(p);
  const problems = refusalProblems(v, tried, done);
  noProblems(problems, `${adapter.name}: must-reject system calls must be refused (SEMANTICS §4.1)${died(v)}`);
  const same = `${adapter.name}: refused attempts change nothing: ids, signal mask, cwd, pid (SEMANTICS §4.1)`;
  expect(after(v), same).to.deep.equal(before(v));
  expect(show(v.ret(child)), `${adapter.name}: refused attempts make no child process (SEMANTICS §4.1)`).to.equal(
    show(-errno.ECHILD),
  );
}

/** A request of a path-changing system call, for {@link checkRefusedWithoutEffect}. */
const PATH_ATTEMPTS: readonly { name: string; args: (p: Program, x: PathSide) => ArgLike[] }[] = [
  { name: 'openat', args: (p, x) => [arg.fd(x.dirfd), str(p, 'g'), O.RDWR.value | O.CREAT.value, 0o640] },
  { name: 'mkdirat', args: (p, x) => [arg.fd(x.dirfd), str(p, 'e'), 0o750] },
  { name: 'unlinkat', args: (p, x) => [arg.fd(x.dirfd), str(p, 'f'), 0] },
  { name: 'renameat2', args: (p, x) => [arg.fd(x.dirfd), str(p, 'f'), arg.fd(x.dirfd), str(p, 'd/m'), 0] },
  { name: 'symlinkat', args: (p, x) => [str(p, 'd'), arg.fd(x.dirfd), str(p, 'n')] },
  { name: 'linkat', args: (p, x) => [arg.fd(x.dirfd), str(p, 'f'), arg.fd(x.dirfd), str(p, 'h'), 0] },
  { name: 'readahead', args: (_p, x) => [arg.fd(x.dirfd), 0, 4096] },
];

const TREE: TreeEntry[] = [{ file: 'f', size: 300 }, { dir: 'd' }];
const LOOK = ['f', 'g', 'h', 'd', 'e', 'n', 'd/m'];

/**
 * Every path-changing request the adapter expresses is refused on this kernel (`want`, or any
 * refusal) and leaves the directory tree exactly as it was: a refused request has no side effect
 * (SEMANTICS §2.2: the unmerged ops fall through with -EINVAL; §4.1).
 */
export async function checkRefusedWithoutEffect(
  target: Target,
  scratch: string,
  adapter: AsyncAdapter,
  want?: number,
): Promise<void> {
  const attempts = PATH_ATTEMPTS.filter((a) => adapter.expresses(classOf(a.name).nr));
  if (!attempts.length) throw new Error(`${adapter.name} expresses none of the path-changing system calls`);
  const p = new Program();
  const s = p.main;
  const checks: Parameters<typeof buildTree>[3] = [];
  const dir = path.posix.join(scratch, 'tree');
  const side: PathSide = { name: 'async', dir, dirfd: buildTree(s, dir, TREE, checks) };
  const before = snapshot(s, side.dirfd, LOOK, ['.', 'd'], checks);
  const sess = adapter.session(s);
  const tried = attempts.map((a, i) => {
    const ud = 0x5e10_0000n + BigInt(i);
    return { what: a.name, sub: sess.submit({ nr: classOf(a.name).nr, args: a.args(p, side) }, ud), ud };
  });
  sess.release();
  const done = sess.finish(0);
  const after = snapshot(s, side.dirfd, LOOK, ['.', 'd'], checks);
  const v = await target.run(p);
  checkSetup(v, checks);
  const rule = `${adapter.rule}; SEMANTICS §4.1`;
  noProblems(refusalProblems(v, tried, done), `${adapter.name}: each request is refused (${rule})${died(v)}`);
  if (want !== undefined) {
    const results = tried.map((t) => {
      const r = t.sub(v);
      return `${t.what}: ${show(r < 0 ? r : (done(v).find((c) => c.userData === t.ud)?.res ?? 0))}`;
    });
    expect(results, `${adapter.name}: each is refused with ${show(want)} (${adapter.rule})`).to.deep.equal(
      tried.map((t) => `${t.what}: ${show(want)}`),
    );
  }
  expect(after(v), `${adapter.name}: refused requests leave the tree unchanged (${rule})`).to.deep.equal(before(v));
}

const NOBODY = 65534;

/**
 * A queued request runs with the credentials its submitter had at submission: the submitter changes
 * its effective uid after submitting and before the request may start, in both directions (root to
 * 65534 and back), and the request's result is the one the submission-time credentials give
 * (SEMANTICS §3.8; LaHaise's AIO_THREAD_NEED_CRED, §2.3). Needs root and an adapter that can hold.
 */
export async function checkQueuedCreds(target: Target, scratch: string, adapter: AsyncAdapter): Promise<void> {
  const p = new Program();
  const s = p.main;
  const secret = path.posix.join(scratch, 'secret');
  const mk = s.syscall(
    SYSCALLS.openat,
    [AT.FDCWD.value, str(p, secret), O.RDWR.value | O.CREAT.value | O.EXCL.value | O.CLOEXEC.value, 0o600],
    { fd: p.fd() },
  );
  const open: SyscallRequest = {
    nr: SYSCALLS.openat,
    args: [AT.FDCWD.value, str(p, secret), O.RDONLY.value | O.CLOEXEC.value, 0],
  };
  const seteuid = (q: Sequence, uid: number): StepRef => q.syscall(SYSCALLS.setresuid, [-1, uid, -1], { stopOnError: true });

  // 1: submitted as root, the submitter drops to euid 65534 before the request may start
  const a = adapter.session(s, { hold: true });
  const subA = a.submit(open, 0xc4ed_0001n);
  const dropA = seteuid(a.seq, NOBODY);
  a.release();
  const backA = seteuid(a.seq, 0);
  const doneA = a.finish(1);
  // 2: submitted as euid 65534, the submitter is root again before the request may start
  const drop = seteuid(s, NOBODY);
  const b = adapter.session(s, { hold: true });
  const subB = b.submit(open, 0xc4ed_0002n);
  const backB = seteuid(b.seq, 0);
  b.release();
  const doneB = b.finish(1);
  const end = seteuid(s, 0);

  const v = await target.run(p);
  if (v.ret(mk) < 0) throw new Error(`fixture failed: creating ${secret} returned ${show(v.ret(mk))}`);
  for (const [what, st] of [
    ['seteuid 65534 after submitting', dropA],
    ['seteuid 0 again', backA],
    ['seteuid 65534 before submitting', drop],
    ['seteuid 0 after submitting', backB],
    ['seteuid 0 at the end', end],
  ] as const)
    expect(v.ret(st), `${what} (setresuid)`).to.equal(0);
  const rule = 'SEMANTICS §3.8; §2.3 AIO_THREAD_NEED_CRED';
  const result = (sub: Reader, done: (v: TraceView) => Completion[], ud: bigint): string => {
    const r = sub(v);
    if (r < 0) return `refused at submission: ${show(r)}`;
    const mine = done(v).filter((c) => c.userData === ud);
    if (mine.length !== 1) return `completed ${mine.length} times`;
    // a request that ran before the credential change would pass without proving anything
    const queued = `${adapter.name}: the request stayed queued until release, after the credential change (${rule})`;
    expect(mine[0].held, queued).to.equal(true);
    return mine[0].res >= 0 ? 'an fd' : show(mine[0].res);
  };
  const why = `a queued request runs with its submitter's credentials at submission (${rule})`;
  expect(
    result(subA, doneA, 0xc4ed_0001n),
    `${adapter.name}: submitted as root, it opens the 0600 file though the submitter is uid 65534 when it runs: ${why}`,
  ).to.equal('an fd');
  expect(
    result(subB, doneB, 0xc4ed_0002n),
    `${adapter.name}: submitted as uid 65534, it is refused the 0600 file though the submitter is root when it runs: ${why}`,
  ).to.equal(show(-errno.EACCES));
}

/**
 * A request waiting on an empty pipe, cancelled, then given data: it completes exactly once, with a
 * cancelled result or its normal one, and the cancel's own result agrees with which (SEMANTICS §3.9,
 * §2.4, §1.5); a cancelled read leaves the data in the pipe.
 */
export async function checkCancelOnce(target: Target, adapter: AsyncAdapter): Promise<void> {
  const p = new Program();
  const s = p.main;
  const { r, w, step } = pipe2(s);
  const buf = p.buf(64);
  const useRead = adapter.expresses(SYSCALLS.read);
  const pfd = p.buf(8);
  s.patch(pfd, 0, 4, arg.fd(r));
  s.patch(pfd, 4, 2, POLL_EV.IN.value);
  const req: SyscallRequest = useRead
    ? { nr: SYSCALLS.read, args: [arg.fd(r), arg.buf(buf), 4] }
    : { nr: SYSCALLS.poll, args: [arg.buf(pfd), 1, -1] };
  const normal = useRead ? 4 : 1;
  const ud = 0xcace_0001n;
  const sess = adapter.session(s);
  const sub = sess.submit(req, ud);
  const cancel = sess.cancel(ud);
  const wr = sess.seq.syscall(SYSCALLS.write, [arg.fd(w), arg.buf(p.data(Buffer.from('data'))), 4]);
  sess.release();
  const done = sess.finish(1);
  // is the data still there? poll with no timeout does not consume it
  const left = p.buf(8);
  s.patch(left, 0, 4, arg.fd(r));
  s.patch(left, 4, 2, POLL_EV.IN.value);
  const still = s.syscall(SYSCALLS.poll, [arg.buf(left), 1, 0]);
  const v = await target.run(p);
  expect(v.ret(step), 'pipe2').to.equal(0);
  expect(v.ret(wr), 'the write that wakes the request').to.equal(4);
  expect(show(sub(v)), `${adapter.name}: the request is accepted`).to.equal('0');
  const rule = 'SEMANTICS §3.9, §2.4, §1.5';
  const mine = done(v).filter((c) => c.userData === ud);
  expect(mine.length, `${adapter.name}: a cancelled request completes exactly once (${rule})${died(v)}`).to.equal(1);
  const res = mine[0].res;
  const c = cancel(v);
  const outcome = adapter.cancelOutcome(c);
  const cancelled = adapter.cancelledResults.includes(res);
  const allowed = [...adapter.cancelledResults.map(show), normal].join(', ');
  expect(cancelled || res === normal, `${adapter.name}: completes with one of ${allowed}, not ${show(res)} (${rule})`).to.equal(
    true,
  );
  expect(outcome, `${adapter.name}: the cancel's own result ${show(c)} is a cancel outcome (${rule})`).to.not.equal('error');
  if (outcome === 'cancelled')
    expect(cancelled, `${adapter.name}: the cancel returned ${show(c)} (found): the request completes cancelled (${rule})`).to.equal(
      true,
    );
  if (outcome === 'not-found')
    expect(res, `${adapter.name}: the cancel returned ${show(c)} (not found): the request completes normally (${rule})`).to.equal(
      normal,
    );
  // a cancelled read took nothing; a completed read took the 4 bytes; poll never takes any
  const expectLeft = useRead ? (cancelled ? 1 : 0) : 1;
  const effect = cancelled ? 'has no side effect: the data is still in the pipe' : 'took the data';
  expect(v.ret(still), `${adapter.name}: the ${cancelled ? 'cancelled' : 'completed'} ${nameOf(req.nr)} ${effect} (${rule})`).to.equal(
    expectLeft,
  );
}
