/**
 * An IORING_SETUP_IOPOLL ring without polled I/O in flight. io_uring_enter(2): on a polled ring a nonzero
 * min_complete "will poll either until one or more completions become available, or until the process has
 * exceeded its scheduler time slice", so with nothing in flight the call returns 0 instead of sleeping. A NOP,
 * which needs no polling, completes. A READ is only polled on an O_DIRECT file whose filesystem supports
 * polling; a buffered file or a pipe is refused with -EOPNOTSUPP (man io_uring_setup(2) IORING_SETUP_IOPOLL).
 */
import { expect } from 'chai';
import { ENTER, errno, GETEVENTS_ARG_LAYOUT, KERNEL_TIMESPEC_LAYOUT, O } from '../../src/abi';
import { arg, Program } from '../../src/program/builder';
import { encodeStruct, place } from '../../src/program/struct';
import { pipe2, scratchFile } from '../../src/program/sys';
import { enter, reap, setupRing, sqe, submit } from '../../src/program/uring';
import { requireSetup } from '../../src/oracle/uring-files';
import { conformance, needSetupFlags } from '../../src/suite/conformance';

for (const defer of [false, true]) conformance(
  `uring IOPOLL${defer ? ' | DEFER_TASKRUN' : ''} ring with nothing to poll: GETEVENTS (with or without EXT_ARG) returns 0 at once, a NOP completes, a buffered file or pipe READ is -EOPNOTSUPP`,
  {
    ops: ['uring.setup', 'uring.NOP', 'uring.READ'],
    rule: 'man io_uring_enter(2) (min_complete on an IOPOLL ring); man io_uring_setup(2) IORING_SETUP_IOPOLL',
  },
  async (ctx) => {
    const flags = defer
      ? needSetupFlags(ctx, 'IOPOLL', 'SINGLE_ISSUER', 'DEFER_TASKRUN')
      : needSetupFlags(ctx, 'IOPOLL');
    const p = new Program();
    const s = p.main;
    const f = scratchFile(s, ctx.scratch, 'buffered');
    const pipe = pipe2(s, O.CLOEXEC.value);
    const h = setupRing(s, { entries: 4, flags });
    const idle = enter(s, h, 0, 1, ENTER.GETEVENTS.value);
    // the same with IORING_ENTER_EXT_ARG: the argument is checked (its size), then the same poll
    const ts = p.buf(KERNEL_TIMESPEC_LAYOUT.size);
    place(s, ts, 0, encodeStruct(KERNEL_TIMESPEC_LAYOUT, { tv_sec: 0, tv_nsec: 10_000_000 }));
    const ga = p.buf(GETEVENTS_ARG_LAYOUT.size);
    place(s, ga, 0, encodeStruct(GETEVENTS_ARG_LAYOUT, { ts: arg.buf(ts) }));
    const EXT = ENTER.GETEVENTS.value | ENTER.EXT_ARG.value;
    const ext = enter(s, h, 0, 1, EXT, arg.buf(ga), GETEVENTS_ARG_LAYOUT.size);
    const badSize = enter(s, h, 0, 1, EXT, arg.buf(ga), GETEVENTS_ARG_LAYOUT.size - 8);
    const nop = submit(s, h, [sqe({ opcode: 'NOP', user_data: 1 })], 1);
    const c1 = reap(s, h, 1, 4);
    const buf = p.buf(4096, 4096);
    const reads = submit(s, h, [
      sqe({ opcode: 'READ', fd: f.fd, addr: arg.buf(buf), len: 4096, off: 0, user_data: 2 }),
      sqe({ opcode: 'READ', fd: pipe.r, addr: arg.buf(buf), len: 4096, off: -1n, user_data: 3 }),
    ]);
    const c2 = reap(s, h, 2, 4);
    const v = await ctx.target.run(p);
    requireSetup(v, [
      { what: 'open of the file', step: f.step },
      { what: 'pipe2', step: pipe.step },
      { what: 'io_uring_setup (IOPOLL)', step: h.setup },
    ]);
    expect(v.ret(idle), 'io_uring_enter(0, 1, GETEVENTS) with nothing in flight: 0').to.equal(0);
    expect(v.ret(ext), 'the same with EXT_ARG: 0').to.equal(0);
    expect(v.ret(badSize), 'EXT_ARG with a short argument size: -EINVAL (SEMANTICS §3.5)').to.equal(-errno.EINVAL);
    expect(v.ret(nop.enter), 'the NOP is consumed').to.equal(1);
    expect(
      v.step(c1).cqes.map((x) => [Number(x.userData), x.res]),
      'the NOP completes',
    ).to.deep.equal([[1, 0]]);
    expect(v.ret(reads.enter), 'both READs are consumed').to.equal(2);
    expect(
      v
        .step(c2)
        .cqes.map((x) => [Number(x.userData), x.res])
        .sort((a, b) => a[0] - b[0]),
      'READ of a buffered file and of a pipe: -EOPNOTSUPP',
    ).to.deep.equal([
      [2, -errno.EOPNOTSUPP],
      [3, -errno.EOPNOTSUPP],
    ]);
  },
);
