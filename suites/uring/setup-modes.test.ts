/**
 * The setup modes that change where a ring lives or what it shares: IORING_SETUP_NO_MMAP (rings in the
 * caller's memory), REGISTERED_FD_ONLY and registered ring fds (a ring reached by index, not by fd),
 * ATTACH_WQ, SQ_AFF and HYBRID_IOPOLL. Each skips, with the probe's reason, only on a kernel older than
 * the flag (refusedSetupFlags). SEMANTICS §3.4, §3.5; man io_uring_setup(2), io_uring_enter(2),
 * io_uring_register(2).
 */
import { expect } from 'chai';
import {
  CQE_LAYOUT,
  ENTER,
  errno,
  IO_URING_PARAMS_LAYOUT,
  IOSQE,
  MMAP,
  OFF,
  PROBE_LAYOUT,
  PROBE_OP_LAYOUT,
  REGISTER,
  REGISTER_FLAG,
  RSRC_UPDATE_LAYOUT,
  SETUP,
  SQE_LAYOUT,
  SYSCALLS,
  URING_CONST,
} from '../../src/abi';
import { arg, ArgLike, Program, Sequence, StepRef } from '../../src/program/builder';
import { pipe2, readSmallFile } from '../../src/program/sys';
import type { TraceView } from '../../src/program/trace';
import { nopSqes, reap, RingHandle, ringFds, setupRing, sqe, submit } from '../../src/program/uring';
import { byUserData } from '../../src/oracle/uring-net';
import { waitStatus } from '../../src/oracle/exit';
import { conformance, needSetupFlags, TestContext } from '../../src/suite/conformance';



const PAGE = 4096;
/** A number no process has open: fds stay below fs.nr_open, whose ceiling is below INT_MAX. */
const NO_FD = 0x7fffffff;
const MAX_RINGFD = URING_CONST.RINGFD_REG_MAX.value;
const P = IO_URING_PARAMS_LAYOUT.fields;

/** A NO_MMAP ring of 4 entries: its SQEs and its rings each fit one page of the program's own memory. */
function userRing(s: Sequence, flags: number, mem: { sq?: ArgLike; cq?: ArgLike } = {}) {
  const sqPage = s.program.buf(PAGE, PAGE);
  const cqPage = s.program.buf(PAGE, PAGE);
  const h = setupRing(s, { entries: 4, flags, sqMem: mem.sq ?? arg.buf(sqPage), cqMem: mem.cq ?? arg.buf(cqPage) });
  return { h, sqPage, cqPage };
}

// ---- IORING_SETUP_NO_MMAP --------------------------------------------------------------------------

conformance(
  'uring.setup with IORING_SETUP_NO_MMAP: the kernel reads SQEs from and writes CQEs into the caller’s pages',
  { ops: ['uring.setup', 'uring.NOP'], rule: 'man io_uring_setup(2) IORING_SETUP_NO_MMAP; SEMANTICS §3.4' },
  async (ctx) => {
    const flags = needSetupFlags(ctx, 'NO_MMAP');
    const p = new Program();
    const s = p.main;
    const { h, sqPage, cqPage } = userRing(s, flags);
    const sub = submit(s, h, nopSqes(3, 0x70));
    const c = reap(s, h, 3, 4);
    const sqes = s.dump(sqPage);
    const rings = s.dump(cqPage);
    const v = await ctx.target.run(p);
    expect(v.ret(h.setup), 'io_uring_setup with NO_MMAP and one page for each region').to.be.at.least(0);
    expect(v.ret(sub.enter), 'the three SQEs are consumed').to.equal(3);
    expect(byUserData(v.step(c).cqes), 'each NOP completes once').to.deep.equal([[0x70n, 0], [0x71n, 0], [0x72n, 0]]);
    // the offsets the kernel reported are offsets into the caller's pages: read the words there directly
    const params = v.step(h.paramsDump).dump!;
    const mem = v.step(rings).dump!;
    const cqTail = mem.readUInt32LE(params.readUInt32LE(P['cq_off.tail'].offset));
    const sqHead = mem.readUInt32LE(params.readUInt32LE(P['sq_off.head'].offset));
    expect([sqHead, cqTail], 'SQ head and CQ tail, in the cq_off.user_addr page').to.deep.equal([3, 3]);
    const cqes = params.readUInt32LE(P['cq_off.cqes'].offset);
    const ud = (k: number) => mem.readBigUInt64LE(cqes + k * CQE_LAYOUT.size + CQE_LAYOUT.fields.user_data.offset);
    expect([ud(0), ud(1), ud(2)], 'the CQEs themselves, in that page').to.deep.equal([0x70n, 0x71n, 0x72n]);
    const sqeUd = v.step(sqes).dump!.readBigUInt64LE(SQE_LAYOUT.fields.user_data.offset);
    expect(sqeUd, 'the first SQE sits in the sq_off.user_addr page').to.equal(0x70n);
  },
);

