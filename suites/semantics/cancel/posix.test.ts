/**
 * POSIX aio_cancel (POSIX.1-2017 aio_cancel; glibc runs the request in a helper thread): a read of an empty pipe
 * cancelled right after aio_read is either not started yet (AIO_CANCELED: ECANCELED, -1) or in progress
 * (AIO_NOTCANCELED: it goes on and reads the byte written next). Either way it completes once and is notified once.
 */
import { expect } from 'chai';
import { AIO_CANCEL, O, SYSCALLS } from '../../../src/abi';
import { arg, Program } from '../../../src/program/builder';
import {
  aioCancel,
  aioError,
  aioRead,
  aioReturn,
  counter,
  countWait,
  counterValue,
  placeAiocb,
  readCounter,
} from '../../../src/program/posix-aio';
import { pipe2 } from '../../../src/program/sys';
import { posixCancelProblems } from '../../../src/oracle/cancel';
import { conformance } from '../../../src/suite/conformance';

conformance(
  'cancel: POSIX aio_read of an empty pipe by aio_cancel: one completion, agreeing with the cancel result',
  { ops: ['posix.aio_cancel', 'posix.aio_read'], rule: 'POSIX aio_cancel' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const pipe = pipe2(s, O.CLOEXEC.value);
    const c = counter(s);
    const cb = placeAiocb(s, {
      fd: pipe.r,
      buf: arg.buf(p.buf(8)),
      nbytes: 8,
      notify: { kind: 'thread', value: arg.buf(c) },
    });
    const read = aioRead(s, cb);
    const cancel = aioCancel(s, pipe.r, cb);
    // a byte for the read if it went on; one notification in either case
    const feed = s.syscall(SYSCALLS.write, [arg.fd(pipe.w), arg.buf(p.buf(8)), 1]);
    const notified = countWait(s, c, 1);
    const error = aioError(s, cb);
    const ret = aioReturn(s, cb);
    const count = readCounter(s, c);
    const v = await target.run(p);
    expect([v.ret(pipe.step), v.ret(read), v.ret(feed)], 'pipe2, aio_read, the byte').to.deep.equal([0, 0, 1]);
    expect(v.ret(notified), 'the request was notified (SIGEV_THREAD)').to.equal(1);
    const problems = posixCancelProblems({
      cancel: v.ret(cancel),
      error: v.ret(error),
      ret: v.ret(ret),
      n: 1,
      canceled: AIO_CANCEL.CANCELED.value,
      notCanceled: AIO_CANCEL.NOTCANCELED.value,
    });
    expect(problems, 'aio_cancel and the read agree (POSIX aio_cancel)').to.deep.equal([]);
    expect(counterValue(v, count), 'notified once').to.equal(1);
  },
);
