/** io_getevents argument checks and the zero timeout (SEMANTICS §1.5, §1.8 checklist 4). */
import { expect } from 'chai';
import { errno } from '../../src/abi';
import { aioGetevents, aioSetup } from '../../src/program/aio';
import { Program } from '../../src/program/builder';
import { conformance } from '../../src/suite/conformance';

conformance(
  'aio.getevents with min_nr > nr is rejected with -EINVAL',
  { ops: ['aio.getevents'], rule: 'SEMANTICS §1.5' },
  async ({ target }) => {
    const p = new Program();
    const { ctx, setup } = aioSetup(p.main, 4);
    const get = aioGetevents(p.main, ctx, 2, 1, 0);
    const v = await target.run(p);
    expect(v.ret(setup), 'io_setup').to.equal(0);
    expect(v.ret(get), 'io_getevents(min_nr 2, nr 1) fails with -EINVAL (SEMANTICS §1.5)').to.equal(-errno.EINVAL);
  },
);

conformance(
  'aio.getevents with a {0, 0} timeout returns 0 at once on an idle context',
  { ops: ['aio.getevents'], rule: 'SEMANTICS §1.5' },
  async ({ target }) => {
    const p = new Program({ deadlineMs: 5000 });
    const { ctx, setup } = aioSetup(p.main, 4);
    const get = aioGetevents(p.main, ctx, 1, 4, 0);
    const v = await target.run(p);
    expect(v.ret(setup), 'io_setup').to.equal(0);
    expect(
      v.step(get).deadline,
      'a {0, 0} timeout never sleeps: the call was not cut off at the deadline (SEMANTICS §1.5)',
    ).to.equal(false);
    expect(v.ret(get), 'nothing in flight: 0 events, even with min_nr 1 (SEMANTICS §1.5)').to.equal(0);
  },
);