conformance(
  'uring.setup with IORING_SETUP_NO_MMAP: mmap of the ring fd fails (-ENOMEM) at every ring offset',
  {
    ops: ['uring.setup'],
    rule: 'man io_uring_setup(2) IORING_SETUP_NO_MMAP ("a subsequent attempt to mmap(2) the io_uring file descriptor will fail"); the error comes from the ring’s get_unmapped_area, which reports every refusal as ENOMEM',
  },
  async (ctx) => {
    const flags = needSetupFlags(ctx, 'NO_MMAP');
    const p = new Program();
    const s = p.main;
    const { h } = userRing(s, flags);
    const mmap = (r: RingHandle, off: number) => s.syscall(SYSCALLS.mmap, [0, PAGE, MMAP.PROT_READ.value | MMAP.PROT_WRITE.value, MMAP.MAP_SHARED.value, arg.ring(r.ring), off]);
    const maps = [OFF.SQ_RING, OFF.CQ_RING, OFF.SQES].map((o) => mmap(h, o.value));
    // the control: the same call on an ordinary ring maps it
    const plain = setupRing(s, { entries: 4 });
    const ok = mmap(plain, OFF.SQ_RING.value);
    const v = await ctx.target.run(p);
    expect(v.ret(h.setup), 'io_uring_setup with NO_MMAP').to.be.at.least(0);
    expect(maps.map((m) => v.ret(m)), 'mmap at IORING_OFF_SQ_RING, CQ_RING, SQES').to.deep.equal([-errno.ENOMEM, -errno.ENOMEM, -errno.ENOMEM]);
    expect(v.ret(ok), 'mmap of an ordinary ring succeeds').to.be.above(0);
  },
);

conformance(
  'uring.setup with IORING_SETUP_NO_MMAP refuses memory it cannot pin: unmapped → -EFAULT, not page aligned → -EINVAL',
  { ops: ['uring.setup'], rule: 'man io_uring_setup(2) IORING_SETUP_NO_MMAP; kernel io_uring/memmap.c (alignment check, then pin_user_pages)' },
  async (ctx) => {
    const flags = needSetupFlags(ctx, 'NO_MMAP');
    const p = new Program();
    const s = p.main;
    const cases = {
      'SQEs at an unmapped page': userRing(s, flags, { sq: arg.bad() }).h,
      'rings at an unmapped page': userRing(s, flags, { cq: arg.bad() }).h,
      'SQEs at address 0': userRing(s, flags, { sq: 0 }).h,
      'SQEs 64 bytes into a page': userRing(s, flags, { sq: arg.buf(p.buf(2 * PAGE, PAGE), 64) }).h,
      'rings 64 bytes into a page': userRing(s, flags, { cq: arg.buf(p.buf(2 * PAGE, PAGE), 64) }).h,
    };
    const v = await ctx.target.run(p);
    const got = Object.fromEntries(Object.entries(cases).map(([k, h]) => [k, v.ret(h.setup)]));
    expect(got).to.deep.equal({
      'SQEs at an unmapped page': -errno.EFAULT,
      'rings at an unmapped page': -errno.EFAULT,
      'SQEs at address 0': -errno.EFAULT,
      'SQEs 64 bytes into a page': -errno.EINVAL,
      'rings 64 bytes into a page': -errno.EINVAL,
    });
  },
);

// ---- IORING_SETUP_REGISTERED_FD_ONLY ---------------------------------------------------------------

