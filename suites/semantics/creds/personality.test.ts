/**
 * IORING_REGISTER_PERSONALITY (9) and IORING_UNREGISTER_PERSONALITY (10): an SQE carrying a personality
 * runs with the credentials of whoever registered it, not the submitter's (SEMANTICS §3.8).
 */
import { expect } from 'chai';
import { errno, REGISTER, SYSCALLS } from '../../../src/abi';
import { arg, Program } from '../../../src/program/builder';
import { pipe2 } from '../../../src/program/sys';
import { reap, setupRing, sqe, submit } from '../../../src/program/uring';
import { conformance } from '../../../src/suite/conformance';
import { credFixture, credRound, dropToNobody, expected, rows, victimTags } from '../../../src/oracle/creds';

const OPS = ['uring.OPENAT', 'uring.MKDIRAT', 'uring.UNLINKAT', 'uring.STATX', 'uring.SETXATTR', 'uring.register'];

conformance(
  'uring: a personality registered as root runs SQEs as root after the process dropped to uid 65534',
  { ops: OPS, rule: 'SEMANTICS §3.8', needs: { root: true } },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    const fx = credFixture(s, scratch, victimTags(['plain', 'pi', 'pa']));
    const child = p.seq();
    const h = setupRing(child, { entries: 4 });
    const id = p.buf(8);
    const reg = child.syscall(SYSCALLS.io_uring_register, [arg.ring(h.ring), REGISTER.PERSONALITY.value, 0, 0], {
      store: id,
    });
    const drop = dropToNobody(child);
    const plain = credRound(child, h, fx, 'plain', 0x100, { mode: 'inline' });
    const persona = arg.load32(id, 0);
    const inline = credRound(child, h, fx, 'pi', 0x200, { mode: 'inline', personality: persona, noSync: true });
    const async = credRound(child, h, fx, 'pa', 0x300, { mode: 'async', personality: persona, noSync: true });
    const pid = p.pid();
    const fork = s.fork(child, pid);
    const wait = s.wait(pid, 8000);
    const v = await target.run(p);
    for (const st of fx.steps) expect(v.ret(st), 'fixture step (as root)').to.be.at.least(0);
    expect([v.ret(fork) > 0, v.ret(wait) > 0], 'fork and reap the child').to.deep.equal([true, true]);
    expect(v.ret(h.setup), 'io_uring_setup in the child, as root').to.be.at.least(0);
    expect(v.ret(reg), 'IORING_REGISTER_PERSONALITY: an id in 1..65535 (SEMANTICS §3.8)').to.be.within(1, 65535);
    expect(
      drop.map((d) => v.ret(d)),
      'setgroups, setresgid, setresuid to 65534',
    ).to.deep.equal([0, 0, 0]);
    expect(rows(plain(v)), 'without a personality the SQEs fail like the system calls (SEMANTICS §3.8)').to.deep.equal(
      rows(expected('nobody')),
    );
    expect(rows(inline(v)), 'inline SQEs with the root personality run as root (SEMANTICS §3.8)').to.deep.equal(
      rows(expected('root', false)),
    );
    expect(
      rows(async(v)),
      'IOSQE_ASYNC SQEs with the root personality run as root in io-wq (SEMANTICS §3.8)',
    ).to.deep.equal(rows(expected('root', false)));
  },
);

