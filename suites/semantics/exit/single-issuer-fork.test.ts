/**
 * A SINGLE_ISSUER ring refuses submissions from a forked child: io_uring_enter returns -EEXIST (SEMANTICS §3.5,
 * §3.11 fork/clone). The child's SQE stays in the SQ, which the child shares with the parent (MAP_SHARED rings).
 */
import { expect } from 'chai';
import { ENTER, errno, SETUP } from '../../../src/abi';
import { Program } from '../../../src/program/builder';
import { enter, reap, setupRing, sqe, submit } from '../../../src/program/uring';
import { waitStatus } from '../../../src/oracle/exit';
import { refusedSetupFlags } from '../../../src/target/caps';
import { conformance } from '../../../src/suite/conformance';

conformance(
  'io_uring SINGLE_ISSUER: a forked child submitting on the parent ring gets -EEXIST from io_uring_enter',
  { ops: ['uring.NOP'], rule: 'SEMANTICS §3.11' },
  async ({ target, caps, skip }) => {
    const why = refusedSetupFlags(caps, ['SINGLE_ISSUER']);
    if (why) skip(why);
    const p = new Program({ deadlineMs: 10_000 });
    const s = p.main;
    const h = setupRing(s, { flags: SETUP.SINGLE_ISSUER.value, entries: 8 });
    const mine = submit(s, h, [sqe({ opcode: 'NOP', user_data: 31 })]);
    const first = reap(s, h, 1, 1, 2000);
    const child = p.seq();
    const theirs = submit(child, h, [sqe({ opcode: 'NOP', user_data: 32 })]);
    const pid = p.pid();
    const fork = s.fork(child, pid);
    const wait = s.wait(pid, 5000);
    // the issuer submits what the child queued: the SQ ring is one shared mapping
    const again = enter(s, h, 1, 1, ENTER.GETEVENTS.value);
    const later = reap(s, h, 1, 1, 2000);
    const v = await target.run(p);
    expect(v.ret(h.setup), 'io_uring_setup with SINGLE_ISSUER').to.be.at.least(0);
    expect(v.ret(mine.enter), "the creator's io_uring_enter submits").to.equal(1);
    expect(v.step(first).cqes.map((c) => [c.userData, c.res]), "the creator's NOP completes").to.deep.equal([[31n, 0]]);
    expect(v.ret(fork), 'fork').to.be.above(0);
    expect(v.ret(theirs.queue), 'the child queued its SQE in the inherited SQ ring').to.equal(1);
    expect(
      v.ret(theirs.enter),
      "the child's io_uring_enter: -EEXIST, the ring has another submitter task (SEMANTICS §3.11)",
    ).to.equal(-errno.EEXIST);
    expect(v.step(wait).deadline, 'the child was reaped in time').to.equal(false);
    expect(waitStatus(v.step(wait).ret2), 'the child exited 0').to.deep.equal({ exited: 0 });
    expect(v.ret(again), 'the creator can still submit').to.equal(1);
    expect(
      v.step(later).cqes.map((c) => [c.userData, c.res]),
      'the SQE the child left in the shared SQ was submitted by the creator',
    ).to.deep.equal([[32n, 0]]);
  },
);