conformance(
  'uring.setup with IORING_SETUP_REGISTERED_FD_ONLY: the result is a registered ring index, the ring is reached only through it',
  {
    ops: ['uring.setup', 'uring.register', 'uring.enter', 'uring.NOP'],
    rule: 'man io_uring_setup(2) IORING_SETUP_REGISTERED_FD_ONLY; man io_uring_register(2) IORING_REGISTER_USE_REGISTERED_RING, IORING_UNREGISTER_RING_FDS; SEMANTICS §3.5 (-EBADF: unknown registered-ring index)',
  },
  async (ctx) => {
    const flags = needSetupFlags(ctx, 'NO_MMAP', 'REGISTERED_FD_ONLY');
    const p = new Program();
    const s = p.main;
    const { h } = userRing(s, flags);
    // submit() enters with IORING_ENTER_REGISTERED_RING for such a ring
    const sub = submit(s, h, nopSqes(2, 0x80));
    const c = reap(s, h, 2, 4);
    // io_uring_register reaches it with IORING_REGISTER_USE_REGISTERED_RING
    const probeBuf = p.buf(PROBE_LAYOUT.size + PROBE_OP_LAYOUT.size);
    const probe = s.syscall(SYSCALLS.io_uring_register, [
      arg.ring(h.ring),
      (REGISTER.PROBE.value | REGISTER_FLAG.USE_REGISTERED_RING.value) >>> 0,
      arg.buf(probeBuf),
      1,
    ]);
    // the registration is the ring's only handle: dropped, the index leads nowhere
    const unreg = ringFds(s, h, arg.ring(h.ring), { unregister: true });
    const after = s.syscall(SYSCALLS.io_uring_enter, [arg.ring(h.ring), 0, 0, ENTER.REGISTERED_RING.value, 0, 0]);
    const v = await ctx.target.run(p);
    const index = v.ret(h.setup);
    expect(index, 'io_uring_setup returns an index into the registered ring table').to.be.within(0, MAX_RINGFD - 1);
    expect(v.ret(sub.enter), 'io_uring_enter through the index consumes both SQEs').to.equal(2);
    expect(byUserData(v.step(c).cqes), 'both NOPs complete').to.deep.equal([[0x80n, 0], [0x81n, 0]]);
    expect(v.ret(probe), 'IORING_REGISTER_PROBE through the index').to.equal(0);
    expect(v.ret(unreg.step), 'IORING_UNREGISTER_RING_FDS of the index: one unregistered').to.equal(1);
    expect(v.ret(after), 'io_uring_enter through the dropped index').to.equal(-errno.EBADF);
  },
);

conformance(
  'uring.setup with IORING_SETUP_REGISTERED_FD_ONLY but without IORING_SETUP_NO_MMAP fails with -EINVAL',
  { ops: ['uring.setup'], rule: 'man io_uring_setup(2) ERRORS (EINVAL: REGISTERED_FD_ONLY without NO_MMAP); SEMANTICS §3.4' },
  async (ctx) => {
    needSetupFlags(ctx, 'NO_MMAP', 'REGISTERED_FD_ONLY');
    const p = new Program();
    const h = setupRing(p.main, { entries: 4, flags: SETUP.REGISTERED_FD_ONLY.value });
    const v = await ctx.target.run(p);
    expect(v.ret(h.setup)).to.equal(-errno.EINVAL);
  },
);

// ---- IORING_REGISTER_RING_FDS ----------------------------------------------------------------------

