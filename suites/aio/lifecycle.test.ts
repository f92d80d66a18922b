/**
 * AIO contexts over a process's life: io_destroy, exit and execve wait for the I/O in flight and free the
 * context; a forked child cannot use its parent's (SEMANTICS §1.5, §1.7, §1.8 checklist 5, 7).
 */
import * as path from 'path';
import { expect } from 'chai';
import { errno, IO_EVENT_LAYOUT, O, POLL_EV, SYSCALLS } from '../../src/abi';
import { aioDestroy, aioGetevents, aioSetup, aioSubmit, iocb, setLedgerMode } from '../../src/program/aio';
import { arg, Program } from '../../src/program/builder';
import { pipe2, pread, scratchFile } from '../../src/program/sys';
import { conformance } from '../../src/suite/conformance';
import { AIO_NR, judgeAioNr, readDecimal } from '../../src/oracle/aio-nr';

conformance(
  'aio.destroy with a PREAD in flight waits for it to complete, then returns 0',
  { ops: ['aio.PREAD', 'aio.destroy'], rule: 'SEMANTICS §1.5' },
  async ({ target }) => {
    // A PREAD of an empty pipe blocks inside io_submit (SEMANTICS §1.6): in flight until the pipe is fed.
    const p = new Program({ deadlineMs: 10_000 });
    setLedgerMode(p, 'at-most-once'); // the completion goes to the destroyed context's ring
    const s = p.main;
    const { r, w, step: pipe } = pipe2(s, O.CLOEXEC.value);
    const { ctx, setup } = aioSetup(s, 4);
    const into = p.buf(512);
    const from = p.buf(512);
    s.fillPattern(from, 0, 512, 0x11fe);
    const reader = p.seq();
    const sub = aioSubmit(reader, ctx, [
      iocb({ opcode: 'PREAD', fd: r, aio_data: 1, aio_buf: arg.buf(into), aio_nbytes: 512 }),
    ]);
    const destroyer = p.seq();
    destroyer.sleep(200);
    const destroy = aioDestroy(destroyer, ctx);
    const feeder = p.seq();
    feeder.sleep(600);
    const feed = feeder.syscall(SYSCALLS.write, [arg.fd(w), arg.buf(from), 512]);
    const threads = s.threads([reader, destroyer, feeder], 5000);
    const data = s.verify(into, 0, 512, 0x11fe);
    const v = await target.run(p);
    expect(v.ret(pipe), 'pipe2').to.equal(0);
    expect(v.ret(setup), 'io_setup').to.equal(0);
    expect(v.ret(threads), 'all three threads joined').to.equal(3);
    expect(v.ret(feed), 'write to the pipe').to.equal(512);
    expect(v.ret(sub.submit), 'io_submit returns once the read is done').to.equal(1);
    expect(v.ret(destroy), 'io_destroy returns 0 (SEMANTICS §1.5)').to.equal(0);
    const d = v.step(destroy);
    expect(d.t0Ns < v.step(feed).t0Ns, 'io_destroy was called while the read was blocked').to.equal(true);
    expect(
      d.t1Ns >= v.step(feed).t0Ns,
      'io_destroy returned only after the read could complete (SEMANTICS §1.5)',
    ).to.equal(true);
    expect(v.step(data).verify!.mismatches, 'the read finished: the pipe bytes are in its buffer').to.equal(0);
  },
);

