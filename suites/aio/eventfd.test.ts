/** PREAD and PWRITE on an eventfd against read(2) and write(2) of its 8-byte counter (SEMANTICS §1.2, §1.6). */
import { expect } from 'chai';
import { EFD, errno, SYSCALLS } from '../../src/abi';
import { aioGetevents, aioSetup, aioSubmit, iocb } from '../../src/program/aio';
import { arg, Program, Sequence } from '../../src/program/builder';
import { conformance } from '../../src/suite/conformance';

/** eventfd2(initval, EFD_NONBLOCK | EFD_CLOEXEC) into a fresh fd slot. */
function eventfd(s: Sequence, initval: number) {
  const fd = s.program.fd();
  const step = s.syscall(SYSCALLS.eventfd2, [initval, EFD.NONBLOCK.value | EFD.CLOEXEC.value], { fd });
  return { fd, step };
}

conformance(
  'aio.PREAD of 8 bytes from an eventfd reads and resets its counter like read',
  { ops: ['aio.PREAD'], rule: 'SEMANTICS §1.6' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const [a, b] = [eventfd(s, 5), eventfd(s, 5)];
    const [ba, bb, again] = [p.buf(8), p.buf(8), p.buf(8)];
    const read = s.syscall(SYSCALLS.read, [arg.fd(a.fd), arg.buf(ba), 8]);
    const { ctx, setup } = aioSetup(s, 4);
    const { submit } = aioSubmit(s, ctx, [
      iocb({ opcode: 'PREAD', fd: b.fd, aio_data: 1, aio_buf: arg.buf(bb), aio_nbytes: 8 }),
    ]);
    const ev = aioGetevents(s, ctx, 1, 4);
    const after = s.syscall(SYSCALLS.read, [arg.fd(b.fd), arg.buf(again), 8]);
    const [da, db] = [s.dump(ba), s.dump(bb)];
    const v = await target.run(p);
    expect([v.ret(a.step) >= 0, v.ret(b.step) >= 0, v.ret(setup)], 'eventfd2, eventfd2, io_setup').to.deep.equal([
      true,
      true,
      0,
    ]);
    expect(v.ret(read), 'read(2) of the counter returns 8').to.equal(8);
    expect(v.ret(submit), 'io_submit queues the read').to.equal(1);
    expect(
      v.step(ev).events.map((e) => [e.data, e.res]),
      'the read completes with 8 like read(2)',
    ).to.deep.equal([[1n, 8n]]);
    expect(v.step(db).dump!.readBigUInt64LE(0), 'it reads the counter, 5').to.equal(5n);
    expect(v.step(db).dump!.equals(v.step(da).dump!), 'the same 8 bytes as read(2)').to.equal(true);
    expect(v.ret(after), 'the counter was reset: a second read(2) fails with -EAGAIN').to.equal(-errno.EAGAIN);
  },
);

conformance(
  'aio.PREAD of 4 bytes from an eventfd completes with -EINVAL like read',
  { ops: ['aio.PREAD'], rule: 'SEMANTICS §1.5' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const { fd, step: efd } = eventfd(s, 5);
    const b = p.buf(8);
    const read = s.syscall(SYSCALLS.read, [arg.fd(fd), arg.buf(b), 4]);
    const { ctx, setup } = aioSetup(s, 4);
    const { submit } = aioSubmit(s, ctx, [
      iocb({ opcode: 'PREAD', fd, aio_data: 1, aio_buf: arg.buf(b), aio_nbytes: 4 }),
    ]);
    const ev = aioGetevents(s, ctx, 1, 4);
    const v = await target.run(p);
    expect([v.ret(efd) >= 0, v.ret(setup)], 'eventfd2, io_setup').to.deep.equal([true, 0]);
    expect(v.ret(read), 'read(2) of fewer than 8 bytes fails with -EINVAL').to.equal(-errno.EINVAL);
    expect(v.ret(submit), 'io_submit queues the read').to.equal(1);
    expect(
      v.step(ev).events.map((e) => [e.data, e.res]),
      'the io_event carries -EINVAL like read(2) (SEMANTICS §1.5)',
    ).to.deep.equal([[1n, BigInt(-errno.EINVAL)]]);
  },
);

conformance(
  'aio.PWRITE to an eventfd is rejected with -EINVAL where write(2) works: eventfd has no write_iter',
  { ops: ['aio.PWRITE'], rule: 'SEMANTICS §1.5' },
  async ({ target }) => {
    // measured on 6.1, 6.12 and 6.18: eventfd_fops has .write but no .write_iter, and aio_write needs one
    const p = new Program();
    const s = p.main;
    const { fd, step: efd } = eventfd(s, 1);
    const src = p.data(Buffer.from([7, 0, 0, 0, 0, 0, 0, 0]));
    const counter = p.buf(8);
    const { ctx, setup } = aioSetup(s, 4);
    const { submit } = aioSubmit(s, ctx, [
      iocb({ opcode: 'PWRITE', fd, aio_data: 1, aio_buf: arg.buf(src), aio_nbytes: 8 }),
    ]);
    const ev = aioGetevents(s, ctx, 0, 4, 0);
    const read = s.syscall(SYSCALLS.read, [arg.fd(fd), arg.buf(counter), 8]);
    const write = s.syscall(SYSCALLS.write, [arg.fd(fd), arg.buf(src), 8]);
    const dump = s.dump(counter);
    const v = await target.run(p);
    expect([v.ret(efd) >= 0, v.ret(setup)], 'eventfd2, io_setup').to.deep.equal([true, 0]);
    expect(v.ret(submit), 'io_submit fails with -EINVAL: the file has no write_iter (SEMANTICS §1.5)').to.equal(
      -errno.EINVAL,
    );
    expect(v.step(ev).events, 'a rejected iocb posts no io_event (SEMANTICS §1.5)').to.deep.equal([]);
    expect(v.ret(read), 'read(2) of the counter').to.equal(8);
    expect(v.step(dump).dump!.readBigUInt64LE(0), 'the counter is still its initial 1: nothing was added').to.equal(1n);
    expect(v.ret(write), 'write(2) of the same 8 bytes works').to.equal(8);
  },
);
