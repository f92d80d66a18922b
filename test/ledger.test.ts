/**
 * The AIO suite fails when the kernel misbehaves: its checks run against doctored traces (a
 * duplicated event, a missing event, a stranger, a wrong res, an errno off by one) and each must
 * fail, while the same tests on the true traces pass.
 */
import { expect } from 'chai';
import { aioGetevents, aioSetup, aioSubmit, iocb, setLedgerMode } from '../src/program/aio';
import { arg, Program } from '../src/program/builder';
import { pipe2, pwrite, scratchFile } from '../src/program/sys';
import { POLL, POLL_EV, SYSCALLS } from '../src/abi';
import { Trace, TraceView } from '../src/program/trace';
import { aioLedgerProblems, uringLedgerProblems } from '../src/oracle/ledger';
import { reap, setupRing, sqe, submit } from '../src/program/uring';
import { runSuites } from '../src/suite/runner';
import { LocalTarget } from '../src/target/local';
import type { Target } from '../src/target/target';

/** A target that rewrites every trace before the test sees it: a kernel that misbehaves on demand. */
function doctored(inner: Target, doctor: (t: Trace) => void): Target {
  return {
    name: `doctored ${inner.name}`,
    run: async (p) => {
      const v = await inner.run(p);
      doctor(v.trace);
      return new TraceView(v.trace);
    },
    runWire: (b, ms) => inner.runWire(b, ms),
    probe: () => inner.probe(),
    makeScratch: () => inner.makeScratch(),
    removeScratch: (d) => inner.removeScratch(d),
    close: () => inner.close(),
  };
}

const firstWithEvents = (t: Trace) => t.steps.find((s) => s.events.length > 0);

const DOCTORS: Record<string, (t: Trace) => void> = {
  'a duplicated io_event': (t) => {
    const s = firstWithEvents(t);
    if (s) s.events.push({ ...s.events[0] });
  },
  'a missing io_event': (t) => {
    const s = firstWithEvents(t);
    if (s) s.events.shift();
  },
  'an io_event nobody submitted': (t) => {
    const s = firstWithEvents(t);
    if (s) s.events.push({ ...s.events[0], data: 0xdead_beefn });
  },
  'a wrong res (one byte more)': (t) => {
    for (const s of t.steps) for (const e of s.events) if (e.res >= 0n) e.res += 1n;
  },
  'an errno off by one (-EINVAL becomes -ENFILE)': (t) => {
    for (const s of t.steps) {
      if (s.ret === -22n) s.ret = -23n;
      for (const e of s.events) if (e.res === -22n) e.res = -23n;
    }
  },
};

describe('the AIO suite against doctored traces', function () {
  this.timeout(120_000);
  let local: LocalTarget;
  before(() => (local = new LocalTarget()));
  after(() => local.close());

  // tests whose verdicts the doctors must turn: data-path twins, a rejection, the ledger's own cases
  const GREP = /^aio\.(PREAD matches pread on a short file|PWRITEV with 3 iovecs matches pwritev|submit rejects opcode 4 |submit of \[valid, invalid, valid\] queues only the first)/;

  it('the chosen tests pass on the true traces', async () => {
    const run = await runSuites({ target: local, grep: GREP, suites: ['aio'] });
    expect(run.tests.length, 'the tests the doctors judge are present').to.equal(4);
    expect(run.tests.filter((t) => t.status !== 'pass').map((t) => `${t.title}: ${t.reason}`)).to.deep.equal([]);
  });

  for (const [what, doctor] of Object.entries(DOCTORS)) {
    it(`fails on ${what}`, async () => {
      const run = await runSuites({ target: doctored(local, doctor), grep: GREP, suites: ['aio'] });
      const failed = run.tests.filter((t) => t.status === 'fail');
      expect(failed.length, `tests that noticed ${what}: ${failed.map((t) => t.title).join(', ')}`).to.be.at.least(1);
      if (what !== 'an errno off by one (-EINVAL becomes -ENFILE)')
        expect(failed.map((t) => t.title), 'the data-path twin notices').to.include('aio.PREAD matches pread on a short file');
      else expect(failed.map((t) => t.title).some((t) => t.startsWith('aio.submit rejects opcode 4 ')), 'the rejection test notices').to.equal(true);
    });
  }
});

