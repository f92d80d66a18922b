/**
 * io_submit is a whitelist: every aio_lio_opcode outside PREAD, PWRITE, FSYNC, FDSYNC, POLL, PREADV and
 * PWRITEV is rejected synchronously with -EINVAL (SEMANTICS §1.2, §1.5, §1.8 checklist 1).
 */
import * as path from 'path';
import { expect } from 'chai';
import { AIO_OP, AIO_OPS, AioOp, errno, O, SYSCALLS } from '../../src/abi';
import { aioGetevents, aioSetup, aioSubmit, iocb } from '../../src/program/aio';
import { arg, Program } from '../../src/program/builder';
import { openat, scratchFile } from '../../src/program/sys';
import { conformance } from '../../src/suite/conformance';

/**
 * LaHaise's path opcodes have their own tests below, which also look for the side effect. READAHEAD's
 * would be pages made resident, which cannot be seen without dropping the page cache system-wide.
 */
const PATH_OPS: readonly AioOp[] = [AIO_OP.OPENAT, AIO_OP.UNLINKAT, AIO_OP.RENAMEAT];

/** Every value the ABI table does not list as working, and 255. */
const rejected = [
  ...AIO_OPS.filter((o) => o.state !== 'works' && !PATH_OPS.includes(o)).map((o) => ({
    value: o.value,
    what: `${o.name}, ${o.state}`,
  })),
  { value: 255, what: 'never defined' },
];

for (const op of rejected) {
  conformance(
    `aio.submit rejects opcode ${op.value} (${op.what}) with -EINVAL`,
    { ops: ['aio.submit'], rule: 'SEMANTICS §1.8' },
    async ({ target, scratch }) => {
      const p = new Program();
      const s = p.main;
      // a valid fd and a real buffer: the fd lookup comes before the opcode switch
      const { fd, step: open } = scratchFile(s, scratch, 'f');
      const b = p.buf(4096);
      s.fillPattern(b, 0, 4096, 0x0bad);
      const { ctx, setup } = aioSetup(s, 4);
      const { submit } = aioSubmit(s, ctx, [
        iocb({ opcode: op.value, fd, aio_data: 1, aio_buf: arg.buf(b), aio_nbytes: 4096 }),
      ]);
      const ev = aioGetevents(s, ctx, 0, 4, 0);
      // the side effects a read- or write-shaped iocb could have had
      const size = s.syscall(SYSCALLS.lseek, [arg.fd(fd), 0, 2 /* SEEK_END */]);
      const untouched = s.verify(b, 0, 4096, 0x0bad);
      const v = await target.run(p);
      expect(v.ret(open), 'open of the file').to.be.at.least(0);
      expect(v.ret(setup), 'io_setup').to.equal(0);
      const why = `io_submit of opcode ${op.value} fails with -EINVAL (SEMANTICS §1.8 checklist 1)`;
      expect(v.ret(submit), why).to.equal(-errno.EINVAL);
      expect(v.step(ev).events, 'a rejected iocb posts no io_event (SEMANTICS §1.5)').to.deep.equal([]);
      expect(v.ret(size), 'nothing was written: the file is still empty').to.equal(0);
      expect(v.step(untouched).verify!.mismatches, 'nothing was read: the buffer is unchanged').to.equal(0);
    },
  );
}

conformance(
  'aio.UNLINKAT (opcode 10, never merged) is rejected with -EINVAL and leaves the file in place',
  { ops: ['aio.submit'], rule: 'SEMANTICS §1.8' },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    const { step: create } = scratchFile(s, scratch, 'victim');
    const { fd: dir, step: openDir } = openat(s, scratch, O.RDONLY.value | O.DIRECTORY.value | O.CLOEXEC.value);
    const { ctx, setup } = aioSetup(s, 4);
    // LaHaise's encoding (SEMANTICS §2.3): aio_fildes = dirfd, aio_buf = path, aio_offset = flags 0, mode 0
    const { submit } = aioSubmit(s, ctx, [
      iocb({ opcode: AIO_OP.UNLINKAT.value, fd: dir, aio_data: 1, aio_buf: arg.buf(p.cstr('victim')) }),
    ]);
    const ev = aioGetevents(s, ctx, 0, 4, 0);
    const { step: reopen } = openat(s, path.posix.join(scratch, 'victim'), O.RDONLY.value | O.CLOEXEC.value);
    const v = await target.run(p);
    expect(v.ret(create), 'creation of the file').to.be.at.least(0);
    expect(v.ret(openDir), 'open of the directory').to.be.at.least(0);
    expect(v.ret(setup), 'io_setup').to.equal(0);
    expect(v.ret(submit), 'io_submit of UNLINKAT fails with -EINVAL (SEMANTICS §1.8 checklist 1)').to.equal(
      -errno.EINVAL,
    );
    expect(v.step(ev).events, 'a rejected iocb posts no io_event (SEMANTICS §1.5)').to.deep.equal([]);
    expect(v.ret(reopen), 'the file is still there: nothing was unlinked (SEMANTICS §1.2)').to.be.at.least(0);
  },
);

