/**
 * C reproducers: each program is emitted as C, built with `gcc -O1 -static -Wall -Werror`, run on the
 * host, and its parsed output must match the trace of the same program on the `child` target (step
 * results and errnos, CQEs, io_events, digests, verifies). Compile times are printed.
 */
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { errno, IOSQE, O, POLL_EV, SYSCALLS } from '../src/abi';
import { aioGetevents, aioSetup, aioSubmit, aioWaitEvents, aioWaitUntilTotal, iocb } from '../src/program/aio';
import { arg, Program } from '../src/program/builder';
import { decodeTrace, Trace } from '../src/program/trace';
import { reap, reapUntilTotal, setupRing, sqe, submit } from '../src/program/uring';
import { timespecMs } from '../src/program/sys';
import { pipe2, scratchFile } from '../src/program/sys';
import { programToC, UnsupportedStepError } from '../src/repro/csource';
import { parseReproOutput, ReproOutputError } from '../src/repro/output';
import { buildAndRun, diffOutcome, essence, haveGcc, maskVolatile, ReproCompileError, compileRepro } from '../src/repro/replay';
import { ChildTarget } from '../src/target/child';
import { Command } from 'commander';
import { registerRepro, reproduce } from '../src/cli/repro';
import { UsageError } from '../src/cli/usage';
import { traceJson } from '../fuzz/failures';

const SIZE = 8192;
const SEED = 0x5eed;

