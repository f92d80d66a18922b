/**
 * A ring shared with a forked child outlives its creator: process A (forked by the runner) creates the ring,
 * forks B and exits; B then submits on the inherited ring fd and reaps (SEMANTICS §3.11, fork/clone; §6 lists the
 * results of requests after the creator's exit as unverified).
 */
import { expect } from 'chai';
import { errno, O, SYSCALLS } from '../../../src/abi';
import { setLedgerMode } from '../../../src/program/aio';
import { arg, Program } from '../../../src/program/builder';
import { close, pipe2, pread, scratchFile } from '../../../src/program/sys';
import { reap, setupRing, sqe, submit } from '../../../src/program/uring';
import { missingSetup, RING_FLAGS, readThreadCount, waitStatus } from '../../../src/oracle/exit';
import { conformance } from '../../../src/suite/conformance';

const SEED = 0x5a7e;
const N = 4096;

for (const [submitter, title] of [
  [
    'uring',
    "io_uring: a ring a forked child inherited works after its creator exits; the creator's pending read: -ECANCELED",
  ],
  [
    'uring-sqpoll',
    "io_uring SQPOLL: an inherited ring stops when its creator exits (-EOWNERDEAD); its pending read ends -ECANCELED",
  ],
] as const)
  conformance(
    title,
    { ops: ['uring.NOP', 'uring.WRITE'], rule: 'SEMANTICS §3.11' },
    async ({ target, caps, scratch, skip }) => {
      const why = missingSetup(caps, submitter);
      if (why) skip(why);
      const sqpoll = submitter === 'uring-sqpoll';
      const p = new Program({ deadlineMs: 15_000 });
      setLedgerMode(p, 'at-most-once'); // A exits with a read in flight
      const s = p.main;
      const { fd: file, step: open } = scratchFile(s, scratch, 'data');
      const data = p.buf(N);
      s.fillPattern(data, 0, N, SEED);
      // B holds `done`'s write end until it exits; `go` tells B that A has been reaped
      const done = pipe2(s, O.CLOEXEC.value);
      const go = pipe2(s, O.CLOEXEC.value);
      const a = p.seq();
      const b = p.seq();
      const h = setupRing(a, { flags: RING_FLAGS[submitter], entries: 8 });
      // a read of an empty pipe that A leaves in flight when it exits; B feeds the pipe afterwards
      const pipe = pipe2(s, O.CLOEXEC.value);
      const sink = p.buf(64);
      const read20 = sqe({ opcode: 'READ', fd: pipe.r, addr: arg.buf(sink), len: 64, off: 0, user_data: 20 });
      const left = submit(a, h, [read20]);
      a.sleep(50);
      const aPid = p.buf(8);
      a.syscall(SYSCALLS.getpid, [], { store: aPid });
      const bPid = p.pid();
      const forkB = a.fork(b, bPid);
      a.exit(0);
      const one = p.buf(8);
      const gone = b.syscall(SYSCALLS.read, [arg.fd(go.r), arg.buf(one), 1]);
      const probeA = b.syscall(SYSCALLS.kill, [arg.load32(aPid, 0), 0]);
      const threads = readThreadCount(b).threads;
      const feed = b.syscall(SYSCALLS.write, [arg.fd(pipe.w), arg.buf(data), 64]);
      const sub = submit(
        b,
        h,
        [
          sqe({ opcode: 'NOP', user_data: 21 }),
          sqe({ opcode: 'WRITE', fd: file, addr: arg.buf(data), len: N, off: 0, user_data: 22 }),
        ],
      );
      const got = reap(b, h, 3, 3, 3000);
      const aSlot = p.pid();
      const forkA = s.fork(a, aSlot);
      close(s, done.w);
      const waitA = s.wait(aSlot, 5000);
      const goStep = s.syscall(SYSCALLS.write, [arg.fd(go.w), arg.buf(one), 1]);
      const bDone = s.syscall(SYSCALLS.read, [arg.fd(done.r), arg.buf(one), 1]);
      const back = p.buf(N);
      const read = pread(s, file, back, N, 0);
      const verify = s.verify(back, 0, N, SEED);
      const v = await target.run(p);
      expect(v.ret(open), 'open of the scratch file').to.be.at.least(0);
      expect(v.ret(h.setup), 'A set up the ring').to.be.at.least(0);
      expect(v.ret(left.enter), 'A submitted the pipe read it leaves in flight').to.equal(1);
      expect(v.ret(forkB), 'A forked B').to.be.above(0);
      expect(v.ret(forkA), 'the runner forked A').to.be.above(0);
      expect(v.step(waitA).deadline, 'A was reaped in time').to.equal(false);
      expect(waitStatus(v.step(waitA).ret2), 'A exited 0').to.deep.equal({ exited: 0 });
      expect(v.ret(goStep), 'the go byte to B').to.equal(1);
      expect(v.ret(gone), 'B was told A is gone').to.equal(1);
      expect(v.ret(probeA), 'kill(A, 0) from B: A is gone').to.equal(-errno.ESRCH);
      // iou-sqp-*/iou-wrk-* threads belong to the process that made them: none of A's lives on in B
      expect(threads(v), "B runs one thread: no io thread of A's came with the ring").to.equal(1);
      expect(v.ret(feed), 'B fed the pipe').to.equal(64);
      expect(v.ret(bDone), 'B exited: its end of the done pipe closed').to.equal(0);
      const cqes = v
        .step(got)
        .cqes.map((c) => [Number(c.userData), c.res])
        .sort((x, y) => x[0] - y[0]);
      // Measured on 6.1.0-56, 6.12.117 and 6.18.44 alike (SEMANTICS §6 had it unverified): the read A left in
      // flight ends -ECANCELED; B's own NOP and WRITE work on a plain ring. The SQPOLL thread is a thread of A and
      // died with it: B's io_uring_enter gets -EOWNERDEAD and nothing B queued runs.
      if (!sqpoll) {
        const both = "B's io_uring_enter on the inherited ring submits both SQEs (SEMANTICS §3.11)";
        expect(v.ret(sub.enter), both).to.equal(2);
        const want = "A's read ends -ECANCELED; B's NOP and WRITE complete (SEMANTICS §3.11, measured)";
        expect(cqes, want).to.deep.equal([
          [20, -errno.ECANCELED],
          [21, 0],
          [22, N],
        ]);
        expect(v.ret(read), "B's write is in the file").to.equal(N);
        expect(v.step(verify).verify!.mismatches, "B's write's data is in the file").to.equal(0);
      } else {
        const dead = "B's io_uring_enter: -EOWNERDEAD, the SQPOLL thread died with A (SEMANTICS §3.5)";
        expect(v.ret(sub.enter), dead).to.equal(-errno.EOWNERDEAD);
        expect(cqes, "only A's read completes, with -ECANCELED (measured)").to.deep.equal([[20, -errno.ECANCELED]]);
        expect(v.ret(read), "B's write never ran: the file is empty").to.equal(0);
      }
    },
  );
