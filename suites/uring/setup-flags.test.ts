/**
 * io_uring_setup flags and io_uring_enter modes, each judged by what it promises, on kernels whose
 * probe says io_uring_setup accepts the flag (skips otherwise, with the probe's reason). SEMANTICS §3.4,
 * §3.5; man io_uring_setup(2), io_uring_enter(2), io_uring_register(2).
 */
import { expect } from 'chai';
import { ENTER, errno, GETEVENTS_ARG_LAYOUT, IO_URING_PARAMS_LAYOUT, KERNEL_TIMESPEC_LAYOUT, REGISTER, SYSCALLS } from '../../src/abi';
import { arg, Program } from '../../src/program/builder';
import { encodeStruct, place } from '../../src/program/struct';
import { pipe2 } from '../../src/program/sys';
import { enter, nopSqes, reap, setupRing, sqe, submit } from '../../src/program/uring';
import { conformance, needSetupFlags, SetupFlagName } from '../../src/suite/conformance';



const IORING_MAX_ENTRIES = 32768;

conformance(
  'uring.setup with IORING_SETUP_CLAMP clamps too many entries instead of failing with -EINVAL',
  { ops: ['uring.setup'], rule: 'man io_uring_setup(2) IORING_SETUP_CLAMP; SEMANTICS §3.4' },
  async (ctx) => {
    const clamp = needSetupFlags(ctx, 'CLAMP');
    const p = new Program();
    const plain = setupRing(p.main, { entries: IORING_MAX_ENTRIES + 1 });
    const clamped = setupRing(p.main, { entries: IORING_MAX_ENTRIES + 1, flags: clamp });
    const v = await ctx.target.run(p);
    expect(v.ret(plain.setup), 'too many entries without CLAMP: -EINVAL').to.equal(-errno.EINVAL);
    expect(v.ret(clamped.setup), 'with CLAMP the ring is made').to.be.at.least(0);
    const sqEntries = v.step(clamped.paramsDump).dump!.readUInt32LE(IO_URING_PARAMS_LAYOUT.fields.sq_entries.offset);
    expect(sqEntries, 'and has IORING_MAX_ENTRIES entries').to.equal(IORING_MAX_ENTRIES);
  },
);

conformance(
  'uring.setup with IORING_SETUP_R_DISABLED: io_uring_enter fails with -EBADFD until IORING_REGISTER_ENABLE_RINGS',
  { ops: ['uring.setup', 'uring.register', 'uring.NOP'], rule: 'man io_uring_register(2) IORING_REGISTER_ENABLE_RINGS; SEMANTICS §3.5' },
  async (ctx) => {
    const flags = needSetupFlags(ctx, 'R_DISABLED');
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 4, flags });
    const early = submit(s, h, nopSqes(1), 1);
    const enable = s.syscall(SYSCALLS.io_uring_register, [arg.ring(h.ring), REGISTER.ENABLE_RINGS.value, 0, 0]);
    const late = enter(s, h, 1, 1, ENTER.GETEVENTS.value);
    const c = reap(s, h, 1, 2);
    const v = await ctx.target.run(p);
    expect(v.ret(early.enter), 'a disabled ring refuses io_uring_enter').to.equal(-errno.EBADFD);
    expect(v.ret(enable), 'IORING_REGISTER_ENABLE_RINGS').to.equal(0);
    expect(v.ret(late), 'the queued SQE is consumed once the ring is enabled').to.equal(1);
    expect(v.step(c).cqes.map((q) => [q.userData, q.res])).to.deep.equal([[1n, 0]]);
  },
);

conformance(
  'uring.setup with IORING_SETUP_SUBMIT_ALL: a failing SQE does not stop the batch',
  { ops: ['uring.setup', 'uring.NOP'], rule: 'man io_uring_setup(2) IORING_SETUP_SUBMIT_ALL; SEMANTICS §3.5' },
  async (ctx) => {
    const flags = needSetupFlags(ctx, 'SUBMIT_ALL');
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 4, flags });
    // the 2nd has an undefined sqe->flags bit: -EINVAL, and without SUBMIT_ALL the 3rd would stay in the SQ
    const sub = submit(s, h, [sqe({ opcode: 'NOP', user_data: 1 }), sqe({ opcode: 'NOP', flags: 1 << 7, user_data: 2 }), sqe({ opcode: 'NOP', user_data: 3 })], 3);
    const c = reap(s, h, 3, 4);
    const v = await ctx.target.run(p);
    expect(v.ret(sub.enter), 'all three SQEs are consumed').to.equal(3);
    expect(
      v.step(c).cqes.map((q) => [q.userData, q.res]).sort((a, b) => Number(a[0]) - Number(b[0])),
      'the bad one fails alone; the others complete',
    ).to.deep.equal([[1n, 0], [2n, -errno.EINVAL], [3n, 0]]);
  },
);

