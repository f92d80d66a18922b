/** io_submit stops at the first bad iocb and returns how many it queued before it (SEMANTICS §1.5). */
import { expect } from 'chai';
import { errno, IOCB_LAYOUT, SYSCALLS } from '../../src/abi';
import { aioGetevents, aioSetup, aioSubmit, iocb, setLedgerMode } from '../../src/program/aio';
import { arg, Program } from '../../src/program/builder';
import { place } from '../../src/program/struct';
import { scratchFile, pwrite } from '../../src/program/sys';
import { conformance } from '../../src/suite/conformance';

conformance(
  'aio.submit of [valid, invalid, valid] queues only the first',
  { ops: ['aio.PREAD'], rule: 'SEMANTICS §1.5' },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    const { fd, step: open } = scratchFile(s, scratch, 'f');
    const b = p.buf(3 * 512);
    s.fillPattern(b, 0, 512, 0x0a17);
    const write = pwrite(s, fd, b, 512, 0);
    const { ctx, setup } = aioSetup(s, 8);
    const read = (data: number, i: number) => ({
      opcode: 'PREAD' as const,
      fd,
      aio_data: data,
      aio_buf: arg.buf(b, 512 * i),
      aio_nbytes: 512,
      aio_offset: 0,
    });
    // the middle one has aio_reserved2 set: rejected at io_submit time
    const { submit } = aioSubmit(s, ctx, [
      iocb(read(1, 0)),
      iocb({ ...read(2, 1), aio_reserved2: 1 }),
      iocb(read(3, 2)),
    ]);
    const first = aioGetevents(s, ctx, 1, 3);
    const more = aioGetevents(s, ctx, 0, 3, 0);
    const v = await target.run(p);
    expect(v.ret(open), 'open of the file').to.be.at.least(0);
    expect(v.ret(write), 'pwrite of the file').to.equal(512);
    expect(v.ret(setup), 'io_setup').to.equal(0);
    expect(v.ret(submit), 'io_submit returns the count queued before the bad iocb (SEMANTICS §1.5)').to.equal(1);
    const events = [...v.step(first).events, ...v.step(more).events];
    expect(
      events.map((e) => [e.data, e.res]),
      'exactly one io_event: the first read, complete (SEMANTICS §1.5)',
    ).to.deep.equal([[1n, 512n]]);
  },
);

conformance(
  'aio.submit of [invalid, valid] returns the error itself and queues nothing',
  { ops: ['aio.PREAD'], rule: 'SEMANTICS §1.5' },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    const { fd, step: open } = scratchFile(s, scratch, 'f');
    const b = p.buf(2 * 512);
    const write = pwrite(s, fd, b, 512, 0);
    const { ctx, setup } = aioSetup(s, 8);
    const read = (data: number, i: number) => ({
      opcode: 'PREAD' as const,
      fd,
      aio_data: data,
      aio_buf: arg.buf(b, 512 * i),
      aio_nbytes: 512,
      aio_offset: 0,
    });
    const { submit } = aioSubmit(s, ctx, [iocb({ ...read(1, 0), aio_reserved2: 1 }), iocb(read(2, 1))]);
    const ev = aioGetevents(s, ctx, 0, 4, 0);
    const v = await target.run(p);
    expect(v.ret(open), 'open of the file').to.be.at.least(0);
    expect(v.ret(write), 'pwrite of the file').to.equal(512);
    expect(v.ret(setup), 'io_setup').to.equal(0);
    expect(v.ret(submit), 'the first iocb is bad: io_submit returns its error, -EINVAL (SEMANTICS §1.5)').to.equal(
      -errno.EINVAL,
    );
    expect(v.step(ev).events, 'the valid iocb after it was not queued: no io_event (SEMANTICS §1.5)').to.deep.equal([]);
  },
);

conformance(
  'aio.submit of [valid, unreadable pointer] queues the first and returns 1',
  { ops: ['aio.PREAD'], rule: 'SEMANTICS §1.5' },
  async ({ target, scratch }) => {
    const p = new Program();
    setLedgerMode(p, 'off'); // the pointer array is forged by hand; the events are checked below
    const s = p.main;
    const { fd, step: open } = scratchFile(s, scratch, 'f');
    const b = p.buf(512);
    s.fillPattern(b, 0, 512, 0x0a18);
    const write = pwrite(s, fd, b, 512, 0);
    const { ctx, setup } = aioSetup(s, 8);
    const one = p.buf(IOCB_LAYOUT.size);
    place(s, one, 0, iocb({ opcode: 'PREAD', fd, aio_data: 1, aio_buf: arg.buf(b), aio_nbytes: 512, aio_offset: 0 }));
    const ptrs = p.buf(16);
    s.patch(ptrs, 0, 8, arg.buf(one));
    s.patch(ptrs, 8, 8, arg.bad());
    const submit = s.syscall(SYSCALLS.io_submit, [arg.ctx(ctx), 2, arg.buf(ptrs)]);
    const first = aioGetevents(s, ctx, 1, 4);
    const more = aioGetevents(s, ctx, 0, 4, 0);
    const v = await target.run(p);
    expect(v.ret(open), 'open of the file').to.be.at.least(0);
    expect(v.ret(write), 'pwrite of the file').to.equal(512);
    expect(v.ret(setup), 'io_setup').to.equal(0);
    expect(v.ret(submit), 'io_submit stops at the unreadable iocb and returns 1 (SEMANTICS §1.5)').to.equal(1);
    const events = [...v.step(first).events, ...v.step(more).events];
    expect(
      events.map((e) => [e.data, e.res]),
      'exactly one io_event: the first read, complete (SEMANTICS §1.5)',
    ).to.deep.equal([[1n, 512n]]);
  },
);
