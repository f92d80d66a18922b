/**
 * Both front doors of the native executor with real programs: AIO and io_uring data round trips,
 * deadlines, equivalent traces on `local` and `child`, process-level steps.
 */
import { expect } from 'chai';
import { aioContextsHere, fdCount } from './leaks';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import fc from 'fast-check';
import { AIOCB_LAYOUT, errno, O, POLL_EV, POSIX_AIO_SIGNAL, SIGEVENT_LAYOUT, SYSCALLS } from '../src/abi';
import { aioGetevents, aioSetup, aioSubmit, aioWaitEvents, aioWaitUntilTotal, iocb } from '../src/program/aio';
import { arg, Program, resealProgram, Sequence } from '../src/program/builder';
import { decodeProgram } from '../src/program/decode';
import {
  aiocbList,
  aioCancel,
  aioError,
  aioFsync,
  aioRead,
  aioReturn,
  aioSuspend,
  aioWrite,
  counter,
  countWait,
  placeAiocb,
} from '../src/program/posix-aio';
import { ArgKind, Op } from '../src/program/wire';
import { fnv1a64, patternBytes } from '../src/program/pattern';
import { pipe2, scratchFile } from '../src/program/sys';
import { decodeTrace, Trace } from '../src/program/trace';
import { reap, reapUntilTotal, setupRing, sqe, submit } from '../src/program/uring';
import { timespecMs } from '../src/program/sys';
import { ChildTarget } from '../src/target/child';
import { LocalTarget, loadAddon, traceOf } from '../src/target/local';
import type { Target } from '../src/target/target';

const SIZE = 8192;
const SEED = 0x5eed;

/** AIO: PWRITE a pattern, FSYNC, PREAD it back into a second buffer; verify and digest. */
function aioRoundTrip(file: string) {
  const p = new Program();
  const s = p.main;
  const { fd } = scratchFile(s, path.dirname(file), path.basename(file));
  const { ctx, setup } = aioSetup(s, 8);
  const src = p.buf(SIZE, 4096);
  const dst = p.buf(SIZE, 4096);
  s.fillPattern(src, 0, SIZE, SEED);
  const w = aioSubmit(s, ctx, [iocb({ opcode: 'PWRITE', fd, aio_data: 1, aio_buf: arg.buf(src), aio_nbytes: SIZE, aio_offset: 0 })]).submit;
  const wEv = aioGetevents(s, ctx, 1, 1);
  const f = aioSubmit(s, ctx, [iocb({ opcode: 'FSYNC', fd, aio_data: 2 })]).submit;
  const fEv = aioGetevents(s, ctx, 1, 1);
  const r = aioSubmit(s, ctx, [iocb({ opcode: 'PREAD', fd, aio_data: 3, aio_buf: arg.buf(dst), aio_nbytes: SIZE, aio_offset: 0 })]).submit;
  const rEv = aioGetevents(s, ctx, 1, 1);
  const verify = s.verify(dst, 0, SIZE, SEED);
  const digest = s.digest(dst);
  return { p, refs: { setup, w, wEv, f, fEv, r, rEv, verify, digest } };
}

/** io_uring: WRITE a pattern, FSYNC, READ it back; verify and digest. */
function uringRoundTrip(file: string) {
  const p = new Program();
  const s = p.main;
  const { fd } = scratchFile(s, path.dirname(file), path.basename(file));
  const h = setupRing(s, { entries: 8 });
  const src = p.buf(SIZE, 4096);
  const dst = p.buf(SIZE, 4096);
  s.fillPattern(src, 0, SIZE, SEED);
  const w = submit(s, h, [sqe({ opcode: 'WRITE', fd, addr: arg.buf(src), len: SIZE, off: 0, user_data: 1 })], 1);
  const wC = reap(s, h, 1);
  const f = submit(s, h, [sqe({ opcode: 'FSYNC', fd, user_data: 2 })], 1);
  const fC = reap(s, h, 1);
  const r = submit(s, h, [sqe({ opcode: 'READ', fd, addr: arg.buf(dst), len: SIZE, off: 0, user_data: 3 })], 1);
  const rC = reap(s, h, 1);
  const verify = s.verify(dst, 0, SIZE, SEED);
  const digest = s.digest(dst);
  return { p, refs: { setup: h.setup, w: w.enter, wC, f: f.enter, fC, r: r.enter, rC, verify, digest } };
}

