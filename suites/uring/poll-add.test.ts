/** IORING_OP_POLL_ADD (one-shot) against poll(2): readiness masks, one CQE when a waiting fd becomes ready. */
import { expect } from 'chai';
import { arg, Fd, Program, StepRef } from '../../src/program/builder';
import { CQE_F, entriesOf, O, POLL_EV, POLLFD_LAYOUT, SYSCALLS } from '../../src/abi';
import { encodeStruct, place } from '../../src/program/struct';
import { close, pipe2 } from '../../src/program/sys';
import { checkSetup, QueueRing, SoloRing } from '../../src/oracle/uring-paths';
import type { ResultOf } from '../../src/oracle/differential';
import { conformance } from '../../src/suite/conformance';
import type { Sequence } from '../../src/program/builder';

/** poll(2) of one fd with timeout 0; the step and the pollfd (revents at offset 6). */
function pollNow(s: Sequence, fd: Fd, events: number): { step: StepRef; dump: StepRef } {
  const b = s.program.buf(POLLFD_LAYOUT.size);
  place(s, b, 0, encodeStruct(POLLFD_LAYOUT, { fd: arg.fd(fd), events }));
  const step = s.syscall(SYSCALLS.poll, [arg.buf(b), 1, 0]);
  return { step, dump: s.dump(b) };
}

/** A mask as POLL names, for messages and comparisons. */
function names(mask: number): string {
  const on = entriesOf(POLL_EV)
    .filter((e) => (mask & e.value) !== 0)
    .map((e) => e.name);
  return on.length ? on.join('|') : '0';
}

conformance(
  'uring.POLL_ADD reports the readiness mask poll(2) reports',
  { ops: ['uring.POLL_ADD'], rule: 'man io_uring_prep_poll_add' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const checks: { what: string; step: StepRef }[] = [];
    const msg = p.data(Buffer.from('x'));
    // x: holds a byte; y: its read end closed; z: its write end closed, empty
    const [x, y, z] = [0, 1, 2].map(() => pipe2(s, O.CLOEXEC.value));
    checks.push({ what: 'pipes', step: x.step }, { what: 'pipes', step: y.step }, { what: 'pipes', step: z.step });
    checks.push({ what: 'write to x', step: s.syscall(SYSCALLS.write, [arg.fd(x.w), arg.buf(msg), 1]) });
    checks.push(
      { what: 'close the read end of y', step: close(s, y.r) },
      { what: 'close the write end of z', step: close(s, z.w) },
    );
    const E = (...n: ('IN' | 'RDNORM' | 'PRI' | 'OUT' | 'WRNORM' | 'ERR' | 'HUP')[]) =>
      n.reduce((m, k) => m | POLL_EV[k].value, 0);
    const cases: { what: string; fd: Fd; events: number; want: number }[] = [
      { what: 'POLLIN on a pipe holding data', fd: x.r, events: E('IN'), want: E('IN') },
      {
        what: 'POLLIN|POLLRDNORM|POLLPRI|POLLOUT on a pipe holding data',
        fd: x.r,
        events: E('IN', 'RDNORM', 'PRI', 'OUT'),
        want: E('IN', 'RDNORM'),
      },
      {
        what: 'POLLOUT|POLLWRNORM on the write end of a pipe with room',
        fd: x.w,
        events: E('OUT', 'WRNORM'),
        want: E('OUT', 'WRNORM'),
      },
      { what: 'POLLOUT on a write end whose reader is gone', fd: y.w, events: E('OUT'), want: E('OUT', 'ERR') },
      { what: 'POLLIN on an empty read end whose writer is gone', fd: z.r, events: E('IN'), want: E('HUP') },
    ];
    const ring = new SoloRing(s);
    const runs = cases.map((c) => {
      const sync = pollNow(s, c.fd, c.events);
      const async: ResultOf = ring.run({ opcode: 'POLL_ADD', fd: c.fd, poll32_events: c.events });
      return { c, sync, async };
    });
    const v = await target.run(p);
    checkSetup(v, checks);
    for (const r of runs) {
      expect(v.ret(r.sync.step), `${r.c.what}: poll(2) reports the fd ready`).to.equal(1);
      const revents = v.step(r.sync.dump).dump!.readUInt16LE(POLLFD_LAYOUT.fields.revents.offset);
      const got = r.async(v);
      expect(names(got), `${r.c.what}: the CQE res is the ready mask (man io_uring_prep_poll_add)`).to.equal(
        names(r.c.want),
      );
      expect(names(got), `${r.c.what}: the same mask as poll(2)'s revents`).to.equal(names(revents));
    }
  },
);

conformance(
  'uring.POLL_ADD on an empty pipe completes once, without IORING_CQE_F_MORE, when data arrives',
  { ops: ['uring.POLL_ADD'], rule: 'man io_uring_prep_poll_add' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const msg = p.data(Buffer.from('x'));
    const pipe = pipe2(s, O.CLOEXEC.value);
    const r = new QueueRing(s);
    const IN = POLL_EV.IN.value;
    const before = pollNow(s, pipe.r, IN);
    const e = r.queue([[1n, { opcode: 'POLL_ADD', fd: pipe.r, poll32_events: IN }]]);
    const armed = r.reap(0);
    const w1 = s.syscall(SYSCALLS.write, [arg.fd(pipe.w), arg.buf(msg), 1]);
    const fired = r.reap(1);
    const w2 = s.syscall(SYSCALLS.write, [arg.fd(pipe.w), arg.buf(msg), 1]);
    const after = r.reap(0);
    const v = await target.run(p);
    expect(v.ret(pipe.step), 'pipe2').to.equal(0);
    expect(v.ret(before.step), 'poll(2) of the empty pipe: nothing ready').to.equal(0);
    expect(v.ret(e), 'io_uring_enter consumes the SQE').to.equal(1);
    expect(v.step(armed).cqes, 'nothing ready: the poll stays armed').to.deep.equal([]);
    expect([v.ret(w1), v.ret(w2)], 'both writes land').to.deep.equal([1, 1]);
    const c = v.step(fired).cqes;
    expect(
      c.map((q) => [q.userData, names(q.res)]),
      'the write completes the poll with POLLIN',
    ).to.deep.equal([[1n, 'IN']]);
    expect(c[0].flags & CQE_F.MORE.value, 'one-shot: no IORING_CQE_F_MORE').to.equal(0);
    expect(v.step(after).cqes, 'a second write produces no second CQE: the poll is gone').to.deep.equal([]);
  },
);