conformance(
  'uring.setup with IORING_SETUP_SQE128 and IORING_SETUP_CQE32: 128-byte SQEs in, 32-byte CQEs out',
  { ops: ['uring.setup', 'uring.NOP'], rule: 'man io_uring_setup(2) IORING_SETUP_SQE128, IORING_SETUP_CQE32' },
  async (ctx) => {
    const flags = needSetupFlags(ctx, 'SQE128', 'CQE32');
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 4, flags });
    const sub = submit(s, h, [sqe({ opcode: 'NOP', user_data: 7 }, 128), sqe({ opcode: 'NOP', user_data: 8 }, 128)], 2);
    const c = reap(s, h, 2, 4);
    const v = await ctx.target.run(p);
    expect(h.sqeSize, 'the program lays out 128-byte SQEs').to.equal(128);
    expect(v.ret(sub.enter)).to.equal(2);
    const cqes = v.step(c).cqes;
    expect(cqes.map((q) => [q.userData, q.res]), 'both NOPs complete, read at the 32-byte stride').to.deep.equal([[7n, 0], [8n, 0]]);
    expect(cqes.every((q) => q.big !== undefined && q.big.every((b) => b === 0n)), 'a NOP leaves big_cqe[] zero').to.equal(true);
  },
);

conformance(
  'uring.enter with IORING_ENTER_EXT_ARG waits at most its timeout and returns -ETIME when nothing completes',
  { ops: ['uring.enter', 'uring.POLL_ADD'], rule: 'man io_uring_enter(2) IORING_ENTER_EXT_ARG; SEMANTICS §3.5' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const { r, w } = pipe2(s);
    const one = p.buf(1);
    const h = setupRing(s, { entries: 4 });
    // a poll that cannot complete: the wait can only end by its timeout
    submit(s, h, [sqe({ opcode: 'POLL_ADD', fd: r, poll32_events: 1, user_data: 1 })]);
    const ts = p.buf(KERNEL_TIMESPEC_LAYOUT.size);
    place(s, ts, 0, encodeStruct(KERNEL_TIMESPEC_LAYOUT, { tv_sec: 0, tv_nsec: 50_000_000 }));
    const ga = p.buf(GETEVENTS_ARG_LAYOUT.size);
    place(s, ga, 0, encodeStruct(GETEVENTS_ARG_LAYOUT, { ts: arg.buf(ts) }));
    const wait = enter(s, h, 0, 1, ENTER.GETEVENTS.value | ENTER.EXT_ARG.value, arg.buf(ga), GETEVENTS_ARG_LAYOUT.size);
    s.syscall(SYSCALLS.write, [arg.fd(w), arg.buf(one), 1]);
    const c = reap(s, h, 1, 2);
    const v = await target.run(p);
    const st = v.step(wait);
    expect(Number(st.ret), 'no completion within the timeout: -ETIME').to.equal(-errno.ETIME);
    const ms = Number(st.t1Ns - st.t0Ns) / 1e6;
    expect(ms, 'it waited the 50 ms timeout, not forever and not zero').to.be.within(45, 5000);
    expect(v.step(c).cqes.map((q) => q.userData), 'the poll completes once the pipe is written').to.deep.equal([1n]);
  },
);