/** What must be equal between two runs of one program: results, errnos, completions, data. */
function essence(t: Trace) {
  return t.steps.map((s) => ({
    seq: s.seq,
    step: s.step,
    ret: s.ret,
    errno: s.errno,
    cqes: s.cqes.map((c) => [c.userData, c.res, c.flags]),
    events: s.events.map((e) => [e.data, e.res, e.res2]),
    digest: s.digest,
    verify: s.verify,
  }));
}


for (const make of [() => new LocalTarget(), () => new ChildTarget()]) {
  const name = make().name;
  describe(`executor through the ${name} target`, function () {
    let t: Target;
    let dir: string;
    before(async () => {
      t = make();
      dir = await t.makeScratch();
    });
    after(async () => {
      await t.removeScratch(dir);
      await t.close();
    });

    it('AIO PWRITE, FSYNC, PREAD round-trip the pattern byte for byte', async () => {
      const { p, refs } = aioRoundTrip(path.join(dir, 'aio'));
      const v = await t.run(p);
      expect(v.ret(refs.setup), 'io_setup').to.equal(0);
      for (const k of ['w', 'f', 'r'] as const) expect(v.ret(refs[k]), `io_submit of ${k}`).to.equal(1);
      expect(v.step(refs.wEv).events.map((e) => [e.data, e.res])).to.deep.equal([[1n, BigInt(SIZE)]]);
      expect(v.step(refs.fEv).events.map((e) => [e.data, e.res])).to.deep.equal([[2n, 0n]]);
      expect(v.step(refs.rEv).events.map((e) => [e.data, e.res])).to.deep.equal([[3n, BigInt(SIZE)]]);
      expect(v.step(refs.verify).verify).to.deep.equal({ mismatches: 0, first: 0xffffffff });
      expect(v.step(refs.digest).digest).to.equal(fnv1a64(patternBytes(SEED, 0, SIZE)));
      expect(fs.readFileSync(path.join(dir, 'aio')).equals(patternBytes(SEED, 0, SIZE)), 'file holds the pattern').to.equal(true);
    });

    it('io_uring WRITE, FSYNC, READ round-trip the pattern byte for byte', async () => {
      const { p, refs } = uringRoundTrip(path.join(dir, 'uring'));
      const v = await t.run(p);
      expect(v.ret(refs.setup), 'io_uring_setup returns a ring fd').to.be.greaterThan(2);
      for (const k of ['w', 'f', 'r'] as const) expect(v.ret(refs[k]), `io_uring_enter of ${k}`).to.equal(1);
      expect(v.step(refs.wC).cqes.map((c) => [c.userData, c.res])).to.deep.equal([[1n, SIZE]]);
      expect(v.step(refs.fC).cqes.map((c) => [c.userData, c.res])).to.deep.equal([[2n, 0]]);
      expect(v.step(refs.rC).cqes.map((c) => [c.userData, c.res])).to.deep.equal([[3n, SIZE]]);
      expect(v.step(refs.verify).verify?.mismatches).to.equal(0);
      expect(v.step(refs.digest).digest).to.equal(fnv1a64(patternBytes(SEED, 0, SIZE)));
    });

    it('CQEs reaped across the end of the CQ ring come back whole and in order', async () => {
      // 4 SQ entries give 8 CQ slots: the second batch of 6 runs past the end of the ring
      const p = new Program();
      const h = setupRing(p.main, { entries: 4 });
      const reaps = [0, 1].map((round) => {
        for (const part of [[0, 3], [3, 6]]) {
          const batch = Array.from({ length: part[1] - part[0] }, (_, i) => sqe({ opcode: 'NOP', user_data: 10 * round + part[0] + i }));
          submit(p.main, h, batch);
        }
        return reap(p.main, h, 6, 6);
      });
      const v = await t.run(p);
      expect(v.step(reaps[0]).cqes.map((c) => Number(c.userData))).to.deep.equal([0, 1, 2, 3, 4, 5]);
      expect(v.step(reaps[1]).cqes.map((c) => Number(c.userData))).to.deep.equal([10, 11, 12, 13, 14, 15]);
      expect(v.step(reaps[1]).cqes.every((c) => c.res === 0)).to.equal(true);
    });

    it('a read of an empty pipe is interrupted at its deadline and flagged', async () => {
      const p = new Program({ deadlineMs: 300 });
      const { r } = pipe2(p.main);
      const b = p.buf(64);
      const read = p.main.syscall(SYSCALLS.read, [arg.fd(r), arg.buf(b), 64]);
      const started = Date.now();
      const v = await t.run(p);
      expect(Date.now() - started, 'came back near the deadline, not at the target timeout').to.be.lessThan(4000);
      const s = v.step(read);
      expect(s.deadline, 'DEADLINE flag').to.equal(true);
      expect(Number(s.ret)).to.equal(-errno.EINTR);
    });

    it('an io_uring reap that waits for a CQE that never comes ends at its own wait limit', async () => {
      const p = new Program();
      const { r } = pipe2(p.main);
      const h = setupRing(p.main);
      const b = p.buf(64);
      submit(p.main, h, [sqe({ opcode: 'READ', fd: r, addr: arg.buf(b), len: 64, user_data: 9 })]);
      const c = reap(p.main, h, 1, 1, 200);
      const v = await t.run(p);
      expect(v.step(c).cqes, 'no completion').to.have.length(0);
      expect(v.step(c).deadline).to.equal(true);
    });

    it('a result stored in a buffer (post 5), negative ones too, feeds a later LOAD64 argument', async () => {
      const p = new Program();
      const cell = p.buf(8);
      const bad = p.main.syscall(SYSCALLS.close, [-1], { store: cell }); // -EBADF
      const dump = p.main.dump(cell);
      // lseek(fd = -EBADF as stored, …): the stored value reaches the kernel as the fd argument
      const again = p.main.syscall(SYSCALLS.lseek, [arg.load64(cell, 0), 0, 0]);
      const good = p.main.syscall(SYSCALLS.getpid, [], { store: cell });
      const dump2 = p.main.dump(cell);
      const v = await t.run(p);
      expect(v.ret(bad)).to.equal(-errno.EBADF);
      expect(v.step(dump).dump!.readBigInt64LE(0), 'the -errno itself is stored').to.equal(BigInt(-errno.EBADF));
      expect(v.ret(again), 'lseek(-9) fails with EBADF: the stored value was the argument').to.equal(-errno.EBADF);
      expect(v.step(dump2).dump!.readBigInt64LE(0)).to.equal(BigInt(v.ret(good)));
    });

    it('a malformed program gets an error trace, not a crash', async () => {
      const bad = new Program().encode();
      bad[4] = 99; // version
      const v = (await import('../src/target/target')).view(await t.runWire(bad, 1000));
      expect(v.trace.status).to.equal('error');
      expect(v.trace.message).to.match(/version/);
    });
  });
}