conformance(
  "uring: a personality registered by a uid 65534 process on a shared ring makes root's SQEs run as 65534",
  { ops: OPS, rule: 'SEMANTICS §3.8', needs: { root: true } },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    const fx = credFixture(s, scratch, victimTags(['plain', 'pi', 'pa']));
    const h = setupRing(s, { entries: 4 });
    const { r, w, step: pipe } = pipe2(s);
    // the child shares the ring (fork), drops, registers, and sends the id back through the pipe
    const child = p.seq();
    const drop = dropToNobody(child);
    const cid = p.buf(8);
    const reg = child.syscall(SYSCALLS.io_uring_register, [arg.ring(h.ring), REGISTER.PERSONALITY.value, 0, 0], {
      store: cid,
    });
    child.syscall(SYSCALLS.write, [arg.fd(w), arg.buf(cid), 8]);
    const pid = p.pid();
    const fork = s.fork(child, pid);
    const wait = s.wait(pid, 8000);
    const id = p.buf(8);
    const got = s.syscall(SYSCALLS.read, [arg.fd(r), arg.buf(id), 8]);
    const plain = credRound(s, h, fx, 'plain', 0x100, { mode: 'inline' });
    const persona = arg.load32(id, 0);
    const inline = credRound(s, h, fx, 'pi', 0x200, { mode: 'inline', personality: persona, noSync: true });
    const async = credRound(s, h, fx, 'pa', 0x300, { mode: 'async', personality: persona, noSync: true });
    const v = await target.run(p);
    for (const st of fx.steps) expect(v.ret(st), 'fixture step (as root)').to.be.at.least(0);
    expect([v.ret(h.setup) >= 0, v.ret(pipe)], 'io_uring_setup and pipe2').to.deep.equal([true, 0]);
    expect([v.ret(fork) > 0, v.ret(wait) > 0], 'fork and reap the child').to.deep.equal([true, true]);
    expect(
      drop.map((d) => v.ret(d)),
      'setgroups, setresgid, setresuid to 65534 in the child',
    ).to.deep.equal([0, 0, 0]);
    expect(v.ret(reg), 'the 65534 child registers a personality on the inherited ring (SEMANTICS §3.8)').to.be.within(
      1,
      65535,
    );
    expect(v.ret(got), 'the parent reads the id').to.equal(8);
    expect(rows(plain(v)), "root's own SQEs succeed like its system calls (SEMANTICS §3.8)").to.deep.equal(
      rows(expected('root')),
    );
    expect(rows(inline(v)), 'inline SQEs with the 65534 personality fail as 65534 (SEMANTICS §3.8)').to.deep.equal(
      rows(expected('nobody', false)),
    );
    expect(rows(async(v)), 'IOSQE_ASYNC SQEs with the 65534 personality fail as 65534 (SEMANTICS §3.8)').to.deep.equal(
      rows(expected('nobody', false)),
    );
  },
);

conformance(
  'uring: an unknown sqe->personality completes with -EINVAL; unregistering an unknown id fails with -EINVAL',
  { ops: ['uring.NOP', 'uring.register'], rule: 'SEMANTICS §3.8' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 4 });
    const id = p.buf(8);
    const ring = arg.ring(h.ring);
    const reg = s.syscall(SYSCALLS.io_uring_register, [ring, REGISTER.PERSONALITY.value, 0, 0], { store: id });
    const known = submit(s, h, [sqe({ opcode: 'NOP', user_data: 1, personality: arg.load32(id, 0) })], 1);
    const c1 = reap(s, h, 1, 4);
    const unreg = s.syscall(SYSCALLS.io_uring_register, [
      ring,
      REGISTER.UNREGISTER_PERSONALITY.value,
      0,
      arg.load32(id, 0),
    ]);
    const again = s.syscall(SYSCALLS.io_uring_register, [
      ring,
      REGISTER.UNREGISTER_PERSONALITY.value,
      0,
      arg.load32(id, 0),
    ]);
    const never = s.syscall(SYSCALLS.io_uring_register, [ring, REGISTER.UNREGISTER_PERSONALITY.value, 0, 0xfff0]);
    const gone = submit(s, h, [sqe({ opcode: 'NOP', user_data: 2, personality: arg.load32(id, 0) })], 1);
    const c2 = reap(s, h, 1, 4);
    const stranger = submit(s, h, [sqe({ opcode: 'NOP', user_data: 3, personality: 0xfff0 })], 1);
    const c3 = reap(s, h, 1, 4);
    const v = await target.run(p);
    expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
    expect(v.ret(reg), 'IORING_REGISTER_PERSONALITY: an id in 1..65535 (SEMANTICS §3.8)').to.be.within(1, 65535);
    expect(v.ret(known.enter), 'a NOP with the registered personality is consumed').to.equal(1);
    expect(
      v.step(c1).cqes.map((q) => [q.userData, q.res]),
      'and completes with 0',
    ).to.deep.equal([[1n, 0]]);
    expect(v.ret(unreg), 'IORING_UNREGISTER_PERSONALITY of the id: 0 (SEMANTICS §3.8)').to.equal(0);
    expect(v.ret(again), 'unregistering it again: -EINVAL (SEMANTICS §3.8)').to.equal(-errno.EINVAL);
    expect(v.ret(never), 'unregistering an id never handed out: -EINVAL (SEMANTICS §3.8)').to.equal(-errno.EINVAL);
    for (const [sub, c, ud, what] of [
      [gone, c2, 2n, 'an unregistered'],
      [stranger, c3, 3n, 'a never-registered'],
    ] as const) {
      expect(v.ret(sub.enter), `an SQE with ${what} personality is consumed (SEMANTICS §3.5)`).to.equal(1);
      expect(
        v.step(c).cqes.map((q) => [q.userData, q.res]),
        `and completes with -EINVAL (SEMANTICS §3.8)`,
      ).to.deep.equal([[ud, -errno.EINVAL]]);
    }
  },
);
