/** io_getevents argument checks and its timeouts: zero, none, short (SEMANTICS §1.5, §1.8 checklist 4). */
import { expect } from 'chai';
import { errno, IO_EVENT_LAYOUT, SYSCALLS } from '../../src/abi';
import { aioGetevents, aioSetup, aioSubmit, iocb } from '../../src/program/aio';
import { arg, Ctx, Program, StepRef } from '../../src/program/builder';
import { pwrite, scratchFile } from '../../src/program/sys';
import type { TraceView } from '../../src/program/trace';
import { conformance } from '../../src/suite/conformance';

conformance(
  'aio.getevents with min_nr > nr is rejected with -EINVAL',
  { ops: ['aio.getevents'], rule: 'SEMANTICS §1.5' },
  async ({ target }) => {
    const p = new Program();
    const { ctx, setup } = aioSetup(p.main, 4);
    const get = aioGetevents(p.main, ctx, 2, 1, 0);
    const v = await target.run(p);
    expect(v.ret(setup), 'io_setup').to.equal(0);
    expect(v.ret(get), 'io_getevents(min_nr 2, nr 1) fails with -EINVAL (SEMANTICS §1.5)').to.equal(-errno.EINVAL);
  },
);

conformance(
  'aio.getevents with a {0, 0} timeout returns 0 at once on an idle context',
  { ops: ['aio.getevents'], rule: 'SEMANTICS §1.5' },
  async ({ target }) => {
    const p = new Program({ deadlineMs: 5000 });
    const { ctx, setup } = aioSetup(p.main, 4);
    const get = aioGetevents(p.main, ctx, 1, 4, 0);
    const v = await target.run(p);
    expect(v.ret(setup), 'io_setup').to.equal(0);
    expect(
      v.step(get).deadline,
      'a {0, 0} timeout never sleeps: the call was not cut off at the deadline (SEMANTICS §1.5)',
    ).to.equal(false);
    expect(v.ret(get), 'nothing in flight: 0 events, even with min_nr 1 (SEMANTICS §1.5)').to.equal(0);
  },
);

// Measured on 6.18, 6.1 and 6.12: a negative nr is caught by the same min_nr > nr check.
conformance(
  'aio.getevents with a negative min_nr or nr is rejected with -EINVAL',
  { ops: ['aio.getevents'], rule: 'SEMANTICS §1.5' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const { ctx, setup } = aioSetup(s, 4);
    const ev = p.buf(IO_EVENT_LAYOUT.size * 4);
    const calls = [
      { what: 'min_nr -1, nr 4', get: s.syscall(SYSCALLS.io_getevents, [arg.ctx(ctx), -1, 4, arg.buf(ev), 0]) },
      { what: 'min_nr 0, nr -1', get: s.syscall(SYSCALLS.io_getevents, [arg.ctx(ctx), 0, -1, arg.buf(ev), 0]) },
      { what: 'min_nr -2, nr -1', get: s.syscall(SYSCALLS.io_getevents, [arg.ctx(ctx), -2, -1, arg.buf(ev), 0]) },
    ];
    const v = await target.run(p);
    expect(v.ret(setup), 'io_setup').to.equal(0);
    for (const c of calls)
      expect(v.ret(c.get), `io_getevents(${c.what}) fails with -EINVAL (SEMANTICS §1.5)`).to.equal(-errno.EINVAL);
  },
);

conformance(
  'aio.getevents with an unreadable timeout fails with -EFAULT',
  { ops: ['aio.getevents'], rule: 'SEMANTICS §1.5' },
  async ({ target }) => {
    const p = new Program();
    const { ctx, setup } = aioSetup(p.main, 4);
    const ev = p.buf(IO_EVENT_LAYOUT.size * 4);
    const get = p.main.syscall(SYSCALLS.io_getevents, [arg.ctx(ctx), 1, 4, arg.buf(ev), arg.bad()]);
    const v = await target.run(p);
    expect(v.ret(setup), 'io_setup').to.equal(0);
    expect(v.ret(get), 'io_getevents with an unmapped timespec fails with -EFAULT (SEMANTICS §1.5)').to.equal(
      -errno.EFAULT,
    );
  },
);

