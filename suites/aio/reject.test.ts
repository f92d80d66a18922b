/**
 * io_submit's synchronous rejections leave nothing behind: a bad fd, a bad iocb pointer, a bad count, a
 * bad or destroyed context (SEMANTICS §1.5). A bad data buffer is not one of them: it fails in the I/O.
 */
import { expect } from 'chai';
import { errno, IO_EVENT_LAYOUT, IOCB_LAYOUT, O, SYSCALLS } from '../../src/abi';
import { aioDestroy, aioGetevents, aioSetup, aioSubmit, iocb, setLedgerMode } from '../../src/program/aio';
import { arg, Program } from '../../src/program/builder';
import { openat, pwrite, scratchFile } from '../../src/program/sys';
import { conformance } from '../../src/suite/conformance';

const { EBADF, EFAULT, EINVAL } = errno;

conformance(
  'aio.submit of an iocb whose fd is not open is rejected with -EBADF',
  { ops: ['aio.PREAD', 'aio.PWRITE'], rule: 'SEMANTICS §1.5' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const b = p.buf(512);
    const { ctx, setup } = aioSetup(s, 4);
    const subs = [-1, 0x7fffffff].flatMap((fd, i) =>
      (['PREAD', 'PWRITE'] as const).map((opcode, j) => ({
        what: `${opcode} on fd ${fd}`,
        submit: aioSubmit(s, ctx, [iocb({ opcode, fd, aio_data: 2 * i + j + 1, aio_buf: arg.buf(b), aio_nbytes: 512 })])
          .submit,
      })),
    );
    const ev = aioGetevents(s, ctx, 0, 4, 0);
    const v = await target.run(p);
    expect(v.ret(setup), 'io_setup').to.equal(0);
    for (const x of subs)
      expect(v.ret(x.submit), `${x.what}: io_submit fails with -EBADF (SEMANTICS §1.5)`).to.equal(-EBADF);
    expect(v.step(ev).events, 'a rejected iocb posts no io_event (SEMANTICS §1.5)').to.deep.equal([]);
  },
);

conformance(
  'aio.PREAD on a write-only fd and aio.PWRITE on a read-only fd are rejected with -EBADF',
  { ops: ['aio.PREAD', 'aio.PWRITE'], rule: 'SEMANTICS §1.5' },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    const { step: create } = scratchFile(s, scratch, 'f');
    const b = p.buf(512);
    s.fillPattern(b, 0, 512, 0x4ec7);
    const { fd: wo, step: openWo } = openat(s, `${scratch}/f`, O.WRONLY.value | O.CLOEXEC.value);
    const { fd: ro, step: openRo } = openat(s, `${scratch}/f`, O.RDONLY.value | O.CLOEXEC.value);
    const { ctx, setup } = aioSetup(s, 4);
    const read = aioSubmit(s, ctx, [
      iocb({ opcode: 'PREAD', fd: wo, aio_data: 1, aio_buf: arg.buf(b), aio_nbytes: 512 }),
    ]);
    const write = aioSubmit(s, ctx, [
      iocb({ opcode: 'PWRITE', fd: ro, aio_data: 2, aio_buf: arg.buf(b), aio_nbytes: 512 }),
    ]);
    const ev = aioGetevents(s, ctx, 0, 4, 0);
    const size = s.syscall(SYSCALLS.lseek, [arg.fd(ro), 0, 2 /* SEEK_END */]);
    const v = await target.run(p);
    for (const x of [create, openWo, openRo]) expect(v.ret(x), 'open of the file').to.be.at.least(0);
    expect(v.ret(setup), 'io_setup').to.equal(0);
    expect(v.ret(read.submit), 'PREAD on an O_WRONLY fd: io_submit fails with -EBADF (SEMANTICS §1.5)').to.equal(
      -EBADF,
    );
    expect(v.ret(write.submit), 'PWRITE on an O_RDONLY fd: io_submit fails with -EBADF (SEMANTICS §1.5)').to.equal(
      -EBADF,
    );
    expect(v.step(ev).events, 'a rejected iocb posts no io_event (SEMANTICS §1.5)').to.deep.equal([]);
    expect(v.ret(size), 'the rejected PWRITE wrote nothing: the file is still empty').to.equal(0);
  },
);