describe('executor: the same program on both targets', () => {
  it('gives equivalent traces on local and child', async () => {
    const local = new LocalTarget();
    const child = new ChildTarget();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kasync-'));
    try {
      for (const build of [aioRoundTrip, uringRoundTrip]) {
        const a = await local.run(build(path.join(dir, 'f')).p);
        const b = await child.run(build(path.join(dir, 'f')).p);
        const ea = essence(a.trace).map((s) => ({ ...s, ret: s.step === 0 ? 0n : s.ret }));
        const eb = essence(b.trace).map((s) => ({ ...s, ret: s.step === 0 ? 0n : s.ret }));
        // fd numbers and addresses (PATCH results) differ between processes: compare the rest exactly
        const strip = (e: typeof ea) =>
          e.map((s) => ({ ...s, ret: s.ret > 2n && s.ret < 1024n ? 'fd' : s.ret >= 1n << 32n ? 'address' : s.ret }));
        expect(strip(eb)).to.deep.equal(strip(ea));
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      await local.close();
      await child.close();
    }
  });
});

describe('executor: URING_REAP with REAP_MIN_TOTAL', () => {
  /** A NOP and a 300 ms TIMEOUT; a reap of both that gives up after 20 ms; then a total-count reap of 2. */
  function shortThenTotal(): { p: Program; short: ReturnType<typeof reap>; final: ReturnType<typeof reap> } {
    const p = new Program({ deadlineMs: 5000 });
    const s = p.main;
    const h = setupRing(s, { entries: 4 });
    const ts = timespecMs(s, 300);
    const timeout = sqe({ opcode: 'TIMEOUT', addr: arg.buf(ts), len: 1, user_data: 2 });
    submit(s, h, [sqe({ opcode: 'NOP', user_data: 1 }), timeout]);
    const short = reap(s, h, 2, 2, 20);
    const final = reapUntilTotal(s, h, 2, 1, 3000);
    return { p, short, final };
  }

  for (const [name, make] of [
    ['local', () => new LocalTarget()],
    ['child', () => new ChildTarget()],
  ] as const)
    it(`${name}: a drain counting every CQE of the ring takes what an earlier reap ran out of time for`, async () => {
      const t: Target = make();
      try {
        const { p, short, final } = shortThenTotal();
        const v = await t.run(p);
        expect(v.step(short).deadline, 'the first reap gave up').to.equal(true);
        expect(v.step(short).cqes.map((c) => c.userData), 'with the NOP only').to.deep.equal([1n]);
        // 2 in all, 1 already taken: the drain waits for the one owed, although its max said 1
        expect(v.step(final).cqes.map((c) => [c.userData, c.res])).to.deep.equal([[2n, -errno.ETIME]]);
        expect(v.step(final).deadline, 'within its time').to.equal(false);
      } finally {
        await t.close();
      }
    });

  it('a drain whose total was already reaped returns at once with nothing', async () => {
    const t = new LocalTarget();
    try {
      const p = new Program();
      const s = p.main;
      const h = setupRing(s, { entries: 4 });
      submit(s, h, [sqe({ opcode: 'NOP', user_data: 1 })]);
      reap(s, h, 1);
      const final = reapUntilTotal(s, h, 1, 4, 3000);
      const v = await t.run(p);
      expect(v.ret(final), 'nothing owed').to.equal(0);
      // had it waited for a CQE, none would have come and its 3 s would have run out
      expect(v.step(final).deadline, 'it did not wait').to.equal(false);
    } finally {
      await t.close();
    }
  });
});

describe('executor: io_getevents until a total (SYSCALL post 7)', () => {
  /** Two AIO POLLs of a pipe: POLLOUT of its write end (ready at once) and POLLIN of its read end (empty). */
  function twoPolls(s: Sequence, readable: boolean) {
    const pipe = pipe2(s, O.CLOEXEC.value);
    const one = s.program.buf(8);
    if (readable) s.syscall(SYSCALLS.write, [arg.fd(pipe.w), arg.buf(one), 1]);
    const { ctx } = aioSetup(s, 4);
    aioSubmit(s, ctx, [
      iocb({ opcode: 'POLL', fd: pipe.w, aio_buf: POLL_EV.OUT.value, aio_data: 1 }),
      iocb({ opcode: 'POLL', fd: pipe.r, aio_buf: POLL_EV.IN.value, aio_data: 2 }),
    ]);
    return { ctx, write: () => s.syscall(SYSCALLS.write, [arg.fd(pipe.w), arg.buf(one), 1]) };
  }

  for (const [name, make] of [
    ['local', () => new LocalTarget()],
    ['child', () => new ChildTarget()],
  ] as const) {
    it(`${name}: after a plain io_getevents took 1 of 2 events, a total of 2 takes the other one`, async () => {
      const t: Target = make();
      try {
        const p = new Program({ deadlineMs: 5000 });
        const { ctx } = twoPolls(p.main, true);
        const first = aioGetevents(p.main, ctx, 1, 1);
        const final = aioWaitUntilTotal(p.main, ctx, 2, 8, 3e9);
        const v = await t.run(p);
        expect(v.ret(first)).to.equal(1);
        expect(v.ret(final), 'one owed').to.equal(1);
        // had it asked for 2, the one in hand would not do: it would wait its whole 3 s
        expect(Number(v.step(final).t1Ns - v.step(final).t0Ns) / 1e6, 'it did not wait for more').to.be.below(1000);
        const data = [...v.step(first).events, ...v.step(final).events].map((e) => e.data).sort();
        expect(data, 'each POLL once').to.deep.equal([1n, 2n]);
      } finally {
        await t.close();
      }
    });

    it(`${name}: a total counts what a post-6 wait that ran out of time took, and waits for the rest`, async () => {
      const t: Target = make();
      try {
        const p = new Program({ deadlineMs: 5000 });
        const s = p.main;
        const { ctx, write } = twoPolls(s, false);
        // asks for both; only the POLLOUT can come before the pipe has data
        const short = aioWaitEvents(s, ctx, 2, 2, 20e6);
        // 1 of 2 taken: this one waits its whole time for the POLLIN (asking for 0 it would return at once)
        const waits = aioWaitUntilTotal(s, ctx, 2, 8, 100e6);
        write();
        const final = aioWaitUntilTotal(s, ctx, 2, 8, 3e9);
        // all 2 taken: nothing owed, it returns at once although its time is 3 s
        const after = aioWaitUntilTotal(s, ctx, 2, 8, 3e9);
        const v = await t.run(p);
        const ms = (r: ReturnType<typeof aioGetevents>) => Number(v.step(r).t1Ns - v.step(r).t0Ns) / 1e6;
        expect(v.step(short).events.map((e) => e.data), 'the first wait gave up with the POLLOUT').to.deep.equal([1n]);
        expect([v.ret(waits), ms(waits) >= 99], 'the second waited out its time for the one owed').to.deep.equal([0, true]);
        expect(v.step(final).events.map((e) => [e.data, e.res > 0n]), 'the drain took the POLLIN').to.deep.equal([[2n, true]]);
        expect([v.ret(final), ms(final) < 1000], 'at once: it was owed no more').to.deep.equal([1, true]);
        expect([v.ret(after), ms(after) < 1000], 'nothing owed: at once').to.deep.equal([0, true]);
      } finally {
        await t.close();
      }
    });

    it(`${name}: post 7 whose argument 0 is not a CTX arg is refused with an error trace`, async () => {
      const t: Target = make();
      try {
        const p = new Program();
        const ev = p.buf(64);
        p.main.syscall(SYSCALLS.io_getevents, [0, 1, 2, arg.buf(ev), 0], { aioWaitTotal: true });
        const v = (await import('../src/target/target')).view(await t.runWire(p.encode(), 1000));
        expect(v.trace.status).to.equal('error');
        expect(v.trace.message).to.match(/post 7 needs io_getevents on a ctx argument/);
      } finally {
        await t.close();
      }
    });
  }
});

describe('executor: process-level steps (child only)', () => {
  let child: ChildTarget;
  let dir: string;
  before(() => {
    child = new ChildTarget();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kasync-'));
  });
  after(async () => {
    await child.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** In `s`: 64 io_uring reads pending on a pipe and 64 AIO writes submitted, then exit_group(code). */
  function exitWithRequestsInFlight(s: Sequence, code: number) {
    const p = s.program;
    const { r } = pipe2(s);
    const h = setupRing(s, { entries: 64 });
    const rb = p.buf(64 * 64);
    const reads = Array.from({ length: 64 }, (_, i) => sqe({ opcode: 'READ', fd: r, addr: arg.buf(rb, 64 * i), len: 64, user_data: i }));
    const q = submit(s, h, reads);
    const { fd } = scratchFile(s, dir, `w${code}`);
    const { ctx } = aioSetup(s, 64);
    const wb = p.buf(64 * 4096, 4096);
    s.fillPattern(wb, 0, 64 * 4096, 3);
    const writes = Array.from({ length: 64 }, (_, i) => iocb({ opcode: 'PWRITE', fd, aio_data: i, aio_buf: arg.buf(wb, 4096 * i), aio_nbytes: 4096, aio_offset: 4096 * i }));
    const sub = aioSubmit(s, ctx, writes).submit;
    s.exit(code);
    return { enter: q.enter, sub };
  }

  it('a forked child exits with 64 io_uring reads pending and 64 AIO writes in flight; the parent sees its status', async () => {
    const p = new Program({ deadlineMs: 20_000 });
    const kid = p.seq();
    const refs = exitWithRequestsInFlight(kid, 7);
    const pid = p.pid();
    p.main.fork(kid, pid);
    const wait = p.main.wait(pid, 15_000);
    const v = await child.run(p);
    expect(v.trace.status).to.equal('ok');
    const kidSteps = v.trace.steps.filter((s) => s.seq === kid.id);
    expect(kidSteps.find((s) => s.step === refs.enter.index)?.ret, 'all 64 reads submitted').to.equal(64n);
    expect(kidSteps.find((s) => s.step === refs.sub.index)?.ret, 'all 64 writes submitted').to.equal(64n);
    const w = v.step(wait);
    expect(w.deadline, 'the child did not hang in exit').to.equal(false);
    expect(Number(w.ret2) & 0x7f, 'exited, not killed').to.equal(0);
    expect((Number(w.ret2) >> 8) & 0xff, 'exit status').to.equal(7);
  });

  it('an exit of the runner itself still returns the trace so far and its status', async () => {
    const p = new Program({ deadlineMs: 20_000 });
    const refs = exitWithRequestsInFlight(p.main, 5);
    const v = await child.run(p);
    expect(v.trace.status).to.equal('runner-died');
    expect((v.trace.exitStatus >> 8) & 0xff).to.equal(5);
    expect(v.ret(refs.enter)).to.equal(64);
    expect(v.ret(refs.sub)).to.equal(64);
  });

  it('local hands process-level programs to child instead of running them in Node', async () => {
    const local = new LocalTarget();
    try {
      const p = new Program();
      const pid = p.pid();
      const kid = p.seq();
      kid.exit(3);
      p.main.fork(kid, pid);
      const wait = p.main.wait(pid, 5000);
      const v = await local.run(p);
      expect((Number(v.step(wait).ret2) >> 8) & 0xff).to.equal(3);
      // and the addon itself refuses them
      const raw = (await import('../src/target/target')).view(await local.runWire(p.encode(), 1000));
      expect(raw.trace.status).to.equal('error');
      expect(raw.trace.message).to.match(/child target/);
    } finally {
      await local.close();
    }
  });

  it('threads run sequences concurrently', async () => {
    const p = new Program();
    const seqs = [p.seq(), p.seq(), p.seq()];
    const b = p.buf(3 * 8);
    const tids = seqs.map((s) => s.syscall(SYSCALLS.gettid, []));
    seqs.forEach((s, i) => s.fillPattern(b, 8 * i, 8, i + 1));
    p.main.threads(seqs, 5000);
    const v = await child.run(p);
    const got = tids.map((ref) => v.trace.steps.find((s) => s.seq === ref.seq && s.step === ref.index));
    expect(new Set(got.map((s) => s?.ret)).size, 'three distinct thread ids').to.equal(3);
    expect(new Set(got.map((s) => s?.proc)).size, 'three proc numbers').to.equal(3);
  });
});

describe('executor: the addon copies a trace into a buffer of the caller', () => {
  it('gives the same bytes as a fresh trace when it fits, and a fresh Buffer when it does not', () => {
    const addon = loadAddon();
    const p = new Program();
    const h = setupRing(p.main, { entries: 4 });
    submit(p.main, h, [sqe({ opcode: 'NOP', user_data: 5 })], 1);
    reap(p.main, h, 1);
    const wire = p.encode();
    const fresh = addon.runSync(wire);
    const big = Buffer.alloc(1 << 16, 0xee);
    const n = addon.runSync(wire, big);
    expect(n, 'the length, when the trace fits').to.be.a('number');
    const copied = traceOf(n, big);
    // step times differ between runs: compare the decoded results, and the CQE exactly
    const strip = (t: Trace) => t.steps.map((s) => ({ ...s, t0Ns: 0n, t1Ns: 0n }));
    expect(strip(decodeTrace(copied))).to.deep.equal(strip(decodeTrace(fresh)));
    expect(decodeTrace(copied).steps.flatMap((s) => s.cqes)).to.deep.equal([{ userData: 5n, res: 0, flags: 0, big: undefined }]);
    const small = addon.runSync(wire, Buffer.alloc(8));
    expect(Buffer.isBuffer(small), 'a trace that does not fit comes back as its own Buffer').to.equal(true);
    expect(() => addon.runSync(wire, 5 as unknown as Buffer)).to.throw(TypeError);
  });
});

describe('executor: nothing leaks in-process', () => {
  it('1,000 programs leave fds and AIO contexts where they were', async () => {
    const t = new LocalTarget();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kasync-'));
    try {
      await t.run(uringRoundTrip(path.join(dir, 'warm')).p);
      const fds = fdCount();
      const nr = aioContextsHere();
      for (let i = 0; i < 500; i++) {
        await t.run(aioRoundTrip(path.join(dir, 'a')).p);
        await t.run(uringRoundTrip(path.join(dir, 'u')).p);
      }
      expect(fdCount(), 'open fds').to.equal(fds);
      expect(aioContextsHere(), 'AIO contexts of this process').to.equal(nr);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      await t.close();
    }
  });

  it('programs with several AIO contexts (destroyed side by side at teardown) leave none behind', async () => {
    const t = new LocalTarget();
    try {
      const nr = aioContextsHere();
      const runs = Array.from({ length: 8 }, async () => {
        for (let i = 0; i < 5; i++) {
          const p = new Program({ deadlineMs: 10_000 });
          for (let c = 0; c < 3; c++) aioSetup(p.main, 8);
          const v = await t.run(p);
          expect(v.trace.status).to.equal('ok');
        }
      });
      await Promise.all(runs);
      expect(aioContextsHere(), 'AIO contexts of this process').to.equal(nr);
    } finally {
      await t.close();
    }
  });
});


describe('executor: LIBC and SIGCOUNT steps (glibc POSIX AIO, child only)', function () {
  this.timeout(120_000);
  let t: ChildTarget;
  let dir: string;
  before(async () => {
    t = new ChildTarget();
    dir = await t.makeScratch();
  });
  after(async () => {
    await t.removeScratch(dir);
    await t.close();
  });

  /** The offset of the first LIBC step's payload in a program's wire bytes. */
  function libcPayload(wire: Buffer): number {
    const d = decodeProgram(wire);
    const step = d.seqs[0].find((s) => s.op === Op.LIBC)!;
    return step.payload.byteOffset - wire.byteOffset; // the payload is a view into the wire bytes
  }

  it('aio_write, aio_suspend, aio_error, aio_return round-trip the pattern; SIGEV_THREAD and SIGEV_SIGNAL count once', async () => {
    const p = new Program({ deadlineMs: 5000 });
    const s = p.main;
    const { fd } = scratchFile(s, dir, 'posix');
    const src = p.buf(SIZE);
    s.fillPattern(src, 0, SIZE, SEED);
    const byThread = counter(s);
    const bySignal = counter(s);
    const sig = s.sigCount(POSIX_AIO_SIGNAL);
    const w = placeAiocb(s, { fd, buf: arg.buf(src), nbytes: SIZE, notify: { kind: 'thread', value: arg.buf(byThread) } });
    const write = aioWrite(s, w);
    const suspend = aioSuspend(s, aiocbList(s, [null, w]), 2, null);
    const err = aioError(s, w);
    const ret = aioReturn(s, w);
    const dst = p.buf(SIZE);
    const r = placeAiocb(s, {
      fd,
      buf: arg.buf(dst),
      nbytes: SIZE,
      notify: { kind: 'signal', signo: POSIX_AIO_SIGNAL, value: arg.buf(bySignal) },
    });
    aioRead(s, r);
    const waits = [countWait(s, byThread, 1), countWait(s, bySignal, 1)];
    const rret = aioReturn(s, r);
    const verify = s.verify(dst, 0, SIZE, SEED);
    expect(p.processLevel, 'LIBC and SIGCOUNT make the program process-level').to.equal(true);
    const v = await t.run(p);
    expect(v.trace.status, v.trace.message).to.equal('ok');
    expect(v.ret(sig), 'sigaction').to.equal(0);
    expect(v.ret(write), 'aio_write').to.equal(0);
    expect(v.ret(suspend), 'aio_suspend (a NULL entry first)').to.equal(0);
    expect([v.ret(err), v.ret(ret)], 'aio_error, aio_return').to.deep.equal([0, SIZE]);
    expect(waits.map((x) => v.ret(x)), 'one notification each').to.deep.equal([1, 1]);
    expect(v.ret(rret), 'aio_return of the read').to.equal(SIZE);
    expect(v.step(verify).verify?.mismatches).to.equal(0);
    expect(fs.readFileSync(path.join(dir, 'posix')).equals(patternBytes(SEED, 0, SIZE)), 'file holds the pattern').to.equal(true);
  });

  it('a failed glibc call records -1 and its errno', async () => {
    const p = new Program({ deadlineMs: 2000 });
    const cancel = aioCancel(p.main, -1, null);
    const v = await t.run(p);
    expect([v.ret(cancel), v.step(cancel).errno]).to.deep.equal([-1, errno.EBADF]);
  });

  it('aio_suspend with no timeout on a read that never completes is interrupted at the step deadline', async () => {
    const p = new Program({ deadlineMs: 300 });
    const s = p.main;
    const { r } = pipe2(s);
    const cb = placeAiocb(s, { fd: r, buf: arg.buf(p.buf(8)), nbytes: 8 });
    aioRead(s, cb);
    const wait = aioSuspend(s, aiocbList(s, [cb]), 1, null);
    const v = await t.run(p);
    const st = v.step(wait);
    expect([st.ret, st.errno, st.deadline], 'EINTR, flagged DEADLINE').to.deep.equal([-1n, errno.EINTR, true]);
    expect(Number(st.t1Ns - st.t0Ns) / 1e6, 'at the deadline, not later').to.be.below(2000);
    expect(v.trace.status, 'the runner survived and reported').to.not.equal('runner-died');
  });

  it('count_wait that never reaches its value ends at its own wait limit', async () => {
    const p = new Program({ deadlineMs: 5000 });
    const c = counter(p.main);
    const wait = countWait(p.main, c, 1, 100);
    const after = p.main.syscall(SYSCALLS.getpid, []);
    const v = await t.run(p);
    expect([v.ret(wait), v.step(wait).deadline], 'value 0, DEADLINE').to.deep.equal([0, true]);
    expect(v.ret(after), 'the program goes on').to.be.greaterThan(0);
  });

  it('a LIBC step that cannot run records ERROR: fn out of range, too few args, memory outside the buffers, a foreign SIGEV_THREAD function', async () => {
    const errors: string[] = [];
    const run = async (wire: Buffer) => {
      const tr = decodeTrace(await t.runWire(wire, 2000));
      expect(tr.status, `${tr.message}`).to.equal('ok');
      errors.push(tr.steps.find((x) => x.error)?.error ?? 'no ERROR record');
    };
    // fn out of range, and one arg short: patched into the wire and resealed
    for (const [off, value] of [
      [0, 9],
      [0, 0xffffffff],
    ] as const) {
      const p = new Program({ deadlineMs: 2000 });
      aioError(p.main, placeAiocb(p.main, { fd: -1 }));
      const wire = p.encode();
      wire.writeUInt32LE(value, libcPayload(wire) + off);
      await run(resealProgram(wire));
    }
    const short = new Program({ deadlineMs: 2000 });
    aioFsync(short.main, 0, placeAiocb(short.main, { fd: -1 }));
    const sw = short.encode();
    sw.writeUInt16LE(1, libcPayload(sw) + 4);
    await run(resealProgram(sw));
    const outside = new Program({ deadlineMs: 2000 });
    outside.main.libc('aio_error', [arg.bad()]);
    await run(outside.encode());
    const small = new Program({ deadlineMs: 2000 });
    small.main.libc('aio_read', [arg.buf(small.buf(64))]);
    await run(small.encode());
    const foreign = new Program({ deadlineMs: 2000 });
    const cb = placeAiocb(foreign.main, { fd: -1, notify: { kind: 'thread', value: 0 } });
    foreign.main.patch(cb, AIOCB_LAYOUT.fields.aio_sigevent.offset + SIGEVENT_LAYOUT.fields.sigev_notify_function.offset, 8, 0x401000);
    aioRead(foreign.main, cb);
    await run(foreign.encode());
    expect(errors).to.deep.equal([
      'libc function 9 out of range',
      'libc function 4294967295 out of range',
      'libc function 2 takes 2 args, got 1',
      'libc function 3: aiocb outside the buffers',
      'libc function 0: aiocb outside the buffers',
      'libc function 0: SIGEV_THREAD needs the NOTIFY function and no attributes',
    ]);
  });

  it('the in-process addon refuses LIBC and SIGCOUNT steps with an error trace', async () => {
    const local = new LocalTarget();
    try {
      for (const build of [(p: Program) => aioCancel(p.main, -1, null), (p: Program) => p.main.sigCount(POSIX_AIO_SIGNAL)]) {
        const p = new Program({ deadlineMs: 1000 });
        build(p);
        const tr = decodeTrace(await local.runWire(p.encode(), 1000));
        expect(tr.status).to.equal('error');
        expect(tr.message).to.match(/process-level step 0 in seq 0 needs the child target/);
      }
    } finally {
      await local.close();
    }
  });

  it('300 random LIBC steps (any fn, args of every kind) give decodable traces and never kill the runner', async () => {
    const kinds = [ArgKind.IMM, ArgKind.BUF, ArgKind.BAD, ArgKind.NOTIFY, ArgKind.LOAD32];
    const steps = fc.record({
      fn: fc.oneof(fc.integer({ min: 0, max: 12 }), fc.nat()),
      nargs: fc.integer({ min: 0, max: 6 }),
      args: fc.array(fc.tuple(fc.constantFrom(...kinds), fc.oneof(fc.integer({ min: 0, max: 600 }), fc.nat()), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })), { minLength: 6, maxLength: 6 }),
    });
    let errorsSeen = 0;
    for (const st of fc.sample(steps, { numRuns: 300, seed: 7 })) {
      const p = new Program({ deadlineMs: 300 });
      const b = p.buf(1024);
      p.main.libc('aio_error', [arg.buf(b)]);
      const wire = p.encode();
      const at = libcPayload(wire);
      wire.writeUInt32LE(st.fn >>> 0, at);
      wire.writeUInt16LE(st.nargs, at + 4);
      st.args.forEach(([kind, v, big], k) => {
        // BUF and LOAD32 name buffer 0; NOTIFY takes nothing; IMM and BAD take the value
        const value = kind === ArgKind.BUF ? BigInt(v % 1100) : kind === ArgKind.LOAD32 ? BigInt(v % 1021) : kind === ArgKind.BAD ? BigInt(v % 4096) : kind === ArgKind.NOTIFY ? 0n : big;
        wire.writeUInt32LE(kind, at + 8 + 16 * k);
        wire.writeUInt32LE(0, at + 8 + 16 * k + 4);
        wire.writeBigUInt64LE(value, at + 8 + 16 * k + 8);
      });
      const tr = decodeTrace(await t.runWire(resealProgram(wire), 300));
      expect(tr.status, `fn ${st.fn} nargs ${st.nargs}: ${tr.message}`).to.be.oneOf(['ok', 'deadline']);
      if (tr.steps.some((x) => x.error)) errorsSeen++;
    }
    expect(errorsSeen, 'some random steps were refused with ERROR records').to.be.greaterThan(0);
  });
});
