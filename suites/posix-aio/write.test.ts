/**
 * aio_write (POSIX.1-2017 aio_write; Open POSIX Test Suite aio_write assertions).
 *
 * Covered: 1, 5 (writes aio_nbytes from aio_buf at aio_offset, returns 0); 2 (O_APPEND appends in call
 * order); 3 (aio_lio_opcode ignored); 6, 8, 10 (EBADF for an fd not open for writing, failing the call or
 * as the error status); 9, 11 (EINVAL for a negative offset, likewise). 12 (ECANCELED) is in cancel.test.ts.
 * Skipped: 4, 13 (the offset maximum of a 64-bit off_t cannot be reached on a regular file); 7 (EAGAIN
 * needs glibc's queue allocation to fail).
 */
import { expect } from 'chai';
import * as path from 'path';
import { errno, O } from '../../src/abi';
import { arg, Program } from '../../src/program/builder';
import { fnv1a64 } from '../../src/program/pattern';
import { aiocbList, aioError, aioReturn, aioSuspend, aioWrite, placeAiocb } from '../../src/program/posix-aio';
import { openat, pread, scratchFile } from '../../src/program/sys';
import { conformance } from '../../src/suite/conformance';

const SEED = 0x57;

conformance(
  'posix.aio_write writes aio_nbytes at aio_offset, and pread reads them back',
  { ops: ['posix.aio_write', 'posix.aio_error', 'posix.aio_return'], rule: 'POSIX aio_write; OPTS aio_write 1, 3, 5' },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    const { fd } = scratchFile(s, scratch, 'f');
    const src = p.buf(5000);
    s.fillPattern(src, 0, 5000, SEED, 700);
    // aio_lio_opcode says READ: aio_write must ignore it
    const cb = placeAiocb(s, { fd, buf: arg.buf(src), nbytes: 5000, offset: 700, opcode: 'READ' });
    const write = aioWrite(s, cb);
    const wait = aioSuspend(s, aiocbList(s, [cb]), 1, 5e9);
    const err = aioError(s, cb);
    const ret = aioReturn(s, cb);
    const back = p.buf(6000);
    const read = pread(s, fd, back, 6000, 0);
    const hole = s.digest(back, 0, 700);
    const verify = s.verify(back, 700, 5000, SEED, 700);
    const v = await target.run(p);
    expect(v.ret(write), 'aio_write returns 0 when the request is queued (OPTS aio_write 5)').to.equal(0);
    expect(v.ret(wait), 'aio_suspend').to.equal(0);
    expect(v.ret(err), 'aio_error: done without error').to.equal(0);
    expect(v.ret(ret), 'aio_return gives aio_nbytes').to.equal(5000);
    expect(v.ret(read), 'the file ends where the write did').to.equal(5700);
    expect(v.step(verify).verify?.mismatches, 'pread finds the bytes at aio_offset (OPTS aio_write 1, 3)').to.equal(0);
    expect(v.step(hole).digest, 'nothing written before aio_offset').to.equal(fnv1a64(Buffer.alloc(700)));
  },
);

conformance(
  'posix.aio_write on an O_APPEND fd appends in the order of the calls',
  { ops: ['posix.aio_write'], rule: 'POSIX aio_write; OPTS aio_write 2' },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    const flags = O.WRONLY.value | O.CREAT.value | O.APPEND.value | O.CLOEXEC.value;
    const { fd } = openat(s, path.posix.join(scratch, 'log'), flags, 0o600);
    const parts = [0, 1, 2].map((k) => {
      const b = p.buf(1000);
      s.fillPattern(b, 0, 1000, SEED, 1000 * k);
      return placeAiocb(s, { fd, buf: arg.buf(b), nbytes: 1000, offset: 0 });
    });
    const writes = parts.map((cb) => aioWrite(s, cb));
    const waits = parts.map((cb) => aioSuspend(s, aiocbList(s, [cb]), 1, 5e9));
    const errs = parts.map((cb) => aioError(s, cb));
    const rd = openat(s, path.posix.join(scratch, 'log'), O.RDONLY.value | O.CLOEXEC.value);
    const back = p.buf(4000);
    const read = pread(s, rd.fd, back, 4000, 0);
    const verify = s.verify(back, 0, 3000, SEED, 0);
    const v = await target.run(p);
    for (const w of writes) expect(v.ret(w), 'aio_write queues each').to.equal(0);
    for (const w of waits) expect(v.ret(w), 'aio_suspend on each in turn').to.equal(0);
    for (const e of errs) expect(v.ret(e), 'aio_error: each done without error').to.equal(0);
    expect(v.ret(read), 'three appends of 1000 bytes, aio_offset ignored').to.equal(3000);
    expect(v.step(verify).verify?.mismatches, 'the writes land in call order (OPTS aio_write 2)').to.equal(0);
  },
);

conformance(
  'posix.aio_write on an fd open only for reading fails with EBADF, at once or as its error status',
  { ops: ['posix.aio_write', 'posix.aio_error', 'posix.aio_return'], rule: 'POSIX aio_write; OPTS aio_write 6, 8, 10' },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    scratchFile(s, scratch, 'f');
    const { fd } = openat(s, path.posix.join(scratch, 'f'), O.RDONLY.value | O.CLOEXEC.value);
    const cb = placeAiocb(s, { fd, buf: arg.buf(p.buf(64)), nbytes: 64 });
    const write = aioWrite(s, cb);
    const wait = aioSuspend(s, aiocbList(s, [cb]), 1, 5e9);
    const err = aioError(s, cb);
    const ret = aioReturn(s, cb);
    const v = await target.run(p);
    const w = v.step(write);
    if (w.ret === -1n) expect(w.errno, 'aio_write fails with EBADF (OPTS aio_write 8)').to.equal(errno.EBADF);
    else expect(w.ret, 'or queues it (OPTS aio_write 10)').to.equal(0n);
    expect(v.ret(wait), 'aio_suspend returns: the request is over').to.equal(0);
    expect(v.ret(err), 'the error status is EBADF (OPTS aio_write 10)').to.equal(errno.EBADF);
    expect(v.ret(ret), 'aio_return is -1').to.equal(-1);
  },
);

conformance(
  'posix.aio_write with a negative aio_offset fails with EINVAL, at once or as its error status',
  { ops: ['posix.aio_write', 'posix.aio_error'], rule: 'POSIX aio_write; OPTS aio_write 9, 11' },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    const { fd } = scratchFile(s, scratch, 'f');
    const cb = placeAiocb(s, { fd, buf: arg.buf(p.buf(64)), nbytes: 64, offset: -4096 });
    const write = aioWrite(s, cb);
    const wait = aioSuspend(s, aiocbList(s, [cb]), 1, 5e9);
    const err = aioError(s, cb);
    const ret = aioReturn(s, cb);
    const v = await target.run(p);
    const w = v.step(write);
    if (w.ret === -1n) expect(w.errno, 'aio_write fails with EINVAL (OPTS aio_write 9)').to.equal(errno.EINVAL);
    else expect(w.ret, 'or queues it (OPTS aio_write 11)').to.equal(0n);
    expect(v.ret(wait), 'aio_suspend returns').to.equal(0);
    expect(v.ret(err), 'the error status is EINVAL (OPTS aio_write 11)').to.equal(errno.EINVAL);
    expect(v.ret(ret), 'aio_return is -1').to.equal(-1);
  },
);
