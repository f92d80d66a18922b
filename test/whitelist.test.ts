/**
 * The async-syscall whitelist (src/abi/whitelist.ts) against the headers, and proof that the adapter
 * checks (src/adapter/checks.ts) bite: a userspace reference interface — each request is really
 * run, synchronously, on a worker thread of the executor — passes them, and broken variants of it
 * (accepts exit_group; runs a queued request with the wrong uid; completes a cancelled request
 * twice) each fail with a message naming the broken rule.
 */
import { AssertionError, expect } from 'chai';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { errno, O, PROCESS_LEVEL_NAMES, SYSCALLS } from '../src/abi';
import { classOf, MUST_REJECT, SYSCALL_CLASSES, syscallClass } from '../src/abi/whitelist';
import { checkCancelOnce, checkMustRejectRefused, checkQueuedCreds, checkTwin } from '../src/adapter/checks';
import { fixtureNumbers, nameOf } from '../src/adapter/fixtures';
import { DEFAULT_GENERIC, genericEncoding, parseGenericEncoding } from '../src/adapter/generic';
import type { AsyncAdapter, AsyncSession, Completion, Reader, SyscallRequest } from '../src/adapter/types';
import { arg, Sequence } from '../src/program/builder';
import { pipe2 } from '../src/program/sys';
import type { TraceView } from '../src/program/trace';
import { LocalTarget } from '../src/target/local';

/** How a reference variant is broken. */
type Flaw = 'none' | 'accepts exit_group' | 'wrong uid' | 'double completion';

const RECORD = 16; // a completion record in the reference's completion pipe: i64 res, u64 user_data

/**
 * The reference interface's session. The submitter's steps run on one thread; each accepted request
 * gets a worker thread, cloned with the credentials the program has when the threads start (its
 * submission), that waits for the doorbell (release), runs the system call and writes a completion
 * record into a non-blocking pipe. Must-reject and not-applicable calls are refused at submission.
 */
class ThreadSession implements AsyncSession {
  readonly seq: Sequence;
  private readonly reqs: { req: SyscallRequest; ud: bigint; cancelled: boolean }[] = [];
  private released = false;
  private readonly bell: ReturnType<typeof pipe2>;
  private readonly cq: ReturnType<typeof pipe2>;

  constructor(
    private readonly main: Sequence,
    private readonly flaw: Flaw,
  ) {
    this.seq = main.program.seq();
    this.bell = pipe2(main, O.CLOEXEC.value);
    this.cq = pipe2(main, O.CLOEXEC.value | O.NONBLOCK.value);
  }

  submit(req: SyscallRequest, userData: bigint): Reader {
    const c = syscallClass(req.nr);
    const ok = c?.class === 'async-safe' || (this.flaw === 'accepts exit_group' && c?.name === 'exit_group');
    if (!ok) return () => -errno.EINVAL;
    this.reqs.push({ req, ud: userData, cancelled: false });
    return () => 0;
  }

  cancel(userData: bigint): Reader {
    // a request is queued until release: cancelling it then always finds it
    const r = this.reqs.find((x) => x.ud === userData);
    if (!r || this.released) return () => -errno.ENOENT;
    r.cancelled = true;
    return () => 0;
  }

  release(): void {
    this.released = true;
    const n = Math.max(1, this.reqs.length);
    this.seq.syscall(SYSCALLS.write, [arg.fd(this.bell.w), arg.buf(this.seq.program.data(Buffer.alloc(n, 0x67))), n]);
  }

