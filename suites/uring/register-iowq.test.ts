/**
 * The io-wq knobs of io_uring_register: IORING_REGISTER_IOWQ_MAX_WORKERS (5.15), which sets the bounded and
 * unbounded worker limits and hands back the previous ones (0 leaves a limit as it is: a query), and
 * IORING_REGISTER_IOWQ_AFF / UNREGISTER_IOWQ_AFF (5.14), the CPU mask of the workers. Man io_uring_register(2).
 */
import { expect } from 'chai';
import { errno, IOSQE, REGISTER, SYSCALLS } from '../../src/abi';
import { arg, ArgLike, Program, Sequence, StepRef } from '../../src/program/builder';
import type { TraceView } from '../../src/program/trace';
import type { RingHandle } from '../../src/program/uring';
import { iowqMaxWorkers, UringRunner } from '../../src/oracle/uring-files';
import { conformance, needSetupFlags } from '../../src/suite/conformance';

/** IORING_REGISTER_IOWQ_MAX_WORKERS with `{bounded, unbounded}`: the result and the pair written back. */
function maxWorkers(
  s: Sequence,
  h: RingHandle,
  bounded: number,
  unbounded: number,
  nrArgs = 2,
): (v: TraceView) => [number, number, number] {
  const m = iowqMaxWorkers(s, h, bounded, unbounded, nrArgs);
  return (v) => {
    const d = v.step(m.dump).dump!;
    return [v.ret(m.step), d.readUInt32LE(0), d.readUInt32LE(4)];
  };
}

function register(s: Sequence, h: RingHandle, op: 'IOWQ_AFF' | 'UNREGISTER_IOWQ_AFF', a: ArgLike, n: ArgLike): StepRef {
  return s.syscall(SYSCALLS.io_uring_register, [arg.ring(h.ring), REGISTER[op].value, a, n]);
}

conformance(
  'uring.register IOWQ_MAX_WORKERS sets the io-wq limits and returns the previous ones; 0 only queries',
  { ops: ['uring.register', 'uring.NOP'], rule: 'man 2 io_uring_register (IORING_REGISTER_IOWQ_MAX_WORKERS)' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const u = new UringRunner(s);
    const query = maxWorkers(s, u.h, 0, 0);
    const set = maxWorkers(s, u.h, 3, 7);
    const after = maxWorkers(s, u.h, 0, 0);
    const onlyBounded = maxWorkers(s, u.h, 2, 0);
    const last = maxWorkers(s, u.h, 0, 0);
    // the limits bound the workers; they do not refuse work: a punted request still completes
    const punted = u.res({ opcode: 'NOP', flags: IOSQE.ASYNC.value });
    const badNr = maxWorkers(s, u.h, 1, 1, 1);
    const tooBig = maxWorkers(s, u.h, 0x80000000, 1);
    const noArg = s.syscall(SYSCALLS.io_uring_register, [arg.ring(u.h.ring), REGISTER.IOWQ_MAX_WORKERS.value, 0, 2]);
    const v = await target.run(p);
    const [qr, qb, qu] = query(v);
    expect(qr, 'a query (0, 0)').to.equal(0);
    expect(qb, 'the bounded limit in force').to.be.greaterThan(0);
    expect(qu, 'the unbounded limit in force').to.be.greaterThan(0);
    expect(set(v), 'setting (3, 7) returns the limits it replaced').to.deep.equal([0, qb, qu]);
    expect(after(v), 'a query then returns (3, 7)').to.deep.equal([0, 3, 7]);
    expect(onlyBounded(v), 'setting (2, 0) changes the bounded limit alone').to.deep.equal([0, 3, 7]);
    expect(last(v), 'a query then returns (2, 7)').to.deep.equal([0, 2, 7]);
    expect(punted(v), 'an IOSQE_ASYNC NOP completes under the new limits').to.equal(0);
    expect(badNr(v)[0], 'nr_args 1 (it must be 2): -EINVAL').to.equal(-errno.EINVAL);
    expect(tooBig(v)[0], 'a limit above INT_MAX: -EINVAL').to.equal(-errno.EINVAL);
    expect(v.ret(noArg), 'a NULL argument: -EINVAL').to.equal(-errno.EINVAL);
  },
);