conformance(
  'uring.register IORING_REGISTER_RING_FDS: io_uring_enter works through the index; unregistered → -EBADF, past the table → -EINVAL',
  {
    ops: ['uring.register', 'uring.enter', 'uring.NOP'],
    rule: 'man io_uring_register(2) IORING_REGISTER_RING_FDS, IORING_UNREGISTER_RING_FDS; man io_uring_enter(2) IORING_ENTER_REGISTERED_RING; SEMANTICS §3.5 (-EBADF unknown index; -EINVAL an index ≥ IO_RINGFD_REG_MAX, kernel io_uring_enter)',
  },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 4 });
    const reg = ringFds(s, h, -1); // offset -1: the kernel picks the index and writes it back
    const upd = s.dump(reg.upd);
    const sub = submit(s, h, nopSqes(2, 0x90), 2, reg.index);
    const c = reap(s, h, 2, 4);
    const unreg = ringFds(s, h, reg.index, { unregister: true });
    const viaIndex = (i: ArgLike) => s.syscall(SYSCALLS.io_uring_enter, [i, 0, 0, ENTER.REGISTERED_RING.value, 0, 0]);
    const stale = viaIndex(reg.index);
    const past = [MAX_RINGFD, -1].map(viaIndex);
    const stillFd = s.syscall(SYSCALLS.io_uring_enter, [arg.ring(h.ring), 0, 0, 0, 0, 0]);
    const v = await target.run(p);
    expect(v.ret(reg.step), 'one ring registered').to.equal(1);
    const index = v.step(upd).dump!.readUInt32LE(RSRC_UPDATE_LAYOUT.fields.offset.offset);
    expect(index, 'the index written back into the io_uring_rsrc_update').to.be.below(MAX_RINGFD);
    expect(v.ret(sub.enter), 'io_uring_enter through the index consumes both SQEs').to.equal(2);
    expect(byUserData(v.step(c).cqes), 'both NOPs complete').to.deep.equal([[0x90n, 0], [0x91n, 0]]);
    expect(v.ret(unreg.step), 'IORING_UNREGISTER_RING_FDS: one unregistered').to.equal(1);
    expect(v.ret(stale), 'the unregistered index').to.equal(-errno.EBADF);
    const pastIndex = past.map((e) => v.ret(e));
    expect(pastIndex, `index ${MAX_RINGFD} (IO_RINGFD_REG_MAX) and -1`).to.deep.equal([-errno.EINVAL, -errno.EINVAL]);
    expect(v.ret(stillFd), 'the ring fd itself still works').to.equal(0);
  },
);

conformance(
  'uring.register IORING_REGISTER_RING_FDS refuses: offset past the table → -EINVAL, a taken offset → -EBUSY, a non-ring fd → -EOPNOTSUPP, no fd → -EBADF',
  {
    ops: ['uring.register'],
    rule: 'man io_uring_register(2) IORING_REGISTER_RING_FDS (at most 16 registered rings) and ERRORS (EBADF: an invalid fd); kernel io_uring/tctx.c io_ringfd_register',
  },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 4 });
    const { r } = pipe2(s);
    const past = ringFds(s, h, MAX_RINGFD);
    const first = ringFds(s, h, 3);
    const taken = ringFds(s, h, 3);
    const pipe = ringFds(s, h, -1, { ringFd: arg.fd(r) });
    const none = ringFds(s, h, -1, { ringFd: NO_FD });
    const unregPast = ringFds(s, h, MAX_RINGFD, { unregister: true });
    const v = await target.run(p);
    const got = Object.fromEntries(Object.entries({ past, first, taken, pipe, none, unregPast }).map(([k, x]) => [k, v.ret(x.step)]));
    expect(
      got,
      `offset ${MAX_RINGFD}; offset 3 twice; a pipe; fd ${NO_FD}; unregistering offset ${MAX_RINGFD}`,
    ).to.deep.equal({
      past: -errno.EINVAL,
      first: 1,
      taken: -errno.EBUSY,
      pipe: -errno.EOPNOTSUPP,
      none: -errno.EBADF,
      unregPast: -errno.EINVAL,
    });
  },
);

// ---- IORING_SETUP_ATTACH_WQ ------------------------------------------------------------------------

conformance(
  'uring.setup with IORING_SETUP_ATTACH_WQ: a ring on another ring’s io-wq completes punted (IOSQE_ASYNC) NOPs',
  { ops: ['uring.setup', 'uring.NOP'], rule: 'man io_uring_setup(2) IORING_SETUP_ATTACH_WQ; SEMANTICS §3.4' },
  async (ctx) => {
    const flags = needSetupFlags(ctx, 'ATTACH_WQ');
    const p = new Program();
    const s = p.main;
    const first = setupRing(s, { entries: 4 });
    const second = setupRing(s, { entries: 4, flags, wq: first.ring });
    const async = (ud: number) => sqe({ opcode: 'NOP', flags: IOSQE.ASYNC.value, user_data: ud });
    const a = submit(s, first, [async(1)], 1);
    const b = submit(s, second, [async(2), async(3)], 2);
    const ca = reap(s, first, 1, 2);
    const cb = reap(s, second, 2, 4);
    const v = await ctx.target.run(p);
    expect(v.ret(second.setup), 'io_uring_setup with wq_fd = the first ring').to.be.at.least(0);
    expect([v.ret(a.enter), v.ret(b.enter)]).to.deep.equal([1, 2]);
    expect(byUserData(v.step(ca).cqes), 'the first ring’s NOP').to.deep.equal([[1n, 0]]);
    const attached = byUserData(v.step(cb).cqes);
    expect(attached, 'the attached ring’s NOPs, each on its own ring').to.deep.equal([[2n, 0], [3n, 0]]);
  },
);

