/**
 * aio_error and aio_return (POSIX.1-2017 aio_error, aio_return; Open POSIX Test Suite aio_error and
 * aio_return assertions).
 *
 * Covered: aio_error 1, 2 (EINPROGRESS while pending, 0 when done, the errno of a failed request);
 * aio_return 1, 3 (the byte count; an aiocb reused for a new request gives that request's status).
 * Skipped: aio_error 3 and aio_return 4 are "may fail" (EINVAL for an aiocb whose status was retrieved):
 * undefined behaviour that glibc does not detect. aio_return 2 (one call per request) is a constraint
 * on the program: no test calls aio_return twice on one request.
 */
import { expect } from 'chai';
import { errno, SYSCALLS } from '../../src/abi';
import { arg, Program } from '../../src/program/builder';
import { aiocbList, aioError, aioRead, aioReturn, aioSuspend, aioWrite, patternFile, placeAiocb } from '../../src/program/posix-aio';
import { pipe2 } from '../../src/program/sys';
import { conformance } from '../../src/suite/conformance';

conformance(
  'posix.aio_error is EINPROGRESS while a read waits on an empty pipe, then 0; aio_return is the byte count',
  { ops: ['posix.aio_error', 'posix.aio_return', 'posix.aio_read'], rule: 'POSIX aio_error; OPTS aio_error 1, 2; aio_return 1' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const { r, w } = pipe2(s);
    const dst = p.buf(64);
    const cb = placeAiocb(s, { fd: r, buf: arg.buf(dst), nbytes: 64 });
    const read = aioRead(s, cb);
    s.sleep(20);
    const pending = aioError(s, cb);
    s.syscall(SYSCALLS.write, [arg.fd(w), arg.buf(p.data(Buffer.from('seven b'))), 7]);
    const wait = aioSuspend(s, aiocbList(s, [cb]), 1, 5e9);
    const done = aioError(s, cb);
    const ret = aioReturn(s, cb);
    const got = s.dump(dst, 0, 7);
    const v = await target.run(p);
    expect(v.ret(read), 'aio_read queues').to.equal(0);
    expect(v.ret(pending), 'EINPROGRESS while the pipe is empty (OPTS aio_error 2)').to.equal(errno.EINPROGRESS);
    expect(v.ret(wait), 'aio_suspend returns once data arrived').to.equal(0);
    expect(v.ret(done), '0 once done (OPTS aio_error 1)').to.equal(0);
    expect(v.ret(ret), 'aio_return: the 7 bytes the pipe held (OPTS aio_return 1)').to.equal(7);
    expect(v.step(got).dump?.toString(), 'the bytes read').to.equal('seven b');
  },
);

conformance(
  'posix.aio_error gives the errno of a failed request; a reused aiocb reports its new request',
  { ops: ['posix.aio_error', 'posix.aio_return', 'posix.aio_read', 'posix.aio_write'], rule: 'POSIX aio_return; OPTS aio_error 1; aio_return 1, 3' },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    const f = patternFile(s, scratch, 'f', 1024, 0xe7);
    const cb = placeAiocb(s, { fd: -1, buf: arg.buf(f.data), nbytes: 100 });
    const list = aiocbList(s, [cb]);
    aioRead(s, cb);
    aioSuspend(s, list, 1, 5e9);
    const failed = aioError(s, cb);
    const failedRet = aioReturn(s, cb);
    // the same aiocb, now for a write that works
    s.patch(cb, 0, 4, arg.fd(f.fd));
    const again = aioWrite(s, cb);
    aioSuspend(s, list, 1, 5e9);
    const ok = aioError(s, cb);
    const okRet = aioReturn(s, cb);
    const v = await target.run(p);
    expect(v.ret(failed), 'aio_error of a read on fd -1 is EBADF (OPTS aio_error 1)').to.equal(errno.EBADF);
    expect(v.ret(failedRet), 'its aio_return is -1').to.equal(-1);
    expect(v.ret(again), 'the aiocb queues a new request').to.equal(0);
    expect(v.ret(ok), 'aio_error of the new request is 0').to.equal(0);
    expect(v.ret(okRet), 'aio_return gives its byte count (OPTS aio_return 3)').to.equal(100);
  },
);
