/** IORING_OP_POLL_REMOVE: an armed poll ends -ECANCELED, the remove succeeds; unknown ones -ENOENT (SEMANTICS §3.9) */
import { expect } from 'chai';
import { arg, Program } from '../../src/program/builder';
import { errno, O, POLL_EV, SYSCALLS } from '../../src/abi';
import { pipe2 } from '../../src/program/sys';
import { QueueRing, showResult } from '../../src/oracle/uring-paths';
import { conformance } from '../../src/suite/conformance';

conformance(
  'uring.POLL_REMOVE of an armed poll completes with 0 and the poll with -ECANCELED; of an unknown one with -ENOENT',
  { ops: ['uring.POLL_ADD', 'uring.POLL_REMOVE'], rule: 'SEMANTICS §3.9' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const msg = p.data(Buffer.from('x'));
    const empty = pipe2(s, O.CLOEXEC.value);
    const ready = pipe2(s, O.CLOEXEC.value);
    const wrote = s.syscall(SYSCALLS.write, [arg.fd(ready.w), arg.buf(msg), 1]);
    const r = new QueueRing(s);
    const IN = POLL_EV.IN.value;
    const remove = (ud: bigint) => ({ opcode: 'POLL_REMOVE' as const, fd: -1, addr: ud });
    // 1 waits on the empty pipe, 2 fires at once on the ready one
    const e1 = r.queue([
      [1n, { opcode: 'POLL_ADD', fd: empty.r, poll32_events: IN }],
      [2n, { opcode: 'POLL_ADD', fd: ready.r, poll32_events: IN }],
    ]);
    const fired = r.reap(1);
    const e2 = r.queue([[11n, remove(1n)]]);
    const removed = r.reap(2);
    const e3 = r.queue([
      [12n, remove(1n)],
      [13n, remove(2n)],
      [14n, remove(0xdead_beefn)],
    ]);
    const rest = r.reap(3);
    const v = await target.run(p);
    expect([v.ret(empty.step), v.ret(ready.step), v.ret(wrote)], 'pipes and the write').to.deep.equal([0, 0, 1]);
    expect(
      [e1, e2, e3].map((e) => v.ret(e)),
      'io_uring_enter consumes every SQE',
    ).to.deep.equal([2, 1, 3]);
    const cq = (st: typeof fired) => v.step(st).cqes.map((c) => [c.userData, showResult(c.res)]);
    expect(cq(fired), 'the poll on the ready pipe completes at once with POLLIN').to.deep.equal([[2n, showResult(IN)]]);
    expect(cq(removed), 'the armed poll ends with -ECANCELED, the remove with 0 (SEMANTICS §3.9)').to.have.deep.members(
      [
        [1n, showResult(-errno.ECANCELED)],
        [11n, '0'],
      ],
    );
    expect(
      cq(rest),
      'removing the removed poll, the finished poll or an unknown user_data: -ENOENT (SEMANTICS §3.9)',
    ).to.have.deep.members([
      [12n, showResult(-errno.ENOENT)],
      [13n, showResult(-errno.ENOENT)],
      [14n, showResult(-errno.ENOENT)],
    ]);
  },
);