conformance(
  'aio.submit with an unreadable iocb pointer or pointer array fails with -EFAULT',
  { ops: ['aio.submit'], rule: 'SEMANTICS §1.5' },
  async ({ target }) => {
    const p = new Program();
    setLedgerMode(p, 'off'); // the pointers are forged by hand, not through aioSubmit
    const s = p.main;
    const { ctx, setup } = aioSetup(s, 4);
    const ptrs = p.buf(8);
    s.patch(ptrs, 0, 8, arg.bad());
    const badIocb = s.syscall(SYSCALLS.io_submit, [arg.ctx(ctx), 1, arg.buf(ptrs)]);
    const badArray = s.syscall(SYSCALLS.io_submit, [arg.ctx(ctx), 1, arg.bad()]);
    const ev = aioGetevents(s, ctx, 0, 4, 0);
    const v = await target.run(p);
    expect(v.ret(setup), 'io_setup').to.equal(0);
    expect(v.ret(badIocb), 'iocbpp[0] points to an unmapped page: -EFAULT (SEMANTICS §1.5)').to.equal(-EFAULT);
    expect(v.ret(badArray), 'iocbpp itself unmapped: -EFAULT (SEMANTICS §1.5)').to.equal(-EFAULT);
    expect(v.step(ev).events, 'nothing was queued, nothing completes (SEMANTICS §1.5)').to.deep.equal([]);
  },
);

// Measured on 6.18 (host), 6.1 and 6.12: a user address that faults is not checked at io_submit (only
// access_ok is), so the copy fails inside ->read_iter/->write_iter and the io_event carries -EFAULT.
// A kernel address fails access_ok in import_ubuf and is rejected synchronously.
conformance(
  'aio.PREAD and aio.PWRITE with an unmapped data buffer complete with res -EFAULT; a kernel address is rejected',
  { ops: ['aio.PREAD', 'aio.PWRITE'], rule: 'SEMANTICS §1.5' },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    const { fd, step: open } = scratchFile(s, scratch, 'f');
    const b = p.buf(512);
    const write = pwrite(s, fd, b, 512, 0);
    const { ctx, setup } = aioSetup(s, 8);
    const rw = { fd, aio_buf: arg.bad(), aio_nbytes: 512, aio_offset: 0 };
    const read = aioSubmit(s, ctx, [iocb({ opcode: 'PREAD', aio_data: 1, ...rw })]);
    const wr = aioSubmit(s, ctx, [iocb({ opcode: 'PWRITE', aio_data: 2, ...rw })]);
    const kernel = aioSubmit(s, ctx, [iocb({ opcode: 'PREAD', aio_data: 3, ...rw, aio_buf: 0xffff_8880_0000_0000n })]);
    const ev = aioGetevents(s, ctx, 2, 8);
    const more = aioGetevents(s, ctx, 0, 8, 0);
    const v = await target.run(p);
    expect(v.ret(open), 'open of the file').to.be.at.least(0);
    expect(v.ret(write), 'pwrite of the file').to.equal(512);
    expect(v.ret(setup), 'io_setup').to.equal(0);
    expect(v.ret(read.submit), 'PREAD into an unmapped user page is accepted (SEMANTICS §1.5)').to.equal(1);
    expect(v.ret(wr.submit), 'PWRITE from an unmapped user page is accepted (SEMANTICS §1.5)').to.equal(1);
    expect(v.ret(kernel.submit), 'a kernel address fails access_ok: io_submit returns -EFAULT').to.equal(-EFAULT);
    const events = [...v.step(ev).events, ...v.step(more).events].map((e) => [e.data, e.res]);
    expect(events, 'each accepted request completes once with res -EFAULT (SEMANTICS §1.5)').to.have.deep.members([
      [1n, BigInt(-EFAULT)],
      [2n, BigInt(-EFAULT)],
    ]);
  },
);