/** The programs a reproducer must replay exactly, by what they exercise. */
const PROGRAMS: Record<string, (dir: string) => Program> = {
  'AIO PWRITE, FSYNC, PREAD with a pattern verify': (dir) => {
    const p = new Program();
    const s = p.main;
    const { fd } = scratchFile(s, dir, 'aio');
    const { ctx } = aioSetup(s, 8);
    const src = p.buf(SIZE, 4096);
    const dst = p.buf(SIZE, 4096);
    s.fillPattern(src, 0, SIZE, SEED);
    aioSubmit(s, ctx, [iocb({ opcode: 'PWRITE', fd, aio_data: 1, aio_buf: arg.buf(src), aio_nbytes: SIZE, aio_offset: 0 })]);
    aioGetevents(s, ctx, 1, 1);
    aioSubmit(s, ctx, [iocb({ opcode: 'FSYNC', fd, aio_data: 2 })]);
    aioGetevents(s, ctx, 1, 1);
    aioSubmit(s, ctx, [iocb({ opcode: 'PREAD', fd, aio_data: 3, aio_buf: arg.buf(dst), aio_nbytes: SIZE, aio_offset: 0 })]);
    aioGetevents(s, ctx, 1, 1);
    s.verify(dst, 0, SIZE, SEED);
    s.digest(dst);
    return p;
  },
  'io_uring NOP batch': () => {
    const p = new Program();
    const h = setupRing(p.main, { entries: 8 });
    submit(p.main, h, [1, 2, 3, 4].map((ud) => sqe({ opcode: 'NOP', user_data: ud })), 4);
    reap(p.main, h, 4);
    p.main.uringState(h.ring);
    return p;
  },
  'io_uring drain counting every CQE of the ring (REAP_MIN_TOTAL) after a reap that gave up': () => {
    const p = new Program({ deadlineMs: 5000 });
    const h = setupRing(p.main, { entries: 4 });
    const ts = timespecMs(p.main, 100);
    const timeout = sqe({ opcode: 'TIMEOUT', addr: arg.buf(ts), len: 1, user_data: 2 });
    submit(p.main, h, [sqe({ opcode: 'NOP', user_data: 1 }), timeout]);
    reap(p.main, h, 2, 2, 10);
    reapUntilTotal(p.main, h, 2, 1, 3000);
    return p;
  },
  'AIO drain counting every io_event of the context (post 7) after a plain and a post-6 wait that gave up': () => {
    const p = new Program({ deadlineMs: 5000 });
    const s = p.main;
    const { r, w } = pipe2(s, O.CLOEXEC.value);
    const one = p.buf(8);
    const { ctx } = aioSetup(s, 4);
    const polls = (d: number) => [
      iocb({ opcode: 'POLL', fd: w, aio_buf: POLL_EV.OUT.value, aio_data: d }),
      iocb({ opcode: 'POLL', fd: r, aio_buf: POLL_EV.IN.value, aio_data: d + 1 }),
    ];
    aioSubmit(s, ctx, polls(1));
    aioGetevents(s, ctx, 1, 1, 20e6); // the POLLOUT
    aioSubmit(s, ctx, polls(3));
    aioWaitEvents(s, ctx, 2, 2, 20e6); // the second POLLOUT; the POLLINs wait for data
    aioWaitUntilTotal(s, ctx, 4, 8, 50e6); // 2 owed, none comes: 0 after 50 ms
    s.syscall(SYSCALLS.write, [arg.fd(w), arg.buf(one), 1]);
    aioWaitUntilTotal(s, ctx, 4, 8, 3e9); // both POLLINs
    aioWaitUntilTotal(s, ctx, 4, 8, 3e9); // nothing owed: 0 at once
    return p;
  },
  'io_uring WRITE -> READ link chain whose head fails (-EBADF, then -ECANCELED)': (dir) => {
    const p = new Program();
    const s = p.main;
    const { fd } = scratchFile(s, dir, 'link');
    const h = setupRing(s, { entries: 8 });
    const b = p.buf(4096, 4096);
    s.fillPattern(b, 0, 4096, SEED);
    submit(s, h, [
      sqe({ opcode: 'WRITE', fd: -1, addr: arg.buf(b), len: 4096, off: 0, user_data: 1, flags: IOSQE.IO_LINK.value }),
      sqe({ opcode: 'READ', fd, addr: arg.buf(b), len: 4096, off: 0, user_data: 2 }),
    ], 2);
    reap(s, h, 2);
    s.syscall(SYSCALLS.io_uring_enter, [arg.ring(h.ring), 0, 0, 0, 0, 0]);
    s.patch(b, 0, 8, arg.res(1)); // RES: the head's result, written into the buffer
    s.dump(b, 0, 8);
    return p;
  },
  'io_uring ring that wraps: 20 CQEs through an 8-entry CQ in 5 reaps': () => {
    const p = new Program();
    const h = setupRing(p.main, { entries: 4 });
    for (let r = 0; r < 5; r++) {
      submit(p.main, h, [0, 1, 2, 3].map((k) => sqe({ opcode: 'NOP', user_data: 10 * r + k })), 4);
      reap(p.main, h, 4);
    }
    p.main.uringState(h.ring);
    return p;
  },
  'FORK and WAIT: the child fails a read, exits 3': () => {
    const p = new Program();
    const kid = p.seq();
    kid.syscall(SYSCALLS.read, [-1, 0, 0]);
    kid.exit(3);
    const pid = p.pid();
    p.main.fork(kid, pid);
    p.main.wait(pid, 5000);
    return p;
  },
  'THREADS: two sequences fill, verify and digest their own buffers': () => {
    const p = new Program();
    const seqs = [1, 2].map((k) => {
      const q = p.seq();
      const b = p.buf(4096);
      q.fillPattern(b, 0, 4096, k);
      q.verify(b, 0, 4096, k);
      q.digest(b);
      q.syscall(SYSCALLS.close, [-1]);
      return q;
    });
    p.main.threads(seqs, 5000);
    return p;
  },
  'a read of an empty pipe cut short by the program deadline (EINTR, then status deadline)': () => {
    const p = new Program({ deadlineMs: 300 });
    const { r } = pipe2(p.main);
    const b = p.buf(8);
    p.main.syscall(SYSCALLS.read, [arg.fd(r), arg.buf(b), 8]);
    p.main.syscall(SYSCALLS.getuid);
    return p;
  },
  'SYSCALL with BAD arguments: EFAULT': () => {
    const p = new Program();
    const { w } = pipe2(p.main);
    p.main.syscall(SYSCALLS.pipe2, [arg.bad(), 0]);
    p.main.syscall(SYSCALLS.write, [arg.fd(w), arg.bad(16), 8]);
    p.main.syscall(SYSCALLS.uname, [arg.bad()]);
    return p;
  },
  'a stored result (post 5) feeding a later argument': () => {
    const p = new Program();
    const cell = p.buf(8);
    p.main.syscall(SYSCALLS.close, [-1], { store: cell });
    p.main.dump(cell);
    p.main.syscall(SYSCALLS.lseek, [arg.load64(cell, 0), 0, 0]);
    return p;
  },
};