conformance(
  'aio: a process that exits with I/O in flight frees its context and its completed writes stay written',
  { ops: ['aio.PWRITE', 'aio.POLL'], rule: 'SEMANTICS §1.7' },
  async ({ target, scratch, note }) => {
    await judgeAioNr(8, 'SEMANTICS §1.7', note, async () => {
      const p = new Program({ deadlineMs: 10_000 });
      setLedgerMode(p, 'at-most-once'); // the child exits without reaping
      const s = p.main;
      const { fd, step: open } = scratchFile(s, scratch, 'f');
      const before = readDecimal(s, AIO_NR);
      const child = p.seq();
      const { r } = pipe2(child, O.CLOEXEC.value);
      const { ctx, setup } = aioSetup(child, 8);
      const b = p.buf(8192);
      child.fillPattern(b, 0, 8192, 0xe417);
      const sub = aioSubmit(child, ctx, [
        iocb({ opcode: 'PWRITE', fd, aio_data: 1, aio_buf: arg.buf(b), aio_nbytes: 4096, aio_offset: 0 }),
        iocb({ opcode: 'PWRITE', fd, aio_data: 2, aio_buf: arg.buf(b, 4096), aio_nbytes: 4096, aio_offset: 4096 }),
        // armed on an empty pipe: still in flight when the process exits
        iocb({ opcode: 'POLL', fd: r, aio_data: 3, aio_buf: POLL_EV.IN.value }),
      ]);
      const during = readDecimal(child, AIO_NR);
      child.exit(0);
      const pid = p.pid();
      const fork = s.fork(child, pid);
      const wait = s.wait(pid, 5000);
      const after = readDecimal(s, AIO_NR);
      const back = p.buf(8192);
      const read = pread(s, fd, back, 8192, 0);
      const data = s.verify(back, 0, 8192, 0xe417);
      const v = await target.run(p);
      expect(v.ret(open), 'open of the file').to.be.at.least(0);
      expect(v.ret(fork), 'fork').to.be.above(0);
      expect(v.ret(setup), 'io_setup in the child').to.equal(0);
      expect(v.ret(sub.submit), 'io_submit in the child: two writes and a poll').to.equal(3);
      expect(v.ret(wait), 'the child was reaped').to.be.above(0);
      expect(Number(v.step(wait).ret2), 'the child exited with status 0').to.equal(0);
      expect(v.ret(read), 'the file is 8192 bytes long').to.equal(8192);
      expect(v.step(data).verify!.mismatches, 'the completed writes are in the file (SEMANTICS §1.7)').to.equal(0);
      // the child's context counted in aio-nr while held, and exit freed it (judged by judgeAioNr: system-wide)
      return { before: before.value(v), during: during.value(v), after: after.value(v) };
    });
  },
);

conformance(
  "aio: a forked child's io_submit, getevents, cancel and destroy on its parent's context fail with -EINVAL",
  { ops: ['aio.PWRITE', 'aio.submit', 'aio.getevents', 'aio.cancel', 'aio.destroy'], rule: 'SEMANTICS §1.7' },
  async ({ target, scratch }) => {
    const p = new Program({ deadlineMs: 10_000 });
    const s = p.main;
    const { fd, step: open } = scratchFile(s, scratch, 'f');
    const b = p.buf(4096);
    s.fillPattern(b, 0, 4096, 0xf04c);
    const { ctx, setup } = aioSetup(s, 4);
    const child = p.seq();
    const write = (data: number) =>
      iocb({ opcode: 'PWRITE', fd, aio_data: data, aio_buf: arg.buf(b), aio_nbytes: 4096, aio_offset: 0 });
    const sub = aioSubmit(child, ctx, [write(1)]);
    const ev = p.buf(IO_EVENT_LAYOUT.size * 4);
    const get = child.syscall(SYSCALLS.io_getevents, [arg.ctx(ctx), 0, 4, arg.buf(ev), 0]);
    const cancel = child.syscall(SYSCALLS.io_cancel, [arg.ctx(ctx), arg.buf(sub.iocbs), arg.buf(ev)]);
    const destroy = aioDestroy(child, ctx);
    const pid = p.pid();
    const fork = s.fork(child, pid);
    const wait = s.wait(pid, 5000);
    const size = s.syscall(SYSCALLS.lseek, [arg.fd(fd), 0, 2 /* SEEK_END */]);
    // the parent's context is untouched by all that
    const own = aioSubmit(s, ctx, [write(2)]);
    const reaped = aioGetevents(s, ctx, 1, 4);
    const v = await target.run(p);
    expect(v.ret(open), 'open of the file').to.be.at.least(0);
    expect(v.ret(setup), 'io_setup').to.equal(0);
    expect(v.ret(fork), 'fork').to.be.above(0);
    expect(v.ret(wait), 'the child was reaped').to.be.above(0);
    const rule = 'a forked child does not inherit AIO contexts (SEMANTICS §1.7)';
    expect(v.ret(sub.submit), `io_submit: -EINVAL: ${rule}`).to.equal(-errno.EINVAL);
    expect(v.ret(get), `io_getevents: -EINVAL: ${rule}`).to.equal(-errno.EINVAL);
    expect(v.ret(cancel), `io_cancel: -EINVAL: ${rule}`).to.equal(-errno.EINVAL);
    expect(v.ret(destroy), `io_destroy: -EINVAL: ${rule}`).to.equal(-errno.EINVAL);
    expect(v.ret(size), "the child's write was not run: the file is still empty").to.equal(0);
    expect(v.ret(own.submit), "the parent's context still works").to.equal(1);
    expect(
      v.step(reaped).events.map((e) => [e.data, e.res]),
      'and completes its write',
    ).to.deep.equal([[2n, 4096n]]);
  },
);

