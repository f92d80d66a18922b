/**
 * IORING_OP_POLL_REMOVE issued by an io-wq worker (IOSQE_ASYNC, or linked behind an FSYNC, which io_uring always
 * punts to io-wq): the removed POLL_ADD must complete with -ECANCELED, once, without the application having to
 * submit anything else (SEMANTICS §3.9; man io_uring_prep_poll_remove(3)). Found by `kasync fuzz` on debian:6.1,
 * where the -ECANCELED CQE stays queued inside the kernel until some later submission flushes it (6.1 completes
 * the poll through the submit-side completion batch, which an io-wq worker never flushes; mainline fixed it with
 * 5e3afe580a9f "io_uring: fix poll_remove stalled req completion", 2024). docs/KERNEL-NOTES.md.
 */
import { expect } from 'chai';
import { errno, IOSQE, O, POLL_EV } from '../../src/abi';
import { Program } from '../../src/program/builder';
import type { RawStruct } from '../../src/program/struct';
import { pipe2, scratchFile } from '../../src/program/sys';
import { reap, setupRing, sqe, submit } from '../../src/program/uring';
import { byUserData, reaped } from '../../src/oracle/uring-net';
import { conformance, needSetupFlags, TestContext } from '../../src/suite/conformance';
import { POLL_REMOVE_IOWQ_STALL } from '../../src/suite/known-bugs';

const [POLL, FSYNC, REMOVE, NOP] = [1n, 2n, 3n, 9n];
/** Long enough for an FSYNC of an empty scratch file and a worker's start on a loaded TCG VM; the deadline is 10 s. */
const WAIT_MS = 3000;

/**
 * A POLL_ADD on an empty pipe, then (second batch) its POLL_REMOVE sent to io-wq: with IOSQE_ASYNC, or as the link
 * after an FSYNC. One reap of every CQE of the two batches within WAIT_MS; then a NOP, and everything left.
 */
async function removeOnIowq({ target, scratch }: TestContext, how: 'async' | 'linked', flags: number) {
  const p = new Program({ deadlineMs: 10_000 });
  const s = p.main;
  const pipe = pipe2(s, O.CLOEXEC.value);
  const file = scratchFile(s, scratch, 'f');
  const h = setupRing(s, { entries: 8, flags });
  const poll = sqe({ opcode: 'POLL_ADD', fd: pipe.r, poll32_events: POLL_EV.IN.value, user_data: POLL });
  const arm = submit(s, h, [poll]);
  const remove = (f: number) => sqe({ opcode: 'POLL_REMOVE', fd: -1, addr: POLL, flags: f, user_data: REMOVE });
  const batch: RawStruct[] =
    how === 'async'
      ? [remove(IOSQE.ASYNC.value)]
      : [sqe({ opcode: 'FSYNC', fd: file.fd, flags: IOSQE.IO_LINK.value, user_data: FSYNC }), remove(0)];
  const sub = submit(s, h, batch);
  const first = reap(s, h, batch.length + 1, 8, WAIT_MS);
  const nop = submit(s, h, [sqe({ opcode: 'NOP', user_data: NOP })]);
  const late = reap(s, h, 1, 8, WAIT_MS);
  const rest = reap(s, h, 0, 8, 0);
  const v = await target.run(p);
  const made = [v.ret(pipe.step), v.ret(file.step) >= 0, v.ret(h.setup) >= 0];
  expect(made, 'pipe, file, ring').to.deep.equal([0, true, true]);
  const consumed = [arm, sub, nop].map((b) => v.ret(b.enter));
  expect(consumed, 'io_uring_enter consumes every SQE').to.deep.equal([1, batch.length, 1]);
  const want: [bigint, number][] = [
    [POLL, -errno.ECANCELED],
    ...(how === 'linked' ? [[FSYNC, 0] as [bigint, number]] : []),
    [REMOVE, 0],
  ];
  expect(
    byUserData(reaped(v, first)),
    'the remove finds the armed poll (0); the poll completes -ECANCELED by itself, within the wait (SEMANTICS §3.9)',
  ).to.deep.equal(want);
  expect(
    byUserData(reaped(v, late, rest)),
    'the next submission completes only its NOP: every request completes once',
  ).to.deep.equal([[NOP, 0]]);
}

conformance(
  'uring.POLL_REMOVE with IOSQE_ASYNC (issued by io-wq): the removed POLL_ADD completes -ECANCELED with no further submission',
  {
    ops: ['uring.POLL_ADD', 'uring.POLL_REMOVE'],
    rule: 'SEMANTICS §3.9; man io_uring_prep_poll_remove(3); man io_uring_enter(2) IOSQE_ASYNC; kernel 5e3afe580a9f',
    knownBug: POLL_REMOVE_IOWQ_STALL,
  },
  (ctx) => removeOnIowq(ctx, 'async', 0),
);

conformance(
  'uring.POLL_REMOVE linked behind an FSYNC on a SINGLE_ISSUER|DEFER_TASKRUN ring: the removed POLL_ADD completes ' +
    '-ECANCELED with no further submission',
  {
    ops: ['uring.POLL_ADD', 'uring.POLL_REMOVE', 'uring.FSYNC', 'uring.setup'],
    rule:
      'SEMANTICS §3.9, §3.10; man io_uring_prep_poll_remove(3); man io_uring_setup(2) IORING_SETUP_DEFER_TASKRUN; ' +
      'kernel 5e3afe580a9f',
    knownBug: POLL_REMOVE_IOWQ_STALL,
  },
  (ctx) => removeOnIowq(ctx, 'linked', needSetupFlags(ctx, 'SINGLE_ISSUER', 'DEFER_TASKRUN')),
);
