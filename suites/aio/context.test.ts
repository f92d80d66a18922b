/** io_setup and io_destroy of AIO contexts (SEMANTICS §1.5). */
import { expect } from 'chai';
import { errno, SYSCALLS } from '../../src/abi';
import { aioDestroy, aioSetup } from '../../src/program/aio';
import { arg, Program } from '../../src/program/builder';
import { conformance } from '../../src/suite/conformance';

conformance(
  'aio.setup with nr_events 0 is rejected with -EINVAL',
  { ops: ['aio.setup'], rule: 'SEMANTICS §1.5' },
  async ({ target }) => {
    const p = new Program();
    const { setup } = aioSetup(p.main, 0);
    const v = await target.run(p);
    expect(v.ret(setup), 'io_setup(0, &ctx) fails with -EINVAL (SEMANTICS §1.5)').to.equal(-errno.EINVAL);
  },
);

conformance(
  'aio.destroy of a context already destroyed is rejected with -EINVAL',
  { ops: ['aio.setup', 'aio.destroy'], rule: 'SEMANTICS §1.5' },
  async ({ target }) => {
    const p = new Program();
    const { ctx, setup, id } = aioSetup(p.main, 4);
    const first = aioDestroy(p.main, ctx);
    const second = aioDestroy(p.main, id);
    const v = await target.run(p);
    expect(v.ret(setup), 'io_setup').to.equal(0);
    expect(v.ret(first), 'io_destroy of an idle context returns 0 (SEMANTICS §1.5)').to.equal(0);
    expect(v.ret(second), 'io_destroy of a destroyed context fails with -EINVAL (SEMANTICS §1.5)').to.equal(
      -errno.EINVAL,
    );
  },
);

conformance(
  'aio.setup with a nonzero *ctxp is rejected with -EINVAL; with an unwritable ctxp, -EFAULT',
  { ops: ['aio.setup'], rule: 'SEMANTICS §1.5' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const id = p.buf(8);
    s.patch(id, 0, 8, 1);
    const nonzero = s.syscall(SYSCALLS.io_setup, [4, arg.buf(id)]);
    const unwritable = s.syscall(SYSCALLS.io_setup, [4, arg.bad()]);
    const v = await target.run(p);
    expect(v.ret(nonzero), 'io_setup with *ctxp = 1: -EINVAL (SEMANTICS §1.5)').to.equal(-errno.EINVAL);
    expect(v.ret(unwritable), 'io_setup with an unmapped ctxp: -EFAULT (SEMANTICS §1.5)').to.equal(-errno.EFAULT);
  },
);
