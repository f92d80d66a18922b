/**
 * aio_fsync (POSIX.1-2017 aio_fsync; Open POSIX Test Suite aio_fsync assertions).
 *
 * Covered: 1, 2, 3, 4, 9 (O_SYNC and O_DSYNC complete after the writes before them, with error status
 * and return 0); 5, 6 (EINPROGRESS while queued, then the error of the sync itself); 7 (aio_sigevent
 * notifies); 8 (members other than aio_fildes and aio_sigevent ignored); 10, 12 (EBADF for an invalid
 * fd); 14 (EINVAL for an op other than O_SYNC and O_DSYNC).
 * Skipped: 11 (EAGAIN needs glibc's queue allocation to fail); 13 (every file here supports synchronized
 * I/O). glibc accepts an fd open only for reading (Linux syncs it), so 12 is checked with an invalid fd.
 */
import { expect } from 'chai';
import { AIO_FSYNC_OP, errno, SYSCALLS } from '../../src/abi';
import { arg, Program } from '../../src/program/builder';
import {
  aiocbList,
  aioError,
  aioFsync,
  aioRead,
  aioReturn,
  aioSuspend,
  aioWrite,
  counter,
  countWait,
  counterValue,
  patternFile,
  placeAiocb,
  readCounter,
} from '../../src/program/posix-aio';
import { pipe2 } from '../../src/program/sys';
import { conformance } from '../../src/suite/conformance';

for (const op of ['SYNC', 'DSYNC'] as const) {
  conformance(
    `posix.aio_fsync with O_${op} completes after aio_write, notifies once, and ignores the other aiocb members`,
    { ops: ['posix.aio_fsync', 'posix.aio_write'], rule: 'POSIX aio_fsync; OPTS aio_fsync 1, 2, 3, 4, 7, 8, 9' },
    async ({ target, scratch }) => {
      const p = new Program();
      const s = p.main;
      const f = patternFile(s, scratch, 'f', 4096, 0xf5);
      const wcb = placeAiocb(s, { fd: f.fd, buf: arg.buf(f.data), nbytes: 4096, offset: 4096 });
      const write = aioWrite(s, wcb);
      const done = counter(s);
      // garbage in the members aio_fsync must ignore
      const fcb = placeAiocb(s, {
        fd: f.fd,
        buf: arg.bad(),
        nbytes: 12345,
        offset: -1,
        reqprio: 0,
        notify: { kind: 'thread', value: arg.buf(done) },
      });
      const sync = aioFsync(s, AIO_FSYNC_OP[op].value, fcb);
      const wait = aioSuspend(s, aiocbList(s, [fcb]), 1, 5e9);
      const werr = aioError(s, wcb);
      const err = aioError(s, fcb);
      const ret = aioReturn(s, fcb);
      const notified = countWait(s, done, 1);
      s.sleep(50);
      const count = readCounter(s, done);
      const v = await target.run(p);
      expect(v.ret(write), 'aio_write queues').to.equal(0);
      expect(v.ret(sync), `aio_fsync(O_${op}) returns 0 when queued (OPTS aio_fsync 9)`).to.equal(0);
      expect(v.ret(wait), 'aio_suspend').to.equal(0);
      expect(v.ret(werr), `the write queued before it is complete when the O_${op} sync is (OPTS aio_fsync 2, 3)`).to.equal(0);
      expect(v.ret(err), 'error status 0 (OPTS aio_fsync 4, 8)').to.equal(0);
      expect(v.ret(ret), 'return status 0, like fsync (OPTS aio_fsync 4)').to.equal(0);
      expect(v.ret(notified), 'SIGEV_THREAD notification ran (OPTS aio_fsync 7)').to.equal(1);
      expect(counterValue(v, count), 'exactly once').to.equal(1);
    },
  );
}

conformance(
  'posix.aio_fsync queued behind a pending read is EINPROGRESS, then reports the EINVAL of syncing a pipe',
  { ops: ['posix.aio_fsync', 'posix.aio_read', 'posix.aio_error'], rule: 'POSIX aio_fsync; OPTS aio_fsync 5, 6' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const { r, w } = pipe2(s);
    const rcb = placeAiocb(s, { fd: r, buf: arg.buf(p.buf(16)), nbytes: 16 });
    const read = aioRead(s, rcb);
    const fcb = placeAiocb(s, { fd: r });
    const sync = aioFsync(s, AIO_FSYNC_OP.SYNC.value, fcb);
    const pending = aioError(s, fcb);
    s.syscall(SYSCALLS.write, [arg.fd(w), arg.buf(p.data(Buffer.from('hello'))), 5]);
    const rwait = aioSuspend(s, aiocbList(s, [rcb]), 1, 5e9);
    const fwait = aioSuspend(s, aiocbList(s, [fcb]), 1, 5e9);
    const err = aioError(s, fcb);
    const ret = aioReturn(s, fcb);
    const v = await target.run(p);
    expect(v.ret(read), 'aio_read of the empty pipe queues').to.equal(0);
    expect(v.ret(sync), 'aio_fsync queues').to.equal(0);
    expect(v.ret(pending), 'error status EINPROGRESS while queued (OPTS aio_fsync 5)').to.equal(errno.EINPROGRESS);
    expect(v.ret(rwait), 'the read completes once the pipe has data').to.equal(0);
    expect(v.ret(fwait), 'then the sync').to.equal(0);
    expect(v.ret(err), 'error status: fsync of a pipe fails with EINVAL (OPTS aio_fsync 6)').to.equal(errno.EINVAL);
    expect(v.ret(ret), 'return status -1').to.equal(-1);
  },
);

conformance(
  'posix.aio_fsync of an invalid fd fails with EBADF',
  { ops: ['posix.aio_fsync'], rule: 'POSIX aio_fsync; OPTS aio_fsync 10, 12' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const sync = aioFsync(s, AIO_FSYNC_OP.SYNC.value, placeAiocb(s, { fd: -1 }));
    const v = await target.run(p);
    expect([v.ret(sync), v.step(sync).errno], 'aio_fsync returns -1 with errno EBADF').to.deep.equal([-1, errno.EBADF]);
  },
);

conformance(
  'posix.aio_fsync with an op other than O_SYNC or O_DSYNC fails with EINVAL',
  { ops: ['posix.aio_fsync'], rule: 'POSIX aio_fsync; OPTS aio_fsync 10, 14' },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    const f = patternFile(s, scratch, 'f', 512, 0xf5);
    const sync = aioFsync(s, 0, placeAiocb(s, { fd: f.fd }));
    const v = await target.run(p);
    expect([v.ret(sync), v.step(sync).errno], 'aio_fsync returns -1 with errno EINVAL').to.deep.equal([-1, errno.EINVAL]);
  },
);