conformance(
  'uring.setup with IORING_SETUP_ATTACH_WQ and a wq_fd that is no ring: no fd → -ENXIO, a pipe → -EINVAL (with and without SQPOLL)',
  {
    ops: ['uring.setup'],
    rule: 'man io_uring_setup(2) ERRORS (ENXIO: wq_fd does not refer to an io_uring instance); a pipe gets -EINVAL on every kernel measured (docs/KERNEL-NOTES.md)',
  },
  async (ctx) => {
    needSetupFlags(ctx, 'ATTACH_WQ', 'SQPOLL');
    const p = new Program();
    const s = p.main;
    const { r } = pipe2(s);
    const attach = (sqpoll: boolean, wq: ArgLike) =>
      setupRing(s, { entries: 4, flags: SETUP.ATTACH_WQ.value | (sqpoll ? SETUP.SQPOLL.value : 0), wq }).setup;
    const cases = {
      none: attach(false, NO_FD),
      pipe: attach(false, arg.fd(r)),
      sqpollNone: attach(true, NO_FD),
      sqpollPipe: attach(true, arg.fd(r)),
    };
    const v = await ctx.target.run(p);
    expect(Object.fromEntries(Object.entries(cases).map(([k, st]) => [k, v.ret(st)]))).to.deep.equal({
      none: -errno.ENXIO,
      pipe: -errno.EINVAL,
      sqpollNone: -errno.ENXIO,
      sqpollPipe: -errno.EINVAL,
    });
  },
);

/** `Threads:` of /proc/self/status as the program read it. */
function threadCount(v: TraceView, dump: StepRef): number {
  const m = /^Threads:\s*(\d+)$/m.exec(v.step(dump).dump!.toString('utf8'));
  if (!m) throw new Error('no Threads: line in /proc/self/status');
  return Number(m[1]);
}

conformance(
  'uring.setup with IORING_SETUP_SQPOLL | IORING_SETUP_ATTACH_WQ shares the first ring’s SQ thread instead of starting one',
  {
    ops: ['uring.setup', 'uring.NOP'],
    rule: 'man io_uring_setup(2) IORING_SETUP_ATTACH_WQ ("the sq polling thread will be shared, if IORING_SETUP_SQPOLL is set"); SQ threads are threads of the process (SEMANTICS §3.11)',
  },
  async (ctx) => {
    needSetupFlags(ctx, 'SQPOLL', 'ATTACH_WQ');
    const p = new Program();
    // a forked child starts with one thread, so every thread it gains is the kernel's
    const child = p.seq();
    const status = () => readSmallFile(child, '/proc/self/status', 4096).dump;
    const t0 = status();
    const sqpoll = { entries: 4, sqThreadIdle: 1000 };
    const a = setupRing(child, { ...sqpoll, flags: SETUP.SQPOLL.value });
    const t1 = status();
    const b = setupRing(child, { ...sqpoll, flags: SETUP.SQPOLL.value | SETUP.ATTACH_WQ.value, wq: a.ring });
    const t2 = status();
    const c = setupRing(child, { ...sqpoll, flags: SETUP.SQPOLL.value });
    const t3 = status();
    const sub = submit(child, b, nopSqes(2, 0xa0));
    const got = reap(child, b, 2, 4);
    const pid = p.pid();
    p.main.fork(child, pid);
    const wait = p.main.wait(pid, 8000);
    const v = await ctx.target.run(p);
    expect(waitStatus(v.step(wait).ret2), 'the child exited 0').to.deep.equal({ exited: 0 });
    expect([a, b, c].map((h) => v.ret(h.setup) >= 0), 'three SQPOLL rings set up').to.deep.equal([true, true, true]);
    expect(
      [t0, t1, t2, t3].map((d) => threadCount(v, d)),
      'threads: the child alone, + the first SQ thread, + none for the attached ring, + one for an unattached ring',
    ).to.deep.equal([1, 2, 2, 3]);
    expect(v.ret(sub.enter), 'the attached ring takes SQEs').to.equal(2);
    expect(byUserData(v.step(got).cqes), 'and the shared thread submits them').to.deep.equal([[0xa0n, 0], [0xa1n, 0]]);
  },
);

