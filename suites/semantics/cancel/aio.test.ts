/**
 * Legacy AIO io_cancel (SEMANTICS §1.5, §1.8): an armed POLL is cancelled (-EINPROGRESS, one io_event with res 0);
 * a POLL that already fired and a PREAD of a pipe are not (-EINVAL) and complete once with their own result.
 */
import { expect } from 'chai';
import { errno, IO_EVENT_LAYOUT, O, POLL_EV, SYSCALLS } from '../../../src/abi';
import { aioGetevents, aioSetup, aioSubmit, iocb } from '../../../src/program/aio';
import { arg, Program } from '../../../src/program/builder';
import { pipe2 } from '../../../src/program/sys';
import { aioCancelProblems } from '../../../src/oracle/cancel';
import { conformance } from '../../../src/suite/conformance';

for (const fired of [false, true])
  conformance(
    `cancel: AIO POLL on a pipe ${fired ? 'that already fired' : 'still armed'} by io_cancel: one io_event, agreeing with io_cancel's result`,
    { ops: ['aio.POLL', 'aio.cancel'], rule: 'SEMANTICS §1.5' },
    async ({ target }) => {
      const p = new Program();
      const s = p.main;
      const pipe = pipe2(s, O.CLOEXEC.value);
      const { ctx, setup } = aioSetup(s, 4);
      const sub = aioSubmit(s, ctx, [iocb({ opcode: 'POLL', fd: pipe.r, aio_data: 7, aio_buf: POLL_EV.IN.value })]);
      const write = fired ? s.syscall(SYSCALLS.write, [arg.fd(pipe.w), arg.buf(p.buf(8)), 1]) : undefined;
      // a fired POLL's event is reaped first: then io_cancel cannot find it
      const early = fired ? aioGetevents(s, ctx, 1, 4) : undefined;
      const cancel = s.syscall(SYSCALLS.io_cancel, [
        arg.ctx(ctx),
        arg.buf(sub.iocbs),
        arg.buf(p.buf(IO_EVENT_LAYOUT.size)),
      ]);
      const late = fired ? aioGetevents(s, ctx, 0, 4, 0) : aioGetevents(s, ctx, 1, 4);
      const more = aioGetevents(s, ctx, 0, 4, 0);
      const v = await target.run(p);
      expect([v.ret(pipe.step), v.ret(setup), v.ret(sub.submit)], 'pipe2, io_setup, io_submit').to.deep.equal([
        0, 0, 1,
      ]);
      if (write) expect(v.ret(write), 'the byte that fires the POLL').to.equal(1);
      const events = [early, late, more].flatMap((st) => (st ? v.step(st).events : []));
      const res = events.map((e) => Number(e.res));
      const problems = aioCancelProblems(v.ret(cancel), res, (r) => (r & POLL_EV.IN.value) !== 0);
      expect(problems, 'io_cancel and the POLL agree (SEMANTICS §1.5)').to.deep.equal([]);
    },
  );

conformance(
  'cancel: AIO PREAD of a pipe by io_cancel from another thread: -EINVAL, and the read completes once with its byte',
  { ops: ['aio.PREAD', 'aio.cancel'], rule: 'SEMANTICS §1.5' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const pipe = pipe2(s, O.CLOEXEC.value);
    const { ctx, setup } = aioSetup(s, 4);
    // the PREAD blocks inside io_submit (docs/KERNEL-NOTES.md); the other thread's io_cancel comes before, while or
    // after it is in flight (no sleep orders them): -EINVAL in every case, then its byte lets the read finish
    const reader = p.seq();
    const sub = aioSubmit(reader, ctx, [
      iocb({ opcode: 'PREAD', fd: pipe.r, aio_data: 9, aio_buf: arg.buf(p.buf(8)), aio_nbytes: 8 }),
    ]);
    const other = p.seq();
    const cancel = other.syscall(SYSCALLS.io_cancel, [
      arg.ctx(ctx),
      arg.buf(sub.iocbs),
      arg.buf(p.buf(IO_EVENT_LAYOUT.size)),
    ]);
    const feed = other.syscall(SYSCALLS.write, [arg.fd(pipe.w), arg.buf(p.buf(8)), 1]);
    const joined = s.threads([reader, other], 5000);
    const got = aioGetevents(s, ctx, 1, 4);
    const more = aioGetevents(s, ctx, 0, 4, 0);
    const v = await target.run(p);
    expect([v.ret(pipe.step), v.ret(setup), v.ret(joined)], 'pipe2, io_setup, both threads joined').to.deep.equal([
      0, 0, 2,
    ]);
    expect([v.ret(sub.submit), v.ret(feed)], 'io_submit took the PREAD; the byte was written').to.deep.equal([1, 1]);
    const res = [got, more].flatMap((st) => v.step(st).events.map((e) => Number(e.res)));
    expect(
      aioCancelProblems(v.ret(cancel), res, (r) => r === 1),
      'io_cancel and the PREAD agree (SEMANTICS §1.5)',
    ).to.deep.equal([]);
    expect(v.ret(cancel), 'a PREAD is never cancellable: -EINVAL (SEMANTICS §1.5)').to.equal(-errno.EINVAL);
  },
);