/** A context with `n` buffered reads of a 512-byte file already complete (buffered reads finish in io_submit). */
function completedReads(p: Program, scratch: string, n: number): { ctx: Ctx; ready: StepRef[] } {
  const s = p.main;
  const { fd, step: open } = scratchFile(s, scratch, 'f');
  const b = p.buf(512 * n);
  const write = pwrite(s, fd, b, 512, 0);
  const { ctx, setup } = aioSetup(s, 8);
  const reads = Array.from({ length: n }, (_, i) =>
    iocb({ opcode: 'PREAD', fd, aio_data: i + 1, aio_buf: arg.buf(b, 512 * i), aio_nbytes: 512, aio_offset: 0 }),
  );
  const { submit } = aioSubmit(s, ctx, reads);
  return { ctx, ready: [open, write, setup, submit] };
}

function expectReady(v: TraceView, ready: StepRef[], n: number): void {
  const [open, write, setup, submit] = ready;
  expect(v.ret(open), 'open of the file').to.be.at.least(0);
  expect(v.ret(write), 'pwrite of the file').to.equal(512);
  expect(v.ret(setup), 'io_setup').to.equal(0);
  expect(v.ret(submit), 'io_submit').to.equal(n);
}

conformance(
  'aio.getevents with a {0, 0} timeout returns the completed events at once',
  { ops: ['aio.PREAD', 'aio.getevents'], rule: 'SEMANTICS §1.5' },
  async ({ target, scratch }) => {
    const p = new Program({ deadlineMs: 5000 });
    const { ctx, ready } = completedReads(p, scratch, 2);
    const get = aioGetevents(p.main, ctx, 4, 4, 0);
    const v = await target.run(p);
    expectReady(v, ready, 2);
    expect(v.step(get).deadline, 'a {0, 0} timeout never sleeps (SEMANTICS §1.5)').to.equal(false);
    expect(v.ret(get), 'both completed reads, fewer than min_nr 4 (SEMANTICS §1.5)').to.equal(2);
    expect(v.step(get).events.map((e) => [e.data, e.res])).to.have.deep.members([
      [1n, 512n],
      [2n, 512n],
    ]);
  },
);

conformance(
  'aio.getevents with no timeout returns at once when min_nr events are there',
  { ops: ['aio.PREAD', 'aio.getevents'], rule: 'SEMANTICS §1.5' },
  async ({ target, scratch }) => {
    const p = new Program({ deadlineMs: 5000 });
    const { ctx, ready } = completedReads(p, scratch, 2);
    const get = aioGetevents(p.main, ctx, 2, 4, null);
    const v = await target.run(p);
    expectReady(v, ready, 2);
    expect(v.step(get).deadline, 'the NULL timeout did not wait for more than min_nr (SEMANTICS §1.5)').to.equal(false);
    expect(v.ret(get), 'both completed reads (SEMANTICS §1.5)').to.equal(2);
  },
);

conformance(
  'aio.getevents with a short timeout returns after it with fewer than min_nr events',
  { ops: ['aio.PREAD', 'aio.getevents'], rule: 'SEMANTICS §1.5' },
  async ({ target, scratch }) => {
    const timeoutMs = 200;
    const p = new Program({ deadlineMs: 10_000 });
    const { ctx, ready } = completedReads(p, scratch, 1);
    const get = aioGetevents(p.main, ctx, 2, 4, timeoutMs * 1e6);
    const v = await target.run(p);
    expectReady(v, ready, 1);
    const st = v.step(get);
    expect(st.deadline, 'the timeout, not the program deadline, ended the wait').to.equal(false);
    expect(v.ret(get), 'the one completed read, fewer than min_nr 2 (SEMANTICS §1.5)').to.equal(1);
    expect(
      st.events.map((e) => e.data),
      'the event returned',
    ).to.deep.equal([1n]);
    expect(Number(st.t1Ns - st.t0Ns) / 1e6, 'it waited the whole relative timeout (SEMANTICS §1.5)').to.be.at.least(
      timeoutMs,
    );
  },
);