describe('C reproducers', function () {
  let gcc = false;
  let child: ChildTarget;
  let dir: string;
  const compileMs: Record<string, number> = {};

  before(async function () {
    gcc = await haveGcc();
    child = new ChildTarget();
    dir = await child.makeScratch();
  });
  after(async () => {
    await child.removeScratch(dir);
    await child.close();
    if (Object.keys(compileMs).length) console.log('      compile times (gcc -O1 -static):', JSON.stringify(compileMs));
  });

  for (const [name, make] of Object.entries(PROGRAMS)) {
    it(`${name}: the reproducer gives the executor's results`, async function () {
      if (!gcc) this.skip(); // gcc is not installed: reproducers cannot be built here
      const p = make(dir);
      const wire = p.encode();
      const want = decodeTrace(await child.runWire(wire, p.deadlineMs));
      const { trace, compileMs: ms } = await buildAndRun(programToC(wire), p.deadlineMs);
      compileMs[name.split(':')[0]] = ms;
      expect(want.status, `the executor ran it (${want.message})`).to.equal(name.includes('deadline') ? 'deadline' : 'ok');
      expect(trace.message, 'same message').to.equal(want.message);
      if (name.includes('deadline')) expect(trace.steps.map((s) => s.deadline), 'the read is flagged DEADLINE').to.include(true);
      expect(trace.steps.length, 'as many steps').to.equal(want.steps.length);
      expect(diffOutcome(essence(maskVolatile(want, wire)), essence(maskVolatile(trace, wire))), 'same results, completions and data').to.deep.equal([]);
    });
  }

  it('the checks bite: a different CQE res, errno or digest is reported', async function () {
    if (!gcc) this.skip();
    const p = PROGRAMS['io_uring NOP batch']('');
    const { trace } = await buildAndRun(programToC(p.encode()), p.deadlineMs);
    const bent = (f: (t: Trace) => void) => {
      const c = structuredClone(trace);
      f(c);
      return diffOutcome(essence(trace), essence(c));
    };
    expect(bent((t) => (t.steps.find((s) => s.cqes.length)!.cqes[2].res = -errno.ECANCELED)), 'CQE res').to.have.length(1);
    expect(bent((t) => (t.steps[1].errno = errno.EINVAL)), 'errno').to.have.length(1);
    expect(bent((t) => t.steps.pop()), 'a missing step').to.have.length(1);
    expect(bent(() => undefined)).to.deep.equal([]);
  });

  it('lines come back as the trace decodeTrace builds: CQE32, events, dumps, errors and the deadline', () => {
    const t = parseReproOutput(
      [
        'CQE 0 1 0 7 -125 2 1 2',
        'STEP 0 1 0 1 0 0 10 20 0',
        'EVENT 0 2 0 3 99 8192 0',
        'STEP 0 2 0 1 0 1 30 40 0',
        'DUMP 0 3 0 2 ff00',
        'STEP 0 3 0 0 0 0 50 60 0',
        'ERROR 0 4 0 ring 0 is not set up',
        'STATUS deadline program deadline exceeded: step 5 of seq 0',
        'END',
        '',
      ].join('\n'),
      { waitStatus: 0 },
    );
    expect(t.status).to.equal('deadline');
    expect(t.message).to.equal('program deadline exceeded: step 5 of seq 0');
    expect(t.steps[0].cqes).to.deep.equal([{ userData: 7n, res: -125, flags: 2, big: [1n, 2n] }]);
    expect(t.steps[1].events).to.deep.equal([{ data: 3n, obj: 99n, res: 8192n, res2: 0n }]);
    expect(t.steps[1].deadline).to.equal(true);
    expect(t.steps[2].dump).to.deep.equal(Buffer.from([0xff, 0]));
    expect(t.steps[3].error).to.equal('ring 0 is not set up');
    expect(parseReproOutput('STEP 0 0 0 0 0 0 1 2 0\n', { waitStatus: 3 << 8 }).status, 'no END: the runner died').to.equal('runner-died');
    expect(() => parseReproOutput('STEP 0 zero\nEND\n')).to.throw(ReproOutputError, /line 1/);
  });

  it('a step it cannot express is an error naming the step kind, not a silent drop', () => {
    const p = new Program();
    p.main.syscall(SYSCALLS.getpid);
    p.main.sigCount(10);
    expect(() => programToC(p.encode())).to.throw(UnsupportedStepError, /SIGCOUNT.*step 1 of sequence 0/);
  });

  it('post 7 whose argument 0 is not a CTX arg is refused, as the executor refuses it', () => {
    const p = new Program();
    p.main.syscall(SYSCALLS.io_getevents, [0, 1, 2, arg.buf(p.buf(64)), 0], { aioWaitTotal: true });
    expect(() => programToC(p.encode())).to.throw(/step 0 of sequence 0: post 7 needs io_getevents on a ctx argument/);
  });

  it('C that does not build is one line naming the file', async function () {
    if (!gcc) this.skip();
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'kasync-repro-test-'));
    try {
      fs.writeFileSync(path.join(d, 'bad.c'), 'int main(void) { return undefined_thing; }\n');
      const e = await compileRepro(path.join(d, 'bad.c')).catch((x: Error) => x);
      expect(e).to.be.instanceOf(ReproCompileError);
      expect((e as Error).message).to.match(/^bad\.c does not compile: .*undefined_thing/);
      expect((e as Error).message).to.not.include('\n');
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  });
});