conformance(
  'uring.register IOWQ_AFF takes a CPU mask for the io-wq workers and UNREGISTER_IOWQ_AFF drops it',
  { ops: ['uring.register', 'uring.NOP'], rule: 'man 2 io_uring_register (IORING_REGISTER_IOWQ_AFF)' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    // the mask the executor may run on (sched_getaffinity returns its size in bytes): always acceptable
    const mask = p.buf(128);
    const size = p.buf(8);
    const got = s.syscall(SYSCALLS.sched_getaffinity, [0, 128, arg.buf(mask)], { store: size });
    const u = new UringRunner(s);
    const set = register(s, u.h, 'IOWQ_AFF', arg.buf(mask), arg.load32(size, 0));
    const punted = u.res({ opcode: 'NOP', flags: IOSQE.ASYNC.value });
    const unset = register(s, u.h, 'UNREGISTER_IOWQ_AFF', 0, 0);
    const after = u.res({ opcode: 'NOP', flags: IOSQE.ASYNC.value });
    const empty = register(s, u.h, 'IOWQ_AFF', arg.buf(mask), 0);
    const noArg = register(s, u.h, 'IOWQ_AFF', 0, 8);
    const bad = register(s, u.h, 'IOWQ_AFF', arg.bad(), 8);
    const unsetArg = register(s, u.h, 'UNREGISTER_IOWQ_AFF', arg.buf(mask), 8);
    const v = await target.run(p);
    expect(v.ret(got), 'sched_getaffinity').to.be.greaterThan(0);
    expect(v.ret(set), "IORING_REGISTER_IOWQ_AFF with the executor's own mask").to.equal(0);
    expect(punted(v), 'an IOSQE_ASYNC NOP completes on the masked workers').to.equal(0);
    expect(v.ret(unset), 'IORING_UNREGISTER_IOWQ_AFF').to.equal(0);
    expect(after(v), 'and after it').to.equal(0);
    expect(v.ret(empty), 'a mask of 0 bytes: -EINVAL').to.equal(-errno.EINVAL);
    expect(v.ret(noArg), 'a NULL mask: -EINVAL').to.equal(-errno.EINVAL);
    expect(v.ret(bad), 'a mask the kernel cannot read: -EFAULT').to.equal(-errno.EFAULT);
    expect(v.ret(unsetArg), 'UNREGISTER_IOWQ_AFF with an argument: -EINVAL').to.equal(-errno.EINVAL);
  },
);

conformance(
  "uring.register IOWQ_MAX_WORKERS and IOWQ_AFF on an SQPOLL ring apply to the SQ thread's io-wq",
  { ops: ['uring.register', 'uring.NOP'], rule: 'man 2 io_uring_register (IORING_REGISTER_IOWQ_MAX_WORKERS, SQPOLL)' },
  async (ctx) => {
    // on an SQPOLL ring the SQ thread issues the requests, so its io-wq is the one the limits and mask reach
    const flags = needSetupFlags(ctx, 'SQPOLL');
    const p = new Program();
    const s = p.main;
    const u = new UringRunner(s, { flags, sqThreadIdle: 1000 });
    const query = maxWorkers(s, u.h, 0, 0);
    const set = maxWorkers(s, u.h, 3, 7);
    const after = maxWorkers(s, u.h, 0, 0);
    const punted = u.res({ opcode: 'NOP', flags: IOSQE.ASYNC.value });
    const mask = p.buf(128);
    const size = p.buf(8);
    const got = s.syscall(SYSCALLS.sched_getaffinity, [0, 128, arg.buf(mask)], { store: size });
    const aff = register(s, u.h, 'IOWQ_AFF', arg.buf(mask), arg.load32(size, 0));
    const unaff = register(s, u.h, 'UNREGISTER_IOWQ_AFF', 0, 0);
    const v = await ctx.target.run(p);
    const [qr, qb, qu] = query(v);
    expect(qr, 'a query (0, 0) on the SQPOLL ring').to.equal(0);
    expect(set(v), 'setting (3, 7) returns the limits it replaced').to.deep.equal([0, qb, qu]);
    expect(after(v), 'a query then returns (3, 7)').to.deep.equal([0, 3, 7]);
    expect(punted(v), 'an IOSQE_ASYNC NOP issued by the SQ thread completes').to.equal(0);
    expect(v.ret(got), 'sched_getaffinity').to.be.greaterThan(0);
    expect(v.ret(aff), 'IORING_REGISTER_IOWQ_AFF on the SQPOLL ring').to.equal(0);
    expect(v.ret(unaff), 'IORING_UNREGISTER_IOWQ_AFF on the SQPOLL ring').to.equal(0);
  },
);
