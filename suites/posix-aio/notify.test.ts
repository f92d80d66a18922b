/**
 * Notification of completed requests through aio_sigevent (POSIX.1-2017 <signal.h> "Realtime", aio_read,
 * aio_write, aio_fsync): SIGEV_NONE sends nothing; SIGEV_SIGNAL queues one signal per request carrying its
 * sigev_value; SIGEV_THREAD runs sigev_notify_function once per request with its sigev_value. The
 * counters are u32s that the executor's SIGCOUNT handler and NOTIFY function increment, named by
 * sigev_value. Open POSIX: aio_fsync 7, aio_cancel 3 and lio_listio 3 (in their own files) are the
 * assertions on notification; the per-request cases here have no assertion id of their own.
 */
import { expect } from 'chai';
import { AIO_FSYNC_OP, AIOCB_LAYOUT, POSIX_AIO_SIGNAL } from '../../src/abi';
import { arg, Program } from '../../src/program/builder';
import {
  aioError,
  aioFsync,
  aioRead,
  aioReturn,
  aioWrite,
  counter,
  countWait,
  counterValue,
  Notify,
  patternFile,
  placeAiocb,
  readCounter,
} from '../../src/program/posix-aio';
import type { Buf } from '../../src/program/builder';
import { conformance } from '../../src/suite/conformance';

const SEED = 0x20;

/** A read, a write and an fsync of one file, each notifying through its own counter. */
function threeRequests(p: Program, scratch: string, notify: (c: Buf) => Notify) {
  const s = p.main;
  const f = patternFile(s, scratch, 'f', 4096, SEED);
  const counters = [counter(s), counter(s), counter(s)];
  const cbs = [
    placeAiocb(s, { fd: f.fd, buf: arg.buf(p.buf(4096)), nbytes: 4096, notify: notify(counters[0]) }),
    placeAiocb(s, { fd: f.fd, buf: arg.buf(f.data), nbytes: 4096, offset: 4096, notify: notify(counters[1]) }),
    placeAiocb(s, { fd: f.fd, notify: notify(counters[2]) }),
  ];
  const submits = [aioRead(s, cbs[0]), aioWrite(s, cbs[1]), aioFsync(s, AIO_FSYNC_OP.DSYNC.value, cbs[2])];
  return { counters, cbs, submits };
}

for (const kind of ['signal', 'thread'] as const) {
  conformance(
    `posix.aio SIGEV_${kind.toUpperCase()} notifies exactly once per completed request, with that request's sigev_value`,
    { ops: ['posix.aio_read', 'posix.aio_write', 'posix.aio_fsync'], rule: 'POSIX aio_read; <signal.h> SIGEV_' + kind.toUpperCase() },
    async ({ target, scratch }) => {
      const p = new Program();
      const s = p.main;
      if (kind === 'signal') s.sigCount(POSIX_AIO_SIGNAL);
      const { counters, cbs, submits } = threeRequests(p, scratch, (c) =>
        kind === 'signal' ? { kind, signo: POSIX_AIO_SIGNAL, value: arg.buf(c) } : { kind, value: arg.buf(c) },
      );
      const waits = counters.map((c) => countWait(s, c, 1));
      s.sleep(50);
      const counts = counters.map((c) => readCounter(s, c));
      const errs = cbs.map((cb) => aioError(s, cb));
      const rets = cbs.map((cb) => aioReturn(s, cb));
      const v = await target.run(p);
      expect(submits.map((x) => v.ret(x)), 'aio_read, aio_write, aio_fsync queue').to.deep.equal([0, 0, 0]);
      expect(waits.map((x) => v.ret(x)), 'each request notified, through its own sigev_value').to.deep.equal([1, 1, 1]);
      expect(counts.map((x) => counterValue(v, x)), 'exactly once each').to.deep.equal([1, 1, 1]);
      expect(errs.map((x) => v.ret(x)), 'all done without error').to.deep.equal([0, 0, 0]);
      expect(rets.map((x) => v.ret(x)), 'return statuses').to.deep.equal([4096, 4096, 0]);
    },
  );
}

conformance(
  'posix.aio SIGEV_NONE completes requests without any notification',
  { ops: ['posix.aio_read', 'posix.aio_write', 'posix.aio_fsync'], rule: 'POSIX aio_read; <signal.h> SIGEV_NONE' },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    // a handler stands ready for the signal a wrong implementation might send anyway
    s.sigCount(POSIX_AIO_SIGNAL);
    const { counters, cbs, submits } = threeRequests(p, scratch, () => ({ kind: 'none' }));
    // sigev_value and sigev_signo set as SIGEV_SIGNAL would have them: SIGEV_NONE must ignore them
    cbs.forEach((cb, k) => {
      s.patch(cb, AIOCB_LAYOUT.fields['aio_sigevent.sigev_value'].offset, 8, arg.buf(counters[k]));
      s.patch(cb, AIOCB_LAYOUT.fields['aio_sigevent.sigev_signo'].offset, 4, POSIX_AIO_SIGNAL);
    });
    const lastDone = countWait(s, counters[0], 1, 300); // nothing should count: this waits out 300 ms
    const counts = counters.map((c) => readCounter(s, c));
    const errs = cbs.map((cb) => aioError(s, cb));
    const v = await target.run(p);
    expect(submits.map((x) => v.ret(x)), 'aio_read, aio_write, aio_fsync queue').to.deep.equal([0, 0, 0]);
    expect(v.step(lastDone).deadline, 'no notification within 300 ms').to.equal(true);
    expect(errs.map((x) => v.ret(x)), 'all done without error').to.deep.equal([0, 0, 0]);
    expect(counts.map((x) => counterValue(v, x)), 'no signal, no thread').to.deep.equal([0, 0, 0]);
  },
);
