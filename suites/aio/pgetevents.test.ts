/**
 * io_pgetevents: the signal mask it installs for the wait, and its `struct __aio_sigset` argument
 * (SEMANTICS §1.1, §1.5).
 */
import { expect } from 'chai';
import { errno, KERNEL_SIGSET, SYSCALLS } from '../../src/abi';
import { aioPgetevents, aioSetup } from '../../src/program/aio';
import { arg, ArgLike, Program } from '../../src/program/builder';
import { DEADLINE_SIGNAL } from '../../src/program/wire';
import { conformance } from '../../src/suite/conformance';

/** `struct __aio_sigset { const sigset_t *sigmask; size_t sigsetsize; }` (no layout in src/abi yet). */
function aioSigset(p: Program, mask: bigint | null, sigsetsize: number = KERNEL_SIGSET.SIZE.value): ArgLike {
  const usig = p.buf(16);
  if (mask !== null) {
    const set = p.buf(8);
    p.main.bytes(set, 0, Buffer.from(new BigUint64Array([mask]).buffer));
    p.main.patch(usig, 0, 8, arg.buf(set));
  }
  p.main.patch(usig, 8, 8, sigsetsize);
  return arg.buf(usig);
}

/** The sigset bit of a signal. */
const bit = (sig: number): bigint => 1n << BigInt(sig - 1);

/**
 * A thread waits in io_pgetevents on an idle context for `timeoutMs` with the mask `usig`; another
 * sends it the executor's deadline signal (a no-op handler without SA_RESTART) part-way through.
 */
function signalledWait(usig: (p: Program) => ArgLike, timeoutMs: number) {
  const p = new Program({ deadlineMs: 10_000 });
  const tgid = p.pid();
  const tid = p.pid();
  const getpid = p.main.syscall(SYSCALLS.getpid, [], { pid: tgid });
  const { ctx, setup } = aioSetup(p.main, 4);
  const u = usig(p);
  const waiter = p.seq();
  waiter.syscall(SYSCALLS.gettid, [], { pid: tid });
  const wait = aioPgetevents(waiter, ctx, 1, 1, timeoutMs * 1e6, u);
  const sender = p.seq();
  sender.sleep(timeoutMs / 5);
  const kill = sender.syscall(SYSCALLS.tgkill, [arg.pid(tgid), arg.pid(tid), DEADLINE_SIGNAL]);
  const threads = p.main.threads([waiter, sender], 5 * timeoutMs);
  return { p, getpid, setup, wait, kill, threads };
}

const TIMEOUT_MS = 1000;

conformance(
  'aio.pgetevents with the signal blocked in its mask is not interrupted and returns at its timeout',
  { ops: ['aio.getevents'], rule: 'SEMANTICS §1.5' },
  async ({ target }) => {
    const t = signalledWait((p) => aioSigset(p, bit(DEADLINE_SIGNAL)), TIMEOUT_MS);
    const v = await target.run(t.p);
    expect(v.ret(t.getpid), 'getpid').to.be.above(0);
    expect(v.ret(t.setup), 'io_setup').to.equal(0);
    expect(v.ret(t.threads), 'both threads joined').to.equal(2);
    expect(v.ret(t.kill), 'tgkill of the waiting thread').to.equal(0);
    const w = v.step(t.wait);
    expect(w.deadline, 'the wait ended by itself').to.equal(false);
    expect(v.ret(t.wait), 'a blocked signal does not interrupt: the timeout ends the wait with 0 events').to.equal(0);
    expect(Number(w.t1Ns - w.t0Ns) / 1e6, 'it waited the whole timeout (SEMANTICS §1.5)').to.be.at.least(TIMEOUT_MS);
  },
);

conformance(
  'aio.pgetevents with the signal unblocked in its mask, or no mask, is interrupted with -EINTR',
  { ops: ['aio.getevents'], rule: 'SEMANTICS §1.5' },
  async ({ target }) => {
    for (const [what, usig] of [
      ['an empty mask', (p: Program) => aioSigset(p, 0n)],
      ['a NULL usig (the thread mask, which leaves the signal unblocked)', () => 0],
      ['a NULL sigmask in usig', (p: Program) => aioSigset(p, null)],
    ] as const) {
      const t = signalledWait(usig, TIMEOUT_MS);
      const v = await target.run(t.p);
      expect(v.ret(t.setup), 'io_setup').to.equal(0);
      expect(v.ret(t.threads), 'both threads joined').to.equal(2);
      expect(v.ret(t.kill), 'tgkill of the waiting thread').to.equal(0);
      const w = v.step(t.wait);
      expect(v.ret(t.wait), `${what}: the signal interrupts the wait with -EINTR (SEMANTICS §1.5)`).to.equal(
        -errno.EINTR,
      );
      expect(Number(w.t1Ns - w.t0Ns) / 1e6, `${what}: before the timeout`).to.be.below(TIMEOUT_MS);
    }
  },
);

// Measured on 6.18, 6.1 and 6.12: set_user_sigmask checks sigsetsize only when there is a mask.
conformance(
  'aio.pgetevents with a sigsetsize other than 8 is rejected with -EINVAL; an unreadable usig with -EFAULT',
  { ops: ['aio.getevents'], rule: 'SEMANTICS §1.5' },
  async ({ target }) => {
    const p = new Program();
    const { ctx, setup } = aioSetup(p.main, 4);
    const calls = [4, 16, 128].map((size) => ({
      what: `sigsetsize ${size}`,
      get: aioPgetevents(p.main, ctx, 0, 1, 0, aioSigset(p, 0n, size)),
      want: -errno.EINVAL,
    }));
    calls.push({
      what: 'sigsetsize 4 with a NULL sigmask (nothing to size)',
      get: aioPgetevents(p.main, ctx, 0, 1, 0, aioSigset(p, null, 4)),
      want: 0,
    });
    calls.push({ what: 'an unmapped usig', get: aioPgetevents(p.main, ctx, 0, 1, 0, arg.bad()), want: -errno.EFAULT });
    const v = await target.run(p);
    expect(v.ret(setup), 'io_setup').to.equal(0);
    for (const c of calls) expect(v.ret(c.get), `io_pgetevents with ${c.what} (SEMANTICS §1.5)`).to.equal(c.want);
  },
);

/** `__NR_io_pgetevents_time64` of asm-generic/unistd.h: the time64 variant only 32-bit ABIs have. */
const IO_PGETEVENTS_TIME64 = 416;

conformance(
  'aio.pgetevents has one time ABI on x86-64: the time64 number is not a system call here',
  { ops: ['aio.getevents'], rule: 'man 2 syscalls (io_pgetevents_time64, 32-bit ABIs only)' },
  async ({ target }) => {
    expect(Object.keys(SYSCALLS), 'the x86-64 table has io_pgetevents alone').to.include('io_pgetevents');
    expect(Object.keys(SYSCALLS)).not.to.include('io_pgetevents_time64');
    const p = new Program();
    const { ctx, setup } = aioSetup(p.main, 4);
    const time64 = p.main.syscall(IO_PGETEVENTS_TIME64, [arg.ctx(ctx), 0, 0, 0, 0, 0]);
    const v = await target.run(p);
    expect(v.ret(setup), 'io_setup').to.equal(0);
    // x86-64 reserves 403-423 for the other ABIs' time64 calls: its io_pgetevents already takes a 64-bit time
    expect(v.ret(time64), `syscall ${IO_PGETEVENTS_TIME64} on x86-64 is -ENOSYS`).to.equal(-errno.ENOSYS);
  },
);