const firstWithCqes = (t: Trace) => t.steps.find((s) => s.cqes.length > 0);

const URING_DOCTORS: Record<string, [(t: Trace) => void, RegExp]> = {
  'a missing CQE': [
    (t) => void firstWithCqes(t)?.cqes.shift(),
    /^uring\.(NOP completes with res 0|READ matches pread on a short file)/,
  ],
  'a duplicated CQE': [
    (t) => {
      const s = firstWithCqes(t);
      if (s) s.cqes.push({ ...s.cqes[0] });
    },
    /^uring\.(NOP completes with res 0|READ matches pread on a short file)/,
  ],
  'a wrong res (one byte more)': [
    (t) => {
      for (const s of t.steps) for (const c of s.cqes) if (c.res > 0) c.res += 1;
    },
    /^uring\.READ matches pread on a short file/,
  ],
  'a cancelled link member that claims success': [
    (t) => {
      for (const s of t.steps) for (const c of s.cqes) if (c.res === -125) c.res = 0; // -ECANCELED
    },
    /^uring\.READ failing with -EBADF at the head of an IOSQE_IO_LINK chain/,
  ],
  'a differential mismatch (the async read returns one byte less)': [
    (t) => {
      for (const s of t.steps) for (const c of s.cqes) if (c.res > 1) c.res -= 1;
    },
    /^uring\.READV with 3 iovecs matches preadv/,
  ],
};

describe('the io_uring suite against doctored traces', function () {
  this.timeout(120_000);
  let local: LocalTarget;
  before(() => (local = new LocalTarget()));
  after(() => local.close());
  const GREP = /^uring\.(NOP completes with res 0|READ matches pread on a short file|READ failing with -EBADF at the head of an IOSQE_IO_LINK chain|READV with 3 iovecs matches preadv)/;

  it('the chosen tests pass on the true traces', async () => {
    const run = await runSuites({ target: local, grep: GREP, suites: ['uring'] });
    expect(run.tests.length, 'the tests the doctors judge are present').to.equal(4);
    expect(run.tests.filter((t) => t.status !== 'pass').map((t) => `${t.title}: ${t.reason}`)).to.deep.equal([]);
  });

  for (const [what, [doctor, noticer]] of Object.entries(URING_DOCTORS)) {
    it(`fails on ${what}`, async () => {
      const run = await runSuites({ target: doctored(local, doctor), grep: GREP, suites: ['uring'] });
      const failed = run.tests.filter((t) => t.status === 'fail').map((t) => t.title);
      expect(failed.some((t) => noticer.test(t)), `tests that noticed ${what}: ${failed.join(', ') || 'none'}`).to.equal(true);
    });
  }
});

