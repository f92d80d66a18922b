/**
 * aio_read (POSIX.1-2017 aio_read; Open POSIX Test Suite aio_read assertions).
 *
 * Covered: 1, 3, 4, 7 (data, offset, aio_error/aio_return on the aiocb, returns 0); 5 (aio_lio_opcode
 * ignored); 8, 11, 14 (EINVAL for a bad aio_reqprio or offset, failing the call or as the error status);
 * 10, 12 (EBADF, likewise). 13 (ECANCELED) is in cancel.test.ts.
 * Skipped: 2 (prioritized I/O: glibc only orders its queue by it, nothing observable); 6, 15 (the offset
 * maximum of a 64-bit off_t cannot be reached on a regular file); 9 (EAGAIN needs glibc's queue
 * allocation to fail).
 */
import { expect } from 'chai';
import { errno, LIO_OP } from '../../src/abi';
import { arg, Program } from '../../src/program/builder';
import { aiocbList, aioError, aioRead, aioReturn, aioSuspend, patternFile, placeAiocb } from '../../src/program/posix-aio';
import { conformance } from '../../src/suite/conformance';

const SEED = 0x41;

conformance(
  'posix.aio_read reads aio_nbytes at aio_offset like pread of the same file',
  { ops: ['posix.aio_read', 'posix.aio_error', 'posix.aio_return'], rule: 'POSIX aio_read; OPTS aio_read 1, 3, 4, 7' },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    const f = patternFile(s, scratch, 'f', 8192, SEED);
    const dst = p.buf(3000);
    const cb = placeAiocb(s, { fd: f.fd, buf: arg.buf(dst), nbytes: 3000, offset: 1000 });
    const read = aioRead(s, cb);
    const wait = aioSuspend(s, aiocbList(s, [cb]), 1, 5e9);
    const err = aioError(s, cb);
    const ret = aioReturn(s, cb);
    const verify = s.verify(dst, 0, 3000, SEED, 1000);
    const v = await target.run(p);
    expect(v.ret(f.write), 'pwrite of the file').to.equal(8192);
    expect(v.ret(read), 'aio_read returns 0 when the request is queued (OPTS aio_read 7)').to.equal(0);
    expect(v.ret(wait), 'aio_suspend returns 0 once it completed').to.equal(0);
    expect(v.ret(err), 'aio_error of the completed read is 0 (OPTS aio_read 3)').to.equal(0);
    expect(v.ret(ret), 'aio_return gives the byte count, aio_nbytes (OPTS aio_read 1)').to.equal(3000);
    expect(v.step(verify).verify?.mismatches, 'the bytes pread would read at aio_offset (OPTS aio_read 4)').to.equal(0);
  },
);

conformance(
  'posix.aio_read ignores aio_lio_opcode and reads short at end of file',
  { ops: ['posix.aio_read'], rule: 'POSIX aio_read; OPTS aio_read 5' },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    const f = patternFile(s, scratch, 'f', 4096, SEED);
    const dst = p.buf(1024);
    const cb = placeAiocb(s, { fd: f.fd, buf: arg.buf(dst), nbytes: 1024, offset: 3584, opcode: 'WRITE' });
    const read = aioRead(s, cb);
    const wait = aioSuspend(s, aiocbList(s, [cb]), 1, 5e9);
    const err = aioError(s, cb);
    const ret = aioReturn(s, cb);
    const verify = s.verify(dst, 0, 512, SEED, 3584);
    const v = await target.run(p);
    expect(LIO_OP.WRITE.value, 'the opcode set is not LIO_READ').to.not.equal(LIO_OP.READ.value);
    expect(v.ret(read), 'aio_read queues it').to.equal(0);
    expect(v.ret(wait), 'aio_suspend').to.equal(0);
    expect(v.ret(err), 'aio_error: done without error').to.equal(0);
    expect(v.ret(ret), 'a read, not a write: the 512 bytes left before EOF, like pread').to.equal(512);
    expect(v.step(verify).verify?.mismatches, 'the file was read, not written (OPTS aio_read 5)').to.equal(0);
  },
);

conformance(
  'posix.aio_read with an invalid fd fails with EBADF, at once or as its error status',
  { ops: ['posix.aio_read', 'posix.aio_error', 'posix.aio_return'], rule: 'POSIX aio_read; OPTS aio_read 8, 10, 12' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const cb = placeAiocb(s, { fd: -1, buf: arg.buf(p.buf(64)), nbytes: 64 });
    const read = aioRead(s, cb);
    const wait = aioSuspend(s, aiocbList(s, [cb]), 1, 5e9);
    const err = aioError(s, cb);
    const ret = aioReturn(s, cb);
    const v = await target.run(p);
    const r = v.step(read);
    if (r.ret === -1n) expect(r.errno, 'aio_read fails with EBADF (OPTS aio_read 10)').to.equal(errno.EBADF);
    else expect(r.ret, 'or queues it (OPTS aio_read 12)').to.equal(0n);
    expect(v.ret(wait), 'aio_suspend returns: the request is over').to.equal(0);
    expect(v.ret(err), 'the error status is EBADF (OPTS aio_read 12)').to.equal(errno.EBADF);
    expect(v.ret(ret), 'aio_return is -1 for a failed request').to.equal(-1);
  },
);

for (const [what, spec] of [
  ['a negative aio_offset', { offset: -1 }],
  ['a negative aio_reqprio', { reqprio: -1 }],
] as const) {
  conformance(
    `posix.aio_read with ${what} fails with EINVAL, at once or as its error status`,
    { ops: ['posix.aio_read', 'posix.aio_error'], rule: 'POSIX aio_read; OPTS aio_read 8, 11, 14' },
    async ({ target, scratch }) => {
      const p = new Program();
      const s = p.main;
      const f = patternFile(s, scratch, 'f', 512, SEED);
      const cb = placeAiocb(s, { fd: f.fd, buf: arg.buf(p.buf(64)), nbytes: 64, ...spec });
      const read = aioRead(s, cb);
      const wait = aioSuspend(s, aiocbList(s, [cb]), 1, 5e9);
      const err = aioError(s, cb);
      const ret = aioReturn(s, cb);
      const v = await target.run(p);
      const r = v.step(read);
      if (r.ret === -1n) expect(r.errno, 'aio_read fails with EINVAL (OPTS aio_read 11)').to.equal(errno.EINVAL);
      else expect(r.ret, 'or queues it (OPTS aio_read 14)').to.equal(0n);
      expect(v.ret(wait), 'aio_suspend returns: the request is over').to.equal(0);
      expect(v.ret(err), 'the error status is EINVAL (OPTS aio_read 11, 14)').to.equal(errno.EINVAL);
      expect(v.ret(ret), 'aio_return is -1').to.equal(-1);
    },
  );
}
