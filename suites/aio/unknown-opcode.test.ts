/**
 * io_submit is a whitelist: every aio_lio_opcode outside PREAD, PWRITE, FSYNC, FDSYNC, POLL, PREADV and
 * PWRITEV is rejected synchronously with -EINVAL (SEMANTICS §1.2, §1.5, §1.8 checklist 1).
 */
import * as path from 'path';
import { expect } from 'chai';
import { AIO_OP, AIO_OPS, errno, O } from '../../src/abi';
import { aioGetevents, aioSetup, aioSubmit, iocb } from '../../src/program/aio';
import { arg, Program } from '../../src/program/builder';
import { openat, scratchFile } from '../../src/program/sys';
import { conformance } from '../../src/suite/conformance';

/** Every value the ABI table does not list as working, and 255; UNLINKAT has its own test below. */
const rejected = [
  ...AIO_OPS.filter((o) => o.state !== 'works' && o !== AIO_OP.UNLINKAT).map((o) => ({
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
      const { ctx, setup } = aioSetup(s, 4);
      const { submit } = aioSubmit(s, ctx, [
        iocb({ opcode: op.value, fd, aio_data: 1, aio_buf: arg.buf(b), aio_nbytes: 4096 }),
      ]);
      const ev = aioGetevents(s, ctx, 0, 4, 0);
      const v = await target.run(p);
      expect(v.ret(open), 'open of the file').to.be.at.least(0);
      expect(v.ret(setup), 'io_setup').to.equal(0);
      const why = `io_submit of opcode ${op.value} fails with -EINVAL (SEMANTICS §1.8 checklist 1)`;
      expect(v.ret(submit), why).to.equal(-errno.EINVAL);
      expect(v.step(ev).events, 'a rejected iocb posts no io_event (SEMANTICS §1.5)').to.deep.equal([]);
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