  finish(): (v: TraceView) => Completion[] {
    const p = this.main.program;
    const workers = this.reqs.map((r) => {
      const w = p.seq();
      const rec = p.buf(RECORD);
      const post = (res?: number) => {
        if (res !== undefined) w.patch(rec, 0, 8, BigInt(res));
        w.patch(rec, 8, 8, r.ud);
        w.syscall(SYSCALLS.write, [arg.fd(this.cq.w), arg.buf(rec), RECORD]);
      };
      w.syscall(SYSCALLS.read, [arg.fd(this.bell.r), arg.buf(p.buf(8)), 1]);
      if (r.cancelled) {
        post(-errno.ECANCELED);
        if (this.flaw !== 'double completion') return w;
      }
      if (this.flaw === 'wrong uid') w.syscall(SYSCALLS.setresuid, [-1, 65534, -1]);
      w.syscall(r.req.nr, [...r.req.args], { store: rec });
      post();
      return w;
    });
    this.main.threads([this.seq, ...workers], 8000);
    const out = p.buf(RECORD * 64);
    const rd = this.main.syscall(SYSCALLS.read, [arg.fd(this.cq.r), arg.buf(out), RECORD * 64]);
    const dump = this.main.dump(out);
    return (v) => {
      const n = Math.max(0, v.ret(rd));
      const b = v.step(dump).dump!;
      const out: Completion[] = [];
      // every worker waited for the doorbell: all completions follow the release
      for (let o = 0; o + RECORD <= n; o += RECORD)
        out.push({ res: Number(b.readBigInt64LE(o)), userData: b.readBigUInt64LE(o + 8), held: true });
      return out;
    };
  }
}

/** The reference interface, or a broken variant of it. */
function reference(flaw: Flaw = 'none'): AsyncAdapter {
  return {
    name: flaw === 'none' ? 'reference' : `reference (${flaw})`,
    rule: 'SEMANTICS §4.1',
    ops: [],
    traits: { cancel: true, hold: true, byNumber: true },
    mapped: () => fixtureNumbers(),
    expresses: () => true,
    unsupported: () => undefined,
    session: (s) => new ThreadSession(s, flaw),
    cancelOutcome: (r) => (r === 0 ? 'cancelled' : r === -errno.ENOENT ? 'not-found' : 'error'),
    cancelledResults: [-errno.ECANCELED],
  };
}

/** Run `check`, expecting it to fail with a message matching every pattern. */
async function expectFailure(check: () => Promise<void>, ...patterns: RegExp[]): Promise<string> {
  let msg: string | undefined;
  try {
    await check();
  } catch (e) {
    if (!(e instanceof AssertionError)) throw e;
    msg = e.message;
  }
  expect(msg, 'the check must fail on the broken variant').to.be.a('string');
  for (const p of patterns) expect(msg).to.match(p);
  return msg!;
}

