/**
 * io_uring_setup refusals: the flag combinations SEMANTICS §3.4 lists as invalid (SQPOLL with COOP_TASKRUN,
 * TASKRUN_FLAG without COOP_TASKRUN or DEFER_TASKRUN, DEFER_TASKRUN without SINGLE_ISSUER) are -EINVAL, and with
 * no free file descriptor under RLIMIT_NOFILE the call fails with -EMFILE like any call that makes an fd (man
 * io_uring_setup(2) ERRORS: EMFILE). The limit is lowered for the one call and restored.
 */
import { expect } from 'chai';
import { EFD, errno, RLIMIT, SETUP, SYSCALLS } from '../../src/abi';
import { arg, Program } from '../../src/program/builder';
import { setupRing } from '../../src/program/uring';
import { conformance, needSetupFlags } from '../../src/suite/conformance';

conformance(
  'uring.setup refuses SQPOLL with COOP_TASKRUN, TASKRUN_FLAG alone and DEFER_TASKRUN without SINGLE_ISSUER with -EINVAL',
  { ops: ['uring.setup'], rule: 'SEMANTICS §3.4 (invalid combinations); man io_uring_setup(2)' },
  async (ctx) => {
    needSetupFlags(ctx, 'SQPOLL', 'COOP_TASKRUN', 'TASKRUN_FLAG', 'SINGLE_ISSUER', 'DEFER_TASKRUN');
    const p = new Program();
    const s = p.main;
    const cases: [string, number][] = [
      ['SQPOLL | COOP_TASKRUN', SETUP.SQPOLL.value | SETUP.COOP_TASKRUN.value],
      ['TASKRUN_FLAG alone', SETUP.TASKRUN_FLAG.value],
      ['DEFER_TASKRUN without SINGLE_ISSUER', SETUP.DEFER_TASKRUN.value],
    ];
    const rings = cases.map(([, flags]) => setupRing(s, { entries: 4, flags }));
    const v = await ctx.target.run(p);
    expect(
      cases.map(([what], i) => [what, v.ret(rings[i].setup)]),
      'each combination: -EINVAL',
    ).to.deep.equal(cases.map(([what]) => [what, -errno.EINVAL]));
  },
);

conformance(
  'uring.setup with every fd under RLIMIT_NOFILE taken fails with -EMFILE like eventfd2, and works again once the limit is back',
  { ops: ['uring.setup'], rule: 'man io_uring_setup(2) EMFILE; man 2 getrlimit RLIMIT_NOFILE' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const NOFILE = RLIMIT.NOFILE.value;
    // struct rlimit64 { u64 cur, max }: the old limits, then cur 3 (fds 0-2 are open) with the old max
    const old = p.buf(16);
    const get = s.syscall(SYSCALLS.prlimit64, [0, NOFILE, 0, arg.buf(old)]);
    const low = p.buf(16);
    s.patch(low, 0, 8, 3);
    s.patch(low, 8, 8, arg.load64(old, 8));
    const lower = s.syscall(SYSCALLS.prlimit64, [0, NOFILE, arg.buf(low), 0]);
    const h = setupRing(s, { entries: 4 });
    const twin = s.syscall(SYSCALLS.eventfd2, [0, EFD.CLOEXEC.value], { fd: p.fd() });
    const restore = s.syscall(SYSCALLS.prlimit64, [0, NOFILE, arg.buf(old), 0]);
    const again = setupRing(s, { entries: 4 });
    const v = await target.run(p);
    expect([v.ret(get), v.ret(lower)], 'prlimit64: read, then lower RLIMIT_NOFILE to 3').to.deep.equal([0, 0]);
    expect(v.ret(twin), 'eventfd2 under the lowered limit: -EMFILE').to.equal(-errno.EMFILE);
    expect(v.ret(h.setup), 'io_uring_setup under the lowered limit: -EMFILE').to.equal(-errno.EMFILE);
    expect(v.ret(restore), 'prlimit64 restores the limit').to.equal(0);
    expect(v.ret(again.setup), 'io_uring_setup after the restore: a ring fd').to.be.at.least(0);
  },
);
