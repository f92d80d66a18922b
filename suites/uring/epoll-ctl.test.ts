/** IORING_OP_EPOLL_CTL against epoll_ctl(2): add, mod, del, their errors, and readiness afterwards (SEMANTICS §3.2). */
import { expect } from 'chai';
import * as path from 'path';
import { arg, Fd, Program, StepRef } from '../../src/program/builder';
import { EPOLL_CREATE, EPOLL_CTL, EPOLL_EV, errno, O, SYSCALLS } from '../../src/abi';
import { pipe2 } from '../../src/program/sys';
import { checkSetup, epollEvent, readyList, showResult, SoloRing, str } from '../../src/oracle/uring-paths';
import type { ResultOf } from '../../src/oracle/differential';
import { conformance } from '../../src/suite/conformance';

conformance(
  'uring.EPOLL_CTL adds, modifies and deletes like epoll_ctl(2), EEXIST and ENOENT included',
  { ops: ['uring.EPOLL_CTL'], rule: 'man 2 epoll_ctl' },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    const checks: { what: string; step: StepRef }[] = [];
    const msg = p.data(Buffer.from('x'));
    const sides = (['sync', 'async'] as const).map((name) => {
      const ep = p.fd();
      checks.push({
        what: `epoll_create1 (${name})`,
        step: s.syscall(SYSCALLS.epoll_create1, [EPOLL_CREATE.CLOEXEC.value], { fd: ep }),
      });
      const a = pipe2(s, O.CLOEXEC.value);
      const b = pipe2(s, O.CLOEXEC.value);
      checks.push({ what: `pipes (${name})`, step: a.step }, { what: `pipes (${name})`, step: b.step });
      // pipe a is readable, pipe b empty
      checks.push({
        what: `write to pipe a (${name})`,
        step: s.syscall(SYSCALLS.write, [arg.fd(a.w), arg.buf(msg), 1]),
      });
      const file = p.fd();
      const flags = O.RDWR.value | O.CREAT.value | O.CLOEXEC.value;
      checks.push({
        what: `create a regular file (${name})`,
        step: s.syscall(SYSCALLS.openat, [-100, str(p, path.posix.join(scratch, name)), flags, 0o600], { fd: file }),
      });
      return { ep, a, b, file };
    });
    type Side = (typeof sides)[0];
    const { ADD, MOD, DEL } = { ADD: EPOLL_CTL.ADD.value, MOD: EPOLL_CTL.MOD.value, DEL: EPOLL_CTL.DEL.value };
    const IN = EPOLL_EV.IN.value;
    const OUT = EPOLL_EV.OUT.value;
    const cases: {
      what: string;
      want: number;
      op: number;
      fd: (x: Side) => Fd | number;
      events: number;
      data: bigint;
      ev?: 'bad';
    }[] = [
      { what: 'ADD the readable pipe a', want: 0, op: ADD, fd: (x) => x.a.r, events: IN, data: 0x11n },
      { what: 'ADD pipe a again', want: -errno.EEXIST, op: ADD, fd: (x) => x.a.r, events: IN, data: 0x12n },
      { what: 'ADD the write end of b for EPOLLOUT', want: 0, op: ADD, fd: (x) => x.b.w, events: OUT, data: 0x22n },
      { what: 'MOD the write end of b to EPOLLIN', want: 0, op: MOD, fd: (x) => x.b.w, events: IN, data: 0x23n },
      {
        what: 'MOD of the read end of b, never added',
        want: -errno.ENOENT,
        op: MOD,
        fd: (x) => x.b.r,
        events: IN,
        data: 0x33n,
      },
      {
        what: 'DEL of the read end of b, never added',
        want: -errno.ENOENT,
        op: DEL,
        fd: (x) => x.b.r,
        events: 0,
        data: 0n,
      },
      { what: 'ADD the read end of b', want: 0, op: ADD, fd: (x) => x.b.r, events: IN, data: 0x34n },
      { what: 'DEL the read end of b', want: 0, op: DEL, fd: (x) => x.b.r, events: 0, data: 0n },
      { what: 'ADD the epoll fd to itself', want: -errno.EINVAL, op: ADD, fd: (x) => x.ep, events: IN, data: 0x44n },
      { what: 'ADD a regular file', want: -errno.EPERM, op: ADD, fd: (x) => x.file, events: IN, data: 0x55n },
      { what: 'ADD fd -1', want: -errno.EBADF, op: ADD, fd: () => -1, events: IN, data: 0x66n },
      { what: 'undefined op 0', want: -errno.EINVAL, op: 0, fd: (x) => x.b.r, events: IN, data: 0x77n },
      {
        what: 'ADD with the event at an unmapped address',
        want: -errno.EFAULT,
        op: ADD,
        fd: (x) => x.b.r,
        events: IN,
        data: 0n,
        ev: 'bad',
      },
    ];
    const ring = new SoloRing(s);
    const fdArg = (f: Fd | number) => (typeof f === 'number' ? f : arg.fd(f));
    const runs = cases.map((c) => {
      const ev = () => (c.ev === 'bad' ? arg.bad() : arg.buf(epollEvent(s, c.events, c.data)));
      const [x, y] = sides;
      const sync = s.syscall(SYSCALLS.epoll_ctl, [arg.fd(x.ep), c.op, fdArg(c.fd(x)), ev()]);
      const async: ResultOf = ring.run({
        opcode: 'EPOLL_CTL',
        fd: y.ep,
        addr: ev(),
        len: c.op,
        off: fdArg(c.fd(y)),
      });
      return { c, sync, async };
    });
    const ready = sides.map((x) => readyList(s, x.ep));
    const v = await target.run(p);
    checkSetup(v, checks);
    for (const r of runs) {
      const got = r.async(v);
      expect(showResult(got), `${r.c.what}: the CQE result (man 2 epoll_ctl)`).to.equal(showResult(r.c.want));
      expect(showResult(got), `${r.c.what}: same result as epoll_ctl(2)`).to.equal(showResult(v.ret(r.sync)));
    }
    const [sync, async] = ready.map((f) => f(v));
    expect(async, 'epoll_wait(2) afterwards: pipe a ready for EPOLLIN with data 0x11; nothing else').to.deep.equal([
      [IN, 0x11n],
    ]);
    expect(async, 'the same readiness as the epoll set built by epoll_ctl(2)').to.deep.equal(sync);
  },
);
