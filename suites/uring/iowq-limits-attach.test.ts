/**
 * IORING_REGISTER_IOWQ_MAX_WORKERS limits are kept by the ring: a task that attaches to the ring later (a forked
 * child that submits on the inherited ring) gets them for its own io-wq ("io_uring: apply max_workers limit to
 * all future users", 5.15), and on an SQPOLL ring they are the SQ thread's. A count of 0 changes nothing and the
 * array comes back with the previous values (man io_uring_register(2) IORING_REGISTER_IOWQ_MAX_WORKERS); a task
 * with no io-wq yet has none, so it reads 0s.
 */
import { expect } from 'chai';
import { Program } from '../../src/program/builder';
import { waitStatus } from '../../src/oracle/exit';
import { nopSqes, reap, setupRing, submit } from '../../src/program/uring';
import { iowqMaxWorkers, requireSetup } from '../../src/oracle/uring-files';
import { byUserData } from '../../src/oracle/uring-net';
import { conformance, needSetupFlags } from '../../src/suite/conformance';

conformance(
  'uring.register IOWQ_MAX_WORKERS set by the ring creator apply to the io-wq of a forked child that submits on the ring',
  {
    ops: ['uring.register', 'uring.NOP'],
    rule: 'man io_uring_register(2) IORING_REGISTER_IOWQ_MAX_WORKERS; "io_uring: apply max_workers limit to all future users"',
  },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 4 });
    const set = iowqMaxWorkers(s, h, 2, 3);
    const child = p.seq();
    const before = iowqMaxWorkers(child, h, 0, 0);
    const sub = submit(child, h, nopSqes(1, 0x91));
    const c = reap(child, h, 1, 2);
    const after = iowqMaxWorkers(child, h, 0, 0);
    const pid = p.pid();
    s.fork(child, pid);
    const wait = s.wait(pid, 5000);
    const v = await target.run(p);
    requireSetup(v, [
      { what: 'io_uring_setup', step: h.setup },
      { what: 'IORING_REGISTER_IOWQ_MAX_WORKERS [2, 3]', step: set.step, want: 0 },
    ]);
    expect(waitStatus(v.step(wait).ret2), 'the child exited 0').to.deep.equal({ exited: 0 });
    const pair = (d: typeof before) => [0, 4].map((o) => v.step(d.dump, 1).dump!.readUInt32LE(o));
    expect(v.ret(before.step), "the child's query before it submitted anything").to.equal(0);
    expect(pair(before), 'the child has no io-wq yet: 0s').to.deep.equal([0, 0]);
    expect(v.step(sub.enter, 1).ret, 'the child submits a NOP').to.equal(1n);
    expect(
      v.step(c, 1).cqes.map((x) => [Number(x.userData), x.res]),
      'the NOP completes',
    ).to.deep.equal([[0x91, 0]]);
    expect(v.step(after.step, 1).ret, "the child's query after submitting").to.equal(0n);
    expect(pair(after), "the child's io-wq has the ring's limits [2, 3]").to.deep.equal([2, 3]);
  },
);

conformance(
  'uring.register IOWQ_MAX_WORKERS on an SQPOLL ring sets the SQ thread io-wq limits and returns them when queried',
  {
    ops: ['uring.register', 'uring.NOP'],
    rule: 'man io_uring_register(2) IORING_REGISTER_IOWQ_MAX_WORKERS',
  },
  async (ctx) => {
    const flags = needSetupFlags(ctx, 'SQPOLL');
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 4, flags, sqThreadIdle: 1000 });
    const set = iowqMaxWorkers(s, h, 1, 2);
    const query = iowqMaxWorkers(s, h, 0, 0);
    const sub = submit(s, h, nopSqes(2, 0xa1));
    const c = reap(s, h, 2, 4);
    const v = await ctx.target.run(p);
    requireSetup(v, [{ what: 'io_uring_setup', step: h.setup }]);
    expect(v.ret(set.step), 'IORING_REGISTER_IOWQ_MAX_WORKERS [1, 2]').to.equal(0);
    expect(v.ret(query.step), 'the query [0, 0]').to.equal(0);
    expect(
      [0, 4].map((o) => v.step(query.dump).dump!.readUInt32LE(o)),
      'the query returns the limits just set',
    ).to.deep.equal([1, 2]);
    expect(v.ret(sub.enter), 'the SQ thread takes the NOPs').to.equal(2);
    expect(byUserData(v.step(c).cqes), 'both NOPs complete').to.deep.equal([
      [0xa1n, 0],
      [0xa2n, 0],
    ]);
  },
);
