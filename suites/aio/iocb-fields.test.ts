/** io_submit's checks of iocb fields: aio_reserved2 and aio_rw_flags (SEMANTICS §1.4, §1.5, §1.8 checklist 2). */
import { expect } from 'chai';
import { entriesOf, errno, RWF } from '../../src/abi';
import { aioGetevents, aioSetup, aioSubmit, iocb, IocbSpec } from '../../src/program/aio';
import { arg, Program, Sequence } from '../../src/program/builder';
import { scratchFile, pwrite } from '../../src/program/sys';
import type { TraceView } from '../../src/program/trace';
import { conformance } from '../../src/suite/conformance';
import type { Target } from '../../src/target/target';

/** The lowest bit above every RWF_* the ABI table knows. */
const UNKNOWN_RWF = 2 * Math.max(...entriesOf(RWF).map((f) => f.value));

/** Submit one PREAD of a 512-byte file with `extra` fields; the io_submit result and the events after it. */
async function submitRead(
  target: Target,
  scratch: string,
  extra: Partial<IocbSpec>,
): Promise<{ ret: number; events: bigint[][] }> {
  const p = new Program();
  const s: Sequence = p.main;
  const { fd, step: open } = scratchFile(s, scratch, 'f');
  const b = p.buf(512);
  const write = pwrite(s, fd, b, 512, 0);
  const { ctx, setup } = aioSetup(s, 4);
  const { submit } = aioSubmit(s, ctx, [
    iocb({ opcode: 'PREAD', fd, aio_data: 1, aio_buf: arg.buf(b), aio_nbytes: 512, aio_offset: 0, ...extra }),
  ]);
  const ev = aioGetevents(s, ctx, 0, 4, 0);
  const v: TraceView = await target.run(p);
  expect(v.ret(open), 'open of the file').to.be.at.least(0);
  expect(v.ret(write), 'pwrite of the file').to.equal(512);
  expect(v.ret(setup), 'io_setup').to.equal(0);
  return { ret: v.ret(submit), events: v.step(ev).events.map((e) => [e.data, e.res]) };
}

conformance(
  'aio.PREAD with aio_reserved2 != 0 is rejected with -EINVAL',
  { ops: ['aio.PREAD'], rule: 'SEMANTICS §1.5' },
  async ({ target, scratch }) => {
    const r = await submitRead(target, scratch, { aio_reserved2: 1 });
    expect(r.ret, 'io_submit fails with -EINVAL when aio_reserved2 is not 0 (SEMANTICS §1.5)').to.equal(-errno.EINVAL);
    expect(r.events, 'a rejected iocb posts no io_event (SEMANTICS §1.5)').to.deep.equal([]);
  },
);

conformance(
  'aio.PREAD with an unknown RWF_ bit is rejected with -EOPNOTSUPP',
  { ops: ['aio.PREAD'], rule: 'SEMANTICS §1.4' },
  async ({ target, scratch }) => {
    const r = await submitRead(target, scratch, { aio_rw_flags: UNKNOWN_RWF });
    expect(
      r.ret,
      `io_submit fails with -EOPNOTSUPP for aio_rw_flags 0x${UNKNOWN_RWF.toString(16)} (SEMANTICS §1.4)`,
    ).to.equal(-errno.EOPNOTSUPP);
    expect(r.events, 'a rejected iocb posts no io_event (SEMANTICS §1.5)').to.deep.equal([]);
  },
);

conformance(
  'aio.PREAD with any single undefined RWF_ bit, up to bit 31, is rejected with -EOPNOTSUPP',
  { ops: ['aio.PREAD'], rule: 'SEMANTICS §1.4' },
  async ({ target, scratch }) => {
    // every bit above the ones the ABI table knows (newer kernels define more, so older ones refuse them too)
    const bits = Array.from({ length: 32 }, (_, b) => b).filter((b) => 2 ** b >= UNKNOWN_RWF);
    const wrong: string[] = [];
    for (const b of bits) {
      const r = await submitRead(target, scratch, { aio_rw_flags: 2 ** b });
      if (r.ret !== -errno.EOPNOTSUPP || r.events.length)
        wrong.push(`bit ${b}: io_submit ${r.ret}, ${r.events.length} events`);
    }
    expect(
      wrong,
      'io_submit fails with -EOPNOTSUPP and posts nothing for each undefined bit (SEMANTICS §1.4)',
    ).to.deep.equal([]);
  },
);
