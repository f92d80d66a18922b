/**
 * io_cancel: only an armed POLL is cancellable; it then completes once, through the ring, with res 0.
 * Reads, writes and fsyncs are not, in flight or not, and still complete once (SEMANTICS §1.5, §1.8 checklist 3).
 */
import { expect } from 'chai';
import { errno, IO_EVENT_LAYOUT, IOCB_LAYOUT, O, POLL_EV, SYSCALLS } from '../../src/abi';
import { aioGetevents, aioSetup, aioSubmit, iocb } from '../../src/program/aio';
import { arg, Program } from '../../src/program/builder';
import { place } from '../../src/program/struct';
import { scratchFile, pipe2, pwrite } from '../../src/program/sys';
import { conformance } from '../../src/suite/conformance';

conformance(
  'aio.POLL armed on an empty pipe is cancelled with -EINPROGRESS and completes once with res 0',
  { ops: ['aio.POLL', 'aio.cancel'], rule: 'SEMANTICS §1.5' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const { r, step: pipe } = pipe2(s);
    const { ctx, setup } = aioSetup(s, 4);
    const sub = aioSubmit(s, ctx, [iocb({ opcode: 'POLL', fd: r, aio_data: 7, aio_buf: POLL_EV.IN.value })]);
    const result = p.buf(IO_EVENT_LAYOUT.size);
    const cancel = s.syscall(SYSCALLS.io_cancel, [arg.ctx(ctx), arg.buf(sub.iocbs, 0), arg.buf(result)]);
    const resultDump = s.dump(result);
    const first = aioGetevents(s, ctx, 1, 4);
    const more = aioGetevents(s, ctx, 0, 4, 0);
    const v = await target.run(p);
    expect(v.ret(pipe), 'pipe2').to.equal(0);
    expect(v.ret(setup), 'io_setup').to.equal(0);
    expect(v.ret(sub.submit), 'io_submit arms the poll (SEMANTICS §1.6)').to.equal(1);
    expect(v.ret(cancel), 'io_cancel of an armed POLL returns -EINPROGRESS (SEMANTICS §1.5)').to.equal(
      -errno.EINPROGRESS,
    );
    expect(
      v.step(resultDump).dump!.equals(Buffer.alloc(IO_EVENT_LAYOUT.size)),
      'io_cancel does not write its result argument (SEMANTICS §1.5)',
    ).to.equal(true);
    const events = [...v.step(first).events, ...v.step(more).events];
    expect(
      events.map((e) => [e.data, e.res]),
      'exactly one io_event, through the ring, with res 0 (SEMANTICS §1.5)',
    ).to.deep.equal([[7n, 0n]]);
  },
);

conformance(
  'aio.PREAD that has completed is not cancellable: io_cancel returns -EINVAL',
  { ops: ['aio.PREAD', 'aio.cancel'], rule: 'SEMANTICS §1.5' },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    const { fd, step: open } = scratchFile(s, scratch, 'f');
    const b = p.buf(512);
    const write = pwrite(s, fd, b, 512, 0);
    const { ctx, setup } = aioSetup(s, 4);
    const sub = aioSubmit(s, ctx, [
      iocb({ opcode: 'PREAD', fd, aio_data: 7, aio_buf: arg.buf(b), aio_nbytes: 512, aio_offset: 0 }),
    ]);
    const done = aioGetevents(s, ctx, 1, 4);
    const cancel = s.syscall(SYSCALLS.io_cancel, [
      arg.ctx(ctx),
      arg.buf(sub.iocbs, 0),
      arg.buf(p.buf(IO_EVENT_LAYOUT.size)),
    ]);
    const more = aioGetevents(s, ctx, 0, 4, 0);
    const v = await target.run(p);
    expect(v.ret(open), 'open of the file').to.be.at.least(0);
    expect(v.ret(write), 'pwrite of the file').to.equal(512);
    expect(v.ret(setup), 'io_setup').to.equal(0);
    expect(v.ret(sub.submit), 'io_submit').to.equal(1);
    expect(
      v.step(done).events.map((e) => [e.data, e.res]),
      'the read completes',
    ).to.deep.equal([[7n, 512n]]);
    expect(v.ret(cancel), 'io_cancel of a completed PREAD returns -EINVAL (SEMANTICS §1.5)').to.equal(-errno.EINVAL);
    expect(v.step(more).events, 'the failed cancel posts no io_event (SEMANTICS §1.5)').to.deep.equal([]);
  },
);