conformance(
  'aio.submit with nr < 0 is rejected with -EINVAL and with nr 0 returns 0',
  { ops: ['aio.submit'], rule: 'SEMANTICS §1.5' },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    const { fd, step: open } = scratchFile(s, scratch, 'f');
    const b = p.buf(512);
    const { ctx, setup } = aioSetup(s, 4);
    const one = [iocb({ opcode: 'PWRITE', fd, aio_data: 1, aio_buf: arg.buf(b), aio_nbytes: 512 })];
    const negative = aioSubmit(s, ctx, one, -1);
    const zero = aioSubmit(s, ctx, one, 0);
    const ev = aioGetevents(s, ctx, 0, 4, 0);
    const size = s.syscall(SYSCALLS.lseek, [arg.fd(fd), 0, 2 /* SEEK_END */]);
    const v = await target.run(p);
    expect(v.ret(open), 'open of the file').to.be.at.least(0);
    expect(v.ret(setup), 'io_setup').to.equal(0);
    expect(v.ret(negative.submit), 'io_submit(nr -1) fails with -EINVAL (SEMANTICS §1.5)').to.equal(-EINVAL);
    expect(v.ret(zero.submit), 'io_submit(nr 0) returns 0 (SEMANTICS §1.5)').to.equal(0);
    expect(v.step(ev).events, 'nothing was queued, nothing completes (SEMANTICS §1.5)').to.deep.equal([]);
    expect(v.ret(size), 'the iocb was not run: the file is still empty').to.equal(0);
  },
);

conformance(
  'aio.submit, getevents, cancel and destroy on a destroyed context fail with -EINVAL',
  { ops: ['aio.submit', 'aio.getevents', 'aio.cancel', 'aio.destroy'], rule: 'SEMANTICS §1.5' },
  async ({ target, scratch }) => {
    const p = new Program();
    setLedgerMode(p, 'off'); // the submit goes to a context id that no longer exists
    const s = p.main;
    const { fd, step: open } = scratchFile(s, scratch, 'f');
    const b = p.buf(512);
    const { ctx, setup, id } = aioSetup(s, 4);
    const destroy = aioDestroy(s, ctx);
    const sub = aioSubmit(s, id, [iocb({ opcode: 'PWRITE', fd, aio_data: 1, aio_buf: arg.buf(b), aio_nbytes: 512 })]);
    const ev = p.buf(IO_EVENT_LAYOUT.size * 4);
    const get = s.syscall(SYSCALLS.io_getevents, [id, 0, 4, arg.buf(ev), 0]);
    const cancel = s.syscall(SYSCALLS.io_cancel, [id, arg.buf(sub.iocbs), arg.buf(ev)]);
    const again = aioDestroy(s, id);
    const size = s.syscall(SYSCALLS.lseek, [arg.fd(fd), 0, 2 /* SEEK_END */]);
    const v = await target.run(p);
    expect(v.ret(open), 'open of the file').to.be.at.least(0);
    expect(v.ret(setup), 'io_setup').to.equal(0);
    expect(v.ret(destroy), 'io_destroy').to.equal(0);
    expect(v.ret(sub.submit), 'io_submit on a destroyed context: -EINVAL (SEMANTICS §1.5)').to.equal(-EINVAL);
    expect(v.ret(get), 'io_getevents on a destroyed context: -EINVAL (SEMANTICS §1.5)').to.equal(-EINVAL);
    expect(v.ret(cancel), 'io_cancel on a destroyed context: -EINVAL (SEMANTICS §1.5)').to.equal(-EINVAL);
    expect(v.ret(again), 'io_destroy on a destroyed context: -EINVAL (SEMANTICS §1.5)').to.equal(-EINVAL);
    expect(v.ret(size), 'the write was not run: the file is still empty').to.equal(0);
  },
);