describe('the completion ledger', () => {
  let local: LocalTarget;
  let scratch: string;
  before(async () => {
    local = new LocalTarget();
    scratch = await local.makeScratch();
  });
  after(async () => {
    await local.removeScratch(scratch);
    await local.close();
  });

  /** Three PWRITEs of 512 bytes with aio_data 1, 2, 3, reaped (or not). */
  function threeWrites(reap: boolean): Program {
    const p = new Program();
    const s = p.main;
    const { fd } = scratchFile(s, scratch, 'ledger');
    const b = p.buf(512);
    pwrite(s, fd, b, 512, 0);
    const { ctx } = aioSetup(s, 8);
    aioSubmit(
      s,
      ctx,
      [1, 2, 3].map((d) => iocb({ opcode: 'PWRITE', fd, aio_data: d, aio_buf: arg.buf(b), aio_nbytes: 512, aio_offset: 512 * d })),
    );
    if (reap) aioGetevents(s, ctx, 3, 8);
    return p;
  }

  it('balances when every accepted iocb completed once', async () => {
    const p = threeWrites(true);
    expect(aioLedgerProblems(p, await local.run(p))).to.deep.equal([]);
  });

  it('names each iocb that never completed, unless the program says it leaves them in flight', async () => {
    const p = threeWrites(false);
    const v = await local.run(p);
    expect(aioLedgerProblems(p, v)).to.deep.equal([1, 2, 3].map((d) => `aio_data 0x${d}: 1 accepted iocb never completed (no io_event reaped)`));
    setLedgerMode(p, 'at-most-once');
    expect(aioLedgerProblems(p, v)).to.deep.equal([]);
  });

  it('names a duplicate and a stranger', async () => {
    const p = threeWrites(true);
    const v = await local.run(p);
    const s = firstWithEvents(v.trace)!;
    s.events.push({ ...s.events[1] }, { ...s.events[0], data: 99n });
    expect(aioLedgerProblems(p, v)).to.have.members([
      `aio_data 0x${s.events[1].data.toString(16)} completed 2 times for 1 accepted iocb`,
      'an io_event with aio_data 0x63, which no accepted iocb carried',
    ]);
  });

  /** Four NOPs with user_data 1..4 on one ring, reaped (or not). */
  function fourNops(reapThem: boolean): Program {
    const p = new Program();
    const h = setupRing(p.main, { entries: 8 });
    submit(p.main, h, [1, 2, 3, 4].map((d) => sqe({ opcode: 'NOP', user_data: d })));
    if (reapThem) reap(p.main, h, 4, 8);
    return p;
  }

  it('io_uring: balances, and names a missing, a duplicate and a stranger CQE', async () => {
    const p = fourNops(true);
    const v = await local.run(p);
    expect(uringLedgerProblems(p, v)).to.deep.equal([]);
    const s = firstWithCqes(v.trace)!;
    const gone = s.cqes.shift()!;
    s.cqes.push({ ...s.cqes[0] }, { ...s.cqes[0], userData: 0x99n });
    expect(uringLedgerProblems(p, v)).to.have.members([
      `user_data 0x${gone.userData.toString(16)}: 1 consumed SQE never completed (no final CQE reaped)`,
      `user_data 0x${s.cqes[0].userData.toString(16)} completed 2 times (final CQEs) for 1 SQE`,
      'a CQE with user_data 0x99, which no queued SQE carried',
    ]);
  });

  it('io_uring: SQEs never reaped are named unless the program leaves them in flight on purpose', async () => {
    const p = fourNops(false);
    const v = await local.run(p);
    expect(uringLedgerProblems(p, v)).to.have.length(4);
    setLedgerMode(p, 'at-most-once');
    expect(uringLedgerProblems(p, v)).to.deep.equal([]);
  });

  it('io_uring: a poll moved by IORING_POLL_UPDATE_USER_DATA may end under its new user_data, once', async () => {
    const p = new Program();
    const s = p.main;
    const { r, w } = pipe2(s);
    const h = setupRing(s, { entries: 8 });
    submit(s, h, [sqe({ opcode: 'POLL_ADD', fd: r, poll32_events: POLL_EV.IN.value, user_data: 1 })]);
    submit(s, h, [sqe({ opcode: 'POLL_REMOVE', fd: -1, addr: 1n, off: 2n, len: POLL.UPDATE_USER_DATA.value, user_data: 11 })]);
    s.syscall(SYSCALLS.write, [arg.fd(w), arg.buf(p.data(Buffer.from('x'))), 1]);
    reap(s, h, 2, 8);
    const v = await local.run(p);
    expect(uringLedgerProblems(p, v)).to.deep.equal([]);
    const c = firstWithCqes(v.trace)!;
    c.cqes.push({ ...c.cqes.find((q) => q.userData === 2n)! });
    expect(uringLedgerProblems(p, v)).to.deep.equal(['user_data 0x2 completed 2 times (final CQEs) for 1 SQE']);
  });

  it('counts only the iocbs io_submit accepted (its return value, from the front)', async () => {
    const p = threeWrites(true);
    const v = await local.run(p);
    const submit = v.trace.steps.find((x) => x.ret === 3n && x.events.length === 0 && x.step > 0)!;
    submit.ret = 2n; // as if the kernel took only two: the third's event is now a stranger
    const third = firstWithEvents(v.trace)!.events.find((e) => e.data === 3n)!;
    expect(third, 'the third write completed').to.not.equal(undefined);
    expect(aioLedgerProblems(p, v)).to.deep.equal(['an io_event with aio_data 0x3, which no accepted iocb carried']);
  });

});
