/**
 * IORING_OP_EPOLL_WAIT against epoll_wait(2): ready events at once, a pending wait completed by readiness
 * (man io_uring_prep_epoll_wait).
 */
import { expect } from 'chai';
import { arg, Program, StepRef } from '../../src/program/builder';
import { EPOLL_CREATE, EPOLL_CTL, EPOLL_EV, O, SYSCALLS } from '../../src/abi';
import { pipe2 } from '../../src/program/sys';
import {
  checkSetup,
  EPOLL_EVENT_SIZE,
  epollEvent,
  QueueRing,
  readyList,
  showResult,
} from '../../src/oracle/uring-paths';
import { conformance } from '../../src/suite/conformance';

conformance(
  'uring.EPOLL_WAIT returns ready events like epoll_wait(2) and waits for readiness when none is ready',
  { ops: ['uring.EPOLL_WAIT'], rule: 'man io_uring_prep_epoll_wait' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const checks: { what: string; step: StepRef }[] = [];
    const msg = p.data(Buffer.from('x'));
    const ep = p.fd();
    checks.push({
      what: 'epoll_create1',
      step: s.syscall(SYSCALLS.epoll_create1, [EPOLL_CREATE.CLOEXEC.value], { fd: ep }),
    });
    const a = pipe2(s, O.CLOEXEC.value | O.NONBLOCK.value);
    const b = pipe2(s, O.CLOEXEC.value | O.NONBLOCK.value);
    checks.push({ what: 'pipe a', step: a.step }, { what: 'pipe b', step: b.step });
    const IN = EPOLL_EV.IN.value;
    for (const [pipe, data] of [
      [a, 0xa1n],
      [b, 0xb1n],
    ] as const)
      checks.push({
        what: `EPOLL_CTL_ADD 0x${data.toString(16)}`,
        step: s.syscall(SYSCALLS.epoll_ctl, [
          arg.fd(ep),
          EPOLL_CTL.ADD.value,
          arg.fd(pipe.r),
          arg.buf(epollEvent(s, IN, data)),
        ]),
      });
    checks.push({ what: 'write to pipe a', step: s.syscall(SYSCALLS.write, [arg.fd(a.w), arg.buf(msg), 1]) });

    const r = new QueueRing(s);
    const evs = [1, 2, 3].map(() => p.buf(EPOLL_EVENT_SIZE * 8));
    // 1: pipe a is ready now
    const syncReady = readyList(s, ep);
    const e1 = r.queue([[1n, { opcode: 'EPOLL_WAIT', fd: ep, addr: arg.buf(evs[0]), len: 8 }]]);
    const first = r.reap(1);
    const d1 = s.dump(evs[0]);
    // 2: drained, nothing ready: the wait stays pending until pipe b becomes readable
    const drain = s.syscall(SYSCALLS.read, [arg.fd(a.r), arg.buf(p.buf(8)), 8]);
    const syncNone = readyList(s, ep);
    const e2 = r.queue([[2n, { opcode: 'EPOLL_WAIT', fd: ep, addr: arg.buf(evs[1]), len: 8 }]]);
    const pending = r.reap(0);
    checks.push({ what: 'write to pipe b', step: s.syscall(SYSCALLS.write, [arg.fd(b.w), arg.buf(msg), 1]) });
    const woken = r.reap(1);
    const d2 = s.dump(evs[1]);
    // 3: an fd that is not an epoll instance
    const syncNotEpoll = s.syscall(SYSCALLS.epoll_wait, [arg.fd(a.r), arg.buf(p.buf(EPOLL_EVENT_SIZE)), 1, 0]);
    const e3 = r.queue([[3n, { opcode: 'EPOLL_WAIT', fd: a.r, addr: arg.buf(evs[2]), len: 1 }]]);
    const last = r.reap(1);
    const v = await target.run(p);
    checkSetup(v, checks);
    expect(v.ret(drain), 'the byte in pipe a is read').to.equal(1);
    expect(
      [e1, e2, e3].map((e) => v.ret(e)),
      'io_uring_enter consumes every SQE',
    ).to.deep.equal([1, 1, 1]);
    const events = (d: StepRef, n: number) => {
      const buf = v.step(d).dump!;
      return Array.from({ length: Math.max(0, n) }, (_, i): [number, bigint] => [
        buf.readUInt32LE(12 * i),
        buf.readBigUInt64LE(12 * i + 4),
      ]);
    };
    const c1 = v.step(first).cqes;
    expect(
      c1.map((c) => [c.userData, c.res]),
      'one event ready: the CQE res is 1 (man io_uring_prep_epoll_wait)',
    ).to.deep.equal([[1n, 1]]);
    expect(events(d1, c1[0].res), 'EPOLLIN for pipe a, data 0xa1').to.deep.equal([[IN, 0xa1n]]);
    expect(events(d1, c1[0].res), 'the same events as epoll_wait(2)').to.deep.equal(syncReady(v));
    expect(syncNone(v), 'after the drain epoll_wait(2) sees nothing ready').to.deep.equal([]);
    expect(v.step(pending).cqes, 'with nothing ready EPOLL_WAIT stays pending').to.deep.equal([]);
    const c2 = v.step(woken).cqes;
    expect(
      c2.map((c) => [c.userData, c.res]),
      'pipe b becoming readable completes it with 1',
    ).to.deep.equal([[2n, 1]]);
    expect(events(d2, c2[0].res), 'EPOLLIN for pipe b, data 0xb1').to.deep.equal([[IN, 0xb1n]]);
    expect(
      v.step(last).cqes.map((c) => showResult(c.res)),
      'a pipe is not an epoll fd: -EINVAL',
    ).to.deep.equal(['-EINVAL']);
    expect(showResult(v.ret(syncNotEpoll)), 'epoll_wait(2) agrees: -EINVAL').to.equal('-EINVAL');
  },
);
