/**
 * io_cancel: only an armed POLL is cancellable; it then completes once, through the ring, with res 0
 * (SEMANTICS §1.5, §1.8 checklist 3).
 */
import { expect } from 'chai';
import { errno, IO_EVENT_LAYOUT, POLL_EV, SYSCALLS } from '../../src/abi';
import { aioGetevents, aioSetup, aioSubmit, iocb } from '../../src/program/aio';
import { arg, Program } from '../../src/program/builder';
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
