/**
 * io_setup's limits: fs.aio-max-nr, system-wide and per call, and the nr_events range (SEMANTICS §1.5).
 */
import { expect } from 'chai';
import { errno, SYSCALLS } from '../../src/abi';
import { arg, Program, Sequence, StepRef } from '../../src/program/builder';
import type { Target } from '../../src/target/target';
import { conformance } from '../../src/suite/conformance';
import { AIO_NR, AIO_NR_ATTEMPTS, readDecimal } from '../../src/oracle/aio-nr';
import { AIO_MAX_NR, writeSysctl } from './sysctl';

/** io_setup(nr, &id) into a fresh context slot, which teardown destroys if the call succeeded. */
function trySetup(seq: Sequence, nrEvents: number): StepRef {
  const p = seq.program;
  const id = p.buf(8);
  const setup = seq.syscall(SYSCALLS.io_setup, [nrEvents, arg.buf(id)]);
  const ctx = p.ctx();
  seq.setSlot(ctx, arg.load64(id, 0));
  return setup;
}

/** The current fs.aio-nr and fs.aio-max-nr of the target's kernel. */
async function aioCounters(target: Target): Promise<{ nr: number; max: number }> {
  const p = new Program();
  const nr = readDecimal(p.main, AIO_NR);
  const max = readDecimal(p.main, AIO_MAX_NR);
  const v = await target.run(p);
  return { nr: nr.value(v), max: max.value(v) };
}

conformance(
  'aio.setup beyond fs.aio-max-nr fails with -EAGAIN, for one call and for the system total',
  { ops: ['aio.setup'], rule: 'SEMANTICS §1.5', needs: { root: true } },
  async ({ target, note }) => {
    const before = await aioCounters(target);
    const room = 16;
    try {
      // fs.aio-nr is system-wide: a context someone else sets up or frees between the read above and the
      // program below moves it, so a run whose count did not grow by exactly our own context is rerun.
      for (let run = 1, base = before.nr; ; run++, base = (await aioCounters(target)).nr) {
        const limit = base + room;
        // One program, so the lowered limit lasts microseconds (on a shared host, a context set up by someone
        // else meanwhile would be refused too).
        const p = new Program();
        const s = p.main;
        const lower = writeSysctl(s, AIO_MAX_NR, limit);
        const tooBig = trySetup(s, limit + 1);
        const fits = trySetup(s, room);
        const full = trySetup(s, 1);
        const during = readDecimal(s, AIO_NR);
        const restore = writeSysctl(s, AIO_MAX_NR, before.max);
        const v = await target.run(p);
        expect(v.ret(lower.write), `write ${limit} to ${AIO_MAX_NR}`).to.be.above(0);
        expect(v.ret(restore.write), 'restore of aio-max-nr').to.be.above(0);
        if (during.value(v) !== limit && run < AIO_NR_ATTEMPTS) {
          note(`fs.aio-nr moved by something else (${base} + ${room} expected, ${during.value(v)} read): rerun`);
          continue;
        }
        expect(v.ret(tooBig), 'nr_events above aio-max-nr: -EAGAIN (SEMANTICS §1.5)').to.equal(-errno.EAGAIN);
        expect(v.ret(fits), `nr_events ${room}, exactly the room left: io_setup succeeds`).to.equal(0);
        // modern kernels count the caller's nr_events, not the doubled ring size (SEMANTICS §1.5 note)
        expect(during.value(v), 'aio-nr grew by exactly the nr_events asked for').to.equal(limit);
        expect(v.ret(full), 'aio-nr + 1 > aio-max-nr: -EAGAIN (SEMANTICS §1.5)').to.equal(-errno.EAGAIN);
        break;
      }
    } finally {
      const p = new Program();
      const restore = writeSysctl(p.main, AIO_MAX_NR, before.max);
      const v = await target.run(p);
      if (v.ret(restore.write) <= 0)
        throw new Error(`could not restore ${AIO_MAX_NR} to ${before.max}: ${v.ret(restore.write)}`);
    }
    const after = await aioCounters(target);
    expect(after.max, 'aio-max-nr restored').to.equal(before.max);
  },
);

// Measured on 6.18, 6.1 and 6.12. ioctx_alloc doubles max(nr_events, 4 * possible CPUs) in 32 bits:
// above 0x10000000 / 32 / 2 it is "too high" (-EINVAL); 0x80000000 doubles to 0, which is -EAGAIN.
conformance(
  'aio.setup with a huge nr_events fails with -EINVAL, or -EAGAIN when it is within range but above aio-max-nr',
  { ops: ['aio.setup'], rule: 'SEMANTICS §1.5' },
  async ({ target }) => {
    const { max } = await aioCounters(target);
    const TOO_HIGH = 0x10000000 / 32 / 2; // the largest nr_events ioctx_alloc takes
    const p = new Program();
    const s = p.main;
    const cases = [
      { nr: TOO_HIGH + 1, want: -errno.EINVAL, why: 'doubled, more io_events than 256 MiB holds' },
      { nr: 0x7fffffff, want: -errno.EINVAL, why: 'doubled, too high' },
      { nr: 0x80000000, want: -errno.EAGAIN, why: 'doubled, wraps to 0' },
      { nr: 0xffffffff, want: -errno.EINVAL, why: 'doubled, too high' },
    ];
    if (max < TOO_HIGH) cases.push({ nr: max + 1, want: -errno.EAGAIN, why: `above aio-max-nr ${max}` });
    const steps = cases.map((c) => ({ ...c, setup: trySetup(s, c.nr) }));
    const v = await target.run(p);
    for (const c of steps) expect(v.ret(c.setup), `io_setup(${c.nr}): ${c.why} (SEMANTICS §1.5)`).to.equal(c.want);
  },
);
