/**
 * PREAD and PWRITE on pipes: a pipe has no file position, so the request works like read(2)/write(2)
 * and aio_offset is ignored (pread(2)/pwrite(2) would fail with -ESPIPE); an empty pipe blocks the
 * submitter inside io_submit, or gives -EAGAIN with O_NONBLOCK (SEMANTICS §1.6).
 */
import { expect } from 'chai';
import { errno, O, SYSCALLS } from '../../src/abi';
import { aioGetevents, aioSetup, aioSubmit, iocb } from '../../src/program/aio';
import { arg, Program } from '../../src/program/builder';
import { patternBytes } from '../../src/program/pattern';
import { pipe2, pread, pwrite } from '../../src/program/sys';
import { conformance } from '../../src/suite/conformance';

const SEED = 0x0a50;

conformance(
  'aio.PWRITE and aio.PREAD on a pipe move bytes like write and read, ignoring aio_offset',
  { ops: ['aio.PREAD', 'aio.PWRITE'], rule: 'SEMANTICS §1.6' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const src = p.buf(100);
    s.fillPattern(src, 0, 100, SEED);
    const [a, b] = [pipe2(s, O.CLOEXEC.value), pipe2(s, O.CLOEXEC.value)];
    const [da, db] = [p.buf(4096), p.buf(4096)];
    s.fillByte(da, 0, 4096, 0xa5);
    s.fillByte(db, 0, 4096, 0xa5);
    // the synchronous twins: write(2) and read(2); pwrite(2) and pread(2) refuse a pipe
    const spwrite = pwrite(s, a.w, src, 100, 12345);
    const spread = pread(s, a.r, da, 4096, 777);
    const write = s.syscall(SYSCALLS.write, [arg.fd(a.w), arg.buf(src), 100]);
    const read = s.syscall(SYSCALLS.read, [arg.fd(a.r), arg.buf(da), 4096]);
    const { ctx, setup } = aioSetup(s, 4);
    const w = aioSubmit(s, ctx, [
      iocb({ opcode: 'PWRITE', fd: b.w, aio_data: 1, aio_buf: arg.buf(src), aio_nbytes: 100, aio_offset: 12345 }),
    ]).submit;
    const wev = aioGetevents(s, ctx, 1, 4);
    const r = aioSubmit(s, ctx, [
      iocb({ opcode: 'PREAD', fd: b.r, aio_data: 2, aio_buf: arg.buf(db), aio_nbytes: 4096, aio_offset: 777 }),
    ]).submit;
    const rev = aioGetevents(s, ctx, 1, 4);
    const [dumpA, dumpB] = [s.dump(da), s.dump(db)];
    const v = await target.run(p);
    expect([v.ret(a.step), v.ret(b.step), v.ret(setup)], 'pipe2, pipe2, io_setup').to.deep.equal([0, 0, 0]);
    expect([v.ret(spwrite), v.ret(spread)], 'pwrite(2) and pread(2) on a pipe fail with -ESPIPE').to.deep.equal([
      -errno.ESPIPE,
      -errno.ESPIPE,
    ]);
    expect([v.ret(write), v.ret(read)], 'write(2) and read(2) move the 100 bytes').to.deep.equal([100, 100]);
    expect([v.ret(w), v.ret(r)], 'io_submit queues the write, then the read').to.deep.equal([1, 1]);
    const res = [...v.step(wev).events, ...v.step(rev).events].map((e) => [e.data, e.res]);
    expect(
      res,
      'aio_offset is ignored: the pipe write and read complete like write(2) and read(2) (SEMANTICS §1.6)',
    ).to.deep.equal([
      [1n, 100n],
      [2n, 100n],
    ]);
    const got = v.step(dumpB).dump!;
    expect(got.subarray(0, 100).equals(patternBytes(SEED, 0, 100)), 'the read returns the bytes written').to.equal(
      true,
    );
    expect(got.equals(v.step(dumpA).dump!), 'the buffer afterwards is the same as read(2) leaves it').to.equal(true);
  },
);

conformance(
  'aio.PREAD on an empty O_NONBLOCK pipe completes with -EAGAIN like read',
  { ops: ['aio.PREAD'], rule: 'SEMANTICS §1.6' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const { r, step: pipe } = pipe2(s, O.NONBLOCK.value | O.CLOEXEC.value);
    const b = p.buf(4096);
    const read = s.syscall(SYSCALLS.read, [arg.fd(r), arg.buf(b), 4096]);
    const { ctx, setup } = aioSetup(s, 4);
    const { submit } = aioSubmit(s, ctx, [
      iocb({ opcode: 'PREAD', fd: r, aio_data: 1, aio_buf: arg.buf(b), aio_nbytes: 4096 }),
    ]);
    const ev = aioGetevents(s, ctx, 1, 4, 2e9);
    const v = await target.run(p);
    expect([v.ret(pipe), v.ret(setup)], 'pipe2, io_setup').to.deep.equal([0, 0]);
    expect(v.ret(read), 'read(2) of an empty O_NONBLOCK pipe fails with -EAGAIN').to.equal(-errno.EAGAIN);
    expect(v.ret(submit), 'io_submit accepts the read (SEMANTICS §1.6)').to.equal(1);
    expect(
      v.step(ev).events.map((e) => [e.data, e.res]),
      'the io_event carries -EAGAIN (SEMANTICS §1.6)',
    ).to.deep.equal([[1n, BigInt(-errno.EAGAIN)]]);
  },
);

conformance(
  'aio.PREAD on an empty blocking pipe blocks inside io_submit until a writer comes',
  { ops: ['aio.PREAD'], rule: 'SEMANTICS §1.6' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const { r, w, step: pipe } = pipe2(s, O.CLOEXEC.value);
    const src = p.buf(100);
    s.fillPattern(src, 0, 100, SEED + 1);
    const b = p.buf(4096);
    const { ctx, setup } = aioSetup(s, 4);
    // thread 1 submits the read; thread 2 writes 300 ms later
    const reader = p.seq();
    const { submit } = aioSubmit(reader, ctx, [
      iocb({ opcode: 'PREAD', fd: r, aio_data: 1, aio_buf: arg.buf(b), aio_nbytes: 4096 }),
    ]);
    const writer = p.seq();
    writer.sleep(300);
    const write = writer.syscall(SYSCALLS.write, [arg.fd(w), arg.buf(src), 100]);
    const join = s.threads([reader, writer], 5000);
    const ev = aioGetevents(s, ctx, 1, 4, 2e9);
    const dump = s.dump(b, 0, 100);
    const v = await target.run(p);
    expect([v.ret(pipe), v.ret(setup)], 'pipe2, io_setup').to.deep.equal([0, 0]);
    expect(v.ret(join), 'both threads ran').to.equal(2);
    expect(v.ret(write), 'the writer wrote 100 bytes').to.equal(100);
    const sub = v.step(submit);
    expect(sub.ret, 'io_submit queues the read').to.equal(1n);
    const waited = Number(sub.t1Ns - sub.t0Ns) / 1e6;
    expect(waited, 'io_submit returned only after the write, about 300 ms later (SEMANTICS §1.6)').to.be.at.least(200);
    expect(
      v.step(ev).events.map((e) => [e.data, e.res]),
      'the read completes with the 100 bytes',
    ).to.deep.equal([[1n, 100n]]);
    expect(v.step(dump).dump!.equals(patternBytes(SEED + 1, 0, 100)), 'the bytes written are read').to.equal(true);
  },
);