conformance(
  'aio.OPENAT (opcode 9, never merged) is rejected with -EINVAL and creates no file',
  { ops: ['aio.submit'], rule: 'SEMANTICS §1.8' },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    const { fd: dir, step: openDir } = openat(s, scratch, O.RDONLY.value | O.DIRECTORY.value | O.CLOEXEC.value);
    const { ctx, setup } = aioSetup(s, 4);
    // LaHaise's encoding (SEMANTICS §2.3): aio_fildes = dirfd, aio_buf = path, aio_offset = flags | mode << 32
    const flags = BigInt(O.RDWR.value | O.CREAT.value | O.CLOEXEC.value) | (0o600n << 32n);
    const { submit } = aioSubmit(s, ctx, [
      iocb({
        opcode: AIO_OP.OPENAT.value,
        fd: dir,
        aio_data: 1,
        aio_buf: arg.buf(p.cstr('created')),
        aio_offset: flags,
      }),
    ]);
    const ev = aioGetevents(s, ctx, 0, 4, 0);
    const { step: reopen } = openat(s, path.posix.join(scratch, 'created'), O.RDONLY.value | O.CLOEXEC.value);
    const v = await target.run(p);
    expect(v.ret(openDir), 'open of the directory').to.be.at.least(0);
    expect(v.ret(setup), 'io_setup').to.equal(0);
    expect(v.ret(submit), 'io_submit of OPENAT fails with -EINVAL (SEMANTICS §1.8 checklist 1)').to.equal(
      -errno.EINVAL,
    );
    expect(v.step(ev).events, 'a rejected iocb posts no io_event (SEMANTICS §1.5)').to.deep.equal([]);
    expect(v.ret(reopen), 'no file was created (SEMANTICS §1.2)').to.equal(-errno.ENOENT);
  },
);

conformance(
  'aio.RENAMEAT (opcode 13, never merged) is rejected with -EINVAL and renames nothing',
  { ops: ['aio.submit'], rule: 'SEMANTICS §1.8' },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    const { step: create } = scratchFile(s, scratch, 'old');
    const { fd: dir, step: openDir } = openat(s, scratch, O.RDONLY.value | O.DIRECTORY.value | O.CLOEXEC.value);
    // LaHaise's struct renameat_info (SEMANTICS §2.3): s64 olddirfd, u64 oldpath, s64 newdirfd, u64 newpath, u64 flags
    const info = p.buf(40);
    const [from, to] = [p.cstr('old'), p.cstr('new')];
    s.patch(info, 0, 8, arg.fd(dir));
    s.patch(info, 8, 8, arg.buf(from));
    s.patch(info, 16, 8, arg.fd(dir));
    s.patch(info, 24, 8, arg.buf(to));
    const { ctx, setup } = aioSetup(s, 4);
    // LaHaise's RENAMEAT ignores aio_fildes, but mainline looks the fd up before the opcode switch
    // (-EBADF for -1, measured): a valid fd makes the opcode the only thing wrong
    const { submit } = aioSubmit(s, ctx, [
      iocb({ opcode: AIO_OP.RENAMEAT.value, fd: dir, aio_data: 1, aio_buf: arg.buf(info), aio_nbytes: 40 }),
    ]);
    const ev = aioGetevents(s, ctx, 0, 4, 0);
    const { step: oldThere } = openat(s, path.posix.join(scratch, 'old'), O.RDONLY.value | O.CLOEXEC.value);
    const { step: newThere } = openat(s, path.posix.join(scratch, 'new'), O.RDONLY.value | O.CLOEXEC.value);
    const v = await target.run(p);
    expect(v.ret(create), 'creation of the file').to.be.at.least(0);
    expect(v.ret(openDir), 'open of the directory').to.be.at.least(0);
    expect(v.ret(setup), 'io_setup').to.equal(0);
    expect(v.ret(submit), 'io_submit of RENAMEAT fails with -EINVAL (SEMANTICS §1.8 checklist 1)').to.equal(
      -errno.EINVAL,
    );
    expect(v.step(ev).events, 'a rejected iocb posts no io_event (SEMANTICS §1.5)').to.deep.equal([]);
    expect(v.ret(oldThere), 'the old name is still there (SEMANTICS §1.2)').to.be.at.least(0);
    expect(v.ret(newThere), 'the new name does not exist: nothing was renamed (SEMANTICS §1.2)').to.equal(
      -errno.ENOENT,
    );
  },
);
