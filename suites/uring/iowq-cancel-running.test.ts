/**
 * ASYNC_CANCEL of a request an io-wq worker is running: an IOSQE_ASYNC OPENAT of a FIFO for reading blocks in
 * the worker until a writer comes (man 7 fifo). Cancelling it finds it running: the cancel completes with
 * -EALREADY and the worker is signalled, so the open is interrupted (-EINTR) (SEMANTICS §3.9 "-EALREADY: found,
 * but already running in io-wq ... the target may end -EINTR"). Had the worker not yet taken it, the cancel is
 * 0 and the open -ECANCELED (same section); either pair is accepted, and which one is reported.
 */
import { expect } from 'chai';
import * as path from 'path';
import { errno } from '../../src/abi';
import { Program } from '../../src/program/builder';
import { reap, setupRing, sqe, submit } from '../../src/program/uring';
import { requireSetup } from '../../src/oracle/uring-files';
import { blockedFifoOpen } from '../../src/oracle/uring-paths';
import { mkfifo } from '../../src/program/sys';
import { conformance } from '../../src/suite/conformance';
import { ERESTARTSYS_LEAK } from '../../src/suite/known-bugs';

conformance(
  'uring.ASYNC_CANCEL of an IOSQE_ASYNC OPENAT of a FIFO without writer: -EALREADY and the open -EINTR if running in io-wq, 0 and -ECANCELED if still queued',
  { ops: ['uring.OPENAT', 'uring.ASYNC_CANCEL'], rule: 'SEMANTICS §3.9; man 7 fifo', knownBug: ERESTARTSYS_LEAK },
  async (ctx) => {
    const p = new Program();
    const s = p.main;
    const fifo = path.posix.join(ctx.scratch, 'fifo');
    const made = mkfifo(s, fifo);
    const h = setupRing(s, { entries: 4 });
    const open = submit(s, h, [
      blockedFifoOpen(p, fifo, 1),
    ]);
    // the open must still be waiting for a writer after 200 ms
    const early = reap(s, h, 0, 4, 200);
    const cancel = submit(s, h, [sqe({ opcode: 'ASYNC_CANCEL', addr: 1, user_data: 2 })]);
    const c = reap(s, h, 2, 4);
    const v = await ctx.target.run(p);
    requireSetup(v, [
      { what: 'mknodat of the FIFO', step: made, want: 0 },
      { what: 'io_uring_setup', step: h.setup },
      { what: 'io_uring_enter of the OPENAT', step: open.enter, want: 1 },
      { what: 'io_uring_enter of the ASYNC_CANCEL', step: cancel.enter, want: 1 },
    ]);
    expect(v.step(early).cqes, 'no writer: the open waits').to.deep.equal([]);
    const got = v
      .step(c)
      .cqes.map((x) => [Number(x.userData), x.res])
      .sort((a, b) => a[0] - b[0]);
    const running = [
      [1, -errno.EINTR],
      [2, -errno.EALREADY],
    ];
    const queued = [
      [1, -errno.ECANCELED],
      [2, 0],
    ];
    expect(
      [running, queued],
      'cancelled while running (-EINTR, -EALREADY) or while queued (-ECANCELED, 0)',
    ).to.deep.include(got);
    const how = JSON.stringify(got) === JSON.stringify(queued) ? 'found queued' : 'found running';
    ctx.note(how);
  },
);
