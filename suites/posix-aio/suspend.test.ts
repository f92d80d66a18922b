/**
 * aio_suspend (POSIX.1-2017 aio_suspend; Open POSIX Test Suite aio_suspend assertions).
 *
 * Covered: 1, 6, 8 (returns 0 once one request of the list is done; aio_error tells which); 2 (a list
 * holding a completed request returns at once); 3 (NULL entries ignored); 4, 7, 9 (a timeout that
 * expires: -1 with EAGAIN); 10 (-1 with EINTR when a signal interrupts it: the executor's deadline
 * signal, sent by a forked child, whose handler has no SA_RESTART).
 * Skipped: 5 (that the interval is measured on CLOCK_MONOTONIC needs a jump of CLOCK_REALTIME mid-wait:
 * not on a shared host).
 */
import { expect } from 'chai';
import { errno, SYSCALLS } from '../../src/abi';
import { arg, Program, Sequence } from '../../src/program/builder';
import type { Fd } from '../../src/program/builder';
import { aiocbList, aioError, aioRead, aioReturn, aioSuspend, patternFile, placeAiocb } from '../../src/program/posix-aio';
import { pipe2 } from '../../src/program/sys';
import { DEADLINE_SIGNAL } from '../../src/program/wire';
import { conformance } from '../../src/suite/conformance';

function feed(s: Sequence, w: Fd, n: number) {
  return s.syscall(SYSCALLS.write, [arg.fd(w), arg.buf(s.program.buf(n)), n]);
}

const ms = (v: { t0Ns: bigint; t1Ns: bigint }) => Number(v.t1Ns - v.t0Ns) / 1e6;

conformance(
  'posix.aio_suspend returns when one request of the list is done, skipping NULL entries',
  { ops: ['posix.aio_suspend', 'posix.aio_read'], rule: 'POSIX aio_suspend; OPTS aio_suspend 1, 2, 3, 6, 8' },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    const { r, w } = pipe2(s);
    const f = patternFile(s, scratch, 'f', 4096, 0x5e);
    const stuck = placeAiocb(s, { fd: r, buf: arg.buf(p.buf(8)), nbytes: 8 });
    const quick = placeAiocb(s, { fd: f.fd, buf: arg.buf(p.buf(4096)), nbytes: 4096 });
    aioRead(s, stuck);
    aioRead(s, quick);
    const list = aiocbList(s, [null, stuck, null, quick, null]);
    const first = aioSuspend(s, list, 5, 10e9);
    const stuckErr = aioError(s, stuck);
    const quickErr = aioError(s, quick);
    const again = aioSuspend(s, list, 5, 10e9);
    const quickRet = aioReturn(s, quick);
    feed(s, w, 8);
    const last = aioSuspend(s, aiocbList(s, [stuck]), 1, 5e9);
    const stuckRet = aioReturn(s, stuck);
    const v = await target.run(p);
    expect(v.ret(first), 'returns 0 once one is done; NULLs ignored (OPTS aio_suspend 1, 3, 6)').to.equal(0);
    expect(v.ret(stuckErr), 'the pipe read is still in progress (OPTS aio_suspend 8)').to.equal(errno.EINPROGRESS);
    expect(v.ret(quickErr), 'the file read is the one done (OPTS aio_suspend 8)').to.equal(0);
    expect(v.ret(again), 'a list with a completed request returns 0 (OPTS aio_suspend 2)').to.equal(0);
    expect(ms(v.step(again)), 'without waiting for its 10 s timeout (OPTS aio_suspend 2)').to.be.below(5000);
    expect(v.ret(quickRet), 'aio_return of the file read').to.equal(4096);
    expect(v.ret(last), 'the pipe read completes once fed').to.equal(0);
    expect(v.ret(stuckRet), 'with its 8 bytes').to.equal(8);
  },
);

conformance(
  'posix.aio_suspend whose timeout expires fails with EAGAIN',
  { ops: ['posix.aio_suspend', 'posix.aio_read'], rule: 'POSIX aio_suspend; OPTS aio_suspend 4, 7, 9' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const { r, w } = pipe2(s);
    const stuck = placeAiocb(s, { fd: r, buf: arg.buf(p.buf(8)), nbytes: 8 });
    aioRead(s, stuck);
    const list = aiocbList(s, [stuck]);
    const timed = aioSuspend(s, list, 1, 100e6);
    const err = aioError(s, stuck);
    feed(s, w, 8);
    const last = aioSuspend(s, list, 1, 5e9);
    const ret = aioReturn(s, stuck);
    const v = await target.run(p);
    const t = v.step(timed);
    expect([t.ret, t.errno], 'aio_suspend returns -1 with EAGAIN (OPTS aio_suspend 4, 7, 9)').to.deep.equal([-1n, errno.EAGAIN]);
    expect(ms(t), 'after the 100 ms timeout').to.be.at.least(99);
    expect(t.deadline, 'well before the program deadline').to.equal(false);
    expect(v.ret(err), 'the request is still in progress').to.equal(errno.EINPROGRESS);
    expect(v.ret(last), 'and completes once the pipe is fed').to.equal(0);
    expect(v.ret(ret), 'with its 8 bytes').to.equal(8);
  },
);

conformance(
  'posix.aio_suspend interrupted by a signal fails with EINTR',
  { ops: ['posix.aio_suspend', 'posix.aio_read'], rule: 'POSIX aio_suspend; OPTS aio_suspend 1, 10' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const { r, w } = pipe2(s);
    const self = p.pid();
    s.syscall(SYSCALLS.getpid, [], { pid: self });
    const stuck = placeAiocb(s, { fd: r, buf: arg.buf(p.buf(8)), nbytes: 8 });
    aioRead(s, stuck);
    const child = p.seq();
    child.sleep(200);
    child.syscall(SYSCALLS.kill, [arg.pid(self), DEADLINE_SIGNAL]);
    const kid = p.pid();
    s.fork(child, kid);
    const list = aiocbList(s, [stuck]);
    const waited = aioSuspend(s, list, 1, null);
    const reaped = s.wait(kid, 5000);
    feed(s, w, 8);
    const last = aioSuspend(s, list, 1, 5e9);
    const ret = aioReturn(s, stuck);
    const v = await target.run(p);
    const t = v.step(waited);
    expect([t.ret, t.errno], 'aio_suspend returns -1 with EINTR (OPTS aio_suspend 10)').to.deep.equal([-1n, errno.EINTR]);
    expect(t.deadline, 'the signal, not the program deadline, ended it').to.equal(false);
    expect(v.step(reaped).ret2, 'the child that sent it exited 0').to.equal(0n);
    expect(v.ret(last), 'the request was not disturbed: it completes once fed').to.equal(0);
    expect(v.ret(ret), 'with its 8 bytes').to.equal(8);
  },
);
