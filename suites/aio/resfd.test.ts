/**
 * IOCB_FLAG_RESFD: each completion of a flagged iocb adds 1 to the eventfd in aio_resfd; aio_resfd must
 * be an eventfd (SEMANTICS §1.4, §1.5).
 */
import { expect } from 'chai';
import { EFD, errno, IOCB_FLAG, SYSCALLS } from '../../src/abi';
import { aioGetevents, aioSetup, aioSubmit, iocb } from '../../src/program/aio';
import { arg, Program } from '../../src/program/builder';
import { pwrite, scratchFile } from '../../src/program/sys';
import { conformance } from '../../src/suite/conformance';

conformance(
  'aio IOCB_FLAG_RESFD: the eventfd counter equals the number of flagged completions',
  { ops: ['aio.PREAD', 'aio.PWRITE', 'aio.FSYNC'], rule: 'SEMANTICS §1.4' },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    const { fd, step: open } = scratchFile(s, scratch, 'f');
    const b = p.buf(4096);
    const write = pwrite(s, fd, b, 4096, 0);
    const efd = p.fd();
    const mk = s.syscall(SYSCALLS.eventfd2, [0, EFD.NONBLOCK.value | EFD.CLOEXEC.value], { fd: efd });
    const { ctx, setup } = aioSetup(s, 8);
    const flagged = { aio_flags: IOCB_FLAG.RESFD.value, resfd: efd };
    // three flagged requests of three opcodes and one unflagged: the counter must reach 3, not 4
    const { submit } = aioSubmit(s, ctx, [
      iocb({ opcode: 'PREAD', fd, aio_data: 1, aio_buf: arg.buf(b), aio_nbytes: 512, ...flagged }),
      iocb({ opcode: 'PWRITE', fd, aio_data: 2, aio_buf: arg.buf(b), aio_nbytes: 512, aio_offset: 4096, ...flagged }),
      iocb({ opcode: 'FSYNC', fd, aio_data: 3, ...flagged }),
      iocb({ opcode: 'PREAD', fd, aio_data: 4, aio_buf: arg.buf(b, 2048), aio_nbytes: 512 }),
    ]);
    const ev = aioGetevents(s, ctx, 4, 8);
    const counter = p.buf(8);
    const read = s.syscall(SYSCALLS.read, [arg.fd(efd), arg.buf(counter), 8]);
    const dump = s.dump(counter);
    const v = await target.run(p);
    expect(
      [v.ret(open) >= 0, v.ret(write), v.ret(mk) >= 0, v.ret(setup)],
      'open, pwrite, eventfd2, io_setup',
    ).to.deep.equal([true, 4096, true, 0]);
    expect(v.ret(submit), 'io_submit queues all four').to.equal(4);
    expect(
      v
        .step(ev)
        .events.map((e) => [e.data, e.res])
        .sort((m, n) => Number(m[0] - n[0])),
      'all four complete',
    ).to.deep.equal([
      [1n, 512n],
      [2n, 512n],
      [3n, 0n],
      [4n, 512n],
    ]);
    expect(v.ret(read), 'read(2) of the eventfd counter').to.equal(8);
    expect(
      v.step(dump).dump!.readBigUInt64LE(0),
      'one eventfd_signal per flagged completion (SEMANTICS §1.4)',
    ).to.equal(3n);
  },
);

conformance(
  'aio IOCB_FLAG_RESFD with a regular file or fd -1 in aio_resfd is rejected with -EINVAL or -EBADF',
  { ops: ['aio.PREAD'], rule: 'SEMANTICS §1.5' },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    const { fd, step: open } = scratchFile(s, scratch, 'f');
    const b = p.buf(512);
    const { ctx, setup } = aioSetup(s, 4);
    const read = (data: number, resfd: typeof fd | number) =>
      aioSubmit(s, ctx, [
        iocb({
          opcode: 'PREAD',
          fd,
          aio_data: data,
          aio_buf: arg.buf(b),
          aio_nbytes: 512,
          aio_flags: IOCB_FLAG.RESFD.value,
          resfd,
        }),
      ]).submit;
    const notEventfd = read(1, fd);
    // -1 is never an open fd
    const badFd = read(2, -1);
    const ev = aioGetevents(s, ctx, 0, 4, 0);
    const v = await target.run(p);
    expect([v.ret(open) >= 0, v.ret(setup)], 'open, io_setup').to.deep.equal([true, 0]);
    expect(v.ret(notEventfd), 'aio_resfd not an eventfd: io_submit fails with -EINVAL (SEMANTICS §1.5)').to.equal(
      -errno.EINVAL,
    );
    expect(v.ret(badFd), 'aio_resfd -1: io_submit fails with -EBADF (SEMANTICS §1.5)').to.equal(-errno.EBADF);
    expect(v.step(ev).events, 'rejected iocbs post no io_event (SEMANTICS §1.5)').to.deep.equal([]);
  },
);
