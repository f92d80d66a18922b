/**
 * Inline and IOSQE_ASYNC (io-wq) requests run with the submitting task's credentials: the same
 * results as the task's own system calls, as root and after it dropped to uid/gid 65534 (SEMANTICS §3.8).
 */
import { expect } from 'chai';
import { Program } from '../../../src/program/builder';
import { setupRing } from '../../../src/program/uring';
import { conformance } from '../../../src/suite/conformance';
import { credFixture, credRound, dropToNobody, expected, Mode, rows, victimTags } from '../../../src/oracle/creds';

const OPS = ['uring.OPENAT', 'uring.MKDIRAT', 'uring.UNLINKAT', 'uring.STATX', 'uring.SETXATTR'];

for (const mode of ['inline', 'async'] as Mode[]) {
  const how = mode === 'inline' ? 'inline' : 'IOSQE_ASYNC (io-wq)';
  conformance(
    `uring: ${how} requests run with the submitter's credentials, like its own system calls, as root and as uid 65534`,
    { ops: OPS, rule: 'SEMANTICS §3.8', needs: { root: true } },
    async ({ target, scratch }) => {
      const p = new Program();
      const s = p.main;
      const fx = credFixture(s, scratch, victimTags(['root', 'nobody']));
      const root = credRound(s, setupRing(s, { entries: 4 }), fx, 'root', 0x100, { mode });
      // the child makes its ring as root, then drops: what counts is who submits, not who made the ring
      const child = p.seq();
      const h = setupRing(child, { entries: 4 });
      const drop = dropToNobody(child);
      const nobody = credRound(child, h, fx, 'nobody', 0x200, { mode });
      const pid = p.pid();
      const fork = s.fork(child, pid);
      const wait = s.wait(pid, 8000);
      const v = await target.run(p);
      for (const st of fx.steps) expect(v.ret(st), 'fixture step (as root)').to.be.at.least(0);
      expect(v.ret(fork), 'fork').to.be.above(0);
      expect(v.ret(wait), 'the child was reaped').to.be.above(0);
      expect(v.ret(h.setup), 'io_uring_setup in the child, as root').to.be.at.least(0);
      expect(
        drop.map((d) => v.ret(d)),
        'setgroups, setresgid, setresuid to 65534',
      ).to.deep.equal([0, 0, 0]);
      expect(rows(root(v)), `as root, ${how} SQEs succeed like the system calls (SEMANTICS §3.8)`).to.deep.equal(
        rows(expected('root')),
      );
      expect(
        rows(nobody(v)),
        `as uid 65534, ${how} SQEs fail with the system calls' EACCES/EPERM: the submitter's creds (SEMANTICS §3.8)`,
      ).to.deep.equal(rows(expected('nobody')));
    },
  );
}
