/**
 * SQPOLL rings submit from the SQ thread with the ring creator's credentials (ctx->sq_creds, taken at
 * io_uring_setup), whoever writes the SQ and whatever their creds are now (SEMANTICS §3.8).
 */
import { expect } from 'chai';
import { SETUP } from '../../../src/abi';
import { Program } from '../../../src/program/builder';
import { setupRing } from '../../../src/program/uring';
import { conformance } from '../../../src/suite/conformance';
import { credFixture, credRound, CRED_OPS, dropToNobody, Mode, rows, victimTags } from '../../../src/oracle/creds';

const OPS = ['uring.OPENAT', 'uring.MKDIRAT', 'uring.UNLINKAT', 'uring.STATX', 'uring.SETXATTR'];
const SQPOLL = { entries: 4, flags: SETUP.SQPOLL.value, sqThreadIdle: 5000 };
/** System calls as 65534, SQEs as root. */
const SPLIT = CRED_OPS.map((op) => [op.what, op.nobody, op.root]);

for (const mode of ['inline', 'async'] as Mode[]) {
  const how = mode === 'inline' ? '' : 'IOSQE_ASYNC ';
  conformance(
    `uring: ${how}SQEs on an SQPOLL ring run as its root creator after the creator dropped to uid 65534`,
    { ops: OPS, rule: 'SEMANTICS §3.8', needs: { root: true } },
    async ({ target, scratch }) => {
      const p = new Program();
      const s = p.main;
      const fx = credFixture(s, scratch, victimTags(['sq']));
      const child = p.seq();
      const h = setupRing(child, SQPOLL);
      const drop = dropToNobody(child);
      const round = credRound(child, h, fx, 'sq', 0x100, { mode, sqpoll: true });
      const pid = p.pid();
      const fork = s.fork(child, pid);
      const wait = s.wait(pid, 8000);
      const v = await target.run(p);
      for (const st of fx.steps) expect(v.ret(st), 'fixture step (as root)').to.be.at.least(0);
      expect([v.ret(fork) > 0, v.ret(wait) > 0], 'fork and reap the child').to.deep.equal([true, true]);
      expect(v.ret(h.setup), 'io_uring_setup with IORING_SETUP_SQPOLL, as root').to.be.at.least(0);
      expect(
        drop.map((d) => v.ret(d)),
        'setgroups, setresgid, setresuid to 65534',
      ).to.deep.equal([0, 0, 0]);
      expect(
        rows(round(v)),
        "the process's system calls fail as 65534; the SQ thread's SQEs run as the creator, root (SEMANTICS §3.8)",
      ).to.deep.equal(SPLIT);
    },
  );
}

conformance(
  "uring: a uid 65534 child's SQEs on an inherited SQPOLL ring run as the root creator",
  { ops: OPS, rule: 'SEMANTICS §3.8', needs: { root: true } },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    const fx = credFixture(s, scratch, victimTags(['sq']));
    const h = setupRing(s, SQPOLL);
    const child = p.seq();
    const drop = dropToNobody(child);
    const round = credRound(child, h, fx, 'sq', 0x100, { mode: 'inline', sqpoll: true });
    const pid = p.pid();
    const fork = s.fork(child, pid);
    const wait = s.wait(pid, 8000);
    const v = await target.run(p);
    for (const st of fx.steps) expect(v.ret(st), 'fixture step (as root)').to.be.at.least(0);
    expect(v.ret(h.setup), 'io_uring_setup with IORING_SETUP_SQPOLL, as root').to.be.at.least(0);
    expect([v.ret(fork) > 0, v.ret(wait) > 0], 'fork and reap the child').to.deep.equal([true, true]);
    expect(
      drop.map((d) => v.ret(d)),
      'setgroups, setresgid, setresuid to 65534 in the child',
    ).to.deep.equal([0, 0, 0]);
    expect(
      rows(round(v)),
      "the child's system calls fail as 65534; its SQEs, submitted by the SQ thread, run as root (SEMANTICS §3.8)",
    ).to.deep.equal(SPLIT);
  },
);