conformance(
  'uring.setup with IORING_SETUP_DEFER_TASKRUN: completions are posted only when the submitter waits for them',
  { ops: ['uring.setup', 'uring.POLL_ADD'], rule: 'man io_uring_setup(2) IORING_SETUP_DEFER_TASKRUN; SEMANTICS §3.4' },
  async (ctx) => {
    const flags = needSetupFlags(ctx, 'SINGLE_ISSUER', 'DEFER_TASKRUN');
    const p = new Program();
    const s = p.main;
    const { r, w } = pipe2(s);
    const one = p.buf(1);
    const h = setupRing(s, { entries: 4, flags });
    submit(s, h, [sqe({ opcode: 'POLL_ADD', fd: r, poll32_events: 1, user_data: 1 })]);
    s.syscall(SYSCALLS.write, [arg.fd(w), arg.buf(one), 1]);
    s.sleep(20);
    const before = s.uringState(h.ring);
    const c = reap(s, h, 1, 2); // waits with GETEVENTS: the deferred task work runs now
    const v = await ctx.target.run(p);
    const st = v.step(before).ring!;
    expect(st.cqTail - st.cqHead, 'the poll fired, but its CQE waits for the submitter to ask').to.equal(0);
    expect(v.step(c).cqes.map((q) => [q.userData, q.res & 1]), 'then it is posted, POLLIN set').to.deep.equal([[1n, 1]]);
  },
);

// Flags with nothing to observe from one thread but "the ring works": a NOP round trip each, on every
// kernel whose probe accepts them (SQPOLL after its thread went idle, so the wake-up path is used).
for (const [names, opts] of [
  [['COOP_TASKRUN'], {}],
  [['COOP_TASKRUN', 'TASKRUN_FLAG'], {}],
  [['SINGLE_ISSUER'], {}],
  [['SQPOLL'], { sqThreadIdle: 10, idleFirstMs: 50 }],
] as const) {
  conformance(
    `uring.setup with IORING_SETUP_${names.join(' | IORING_SETUP_')}: a ring that completes NOPs`,
    { ops: ['uring.setup', 'uring.NOP'], rule: 'man io_uring_setup(2); SEMANTICS §3.4' },
    async (ctx) => {
      const flags = needSetupFlags(ctx, ...(names as readonly SetupFlagName[]));
      const p = new Program();
      const s = p.main;
      const h = setupRing(s, { entries: 4, flags, sqThreadIdle: 'sqThreadIdle' in opts ? opts.sqThreadIdle : 0 });
      if ('idleFirstMs' in opts) s.sleep(opts.idleFirstMs);
      const sub = submit(s, h, nopSqes(3, 0x40));
      const c = reap(s, h, 3, 4);
      const v = await ctx.target.run(p);
      expect(v.ret(h.setup), 'io_uring_setup accepts what the probe said it accepts').to.be.at.least(0);
      expect(v.ret(sub.enter), 'io_uring_enter takes the three SQEs').to.equal(3);
      expect(
        v.step(c).cqes.map((q) => [q.userData, q.res]).sort((a, b) => Number(a[0]) - Number(b[0])),
        'each NOP completes once with res 0',
      ).to.deep.equal([[0x40n, 0], [0x41n, 0], [0x42n, 0]]);
    },
  );
}

conformance(
  'uring.setup with IORING_SETUP_IOPOLL: an op without polled completion (FSYNC, POLL_ADD) completes with -EINVAL',
  { ops: ['uring.setup', 'uring.FSYNC', 'uring.POLL_ADD'], rule: 'SEMANTICS §3.5 (io_init_req item 5: non-iopoll op on an IOPOLL ring)' },
  async (ctx) => {
    const flags = needSetupFlags(ctx, 'IOPOLL');
    const p = new Program();
    const s = p.main;
    const { r } = pipe2(s);
    const h = setupRing(s, { entries: 4, flags });
    const sub = submit(s, h, [sqe({ opcode: 'FSYNC', fd: r, user_data: 1 })]);
    const sub2 = submit(s, h, [sqe({ opcode: 'POLL_ADD', fd: r, poll32_events: 1, user_data: 2 })]);
    const c = reap(s, h, 2, 4);
    const v = await ctx.target.run(p);
    expect([v.ret(sub.enter), v.ret(sub2.enter)], 'each SQE is consumed').to.deep.equal([1, 1]);
    expect(
      v.step(c).cqes.map((q) => [q.userData, q.res]).sort((a, b) => Number(a[0]) - Number(b[0])),
      'both refused at init',
    ).to.deep.equal([[1n, -errno.EINVAL], [2n, -errno.EINVAL]]);
  },
);