conformance(
  'aio.submit and getevents on a context id that was never set up fail with -EINVAL',
  { ops: ['aio.submit', 'aio.getevents'], rule: 'SEMANTICS §1.1, §1.5' },
  async ({ target, scratch }) => {
    const p = new Program();
    setLedgerMode(p, 'off'); // forged context ids
    const s = p.main;
    const { fd, step: open } = scratchFile(s, scratch, 'f');
    const b = p.buf(512);
    // a real context, so that the process has a context table whose slot 0 is taken
    const { setup } = aioSetup(s, 4);
    // lookup_ioctx reads ring->id at the id's address: a zeroed buffer says id 0, which is the real
    // context's slot but not its address; an unmapped page cannot be read; 0 is no address at all
    const zeros = p.buf(64);
    const ids = [
      { what: 'id 0', id: arg.imm(0) },
      { what: 'an unmapped address', id: arg.bad() },
      { what: 'a zeroed buffer (ring id 0, wrong address)', id: arg.buf(zeros) },
    ];
    const ev = p.buf(IO_EVENT_LAYOUT.size * 4);
    const tries = ids.map((x, i) => ({
      what: x.what,
      submit: aioSubmit(s, x.id, [
        iocb({ opcode: 'PWRITE', fd, aio_data: i + 1, aio_buf: arg.buf(b), aio_nbytes: 512 }),
      ]).submit,
      get: s.syscall(SYSCALLS.io_getevents, [x.id, 0, 4, arg.buf(ev), 0]),
    }));
    const size = s.syscall(SYSCALLS.lseek, [arg.fd(fd), 0, 2 /* SEEK_END */]);
    const v = await target.run(p);
    expect(v.ret(open), 'open of the file').to.be.at.least(0);
    expect(v.ret(setup), 'io_setup').to.equal(0);
    for (const t of tries) {
      expect(v.ret(t.submit), `io_submit on ${t.what}: -EINVAL (SEMANTICS §1.5)`).to.equal(-EINVAL);
      expect(v.ret(t.get), `io_getevents on ${t.what}: -EINVAL (SEMANTICS §1.5)`).to.equal(-EINVAL);
    }
    expect(v.ret(size), 'no write was run: the file is still empty').to.equal(0);
  },
);

// Measured on 6.18, 6.1 and 6.12: io_submit does not check aio_key; it overwrites it with KIOCB_KEY (0),
// which io_cancel later requires.
conformance(
  'aio.submit ignores a nonzero aio_key and writes KIOCB_KEY 0 back into the iocb',
  { ops: ['aio.PREAD'], rule: 'SEMANTICS §1.3' },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    const { fd, step: open } = scratchFile(s, scratch, 'f');
    const b = p.buf(512);
    const write = pwrite(s, fd, b, 512, 0);
    const { ctx, setup } = aioSetup(s, 4);
    const sub = aioSubmit(s, ctx, [
      iocb({ opcode: 'PREAD', fd, aio_data: 1, aio_key: 0x1234, aio_buf: arg.buf(b), aio_nbytes: 512 }),
    ]);
    const key = s.dump(sub.iocbs, IOCB_LAYOUT.fields.aio_key.offset, 4);
    const ev = aioGetevents(s, ctx, 1, 4);
    const v = await target.run(p);
    expect(v.ret(open), 'open of the file').to.be.at.least(0);
    expect(v.ret(write), 'pwrite of the file').to.equal(512);
    expect(v.ret(setup), 'io_setup').to.equal(0);
    expect(v.ret(sub.submit), 'an iocb with aio_key 0x1234 is accepted (SEMANTICS §1.3)').to.equal(1);
    expect(v.step(key).dump!.readUInt32LE(0), 'io_submit wrote KIOCB_KEY 0 into aio_key (SEMANTICS §1.3)').to.equal(0);
    expect(
      v.step(ev).events.map((e) => [e.data, e.res]),
      'the read completes',
    ).to.deep.equal([[1n, 512n]]);
  },
);
