/**
 * IORING_OP_FUTEX_WAIT, FUTEX_WAKE and FUTEX_WAITV against futex(2) and futex_waitv(2): waits on words
 * in a buffer, -EAGAIN when the value differs, wake counts, and io_uring waiters woken by futex(2) (SEMANTICS §3.2).
 */
import { expect } from 'chai';
import { arg, Buf, Program, Sequence } from '../../src/program/builder';
import { FUTEX, FUTEX_OP, FUTEX2, FUTEX_WAITV_LAYOUT, SYSCALLS } from '../../src/abi';
import { encodeStruct, placeAll } from '../../src/program/struct';
import { SqeSpec } from '../../src/program/uring';
import { QueueRing, showResult } from '../../src/oracle/uring-paths';
import { conformance } from '../../src/suite/conformance';
import type { StepRef } from '../../src/program/builder';

/** futex2 flags of every io_uring futex op here: a private 32-bit word (man io_uring_prep_futex_wait). */
const F2 = FUTEX2.SIZE_U32.value | FUTEX2.PRIVATE.value;
const ANY = FUTEX.BITSET_MATCH_ANY.value;
const PRIV = FUTEX.PRIVATE_FLAG.value;

function futexWait(word: Buf, off: number, val: number): Omit<SqeSpec, 'user_data'> {
  return { opcode: 'FUTEX_WAIT', fd: F2, addr: arg.buf(word, off), off: val, addr3: ANY };
}
function futexWake(word: Buf, off: number, nr: number): Omit<SqeSpec, 'user_data'> {
  return { opcode: 'FUTEX_WAKE', fd: F2, addr: arg.buf(word, off), off: nr, addr3: ANY };
}
/** futex(2) on a private word: FUTEX_WAIT (no timeout) or FUTEX_WAKE. */
function futexSys(s: Sequence, op: 'WAIT' | 'WAKE', word: Buf, off: number, val: number): StepRef {
  return s.syscall(SYSCALLS.futex, [arg.buf(word, off), FUTEX_OP[op].value | PRIV, val, 0, 0, 0]);
}

conformance(
  'uring.FUTEX_WAIT is woken by FUTEX_WAKE or futex(2), is -EAGAIN on a differing value; wake counts like futex(2)',
  { ops: ['uring.FUTEX_WAIT', 'uring.FUTEX_WAKE'], rule: 'man io_uring_prep_futex_wait' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    // words: 0 (value 0) for the mismatch, 4 and 8 (value 0) to wait on
    const w = p.buf(16);
    const r = new QueueRing(s);
    const syncMismatch = futexSys(s, 'WAIT', w, 0, 1);
    const syncWakeNone = futexSys(s, 'WAKE', w, 4, 1);
    const syncUnaligned = futexSys(s, 'WAIT', w, 2, 0);
    const e1 = r.queue([
      [1n, futexWait(w, 0, 1)],
      [2n, futexWake(w, 4, 1)],
      [8n, futexWait(w, 2, 0)],
    ]);
    r.reap(3);
    // two waiters on word 4, one on word 8
    const e2 = r.queue([
      [3n, futexWait(w, 4, 0)],
      [4n, futexWait(w, 4, 0)],
      [5n, futexWait(w, 8, 0)],
    ]);
    const armed = r.reap(0);
    const syncWake = futexSys(s, 'WAKE', w, 4, 1);
    const afterSync = r.reap(1);
    const e3 = r.queue([[6n, futexWake(w, 4, 10)]]);
    const afterWake = r.reap(2);
    const e4 = r.queue([[7n, futexWake(w, 8, 1)]]);
    const last = r.reap(2);
    const v = await target.run(p);
    expect(v.ret(r.h.setup), 'io_uring_setup').to.be.at.least(0);
    expect(
      [e1, e2, e3, e4].map((e) => v.ret(e)),
      'io_uring_enter consumes every SQE',
    ).to.deep.equal([3, 3, 1, 1]);
    const res = r.results(v);
    const one = (ud: bigint) => (res.get(ud) ?? []).map(showResult);
    expect(one(1n), 'FUTEX_WAIT for value 1 on a word holding 0: -EAGAIN (man 2 futex)').to.deep.equal(['-EAGAIN']);
    expect(showResult(v.ret(syncMismatch)), 'futex(2) FUTEX_WAIT agrees: -EAGAIN').to.equal('-EAGAIN');
    expect(one(2n), 'FUTEX_WAKE with no waiter wakes 0').to.deep.equal(['0']);
    expect(v.ret(syncWakeNone), 'futex(2) FUTEX_WAKE agrees: 0').to.equal(0);
    expect(one(8n), 'FUTEX_WAIT on a word not 4-byte aligned: -EINVAL').to.deep.equal(['-EINVAL']);
    expect(showResult(v.ret(syncUnaligned)), 'futex(2) agrees: -EINVAL').to.equal('-EINVAL');
    expect(v.step(armed).cqes, 'armed waits on matching words do not complete by themselves').to.deep.equal([]);
    expect(v.ret(syncWake), 'futex(2) FUTEX_WAKE of 1 wakes one io_uring waiter: returns 1').to.equal(1);
    const bySync = v.step(afterSync).cqes;
    expect(
      bySync.map((c) => c.res),
      'that waiter completes with 0',
    ).to.deep.equal([0]);
    const other = bySync[0]?.userData === 3n ? 4n : 3n;
    expect(
      v.step(afterWake).cqes.map((c) => [c.userData, c.res]),
      'FUTEX_WAKE of up to 10 on word 4 wakes the one waiter left there (res 1), which completes with 0',
    ).to.have.deep.members([
      [other, 0],
      [6n, 1],
    ]);
    expect(
      v.step(last).cqes.map((c) => [c.userData, c.res]),
      'FUTEX_WAKE on word 8 wakes its waiter: res 1, the waiter 0',
    ).to.have.deep.members([
      [5n, 0],
      [7n, 1],
    ]);
    expect(
      [...res.values()].every((x) => x.length === 1),
      'each request completes once',
    ).to.equal(true);
  },
);