// ---- IORING_SETUP_SQ_AFF ---------------------------------------------------------------------------

/** A CPU the executor may run on, and one past the last possible CPU (both by the target's own files). */
async function cpus({ target }: TestContext): Promise<{ allowed: number; impossible: number }> {
  const p = new Program();
  const status = readSmallFile(p.main, '/proc/self/status', 4096);
  const possible = readSmallFile(p.main, '/sys/devices/system/cpu/possible', 64);
  const v = await target.run(p);
  const text = (d: StepRef) => v.step(d).dump!.toString('utf8').replace(/\0.*$/s, '');
  const allowed = /^Cpus_allowed_list:\s*(\d+)/m.exec(text(status.dump));
  const last = /(\d+)\s*$/.exec(text(possible.dump).trim());
  if (!allowed || !last) throw new Error('cannot read Cpus_allowed_list or /sys/devices/system/cpu/possible');
  return { allowed: Number(allowed[1]), impossible: Number(last[1]) + 1 };
}

conformance(
  'uring.setup with IORING_SETUP_SQ_AFF: with SQPOLL and an allowed CPU the ring works; a CPU past the last possible one → -EINVAL; without SQPOLL → -EINVAL',
  { ops: ['uring.setup', 'uring.NOP'], rule: 'man io_uring_setup(2) IORING_SETUP_SQ_AFF and ERRORS (EINVAL: SQ_AFF without SQPOLL); kernel io_uring/sqpoll.c (cpu ≥ nr_cpu_ids → -EINVAL)' },
  async (ctx) => {
    const flags = needSetupFlags(ctx, 'SQPOLL', 'SQ_AFF');
    const { allowed, impossible } = await cpus(ctx);
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 4, flags, sqThreadCpu: allowed, sqThreadIdle: 1000 });
    const sub = submit(s, h, nopSqes(2, 0xb0));
    const c = reap(s, h, 2, 4);
    const bad = setupRing(s, { entries: 4, flags, sqThreadCpu: impossible });
    const alone = setupRing(s, { entries: 4, flags: SETUP.SQ_AFF.value, sqThreadCpu: allowed });
    const v = await ctx.target.run(p);
    expect(v.ret(h.setup), `SQ thread on CPU ${allowed}`).to.be.at.least(0);
    expect(v.ret(sub.enter)).to.equal(2);
    expect(byUserData(v.step(c).cqes), 'its NOPs complete').to.deep.equal([[0xb0n, 0], [0xb1n, 0]]);
    expect(v.ret(bad.setup), `CPU ${impossible}, past /sys/devices/system/cpu/possible`).to.equal(-errno.EINVAL);
    expect(v.ret(alone.setup), 'SQ_AFF without SQPOLL').to.equal(-errno.EINVAL);
  },
);

// ---- IORING_SETUP_HYBRID_IOPOLL --------------------------------------------------------------------

conformance(
  'uring.setup with IORING_SETUP_HYBRID_IOPOLL: refused (-EINVAL) without IOPOLL; with IOPOLL a ring that completes NOPs',
  { ops: ['uring.setup', 'uring.NOP'], rule: 'man io_uring_setup(2) IORING_SETUP_HYBRID_IOPOLL ("must be used with IORING_SETUP_IOPOLL"); SEMANTICS §3.4 invalid combinations' },
  async (ctx) => {
    const flags = needSetupFlags(ctx, 'IOPOLL', 'HYBRID_IOPOLL');
    const p = new Program();
    const s = p.main;
    const alone = setupRing(s, { entries: 4, flags: SETUP.HYBRID_IOPOLL.value });
    const h = setupRing(s, { entries: 4, flags });
    const sub = submit(s, h, nopSqes(2, 0xc0));
    const c = reap(s, h, 2, 4);
    const v = await ctx.target.run(p);
    expect(v.ret(alone.setup), 'HYBRID_IOPOLL alone').to.equal(-errno.EINVAL);
    expect(v.ret(h.setup), 'HYBRID_IOPOLL | IOPOLL').to.be.at.least(0);
    expect(v.ret(sub.enter)).to.equal(2);
    const done = byUserData(v.step(c).cqes);
    expect(done, 'NOPs complete on the hybrid-polled ring').to.deep.equal([[0xc0n, 0], [0xc1n, 0]]);
  },
);
