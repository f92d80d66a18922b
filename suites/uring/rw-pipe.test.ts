/**
 * IORING_OP_READ on an empty pipe: with RWF_NOWAIT in rw_flags it fails with -EAGAIN like
 * preadv2(RWF_NOWAIT); without, it waits (the kernel polls the pipe)
 * and completes with the bytes a later write brings, no more. Man 2 preadv2 RWF_NOWAIT, man 7 pipe;
 * SEMANTICS §3.2.
 */
import { expect } from 'chai';
import { arg, Program } from '../../src/program/builder';
import { errno, F, O, RWF, SYSCALLS } from '../../src/abi';
import { iovecs } from '../../src/oracle/differential';
import { showResult, SoloRing } from '../../src/oracle/uring-paths';
import { pipe2 } from '../../src/program/sys';
import { reap, setupRing, sqe, submit } from '../../src/program/uring';
import { conformance } from '../../src/suite/conformance';

/** The file offset argument that means "the current position" (pipes have none): -1. */
const CUR = -1;

conformance(
  'uring.READ with RWF_NOWAIT of a pipe fails with -EAGAIN when empty and returns the bytes there otherwise, like preadv2',
  { ops: ['uring.READ'], rule: 'man 2 preadv2 RWF_NOWAIT; SEMANTICS §3.2' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const ring = new SoloRing(s);
    const msg = p.data(Buffer.from('kasync'));
    const NOWAIT = RWF.NOWAIT.value;
    // per state, one pipe for preadv2 and one for the READ
    const runs = (['empty', 'holding 6 bytes'] as const).map((what) => {
      const [a, b] = [pipe2(s, O.CLOEXEC.value), pipe2(s, O.CLOEXEC.value)];
      const wrote =
        what === 'empty' ? [] : [a, b].map((x) => s.syscall(SYSCALLS.write, [arg.fd(x.w), arg.buf(msg), 6]));
      const [ba, bb] = [p.buf(64), p.buf(64)];
      const sync = s.syscall(SYSCALLS.preadv2, [arg.fd(a.r), arg.buf(iovecs(s, ba, [[0, 64]])), 1, CUR, 0, NOWAIT]);
      const async = ring.run({ opcode: 'READ', fd: b.r, addr: arg.buf(bb), len: 64, off: -1n, rw_flags: NOWAIT });
      return { what, wrote, sync, async, got: s.dump(bb, 0, 6) };
    });
    const v = await target.run(p);
    for (const r of runs) {
      for (const w of r.wrote) expect(v.ret(w), 'the write').to.equal(6);
      // EOPNOTSUPP where pipes lack nowait support (no FMODE_NOWAIT: measured on 6.1), for both calls
      const sync = showResult(v.ret(r.sync));
      const want = r.what === 'empty' ? showResult(-errno.EAGAIN) : '6';
      expect([want, showResult(-errno.EOPNOTSUPP)], `${r.what}: preadv2 gives ${want} (or EOPNOTSUPP)`).to.include(
        sync,
      );
      expect(showResult(r.async(v)), `${r.what}: the READ ends like preadv2`).to.equal(sync);
      if (sync === '6') expect(v.step(r.got).dump!.toString(), 'the READ got the written bytes').to.equal('kasync');
    }
  },
);

conformance(
  'uring.READ of an empty blocking pipe waits for a write and completes with the bytes it brought, no more',
  { ops: ['uring.READ'], rule: 'man 7 pipe; SEMANTICS §3.2' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const { r, w } = pipe2(s, O.CLOEXEC.value);
    const b = p.buf(4096);
    const h = setupRing(s, { entries: 4 });
    const sub = submit(s, h, [sqe({ opcode: 'READ', fd: r, addr: arg.buf(b), len: 4096, off: -1n, user_data: 1 })]);
    const early = reap(s, h, 0, 4, 0);
    const msg = p.data(Buffer.from('0123456789'));
    const wrote = s.syscall(SYSCALLS.write, [arg.fd(w), arg.buf(msg), 10]);
    const c = reap(s, h, 1, 4);
    const got = s.dump(b, 0, 10);
    const v = await target.run(p);
    expect(v.ret(sub.enter), 'the READ is consumed').to.equal(1);
    expect(v.step(early).cqes, 'nothing to read: no CQE yet').to.deep.equal([]);
    expect(v.ret(wrote), 'the write').to.equal(10);
    expect(
      v.step(c).cqes.map((q) => [q.userData, q.res]),
      'the READ completes with the 10 bytes written, not 4096',
    ).to.deep.equal([[1n, 10]]);
    expect(v.step(got).dump!.toString(), 'they are the written bytes').to.equal('0123456789');
  },
);

conformance(
  'uring.WRITE to a full pipe waits until a read makes room, then writes it all',
  { ops: ['uring.WRITE'], rule: 'man 7 pipe (pipe capacity, blocking write); SEMANTICS §3.2' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const { r, w } = pipe2(s, O.CLOEXEC.value);
    const PAGE = 4096;
    // the smallest pipe (one page), filled by one write
    const sized = s.syscall(SYSCALLS.fcntl, [arg.fd(w), F.SETPIPE_SZ.value, PAGE]);
    const fill = p.buf(PAGE);
    s.fillByte(fill, 0, PAGE, 0x11);
    const filled = s.syscall(SYSCALLS.write, [arg.fd(w), arg.buf(fill), PAGE]);
    const h = setupRing(s, { entries: 4 });
    const msg = p.data(Buffer.from('0123456789'));
    const sub = submit(s, h, [sqe({ opcode: 'WRITE', fd: w, addr: arg.buf(msg), len: 10, off: -1n, user_data: 1 })]);
    const early = reap(s, h, 0, 4, 0);
    const drained = s.syscall(SYSCALLS.read, [arg.fd(r), arg.buf(fill), PAGE]);
    const c = reap(s, h, 1, 4);
    const back = p.buf(64);
    const got = s.syscall(SYSCALLS.read, [arg.fd(r), arg.buf(back), 64]);
    const dump = s.dump(back, 0, 10);
    const v = await target.run(p);
    expect(v.ret(sized), 'F_SETPIPE_SZ of one page').to.equal(PAGE);
    expect(v.ret(filled), 'the pipe is full').to.equal(PAGE);
    expect(v.ret(sub.enter), 'the WRITE is consumed').to.equal(1);
    expect(v.step(early).cqes, 'no room: no CQE yet').to.deep.equal([]);
    expect(v.ret(drained), 'the read empties the pipe').to.equal(PAGE);
    expect(
      v.step(c).cqes.map((q) => [q.userData, q.res]),
      'then the WRITE completes with all 10 bytes',
    ).to.deep.equal([[1n, 10]]);
    expect([v.ret(got), v.step(dump).dump!.toString()], 'and they are in the pipe').to.deep.equal([10, '0123456789']);
  },
);