describe('kasync repro', function () {
  let gcc = false;
  let root: string;
  before(async () => {
    gcc = await haveGcc();
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'kasync-repro-cli-'));
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  /** A failure dir as the fuzzer writes it: program.kasp, trace.json (from the child target), repro.c. */
  async function failureDir(name: string): Promise<string> {
    const d = path.join(root, name);
    fs.mkdirSync(d);
    const p = PROGRAMS['io_uring WRITE -> READ link chain whose head fails (-EBADF, then -ECANCELED)'](root);
    const wire = p.encode();
    const t = new ChildTarget();
    try {
      fs.writeFileSync(path.join(d, 'trace.json'), traceJson(decodeTrace(await t.runWire(wire, p.deadlineMs))));
    } finally {
      await t.close();
    }
    fs.writeFileSync(path.join(d, 'program.kasp'), wire);
    fs.writeFileSync(path.join(d, 'repro.c'), programToC(wire));
    return d;
  }

  async function cli(...args: string[]): Promise<number> {
    const program = new Command('kasync').exitOverride();
    registerRepro(program);
    const saved = process.exitCode;
    const write = process.stdout.write;
    process.stdout.write = (() => true) as typeof process.stdout.write;
    try {
      await program.parseAsync(args, { from: 'user' });
      return (process.exitCode as number | undefined) ?? 0;
    } finally {
      process.stdout.write = write;
      process.exitCode = saved;
    }
  }

  it('a failure dir replayed on child: still fails when the results match trace.json (exit 1)', async () => {
    const d = await failureDir('same');
    const v = await reproduce(d, { target: 'child' });
    expect(v.lines.join('\n'), v.lines.join('\n')).to.match(/still fails/);
    expect(v.verdict).to.equal('fails');
    expect(await cli('repro', d), 'exit code').to.equal(1);
  });

  it('a recorded trace the replay does not match: no longer fails, and the differing step is named', async () => {
    const d = await failureDir('fixed');
    const t = JSON.parse(fs.readFileSync(path.join(d, 'trace.json'), 'utf8'));
    const reap = t.steps.find((s: { cqes: unknown[] }) => s.cqes.length === 2);
    reap.cqes[1].res = 4096; // as if the linked READ had run
    fs.writeFileSync(path.join(d, 'trace.json'), JSON.stringify(t));
    const v = await reproduce(d, { target: 'child' });
    expect(v.verdict).to.equal('passes');
    expect(v.lines.join('\n')).to.match(/no longer fails[\s\S]*step \d+ of sequence 0/);
    expect(await cli('repro', d), 'exit code').to.equal(0);
  });

  it('the C reproducer of a failure dir still fails the same way', async function () {
    if (!gcc) this.skip();
    const d = await failureDir('c');
    const v = await reproduce(path.join(d, 'repro.c'));
    expect(v.lines.join('\n')).to.match(/^built repro\.c in \d+ ms[\s\S]*still fails/);
    expect(v.verdict).to.equal('fails');
  });

  it('bad inputs are one line (UsageError, exit 2 from main)', async function () {
    const bad = async (input: string, o = {}) => {
      const e = await reproduce(input, o).catch((x: Error) => x);
      expect(e, input).to.be.instanceOf(UsageError);
      expect((e as Error).message).to.not.include('\n');
      return (e as Error).message;
    };
    expect(await bad(path.join(root, 'nope'))).to.match(/cannot read .*nope: ENOENT/);
    fs.mkdirSync(path.join(root, 'empty'));
    expect(await bad(path.join(root, 'empty'))).to.match(/no minimal\.kasp or program\.kasp/);
    fs.writeFileSync(path.join(root, 'junk.kasp'), 'hello');
    expect(await bad(path.join(root, 'junk.kasp'))).to.match(/is not a kasync program/);
    fs.writeFileSync(path.join(root, 'x.c'), 'int main(void) { return nothing; }\n');
    expect(await bad(path.join(root, 'x.c'), { kernel: 'debian:6.12' })).to.match(/host only/);
    if (gcc) expect(await bad(path.join(root, 'x.c'))).to.match(/x\.c does not compile/);
  });
});
