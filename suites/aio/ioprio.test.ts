/**
 * IOCB_FLAG_IOPRIO: aio_reqprio is an ioprio value (class << 13 | level), checked at io_submit by
 * ioprio_check_cap(); without the flag aio_reqprio is ignored (SEMANTICS §1.4).
 */
import { expect } from 'chai';
import { errno, IOCB_FLAG, IOPRIO, IOPRIO_CLASS, SYSCALLS } from '../../src/abi';
import { aioGetevents, aioSetup, aioSubmit, iocb } from '../../src/program/aio';
import { arg, Program } from '../../src/program/builder';
import { pwrite, scratchFile } from '../../src/program/sys';
import { conformance } from '../../src/suite/conformance';
import type { Target } from '../../src/target/target';

const prio = (cls: number, level: number) => (cls << IOPRIO.CLASS_SHIFT.value) | level;

/** One PREAD of a 512-byte file per aio_reqprio value, each in its own io_submit; results in order. */
async function readsWithPrio(target: Target, scratch: string, prios: number[], flags = IOCB_FLAG.IOPRIO.value) {
  const p = new Program();
  const s = p.main;
  const { fd, step: open } = scratchFile(s, scratch, 'f');
  const b = p.buf(512);
  const write = pwrite(s, fd, b, 512, 0);
  const { ctx, setup } = aioSetup(s, prios.length + 1);
  const subs = prios.map(
    (reqprio, i) =>
      aioSubmit(s, ctx, [
        iocb({
          opcode: 'PREAD',
          fd,
          aio_data: i + 1,
          aio_buf: arg.buf(b),
          aio_nbytes: 512,
          aio_flags: flags,
          aio_reqprio: reqprio,
        }),
      ]).submit,
  );
  const ev = aioGetevents(s, ctx, 0, prios.length + 1, 0);
  const v = await target.run(p);
  expect([v.ret(open) >= 0, v.ret(write), v.ret(setup)], 'open, pwrite, io_setup').to.deep.equal([true, 512, 0]);
  const res = new Map(v.step(ev).events.map((e) => [Number(e.data), Number(e.res)]));
  // the submit's error, or the completion's res
  return prios.map((reqprio, i) => ({ reqprio, result: v.ret(subs[i]) < 0 ? v.ret(subs[i]) : res.get(i + 1) }));
}

const hex = (n: number) => `0x${n.toString(16)}`;

conformance(
  'aio IOCB_FLAG_IOPRIO with a valid best-effort, idle or none priority is accepted',
  { ops: ['aio.PREAD'], rule: 'SEMANTICS §1.4' },
  async ({ target, scratch }) => {
    const valid = [
      prio(IOPRIO_CLASS.NONE.value, 0),
      ...Array.from({ length: 8 }, (_, l) => prio(IOPRIO_CLASS.BE.value, l)),
      prio(IOPRIO_CLASS.IDLE.value, 0),
    ];
    const got = await readsWithPrio(target, scratch, valid);
    const wrong = got.filter((g) => g.result !== 512).map((g) => `${hex(g.reqprio)} -> ${g.result}`);
    expect(wrong, 'every valid aio_reqprio is accepted and the read completes (SEMANTICS §1.4)').to.deep.equal([]);
  },
);

conformance(
  'aio IOCB_FLAG_IOPRIO with an invalid class is rejected with -EINVAL',
  { ops: ['aio.PREAD'], rule: 'SEMANTICS §1.4' },
  async ({ target, scratch }) => {
    const invalid = [4, 5, 6, 7].map((c) => prio(c, 0));
    const got = await readsWithPrio(target, scratch, invalid);
    const wrong = got.filter((g) => g.result !== -errno.EINVAL).map((g) => `${hex(g.reqprio)} -> ${g.result}`);
    expect(wrong, 'io_submit fails with -EINVAL for classes 4..7 (SEMANTICS §1.4)').to.deep.equal([]);
  },
);

conformance(
  'aio IOCB_FLAG_IOPRIO with the realtime class is accepted for root',
  { ops: ['aio.PREAD'], rule: 'SEMANTICS §1.4', needs: { root: true } },
  async ({ target, scratch }) => {
    const rt = Array.from({ length: 8 }, (_, l) => prio(IOPRIO_CLASS.RT.value, l));
    const got = await readsWithPrio(target, scratch, rt);
    const wrong = got.filter((g) => g.result !== 512).map((g) => `${hex(g.reqprio)} -> ${g.result}`);
    expect(wrong, 'root may use IOPRIO_CLASS_RT: accepted, the read completes (SEMANTICS §1.4)').to.deep.equal([]);
  },
);

conformance(
  'aio.PREAD without IOCB_FLAG_IOPRIO ignores aio_reqprio',
  { ops: ['aio.PREAD'], rule: 'SEMANTICS §1.4' },
  async ({ target, scratch }) => {
    // the same invalid classes as above, and -1: without the flag nobody looks at them
    const got = await readsWithPrio(target, scratch, [prio(4, 0), prio(7, 7), 0xffff], 0);
    const wrong = got.filter((g) => g.result !== 512).map((g) => `${hex(g.reqprio)} -> ${g.result}`);
    expect(wrong, 'aio_reqprio is ignored without IOCB_FLAG_IOPRIO (SEMANTICS §1.4)').to.deep.equal([]);
  },
);

conformance(
  'aio IOCB_FLAG_IOPRIO with the realtime class is rejected with -EPERM for an unprivileged submitter',
  { ops: ['aio.PREAD'], rule: 'SEMANTICS §1.4', needs: { root: true } },
  async ({ target, scratch }) => {
    // open and io_setup as root, then drop to nobody (this runner process only) and submit
    const p = new Program();
    const s = p.main;
    const { fd, step: open } = scratchFile(s, scratch, 'f');
    const b = p.buf(512);
    const { ctx, setup } = aioSetup(s, 4);
    const drop = s.syscall(SYSCALLS.setresuid, [65534, 65534, 65534]);
    const { submit } = aioSubmit(s, ctx, [
      iocb({
        opcode: 'PREAD',
        fd,
        aio_data: 1,
        aio_buf: arg.buf(b),
        aio_nbytes: 512,
        aio_flags: IOCB_FLAG.IOPRIO.value,
        aio_reqprio: prio(IOPRIO_CLASS.RT.value, 0),
      }),
    ]);
    const ev = aioGetevents(s, ctx, 0, 4, 0);
    const v = await target.run(p);
    expect([v.ret(open) >= 0, v.ret(setup), v.ret(drop)], 'open, io_setup, setresuid(nobody)').to.deep.equal([
      true,
      0,
      0,
    ]);
    expect(v.ret(submit), 'IOPRIO_CLASS_RT without CAP_SYS_ADMIN or CAP_SYS_NICE: -EPERM (SEMANTICS §1.4)').to.equal(
      -errno.EPERM,
    );
    expect(v.step(ev).events, 'a rejected iocb posts no io_event (SEMANTICS §1.5)').to.deep.equal([]);
  },
);