describe('whitelist table (src/abi/whitelist.ts)', function () {
  it('covers every system call number <asm/unistd_64.h> defines, under the same name', function () {
    const text = execFileSync('cc', ['-dM', '-E', '-include', 'asm/unistd_64.h', '-'], { input: '', encoding: 'utf8' });
    const header = [...text.matchAll(/^#define __NR_(\w+) (\d+)$/gm)].map((m) => [Number(m[2]), m[1]] as const);
    expect(header.length, 'the header defines system calls').to.be.above(300);
    const missing = header.filter(([nr, name]) => syscallClass(nr)?.name !== name).map(([nr, name]) => `${nr} ${name}`);
    expect(missing, 'header numbers the table lacks or names differently').to.deep.equal([]);
    const extra = SYSCALL_CLASSES.filter((c) => !header.some(([nr]) => nr === c.nr));
    expect(
      extra.filter((c) => !c.since).map((c) => c.name),
      'numbers beyond the headers carry the release that added them',
    ).to.deep.equal([]);
  });

  it('must-reject holds the process-lifecycle and identity calls (SEMANTICS §4.1), and every process-level call', function () {
    const required = ['exit', 'exit_group', 'execve', 'execveat', 'fork', 'vfork', 'clone', 'clone3', 'rt_sigreturn'];
    required.push('setuid', 'setgid', 'setreuid', 'setregid', 'setresuid', 'setresgid', 'setfsuid', 'setfsgid', 'setgroups');
    required.push('unshare', 'setns', 'seccomp', 'ptrace');
    const rejected = new Set(MUST_REJECT.map((c) => c.name));
    expect(required.filter((n) => !rejected.has(n))).to.deep.equal([]);
    // the executor refuses these in-process for the same reason
    expect(Object.keys(PROCESS_LEVEL_NAMES).filter((n) => !rejected.has(n))).to.deep.equal([]);
    for (const c of SYSCALL_CLASSES) expect(c.reason, `${c.name} has a reason`).to.match(/\w/);
  });

  it('the generic encoding parses, and bad input is a one-line error', function () {
    expect(parseGenericEncoding('aio:op=14,nr=aio_offset,args=@aio_buf')).to.deep.include({ iface: 'aio', opcode: 14 });
    expect(genericEncoding({}).candidate).to.equal(false);
    expect(parseGenericEncoding(DEFAULT_GENERIC, false).opcode).to.equal(255);
    const bad = ['uring', 'uring:op=300,nr=off,args=@addr', 'uring:op=1,nr=nope,args=@addr', 'aio:op=1,nr=aio_offset,args=aio_buf'];
    for (const b of bad) expect(() => parseGenericEncoding(b)).to.throw(/^KASYNC_ASYNC_SYSCALL: [^\n]+$/);
  });
});

describe('adapter checks bite: a userspace reference passes, broken variants fail naming the rule', function () {
  this.timeout(120_000);
  let t: LocalTarget;
  let dir: string;
  let root = false;
  before(async () => {
    t = new LocalTarget();
    dir = await t.makeScratch();
    root = (await t.probe()).euid === 0;
  });
  after(async () => {
    await t.removeScratch(dir);
    await t.close();
  });
  /** A fresh directory for one check: the fixtures create fixed names under it. */
  const fresh = () => fs.mkdtempSync(path.join(dir, 'c-'));

  it('the reference agrees with every synchronous twin', async function () {
    for (const nr of fixtureNumbers()) await checkTwin(t, fresh(), reference(), nr).catch((e: Error) => {
      throw new Error(`${nameOf(nr)}: ${e.message}`);
    });
  });

  it('the reference refuses every must-reject call, cancels exactly once, and keeps submission creds', async function () {
    await checkMustRejectRefused(t, reference());
    await checkCancelOnce(t, reference());
    if (root) await checkQueuedCreds(t, fresh(), reference());
  });

  it('a variant that accepts exit_group fails the must-reject check (SEMANTICS §4.1)', async function () {
    const broken = reference('accepts exit_group');
    const msg = await expectFailure(() => checkMustRejectRefused(t, broken), /exit_group/, /SEMANTICS §4\.1/);
    expect(msg, 'only exit_group is named').to.not.match(/\bexecve\b/);
  });

  it('a variant that runs a queued request with the wrong uid fails the credentials check (SEMANTICS §3.8)', async function () {
    if (!root) this.skip(); // the fixture is a root-owned 0600 file and the submitter changes euid
    const broken = reference('wrong uid');
    await expectFailure(() => checkQueuedCreds(t, fresh(), broken), /credentials at submission/, /SEMANTICS §3\.8/);
  });

  it('a variant that completes a cancelled request twice fails the cancel check (SEMANTICS §3.9)', async function () {
    await expectFailure(() => checkCancelOnce(t, reference('double completion')), /exactly once/, /SEMANTICS §3\.9/);
  });

  it('the checks are the ones the suites use: the generic default refuses every must-reject call through io_uring and AIO', async function () {
    // guards the reference's own trustworthiness: a kernel interface passes the same must-reject check
    const { genericAdapter } = await import('../src/adapter/generic');
    await checkMustRejectRefused(t, genericAdapter(genericEncoding({})));
    // and through AIO: io_submit refuses an unknown IOCB opcode at once (SEMANTICS §1.5)
    await checkMustRejectRefused(t, genericAdapter(parseGenericEncoding('aio:op=255,nr=aio_offset,args=@aio_buf', false)));
    expect(classOf('exit_group').class).to.equal('must-reject');
  });
});