/** An executable every target has: the host's /bin/sh, and the VM image's busybox links (vm-images/init.sh). */
const SHELL = '/bin/sh';

conformance(
  'aio: execve with I/O in flight frees the context before the new program runs; completed writes stay written',
  { ops: ['aio.PWRITE', 'aio.POLL'], rule: 'SEMANTICS §1.7' },
  async ({ target, scratch, note }) => {
    await judgeAioNr(8, 'SEMANTICS §1.7', note, async () => {
      const p = new Program({ deadlineMs: 10_000 });
      setLedgerMode(p, 'at-most-once'); // the child execs without reaping
      const s = p.main;
      const { fd, step: open } = scratchFile(s, scratch, 'f');
      const before = readDecimal(s, AIO_NR);
      // the new program reports what it sees: [aio] mappings of its own, and the system's aio-nr
      const maps = path.posix.join(scratch, 'maps');
      const nr = path.posix.join(scratch, 'aio-nr');
      const script = `grep -c '\\[aio\\]' /proc/$$/maps > ${maps}; cat ${AIO_NR} > ${nr}`;
      const argv = p.buf(8 * 4);
      ['sh', '-c', script].forEach((a, i) => s.patch(argv, 8 * i, 8, arg.buf(p.cstr(a))));
      const shell = p.cstr(SHELL);
      const child = p.seq();
      const { r } = pipe2(child, O.CLOEXEC.value);
      const { ctx, setup } = aioSetup(child, 8);
      const b = p.buf(4096);
      child.fillPattern(b, 0, 4096, 0xe8ec);
      const sub = aioSubmit(child, ctx, [
        iocb({ opcode: 'PWRITE', fd, aio_data: 1, aio_buf: arg.buf(b), aio_nbytes: 4096, aio_offset: 0 }),
        // armed on an empty pipe: still in flight at execve
        iocb({ opcode: 'POLL', fd: r, aio_data: 2, aio_buf: POLL_EV.IN.value }),
      ]);
      const exec = child.syscall(SYSCALLS.execve, [arg.buf(shell), arg.buf(argv), 0]);
      const pid = p.pid();
      const fork = s.fork(child, pid);
      const wait = s.wait(pid, 5000);
      const seenMaps = readDecimal(s, maps);
      const seenNr = readDecimal(s, nr);
      const back = p.buf(4096);
      const read = pread(s, fd, back, 4096, 0);
      const data = s.verify(back, 0, 4096, 0xe8ec);
      const v = await target.run(p);
      expect(v.ret(open), 'open of the file').to.be.at.least(0);
      expect(v.ret(fork), 'fork').to.be.above(0);
      expect(v.ret(setup), 'io_setup in the child').to.equal(0);
      expect(v.ret(sub.submit), 'io_submit in the child: a write and a poll').to.equal(2);
      expect(v.maybe(exec)?.ret, `execve of ${SHELL} does not return`).to.equal(undefined);
      expect(v.ret(wait), 'the child was reaped').to.be.above(0);
      expect(Number(v.step(wait).ret2), 'the shell exited with status 0').to.equal(0);
      expect(seenMaps.value(v), 'the new program has no [aio] ring mapping (SEMANTICS §1.7)').to.equal(0);
      expect(v.ret(read), 'the file is 4096 bytes long').to.equal(4096);
      expect(v.step(data).verify!.mismatches, 'the completed write is in the file (SEMANTICS §1.7)').to.equal(0);
      // execve freed the context before the new program read aio-nr (judged by judgeAioNr: system-wide)
      return { before: before.value(v), after: seenNr.value(v) };
    });
  },
);
