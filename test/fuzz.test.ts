/**
 * The fuzzer: quiet on a correct kernel, loud on a lying one. A fault-injecting target (a lost, a
 * duplicated or a wrong completion, a link chain out of order) must be caught, shrunk to a handful of
 * steps and written to a failure dir whose repro.c compiles; the corpus survives a torn line; the
 * CLI gives one JSON line with --json, one error line for bad values, and stops cleanly on SIGTERM.
 */
import { expect } from 'chai';
import { execFileSync, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { buildStream, knownBugAvoidance, planOf } from '../fuzz/build';
import { Corpus, readCorpus } from '../fuzz/corpus';
import { FAULTS } from '../fuzz/faults';
import { findingCount } from '../fuzz/failures';
import { CANCEL_MODES, RING_KINDS, StreamModel } from '../fuzz/model';
import { judge } from '../fuzz/oracle';
import { fuzz, FuzzOptions } from '../fuzz/runner';
import { CQE_F, errno } from '../src/abi';
import { ROOT } from '../src/paths';
import type { Program } from '../src/program/builder';
import { REPRO_CFLAGS } from '../src/repro/csource';
import { RunGate } from '../src/target/gate';
import { LocalTarget } from '../src/target/local';
import type { Target } from '../src/target/target';

const DIST = path.join(ROOT, 'dist');

/** `kasync fuzz …` through registerFuzz on a bare program, with main.ts's error handling. */
const HARNESS = `
const { Command, CommanderError } = require(${JSON.stringify(require.resolve('commander'))});
const { registerFuzz } = require(${JSON.stringify(path.join(DIST, 'src/cli/fuzz.js'))});
const { UsageError } = require(${JSON.stringify(path.join(DIST, 'src/cli/usage.js'))});
const p = new Command('kasync').exitOverride().configureOutput({ writeErr: (s) => process.stderr.write(s) });
registerFuzz(p);
p.parseAsync(process.argv.slice(1), { from: 'user' }).then(
  () => process.stdout.write('', () => process.exit(process.exitCode ?? 0)),
  (e) => {
    if (e instanceof CommanderError) process.exit(e.exitCode === 0 ? 0 : 2);
    if (e instanceof UsageError) { process.stderr.write('kasync: ' + e.message + '\\n'); process.exit(2); }
    process.stderr.write('kasync: internal error: ' + e.stack + '\\n');
    process.exit(3);
  });
`;

function kasyncFuzz(args: string[], cwd: string) {
  const r = spawnSync(process.execPath, ['-e', HARNESS, 'fuzz', ...args], { cwd, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('fuzz', function () {
  this.timeout(600_000);
  let tmp: string;
  beforeEach(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kasync-fuzztest-'))));
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  const opts = (o: Partial<FuzzOptions>): FuzzOptions => ({
    seed: 1234,
    jobs: 1,
    out: path.join(tmp, 'failures'),
    corpus: path.join(tmp, 'failures', 'corpus.jsonl'),
    shrinkMs: 30_000,
    makeTarget: async () => new LocalTarget(),
    ...o,
  });

  it('finds nothing on the running kernel in a short host run with a fixed seed', async () => {
    const s = await fuzz(opts({ timeMs: 8000, jobs: 4 }));
    expect(s.runs, 'programs ran').to.be.greaterThan(20);
    expect(s.findings.map((f) => `${f.title}: ${f.detail}`), 'no finding on a correct kernel').to.deep.equal([]);
    expect(s.unique, 'outcome classes were seen').to.be.greaterThan(5);
    expect(readCorpus(path.join(tmp, 'failures', 'corpus.jsonl')).entries.length, 'the corpus kept programs').to.be.greaterThan(0);
  });

  for (const fault of FAULTS) {
    it(`catches a target that lies (${fault}), shrinks it and writes a failure dir with a repro.c that compiles`, async () => {
      const t0 = Date.now();
      const s = await fuzz(opts({ fault, runs: 10, timeMs: 60_000, shrinkMs: 20_000 }));
      expect(s.findings.length, `the ${fault} fault is reported`).to.be.greaterThan(0);
      expect(Date.now() - t0, 'within 60 s, shrinking included').to.be.lessThan(60_000);
      const f = s.findings.find((x) => x.minimalSteps !== undefined);
      expect(f, 'a finding was shrunk').to.not.equal(undefined);
      expect(f!.minimalSteps, `${f!.title}: shrunk to a handful of steps`).to.be.at.most(3);
      for (const file of ['description', 'program.kasp', 'model.json', 'seed.json', 'trace.json', 'kernel.txt', 'count', 'minimal.kasp', 'minimal.json', 'repro.c'])
        expect(fs.existsSync(path.join(f!.dir, file)), `${file} in ${f!.dir}`).to.equal(true);
      const seed = JSON.parse(fs.readFileSync(path.join(f!.dir, 'seed.json'), 'utf8'));
      expect(seed).to.include.keys('seed', 'path', 'runs', 'title');
      expect(seed.title).to.equal(f!.title);
      const minimal = JSON.parse(fs.readFileSync(path.join(f!.dir, 'minimal.json'), 'utf8')) as StreamModel;
      expect(minimal.steps.length).to.equal(f!.minimalSteps);
      const bin = path.join(tmp, 'repro');
      execFileSync('gcc', [...REPRO_CFLAGS, '-o', bin, path.join(f!.dir, 'repro.c')], { stdio: 'pipe' });
      expect(fs.statSync(bin).size, 'repro.c compiled').to.be.greaterThan(0);
    });
  }

  it('holds a cancel to its word and every file word to a legal write (SEMANTICS §3.9)', async () => {
    const req = { link: 0 as const, drain: false, file: 0, at: 0, words: 4, target: 0, count: 0, ms: 0 };
    const model: StreamModel = {
      rings: [8],
      ctxs: 0,
      files: 1,
      steps: [{ kind: 'submit', ring: 0, reqs: [{ ...req, op: 'WRITE' }, { ...req, op: 'POLL_ADD' }, { ...req, op: 'ASYNC_CANCEL' }] }],
    };
    const t = new LocalTarget();
    const dir = await t.makeScratch();
    try {
      const { program, plan } = buildStream(model, { dir });
      const v = await t.run(program);
      expect(judge(plan, v.trace), 'the real kernel is judged correct').to.deep.equal([]);
      const cqes = v.allCqes();
      const poll = cqes.find((c) => c.userData === 2n)!;
      const cancel = cqes.find((c) => c.userData === 3n)!;
      expect([poll.res, cancel.res], 'the poll had no data: the cancel finds it').to.deep.equal([-errno.ECANCELED, 0]);
      poll.res = 1; // as if the poll had fired although the cancel said it removed it
      expect(judge(plan, v.trace).map((f) => f.title)).to.include('uring: cancel succeeded but its target was not cancelled');
      poll.res = -errno.ECANCELED;
      const dumpStep = [...plan.steps].find(([, st]) => st.kind === 'dump')![0];
      const dump = v.trace.steps.find((x) => x.step === dumpStep)!.dump!;
      dump[8] ^= 0xff; // the second word of the WRITE's range: from no write at all
      expect(judge(plan, v.trace).map((f) => f.title)).to.deep.equal(['file: contents match no legal order of the completed writes']);
    } finally {
      await t.removeScratch(dir);
      await t.close();
    }
  });

  it('takes a FILES_UPDATE at the head of a chain that may fail at prep as leaving its slot unknown (6.1, 6.12 cancel the chain)', async () => {
    // found by kasync fuzz on debian:6.12 with --procs 8: before 6.15 a WRITE_FIXED of an index with no buffer fails at
    // prep, and a chain head is issued only once its chain is complete, so the whole chain ends -ECANCELED and the slot
    // stays empty (the READ after it: -EBADF); 6.18 runs the update, then fails the WRITE_FIXED at issue
    const req = { drain: false, file: 0, words: 25, target: 0, count: 0, ms: 0 };
    const model: StreamModel = {
      rings: [4],
      kinds: [0],
      ctxs: 0,
      files: 1,
      table: [false, false, false, false],
      steps: [
        { kind: 'submit', ring: 0, reqs: [{ ...req, op: 'FILES_UPDATE', link: 1, at: 3 }, { ...req, op: 'WRITE_FIXED', link: 0, at: 465 }] },
        { kind: 'submit', ring: 0, reqs: [{ ...req, op: 'READ', link: 0, at: 252, file: 3, fixed: true }] },
      ],
    };
    const b = buildStream(model, { dir: tmp });
    const read = b.plan.uring.find((r) => r.op === 'READ')!;
    expect(read.slot).to.equal(3);
    expect(read.slotFull, 'the slot may be empty: no -EBADF rule for the READ').to.not.equal(true);
    const t = new LocalTarget();
    try {
      const v = await t.run(b.program);
      expect(judge(b.plan, v.trace), 'the running kernel passes it').to.deep.equal([]);
    } finally {
      await t.close();
    }
  });

  it('takes a slot a FILES_UPDATE may still change later (behind a timeout) as unknown, whatever later steps put there', async () => {
    // found by kasync fuzz on debian:6.12: an update hardlinked behind a TIMEOUT empties slot 0 when the timer fires,
    // after an inline update filled it, so a WRITE through slot 0 in between may find it empty (-EBADF)
    const req = { drain: false, file: 0, target: 0, count: 0, ms: 0 };
    const model: StreamModel = {
      rings: [8],
      kinds: [0],
      ctxs: 0,
      files: 1,
      table: [false, false, false, false],
      steps: [
        { kind: 'submit', ring: 0, reqs: [{ ...req, op: 'TIMEOUT', link: 2, at: 0, words: 0 }, { ...req, op: 'FILES_UPDATE', link: 0, at: 0, words: 2 }] },
        { kind: 'submit', ring: 0, reqs: [{ ...req, op: 'FILES_UPDATE', link: 0, at: 0, words: 1 }] },
        { kind: 'submit', ring: 0, reqs: [{ ...req, op: 'WRITE', link: 0, at: 8, words: 4, file: 0, fixed: true }] },
      ],
    };
    const b = buildStream(model, { dir: tmp });
    const [late, now] = b.plan.uring.filter((r) => r.op === 'FILES_UPDATE');
    expect([late.inline, late.fill, now.inline, now.fill], 'a late emptying update, then an inline filling one').to.deep.equal([false, false, true, true]);
    expect(b.plan.uring.find((r) => r.op === 'WRITE')!.slotFull, 'slot 0 may be either').to.equal(undefined);
  });

  it('lets a cancel by the pipe fd find a chained poll armed after a dupPipe (the poll looks its fd up when issued)', async () => {
    // found by kasync fuzz on debian:6.12 (reduced): [PROVIDE_BUFFERS -> POLL_ADD] on a DEFER_TASKRUN ring, dupPipe, a
    // reap (the linked poll is issued then, as task work, on the pipe the fd names by now), ASYNC_CANCEL(fdAll) of the
    // pipe fd: 6.12 cancels the poll (res 1, poll -ECANCELED); 6.18 and 6.1 let it fire first. Both are legal
    const model: StreamModel = {
      rings: [4], ctxs: 0, files: 1, kinds: [2, 0], threads: false,
      steps: [
        { kind: 'submit', ring: 0, reqs: [
          {op: 'FILES_UPDATE', link: 1, drain: true, file: 0, at: 295, words: 34, target: 0, count: 0, ms: 2, fixed: false, cancel: 1, select: true, alias: false},
          {op: 'POLL_REMOVE', link: 1, drain: true, file: 1, at: 506, words: 26, target: 6, count: 0, ms: 0, fixed: false, cancel: 4, select: false, alias: true},
        ] },
        { kind: 'submit', ring: 0, reqs: [
          {op: 'PROVIDE_BUFFERS', link: 1, drain: false, file: 1, at: 412, words: 1, target: 1, count: 0, ms: 1, fixed: false, cancel: 1, select: false, alias: false},
          {op: 'POLL_ADD', link: 1, drain: false, file: 0, at: 161, words: 60, target: 0, count: 1, ms: 0, fixed: false, cancel: 2, select: false, alias: true},
        ] },
        {kind: 'dupPipe'},
        {kind: 'reap', ring: 0, want: 4, waitMs: 0},
        { kind: 'submit', ring: 0, reqs: [
          {op: 'READ_FIXED', link: 2, drain: false, file: 1, at: 406, words: 12, target: 6, count: 0, ms: 1, fixed: true, cancel: 1, select: true, alias: false},
          {op: 'ASYNC_CANCEL', link: 0, drain: true, file: 2, at: 150, words: 59, target: 0, count: 0, ms: 0, fixed: true, cancel: 4, select: true, alias: true},
        ] },
      ],
    };
    // built as for 6.12 (no drain on a ring with READ_FIXED), so the cancel is issued inside its enter
    const b = buildStream(model, { dir: tmp, ...knownBugAvoidance('6.12.117') });
    const poll = b.plan.uring.find((r) => r.op === 'POLL_ADD')!;
    const cancel = b.plan.uring.find((r) => r.op === 'ASYNC_CANCEL')!;
    expect([poll.inline, cancel.inline, cancel.cancelMode, cancel.cancelFile, poll.pipeGen, cancel.pipeGen]).to.deep.equal([false, true, 'fdAll', -1, 0, 1]);
    const t = new LocalTarget();
    try {
      const v = await t.run(b.program);
      expect(judge(b.plan, v.trace), 'as this kernel ran it').to.deep.equal([]);
      // as 6.12 ran it: the cancel found the poll
      for (const c of v.trace.steps.flatMap((s) => s.cqes)) {
        if (Number(c.userData) === cancel.userData) c.res = 1;
        if (Number(c.userData) === poll.userData) c.res = -errno.ECANCELED;
      }
      expect(judge(b.plan, v.trace), "as 6.12 ran it").to.deep.equal([]);
    } finally {
      await t.close();
    }
  });

  it('holds fixed files, cancels by fd, cancelled results and an overflowing CQ to their rules (SEMANTICS §3.4, §3.9)', async () => {
    const req = { link: 0 as const, drain: false, file: 0, at: 0, words: 4, target: 0, count: 0, ms: 0 };
    const model: StreamModel = {
      rings: [8, 4],
      kinds: [0, RING_KINDS.indexOf('smallcq')],
      ctxs: 0,
      files: 1,
      table: [true, false, false, false],
      steps: [
        {
          kind: 'submit',
          ring: 0,
          reqs: [
            { ...req, op: 'READ', fixed: true, file: 0 },
            { ...req, op: 'READ', fixed: true, file: 1 },
            { ...req, op: 'POLL_ADD' },
            { ...req, op: 'ASYNC_CANCEL', cancel: CANCEL_MODES.indexOf('fd'), file: 0 },
            { ...req, op: 'NOP' },
          ],
        },
        { kind: 'files', ring: 0, action: 'update', slot: 1, fill: true },
        { kind: 'submit', ring: 0, reqs: [{ ...req, op: 'READ', fixed: true, file: 1 }] },
        // 8 NOPs on a ring of 4 CQ entries, reaped only at the end: the CQ overflows
        { kind: 'submit', ring: 1, reqs: Array.from({ length: 8 }, () => ({ ...req, op: 'NOP' as const })) },
      ],
    };
    const t = new LocalTarget();
    const dir = await t.makeScratch();
    try {
      const { program, plan } = buildStream(model, { dir });
      const v = await t.run(program);
      expect(judge(plan, v.trace), 'the real kernel is judged correct').to.deep.equal([]);
      const cqe = (ud: number) => v.allCqes().find((c) => c.userData === BigInt(ud))!;
      expect([1, 2, 3, 4, 5, 6].map((ud) => cqe(ud).res), 'slot 0 read, slot 1 empty, poll cancelled by fd, slot 1 read after the update').to.deep.equal([32, -errno.EBADF, -errno.ECANCELED, 0, 0, 32]);
      const titles = (ud: number, res: number) => {
        const c = cqe(ud);
        const was = c.res;
        c.res = res;
        const out = judge(plan, v.trace).map((f) => f.title);
        c.res = was;
        return out;
      };
      expect(titles(2, 32)).to.include('uring: FIXED_FILE READ of an empty slot did not fail with -EBADF');
      expect(titles(6, -errno.EBADF)).to.include('uring: FIXED_FILE READ of a registered file failed with -EBADF');
      expect(titles(4, -errno.ENOENT)).to.include('uring: cancel missed an armed poll');
      expect(titles(5, -errno.ECANCELED)).to.include('uring: NOP was cancelled with nothing to cancel it');
      const state = v.trace.steps.find((x) => x.ring && x.ring.cqEntries === 4)!.ring!;
      expect(state.cqOverflow, 'FEAT_NODROP: nothing dropped').to.equal(0);
      state.cqOverflow = 1;
      expect(judge(plan, v.trace).map((f) => f.title)).to.deep.equal(['uring: completions were dropped from an overflowing CQ despite FEAT_NODROP']);
    } finally {
      await t.removeScratch(dir);
      await t.close();
    }
  });

  it('holds two threads entering one batch to "each SQE once", and to -EEXIST on a SINGLE_ISSUER ring (SEMANTICS §3.5, §3.11)', async () => {
    const req = { link: 0 as const, drain: false, file: 0, at: 0, words: 4, target: 0, count: 0, ms: 0 };
    const t = new LocalTarget();
    const dir = await t.makeScratch();
    try {
      for (const kind of ['plain', 'defer'] as const) {
        const model: StreamModel = {
          rings: [8],
          kinds: [RING_KINDS.indexOf(kind)],
          ctxs: 0,
          files: 1,
          threads: true,
          steps: [{ kind: 'threadSubmit', ring: 0, reqs: [{ ...req, op: 'WRITE' }, { ...req, op: 'NOP' }] }],
        };
        const { program, plan } = buildStream(model, { dir });
        const v = await t.run(program);
        expect(judge(plan, v.trace), `${kind}: the real kernel is judged correct`).to.deep.equal([]);
        const enters = v.trace.steps.filter((x) => x.seq !== 0);
        expect(enters.map((x) => Number(x.ret)).sort(), kind).to.deep.equal(kind === 'plain' ? [0, 2] : [-errno.EEXIST, -errno.EEXIST]);
        enters[0].ret = kind === 'plain' ? 2n - enters[0].ret : 0n; // as if both threads, or none, took the batch
        expect(judge(plan, v.trace).map((f) => f.title)).to.include(
          kind === 'plain' ? 'uring: concurrent io_uring_enter calls did not consume each SQE exactly once' : 'uring: another thread submitted on a SINGLE_ISSUER ring',
        );
      }
    } finally {
      await t.removeScratch(dir);
      await t.close();
    }
  });

  it('holds a multishot poll to F_MORE then one final CQE, and its cancel to finding it (SEMANTICS §3.3, §3.9)', async () => {
    const model: StreamModel = { rings: [4], ctxs: 0, files: 1, steps: [{ kind: 'msPoll' }, { kind: 'pipeWrite' }, { kind: 'msPoll' }, { kind: 'msCancel', target: 1, remove: true }] };
    const t = new LocalTarget();
    const dir = await t.makeScratch();
    try {
      const { program, plan } = buildStream(model, { dir });
      const v = await t.run(program);
      expect(judge(plan, v.trace), 'the real kernel is judged correct').to.deep.equal([]);
      const of = (ud: number) => v.allCqes().filter((c) => c.userData === BigInt(ud));
      const more = CQE_F.MORE.value;
      expect(of(1).map((c) => [c.res > 0 ? '+' : c.res, c.flags]), 'armed, then data: one F_MORE CQE, then cancelled').to.deep.equal([['+', more], [-errno.ECANCELED, 0]]);
      expect(of(2).map((c) => [c.res > 0 ? '+' : c.res, c.flags]), 'armed on data: one F_MORE CQE, then cancelled').to.deep.equal([['+', more], [-errno.ECANCELED, 0]]);
      expect(of(3).map((c) => c.res), 'POLL_REMOVE found it').to.deep.equal([0]);
      const titles = (c: { flags: number; res: number }, key: 'flags' | 'res', value: number) => {
        const was = c[key];
        c[key] = value;
        const out = judge(plan, v.trace).map((f) => f.title);
        c[key] = was;
        return out;
      };
      expect(titles(of(1)[1], 'flags', more)).to.include('uring: multishot POLL_ADD never posted its final CQE');
      expect(titles(of(1)[0], 'flags', 0)).to.include('uring: multishot POLL_ADD posted a CQE without F_MORE before its last');
      expect(titles(of(3)[0], 'res', -errno.ENOENT)).to.include('uring: cancel missed an armed multishot poll');
      const first = v.trace.steps.find((x) => x.cqes.includes(of(1)[0]))!;
      first.cqes.splice(first.cqes.indexOf(of(1)[0]), 1); // the F_MORE CQE the write must have caused
      expect(judge(plan, v.trace).map((f) => f.title)).to.include('uring: multishot POLL_ADD missed the data in its pipe');
    } finally {
      await t.removeScratch(dir);
      await t.close();
    }
  });

  it('a run that gave no trace gets a fresh scratch dir, and no scratch dir is left behind', async () => {
    const base = path.join(tmp, 'scratch');
    fs.mkdirSync(base);
    const saved = process.env.KASYNC_SCRATCH;
    process.env.KASYNC_SCRATCH = base;
    try {
      let runs = 0;
      const dirs = new Set<string>();
      const lost = async () => {
        const t = new LocalTarget();
        const run = t.run.bind(t);
        const make = t.makeScratch.bind(t);
        t.makeScratch = async () => {
          const d = await make();
          dirs.add(d);
          return d;
        };
        // the third fuzz program (the probe's come before the first scratch dir) "hangs": no trace, as from a
        // VM that was lost
        t.run = async (prog) => {
          if (dirs.size && ++runs === 3) throw new Error('no trace: lost');
          return run(prog);
        };
        return t;
      };
      const s = await fuzz(opts({ runs: 6, shrinkMs: 0, makeTarget: lost }));
      expect(s.findings.map((f) => f.title)).to.deep.equal(['program: no trace (hang or crash)']);
      expect(dirs.size, 'a fresh scratch dir after the lost run').to.be.at.least(2);
      expect(fs.readdirSync(base), 'every scratch dir removed').to.deep.equal([]);
    } finally {
      if (saved === undefined) delete process.env.KASYNC_SCRATCH;
      else process.env.KASYNC_SCRATCH = saved;
    }
  });

  it('never starts a program while one of the same job still runs, when a shrink runs out of time mid-run', async () => {
    let running = 0;
    let most = 0;
    const slow = async () => {
      const t = new LocalTarget();
      const run = t.run.bind(t);
      const make = t.makeScratch.bind(t);
      let fuzzing = false;
      t.makeScratch = async () => {
        fuzzing = true;
        return make();
      };
      // each fuzz program takes 1.5 s, longer than the shrink's whole time
      t.run = async (prog) => {
        if (!fuzzing) return run(prog);
        most = Math.max(most, ++running);
        try {
          await new Promise((r) => setTimeout(r, 1500));
          return await run(prog);
        } finally {
          running--;
        }
      };
      return t;
    };
    const s = await fuzz(opts({ runs: 3, shrinkMs: 200, fault: 'drop', makeTarget: slow }));
    expect(s.failures, 'the dropped completion was found').to.be.at.least(1);
    expect(most, 'programs of one job at a time').to.equal(1);
  });

  it('--procs: runs several programs of one target at once, and shrinks a finding with none other in flight', async () => {
    let running = 0;
    let most = 0;
    let mostWhileShrinking = 0;
    let shrinking = false;
    const target = async () => {
      const t = new LocalTarget();
      const gate = new RunGate();
      const run = t.run.bind(t);
      t.run = (prog) =>
        gate.run(async () => {
          most = Math.max(most, ++running);
          if (shrinking) mostWhileShrinking = Math.max(mostWhileShrinking, running);
          try {
            // long enough for the other lanes to start theirs meanwhile
            await new Promise((r) => setTimeout(r, 50));
            return await run(prog);
          } finally {
            running--;
          }
        });
      (t as Target).exclusive = (fn) =>
        gate.exclusive(async () => {
          shrinking = true;
          try {
            return await fn();
          } finally {
            shrinking = false;
          }
        });
      return t;
    };
    const s = await fuzz(opts({ runs: 12, procs: 3, shrinkMs: 2000, fault: 'flip', makeTarget: target }));
    expect(s.failures, 'the flipped result was found').to.be.at.least(1);
    expect(most, 'three lanes, three programs in flight').to.equal(3);
    expect(mostWhileShrinking, 'the shrink ran its programs alone').to.equal(1);
  });

  it('--procs: a console report seen after another lane\'s program is shrunk from the suspect that reproduces it alone', async () => {
    // A stand-in for a VM's console: a program with an FSYNC "prints a report", which a later check sees
    // after some other, innocent program (as the 2 s console check does with programs in flight); it
    // names the last programs as suspects, the guilty one last. Alone (in a shrink) the report comes at once.
    const guilty = (p: Program) => !!planOf(p)?.uring.some((r) => r.op === 'FSYNC');
    let finderInnocent = false;
    const target = async () => {
      const t = new LocalTarget();
      const gate = new RunGate();
      const run = t.run.bind(t);
      let last = 0;
      let pending: number | undefined;
      let lastGuilty = false;
      let alone = false;
      const ended: number[] = [];
      const tt = t as Target;
      tt.run = (prog, hooks) =>
        gate.run(async () => {
          const id = ++last;
          hooks?.onStart?.(id);
          try {
            await new Promise((r) => setTimeout(r, 20));
            return await run(prog);
          } finally {
            lastGuilty = guilty(prog);
            ended.push(id);
            if (lastGuilty) pending ??= id;
          }
        });
      tt.exclusive = (fn) =>
        gate.exclusive(async () => {
          alone = true;
          pending = undefined; // another lane's, from before the shrink
          try {
            return await fn();
          } finally {
            alone = false;
          }
        });
      tt.checkKernel = async () => {
        if (pending === undefined || (!alone && lastGuilty)) return [];
        if (!alone) finderInnocent = true;
        const g = pending;
        pending = undefined;
        const others = ended.slice(-3).filter((x) => x !== g).reverse();
        return [{ title: 'WARNING in fake_splat', kind: 'WARNING', text: '', suspects: [...others, g] }];
      };
      return t;
    };
    const s = await fuzz(opts({ runs: 60, procs: 3, minSteps: 1, maxSteps: 4, shrinkMs: 20_000, kernelCheckMs: 0, makeTarget: target }));
    expect(finderInnocent, 'the report was seen after an innocent program').to.equal(true);
    const f = s.findings.find((x) => x.title === 'kernel: WARNING in fake_splat');
    expect(f, 'the report is a finding').to.not.equal(undefined);
    const read = (name: string) => fs.readFileSync(path.join(f!.dir, name), 'utf8');
    // guilt as the stand-in console judges it: by the program built (a step may build to nothing)
    const hasFsync = (m: StreamModel) => buildStream(m, { dir: tmp }).plan.uring.some((r) => r.op === 'FSYNC');
    expect(hasFsync(JSON.parse(read('model.json'))), "the finder's own program is innocent").to.equal(false);
    const suspects = JSON.parse(read('suspects.json')) as Array<{ run: number; model: StreamModel }>;
    expect(suspects.some((x) => hasFsync(x.model)), 'the guilty program is among the suspects kept').to.equal(true);
    const minimal = JSON.parse(read('minimal.json')) as StreamModel;
    expect(hasFsync(minimal), 'the minimal program is the guilty one, shrunk').to.equal(true);
    expect(minimal.steps.length, 'shrunk to a step or two').to.be.at.most(2);
    expect(read('description')).to.match(/minimal program: shrunk from suspect run \d+/);
  });

  it('counts a finding seen again instead of making a new dir', async () => {
    const a = await fuzz(opts({ fault: 'flip', runs: 1, shrinkMs: 1000 }));
    expect(a.findings).to.have.length(1);
    const dir = a.findings[0].dir;
    const before = findingCount(dir);
    // a fresh corpus: the first run's shrink left passing programs in its corpus, and a corpus entry
    // runs first, where a flipped result may stay legal (an ANY cancel's count of 0 flipped to 1)
    const b = await fuzz(opts({ fault: 'flip', runs: 1, shrinkMs: 1000, corpus: path.join(tmp, 'corpus-b.jsonl') }));
    expect(b.findings.map((f) => f.dir), 'the same title lands in the same dir').to.deep.equal([dir]);
    expect(findingCount(dir), 'count bumped').to.equal(before + 1);
    const dirs = fs.readdirSync(path.join(tmp, 'failures')).filter((d) => !d.endsWith('.jsonl'));
    expect(dirs, 'no second dir').to.deep.equal([path.basename(dir)]);
  });

  it('skips a torn last corpus line and appends whole lines after it', () => {
    const file = path.join(tmp, 'corpus.jsonl');
    const model: StreamModel = { rings: [4], ctxs: 0, files: 1, steps: [{ kind: 'pipeWrite' }] };
    const c = new Corpus(file);
    expect(c.offer(model, ['u:NOP::0'])).to.equal(true);
    expect(c.offer(model, ['u:NOP::0']), 'nothing new: not kept').to.equal(false);
    expect(c.offer(model, ['u:READ::+'])).to.equal(true);
    c.close();
    const whole = fs.readFileSync(file, 'utf8');
    fs.writeFileSync(file, whole + whole.split('\n')[0].slice(0, 17)); // a crash mid-write
    expect(readCorpus(file)).to.deep.include({ skipped: 1 });
    expect(readCorpus(file).entries.map((e) => e.classes)).to.deep.equal([['u:NOP::0'], ['u:READ::+']]);
    const d = new Corpus(file);
    expect(d.classes.has('u:READ::+'), 'classes of whole lines are known').to.equal(true);
    expect(d.offer(model, ['a:POLL:0'])).to.equal(true);
    d.close();
    const r = readCorpus(file);
    expect(r.entries.map((e) => e.classes), 'the new line is whole after the torn one').to.deep.equal([['u:NOP::0'], ['u:READ::+'], ['a:POLL:0']]);
    expect(r.skipped).to.equal(1);
  });

  it('kasync fuzz --json: the last line is one JSON object with runs, runsPerSec, failures, failureDirs', () => {
    const r = kasyncFuzz(['--runs', '30', '--jobs', '2', '--seed', '7', '--out', 'f', '--json'], tmp);
    expect(r.code, r.err).to.equal(0);
    const lines = r.out.trim().split('\n');
    const j = JSON.parse(lines[lines.length - 1]);
    expect(j).to.have.all.keys('runs', 'runsPerSec', 'failures', 'failureDirs');
    expect(j.runs).to.be.at.least(30);
    expect(j.failures).to.equal(0);
    expect(j.failureDirs).to.deep.equal([]);
    expect(r.out, 'the summary says runs/s').to.match(/runs\/s/);
  });

  for (const [args, pattern] of [
    [['--time', 'soon'], /--time 'soon' must be a positive duration/],
    [['--time', '0s'], /--time '0s' must be a positive duration/],
    [['--runs', '0'], /--runs '0' must be a whole number/],
    [['--runs', '1e3'], /--runs '1e3' must be a whole number/],
    [['--jobs', 'many'], /--jobs 'many' must be a whole number/],
    [['--inject-fault', 'melt'], /unknown --inject-fault 'melt'/],
    [['--vcpus', '1'], /--vcpus and --procs go with --kernel/],
    [['--procs', '4'], /--vcpus and --procs go with --kernel/],
    [['--kernel', 'debian:6.12', '--procs', '0'], /--procs '0' must be a whole number from 1 to 32/],
    [['--kernel', 'debian:6.12', '--vcpus', '0'], /--vcpus '0' must be a whole number from 1 to 8/],
  ] as [string[], RegExp][])
    it(`kasync fuzz ${args.join(' ')}: one line, exit 2`, () => {
      const r = kasyncFuzz([...args, '--out', 'f'], tmp);
      expect(r.code, r.err).to.equal(2);
      const lines = r.err.trim().split('\n');
      expect(lines, r.err).to.have.length(1);
      expect(lines[0]).to.match(pattern);
      expect(r.err).not.to.match(/\n\s+at /);
    });

  it('SIGTERM: stops, leaves complete failure dirs and a readable corpus, exits 143', async () => {
    const child = spawn(process.execPath, ['-e', HARNESS, 'fuzz', '--time', '60s', '--jobs', '2', '--inject-fault', 'dup', '--out', 'f', '--json'], {
      cwd: tmp,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    let sent = false;
    child.stderr.on('data', (d) => {
      err += d;
      if (/new finding/.test(err) && !sent) {
        sent = true;
        child.kill('SIGTERM');
      }
    });
    const code = await new Promise<number | null>((resolve) => {
      const t = setTimeout(() => child.kill('SIGKILL'), 120_000);
      child.on('exit', (c) => (clearTimeout(t), resolve(c)));
    });
    expect(sent, err).to.equal(true);
    expect(code, err).to.equal(143);
    const j = JSON.parse(out.trim().split('\n').pop()!);
    expect(j.failures).to.be.greaterThan(0);
    for (const d of j.failureDirs as string[])
      for (const file of ['description', 'program.kasp', 'model.json', 'seed.json', 'trace.json', 'kernel.txt', 'count'])
        expect(fs.existsSync(path.join(d, file)), `${file} in ${d}`).to.equal(true);
    expect(fs.readdirSync(path.join(tmp, 'f')).filter((x) => x.startsWith('.tmp')), 'no half-written dir').to.deep.equal([]);
    const c = readCorpus(path.join(tmp, 'f', 'corpus.jsonl'));
    expect(c.skipped, 'every corpus line parses').to.equal(0);
  });
});