/**
 * A PREAD of an empty pipe blocks inside io_submit (SEMANTICS §1.6), so while one thread is there the
 * request is really in flight; another thread tries io_cancel on it, then writes to the pipe to let it finish.
 */
conformance(
  'aio.PREAD in flight on a pipe is not cancellable: io_cancel returns -EINVAL and the read completes once',
  { ops: ['aio.PREAD', 'aio.cancel'], rule: 'SEMANTICS §1.5' },
  async ({ target }) => {
    const p = new Program({ deadlineMs: 10_000 });
    const s = p.main;
    const { r, w, step: pipe } = pipe2(s, O.CLOEXEC.value);
    const { ctx, setup } = aioSetup(s, 4);
    const into = p.buf(512);
    const from = p.buf(512);
    s.fillPattern(from, 0, 512, 0x0c4c);
    const reader = p.seq();
    const sub = aioSubmit(reader, ctx, [
      iocb({ opcode: 'PREAD', fd: r, aio_data: 7, aio_buf: arg.buf(into), aio_nbytes: 512 }),
    ]);
    const canceller = p.seq();
    canceller.sleep(200);
    const cancel = canceller.syscall(SYSCALLS.io_cancel, [
      arg.ctx(ctx),
      arg.buf(sub.iocbs),
      arg.buf(p.buf(IO_EVENT_LAYOUT.size)),
    ]);
    const feed = canceller.syscall(SYSCALLS.write, [arg.fd(w), arg.buf(from), 512]);
    const threads = s.threads([reader, canceller], 5000);
    const first = aioGetevents(s, ctx, 1, 4);
    const more = aioGetevents(s, ctx, 0, 4, 0);
    const data = s.verify(into, 0, 512, 0x0c4c);
    const v = await target.run(p);
    expect(v.ret(pipe), 'pipe2').to.equal(0);
    expect(v.ret(setup), 'io_setup').to.equal(0);
    expect(v.ret(threads), 'both threads joined').to.equal(2);
    const submitted = v.step(sub.submit);
    const cancelled = v.step(cancel);
    expect(submitted.t1Ns > cancelled.t1Ns, 'io_submit was still blocked in the read when io_cancel returned').to.equal(
      true,
    );
    expect(v.ret(cancel), 'io_cancel of an in-flight PREAD returns -EINVAL (SEMANTICS §1.5)').to.equal(-errno.EINVAL);
    expect(v.ret(feed), 'write to the pipe').to.equal(512);
    expect(v.ret(sub.submit), 'io_submit returns once the read is done').to.equal(1);
    const events = [...v.step(first).events, ...v.step(more).events];
    expect(
      events.map((e) => [e.data, e.res]),
      'the read completes exactly once, uncancelled (SEMANTICS §1.5)',
    ).to.deep.equal([[7n, 512n]]);
    expect(v.step(data).verify!.mismatches, 'with the bytes written to the pipe').to.equal(0);
  },
);

conformance(
  'aio.PWRITE and aio.FSYNC just submitted are not cancellable: io_cancel returns -EINVAL, each completes once',
  { ops: ['aio.PWRITE', 'aio.FSYNC', 'aio.cancel'], rule: 'SEMANTICS §1.5' },
  async ({ target, scratch }) => {
    // Neither has a cancel callback, so it is never on active_reqs: -EINVAL whether it is still running
    // (FSYNC runs on a workqueue) or done; the point is that the request is not lost or doubled.
    const p = new Program();
    const s = p.main;
    const { fd, step: open } = scratchFile(s, scratch, 'f');
    const b = p.buf(4096);
    const { ctx, setup } = aioSetup(s, 4);
    const sub = aioSubmit(s, ctx, [
      iocb({ opcode: 'PWRITE', fd, aio_data: 1, aio_buf: arg.buf(b), aio_nbytes: 4096, aio_offset: 0 }),
      iocb({ opcode: 'FSYNC', fd, aio_data: 2 }),
    ]);
    const result = arg.buf(p.buf(IO_EVENT_LAYOUT.size));
    const cancelWrite = s.syscall(SYSCALLS.io_cancel, [arg.ctx(ctx), arg.buf(sub.iocbs, 0), result]);
    const cancelFsync = s.syscall(SYSCALLS.io_cancel, [arg.ctx(ctx), arg.buf(sub.iocbs, IOCB_LAYOUT.size), result]);
    const first = aioGetevents(s, ctx, 2, 4);
    const more = aioGetevents(s, ctx, 0, 4, 0);
    const v = await target.run(p);
    expect(v.ret(open), 'open of the file').to.be.at.least(0);
    expect(v.ret(setup), 'io_setup').to.equal(0);
    expect(v.ret(sub.submit), 'io_submit').to.equal(2);
    expect(v.ret(cancelWrite), 'io_cancel of a PWRITE returns -EINVAL (SEMANTICS §1.5)').to.equal(-errno.EINVAL);
    expect(v.ret(cancelFsync), 'io_cancel of an FSYNC returns -EINVAL (SEMANTICS §1.5)').to.equal(-errno.EINVAL);
    const events = [...v.step(first).events, ...v.step(more).events];
    expect(
      events.map((e) => [e.data, e.res]),
      'each completes exactly once (SEMANTICS §1.5)',
    ).to.have.deep.members([
      [1n, 4096n],
      [2n, 0n],
    ]);
  },
);