/** A futex_waitv array over words of `w`: [offset, expected value] per entry. */
function waitv(s: Sequence, w: Buf, entries: [number, number][]): Buf {
  const b = s.program.buf(FUTEX_WAITV_LAYOUT.size * entries.length);
  placeAll(
    s,
    b,
    0,
    entries.map(([off, val]) => encodeStruct(FUTEX_WAITV_LAYOUT, { val, uaddr: arg.buf(w, off), flags: F2 })),
  );
  return b;
}

conformance(
  'uring.FUTEX_WAITV completes with the index of the woken futex; -EAGAIN on a differing value like futex_waitv(2)',
  { ops: ['uring.FUTEX_WAITV', 'uring.FUTEX_WAKE'], rule: 'man io_uring_prep_futex_waitv' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const w = p.buf(16);
    const r = new QueueRing(s);
    const bad = waitv(s, w, [
      [0, 0],
      [4, 9],
    ]);
    const syncMismatch = s.syscall(SYSCALLS.futex_waitv, [arg.buf(bad), 2, 0, 0, 0]);
    const e1 = r.queue([[1n, { opcode: 'FUTEX_WAITV', addr: arg.buf(bad), len: 2 }]]);
    const first = r.reap(1);
    const good = waitv(s, w, [
      [0, 0],
      [4, 0],
    ]);
    const e2 = r.queue([
      [2n, { opcode: 'FUTEX_WAITV', addr: arg.buf(good), len: 2 }],
      [3n, { opcode: 'FUTEX_WAITV', addr: arg.buf(good), len: 2 }],
    ]);
    const armed = r.reap(0);
    // futex(2) wakes one waiter through the second word, FUTEX_WAKE the other through the first
    const syncWake = futexSys(s, 'WAKE', w, 4, 1);
    const afterSync = r.reap(1);
    const e3 = r.queue([[4n, futexWake(w, 0, 1)]]);
    const afterWake = r.reap(2);
    const v = await target.run(p);
    expect(v.ret(r.h.setup), 'io_uring_setup').to.be.at.least(0);
    expect(
      [e1, e2, e3].map((e) => v.ret(e)),
      'io_uring_enter consumes every SQE',
    ).to.deep.equal([1, 2, 1]);
    expect(
      v.step(first).cqes.map((c) => showResult(c.res)),
      'a differing value in entry 1: -EAGAIN (man 2 futex_waitv)',
    ).to.deep.equal(['-EAGAIN']);
    expect(showResult(v.ret(syncMismatch)), 'futex_waitv(2) agrees: -EAGAIN').to.equal('-EAGAIN');
    expect(v.step(armed).cqes, 'armed waits do not complete by themselves').to.deep.equal([]);
    expect(v.ret(syncWake), 'futex(2) FUTEX_WAKE on word 4 wakes one waiter').to.equal(1);
    const bySync = v.step(afterSync).cqes;
    expect(
      bySync.map((c) => c.res),
      'woken through entry 1: res 1, the index (man io_uring_prep_futex_waitv)',
    ).to.deep.equal([1]);
    const other = bySync[0]?.userData === 2n ? 3n : 2n;
    expect(
      v.step(afterWake).cqes.map((c) => [c.userData, c.res]),
      'FUTEX_WAKE on word 0 wakes the other waiter (res 1); it completes with index 0',
    ).to.have.deep.members([
      [other, 0],
      [4n, 1],
    ]);
  },
);
