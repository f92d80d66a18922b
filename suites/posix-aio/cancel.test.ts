/**
 * aio_cancel (POSIX.1-2017 aio_cancel; Open POSIX Test Suite aio_cancel assertions).
 *
 * glibc runs one request per fd at a time: a read on an empty pipe is in progress (blocked in a helper
 * thread) and a second read on that pipe is queued behind it. That gives each answer on demand.
 * Covered: 1, 6 (AIO_CANCELED for the queued one); 3 (a cancelled request is notified); 4 (ECANCELED, -1);
 * 5, 7 (AIO_NOTCANCELED for the one in progress, which is left alone); 2 (aiocb NULL cancels what it can
 * on the fd); 8 (AIO_ALLDONE); 9, 10 (-1 with EBADF for a bad fd). aio_read 13, aio_write 12 and
 * lio_listio 22 (ECANCELED as the error status) come with 4.
 */
import { expect } from 'chai';
import { AIO_CANCEL, errno, POSIX_AIO_SIGNAL, SYSCALLS } from '../../src/abi';
import { arg, Program, Sequence } from '../../src/program/builder';
import type { Fd } from '../../src/program/builder';
import {
  aiocbList,
  aioCancel,
  aioError,
  aioRead,
  aioReturn,
  aioSuspend,
  counter,
  countWait,
  counterValue,
  placeAiocb,
  readCounter,
} from '../../src/program/posix-aio';
import { pipe2 } from '../../src/program/sys';
import { conformance } from '../../src/suite/conformance';

/** Write `n` bytes into a pipe, to let blocked reads finish. */
function feed(s: Sequence, w: Fd, n: number) {
  return s.syscall(SYSCALLS.write, [arg.fd(w), arg.buf(s.program.buf(n)), n]);
}

conformance(
  'posix.aio_cancel cancels a queued read (AIO_CANCELED, ECANCELED, notified) but not one in progress (AIO_NOTCANCELED)',
  { ops: ['posix.aio_cancel', 'posix.aio_read'], rule: 'POSIX aio_cancel; OPTS aio_cancel 1, 3, 4, 5, 6, 7; aio_read 13' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const { r, w } = pipe2(s);
    s.sigCount(POSIX_AIO_SIGNAL);
    const c1 = counter(s);
    const c2 = counter(s);
    const first = placeAiocb(s, { fd: r, buf: arg.buf(p.buf(8)), nbytes: 8, notify: { kind: 'signal', signo: POSIX_AIO_SIGNAL, value: arg.buf(c1) } });
    const second = placeAiocb(s, { fd: r, buf: arg.buf(p.buf(8)), nbytes: 8, notify: { kind: 'signal', signo: POSIX_AIO_SIGNAL, value: arg.buf(c2) } });
    aioRead(s, first);
    aioRead(s, second);
    s.sleep(20);
    const queued = aioCancel(s, r, second);
    const queuedErr = aioError(s, second);
    const queuedRet = aioReturn(s, second);
    const notified = countWait(s, c2, 1);
    const running = aioCancel(s, r, first);
    const runningErr = aioError(s, first);
    feed(s, w, 8);
    // its notification says it is done (aio_suspend could be cut short by that very signal: EINTR)
    const wait = countWait(s, c1, 1);
    const firstErr = aioError(s, first);
    const firstRet = aioReturn(s, first);
    s.sleep(50);
    const n1 = readCounter(s, c1);
    const n2 = readCounter(s, c2);
    const v = await target.run(p);
    expect(v.ret(queued), 'AIO_CANCELED for the queued read (OPTS aio_cancel 1, 6)').to.equal(AIO_CANCEL.CANCELED.value);
    expect(v.ret(queuedErr), 'its error status is ECANCELED (OPTS aio_cancel 4)').to.equal(errno.ECANCELED);
    expect(v.ret(queuedRet), 'its return status is -1 (OPTS aio_cancel 4)').to.equal(-1);
    expect(v.ret(notified), 'its SIGEV_SIGNAL notification arrived (OPTS aio_cancel 3)').to.equal(1);
    expect(v.ret(running), 'AIO_NOTCANCELED for the read in progress (OPTS aio_cancel 7)').to.equal(AIO_CANCEL.NOTCANCELED.value);
    expect(v.ret(runningErr), 'which is still in progress, untouched (OPTS aio_cancel 5)').to.equal(errno.EINPROGRESS);
    expect(v.ret(wait), 'it completes when the pipe has data, and is notified').to.equal(1);
    expect(v.ret(firstErr), 'error status 0').to.equal(0);
    expect(v.ret(firstRet), 'with its 8 bytes').to.equal(8);
    expect([counterValue(v, n1), counterValue(v, n2)], 'one notification each').to.deep.equal([1, 1]);
  },
);

conformance(
  'posix.aio_cancel with a NULL aiocb cancels every queued request on the fd, then says AIO_ALLDONE',
  { ops: ['posix.aio_cancel', 'posix.aio_read'], rule: 'POSIX aio_cancel; OPTS aio_cancel 2, 7, 8' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const { r, w } = pipe2(s);
    const cbs = [0, 1, 2].map(() => placeAiocb(s, { fd: r, buf: arg.buf(p.buf(8)), nbytes: 8 }));
    for (const cb of cbs) aioRead(s, cb);
    s.sleep(20);
    const all = aioCancel(s, r, null);
    const errs = cbs.map((cb) => aioError(s, cb));
    feed(s, w, 8);
    const wait = aioSuspend(s, aiocbList(s, [cbs[0]]), 1, 5e9);
    const ret = aioReturn(s, cbs[0]);
    const after = aioCancel(s, r, null);
    const one = aioCancel(s, r, cbs[0]);
    const v = await target.run(p);
    expect(v.ret(all), 'AIO_NOTCANCELED: the first read is in progress (OPTS aio_cancel 2, 7)').to.equal(AIO_CANCEL.NOTCANCELED.value);
    expect(errs.map((e) => v.ret(e)), 'the queued ones are cancelled (OPTS aio_cancel 2)').to.deep.equal([
      errno.EINPROGRESS,
      errno.ECANCELED,
      errno.ECANCELED,
    ]);
    expect(v.ret(wait), 'the first completes').to.equal(0);
    expect(v.ret(ret), 'with its 8 bytes').to.equal(8);
    expect(v.ret(after), 'nothing outstanding on the fd: AIO_ALLDONE (OPTS aio_cancel 8)').to.equal(AIO_CANCEL.ALLDONE.value);
    expect(v.ret(one), 'a completed aiocb: AIO_ALLDONE (OPTS aio_cancel 8)').to.equal(AIO_CANCEL.ALLDONE.value);
  },
);

conformance(
  'posix.aio_cancel of an invalid fd fails with EBADF',
  { ops: ['posix.aio_cancel'], rule: 'POSIX aio_cancel; OPTS aio_cancel 9, 10' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const { r } = pipe2(s);
    s.syscall(SYSCALLS.close, [arg.fd(r)]);
    const closed = aioCancel(s, r, null);
    const negative = aioCancel(s, -1, null);
    const v = await target.run(p);
    expect([v.ret(closed), v.step(closed).errno], 'a closed fd: -1, EBADF').to.deep.equal([-1, errno.EBADF]);
    expect([v.ret(negative), v.step(negative).errno], 'fd -1: -1, EBADF').to.deep.equal([-1, errno.EBADF]);
  },
);
