/**
 * IORING_OP_POLL_REMOVE as an update (5.13): with IORING_POLL_UPDATE_EVENTS and/or
 * IORING_POLL_UPDATE_USER_DATA in `len` it changes an armed poll in place — its mask from
 * `poll32_events`, its user_data from `off` — instead of cancelling it. Man io_uring_prep_poll_update(3);
 * SEMANTICS §3.9.
 */
import { expect } from 'chai';
import { arg, Program } from '../../src/program/builder';
import { entriesOf, errno, O, POLL, POLL_EV, SYSCALLS } from '../../src/abi';
import { pipe2 } from '../../src/program/sys';
import { QueueRing, showResult } from '../../src/oracle/uring-paths';
import { conformance } from '../../src/suite/conformance';

const IN = POLL_EV.IN.value;
const OUT = POLL_EV.OUT.value;
/** The lowest POLL_REMOVE flag bit above every IORING_POLL_* this project knows. */
const UNDEFINED_POLL = 2 * Math.max(...entriesOf(POLL).map((f) => f.value));

const update = (old: bigint, flags: number, fields: { off?: bigint; poll32_events?: number } = {}) => ({
  opcode: 'POLL_REMOVE' as const,
  fd: -1,
  addr: old,
  len: flags,
  ...fields,
});

conformance(
  'uring.POLL_REMOVE with IORING_POLL_UPDATE_EVENTS|UPDATE_USER_DATA re-arms a poll with a new mask: it fires under the new user_data',
  { ops: ['uring.POLL_ADD', 'uring.POLL_REMOVE'], rule: 'man io_uring_prep_poll_update(3); SEMANTICS §3.9' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const { w } = pipe2(s, O.CLOEXEC.value);
    const r = new QueueRing(s);
    // POLLIN on a pipe's write end never fires; POLLOUT on it fires at once (the pipe is empty)
    const e1 = r.queue([[1n, { opcode: 'POLL_ADD', fd: w, poll32_events: IN }]]);
    const idle = r.reap(0);
    const both = POLL.UPDATE_EVENTS.value | POLL.UPDATE_USER_DATA.value;
    const e2 = r.queue([[11n, update(1n, both, { off: 2n, poll32_events: OUT })]]);
    const after = r.reap(2);
    const late = r.reap(0);
    const v = await target.run(p);
    expect([v.ret(e1), v.ret(e2)], 'io_uring_enter consumes each SQE').to.deep.equal([1, 1]);
    expect(v.step(idle).cqes, 'POLLIN on the write end: nothing yet').to.deep.equal([]);
    const cq = (st: typeof idle) => v.step(st).cqes.map((c) => [c.userData, showResult(c.res)]);
    expect(
      cq(after),
      'the update completes with 0, the poll fires with POLLOUT under user_data 2',
    ).to.have.deep.members([
      [11n, '0'],
      [2n, showResult(OUT)],
    ]);
    expect(cq(late), 'no CQE under the old user_data, none twice').to.deep.equal([]);
  },
);

conformance(
  'uring.POLL_REMOVE with IORING_POLL_UPDATE_USER_DATA only keeps the poll armed with its mask; the old user_data is then unknown (-ENOENT)',
  { ops: ['uring.POLL_ADD', 'uring.POLL_REMOVE'], rule: 'man io_uring_prep_poll_update(3); SEMANTICS §3.9' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const pp = pipe2(s, O.CLOEXEC.value);
    const r = new QueueRing(s);
    r.queue([[1n, { opcode: 'POLL_ADD', fd: pp.r, poll32_events: IN }]]);
    r.queue([[11n, update(1n, POLL.UPDATE_USER_DATA.value, { off: 2n })]]);
    const updated = r.reap(1);
    r.queue([
      [12n, update(1n, POLL.UPDATE_USER_DATA.value, { off: 3n })],
      [13n, update(2n, UNDEFINED_POLL | POLL.UPDATE_USER_DATA.value, { off: 4n })],
    ]);
    const refused = r.reap(2);
    const stillArmed = r.reap(0);
    const wrote = s.syscall(SYSCALLS.write, [arg.fd(pp.w), arg.buf(p.data(Buffer.from('x'))), 1]);
    const fired = r.reap(1);
    const v = await target.run(p);
    const cq = (st: typeof fired) => v.step(st).cqes.map((c) => [c.userData, showResult(c.res)]);
    expect(cq(updated), 'the update completes with 0 and the poll does not fire').to.deep.equal([[11n, '0']]);
    expect(cq(refused), 'updating the old user_data: -ENOENT; an undefined flag bit: -EINVAL').to.have.deep.members([
      [12n, showResult(-errno.ENOENT)],
      [13n, showResult(-errno.EINVAL)],
    ]);
    expect(cq(stillArmed), 'the poll is still armed: no CQE').to.deep.equal([]);
    expect(v.ret(wrote), 'the write').to.equal(1);
    expect(cq(fired), 'data arrives: the poll fires with its old mask, under the new user_data').to.deep.equal([
      [2n, showResult(IN)],
    ]);
  },
);