conformance(
  'aio.cancel of an iocb never submitted, of one armed on another context, or with a nonzero aio_key returns -EINVAL',
  { ops: ['aio.POLL', 'aio.cancel'], rule: 'SEMANTICS §1.5' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const { r, step: pipe } = pipe2(s, O.CLOEXEC.value);
    const { ctx, setup } = aioSetup(s, 4);
    const { ctx: other, setup: setupOther } = aioSetup(s, 4);
    const result = arg.buf(p.buf(IO_EVENT_LAYOUT.size));
    const stranger = p.buf(IOCB_LAYOUT.size);
    place(s, stranger, 0, iocb({ opcode: 'POLL', fd: r, aio_data: 9, aio_buf: POLL_EV.IN.value }));
    const never = s.syscall(SYSCALLS.io_cancel, [arg.ctx(ctx), arg.buf(stranger), result]);
    const sub = aioSubmit(s, ctx, [iocb({ opcode: 'POLL', fd: r, aio_data: 7, aio_buf: POLL_EV.IN.value })]);
    const wrongCtx = s.syscall(SYSCALLS.io_cancel, [arg.ctx(other), arg.buf(sub.iocbs), result]);
    const key = IOCB_LAYOUT.fields.aio_key.offset;
    s.patch(sub.iocbs, key, 4, 1);
    const badKey = s.syscall(SYSCALLS.io_cancel, [arg.ctx(ctx), arg.buf(sub.iocbs), result]);
    s.patch(sub.iocbs, key, 4, 0);
    const right = s.syscall(SYSCALLS.io_cancel, [arg.ctx(ctx), arg.buf(sub.iocbs), result]);
    const first = aioGetevents(s, ctx, 1, 4);
    const more = aioGetevents(s, ctx, 0, 4, 0);
    const none = aioGetevents(s, other, 0, 4, 0);
    const v = await target.run(p);
    expect(v.ret(pipe), 'pipe2').to.equal(0);
    expect(v.ret(setup), 'io_setup').to.equal(0);
    expect(v.ret(setupOther), 'io_setup of the other context').to.equal(0);
    expect(v.ret(sub.submit), 'io_submit arms the poll').to.equal(1);
    expect(v.ret(never), 'io_cancel of an iocb never submitted: -EINVAL (SEMANTICS §1.5)').to.equal(-errno.EINVAL);
    expect(v.ret(wrongCtx), 'io_cancel on a context the iocb was not submitted to: -EINVAL (SEMANTICS §1.5)').to.equal(
      -errno.EINVAL,
    );
    expect(v.ret(badKey), 'io_cancel of an iocb whose aio_key is not 0: -EINVAL (SEMANTICS §1.5)').to.equal(
      -errno.EINVAL,
    );
    expect(v.ret(right), 'the poll was still armed: io_cancel on its own context returns -EINPROGRESS').to.equal(
      -errno.EINPROGRESS,
    );
    const events = [...v.step(first).events, ...v.step(more).events];
    expect(
      events.map((e) => [e.data, e.res]),
      'one io_event, from the one real cancel (SEMANTICS §1.5)',
    ).to.deep.equal([[7n, 0n]]);
    expect(v.step(none).events, 'nothing on the other context').to.deep.equal([]);
  },
);
