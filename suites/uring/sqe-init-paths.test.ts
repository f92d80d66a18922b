/**
 * Submission-side rules (SEMANTICS §3.5, §3.10): an SQE of an op without ioprio support but with ioprio set
 * fails with -EINVAL; a link whose member fails at init fails whole, the member with its error and the others
 * with -ECANCELED, whether the failing member is in the middle or at the end; a link still open at the end of a
 * batch ends there and runs; a DRAIN request with nothing in flight runs at once (man io_uring_enter(2)
 * IOSQE_IO_DRAIN); an SQ array entry naming no SQE is dropped and counted in the SQ ring's `dropped` word
 * (man io_uring_setup(2) sq_off.dropped).
 */
import { expect } from 'chai';
import { errno, IO_URING_PARAMS_LAYOUT, IOSQE, SYSCALLS } from '../../src/abi';
import { arg, Program } from '../../src/program/builder';
import { placeAll } from '../../src/program/struct';
import { pipe2 } from '../../src/program/sys';
import type { Target } from '../../src/target/target';
import { enter, reap, setupRing, sqe, submit } from '../../src/program/uring';
import { requireSetup, writeBytes } from '../../src/oracle/uring-files';
import { conformance } from '../../src/suite/conformance';

const LINK = IOSQE.IO_LINK.value;

conformance(
  'uring SQE init failures: ioprio on NOP is -EINVAL; a link with a failing member fails whole; an open link ends with the batch; a lone DRAIN runs',
  { ops: ['uring.NOP'], rule: 'SEMANTICS §3.5 (io_init_req item 5; links), §3.10; man io_uring_enter(2)' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 8 });
    const prio = submit(s, h, [sqe({ opcode: 'NOP', ioprio: 1, user_data: 1 })]);
    const c1 = reap(s, h, 1, 8);
    // the failing member in the middle of the link, then at its end
    const mid = submit(s, h, [
      sqe({ opcode: 'NOP', flags: LINK, user_data: 0x21 }),
      sqe({ opcode: 'NOP', flags: LINK, ioprio: 1, user_data: 0x22 }),
      sqe({ opcode: 'NOP', user_data: 0x23 }),
    ]);
    const c2 = reap(s, h, 3, 8);
    const end = submit(s, h, [
      sqe({ opcode: 'NOP', flags: LINK, user_data: 0x31 }),
      sqe({ opcode: 'NOP', ioprio: 1, user_data: 0x32 }),
    ]);
    const c3 = reap(s, h, 2, 8);
    const first = submit(s, h, [
      sqe({ opcode: 'NOP', flags: LINK, ioprio: 1, user_data: 0x35 }),
      sqe({ opcode: 'NOP', user_data: 0x36 }),
    ]);
    const c35 = reap(s, h, 2, 8);
    const open = submit(s, h, [sqe({ opcode: 'NOP', flags: LINK, user_data: 0x41 })]);
    const c4 = reap(s, h, 1, 8);
    const drain = submit(s, h, [sqe({ opcode: 'NOP', flags: IOSQE.IO_DRAIN.value, user_data: 0x51 })]);
    const c5 = reap(s, h, 1, 8);
    const v = await target.run(p);
    requireSetup(v, [{ what: 'io_uring_setup', step: h.setup }]);
    const cqes = (st: typeof c1) =>
      v
        .step(st)
        .cqes.map((x) => [Number(x.userData), x.res])
        .sort((a, b) => a[0] - b[0]);
    expect([v.ret(prio.enter), cqes(c1)], 'NOP with ioprio 1: consumed, -EINVAL').to.deep.equal([
      1,
      [[1, -errno.EINVAL]],
    ]);
    expect([v.ret(mid.enter), cqes(c2)], 'failing member in the middle').to.deep.equal([
      3,
      [
        [0x21, -errno.ECANCELED],
        [0x22, -errno.EINVAL],
        [0x23, -errno.ECANCELED],
      ],
    ]);
    expect([v.ret(end.enter), cqes(c3)], 'failing member at the end').to.deep.equal([
      2,
      [
        [0x31, -errno.ECANCELED],
        [0x32, -errno.EINVAL],
      ],
    ]);
    expect([v.ret(first.enter), cqes(c35)], 'failing member first').to.deep.equal([
      2,
      [
        [0x35, -errno.EINVAL],
        [0x36, -errno.ECANCELED],
      ],
    ]);
    expect([v.ret(open.enter), cqes(c4)], 'IOSQE_IO_LINK on the last SQE of a batch: it runs').to.deep.equal([
      1,
      [[0x41, 0]],
    ]);
    expect([v.ret(drain.enter), cqes(c5)], 'IOSQE_IO_DRAIN with nothing in flight: it runs').to.deep.equal([
      1,
      [[0x51, 0]],
    ]);
  },
);

/** `sq_off.array` as this kernel reports it: where the SQ index array starts in the SQ ring mapping. */
async function sqArrayOffset(target: Target): Promise<number> {
  const p = new Program();
  const h = setupRing(p.main, { entries: 4 });
  const v = await target.run(p);
  if (v.ret(h.setup) < 0) throw new Error(`setup failed: io_uring_setup returned ${v.ret(h.setup)}`);
  return v.step(h.paramsDump).dump!.readUInt32LE(IO_URING_PARAMS_LAYOUT.fields['sq_off.array'].offset);
}

conformance(
  'uring an SQ array entry past the SQ entries is dropped: nothing is submitted, sq_dropped counts it, the next SQE runs',
  { ops: ['uring.NOP'], rule: 'man io_uring_setup(2) sq_off.dropped; SEMANTICS §3.3' },
  async ({ target }) => {
    const array = await sqArrayOffset(target);
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 4 });
    const b = p.buf(2 * 64);
    placeAll(s, b, 0, [sqe({ opcode: 'NOP', user_data: 0x61 }), sqe({ opcode: 'NOP', user_data: 0x62 })]);
    const q = s.uringQueue(h.ring, b, 0, 1);
    // the application writes index 7 (there are 4 SQEs) into array slot 0: through a pipe, since a program
    // writes ring memory only by handing its address to a syscall
    const pipe = pipe2(s);
    const word = Buffer.alloc(4);
    word.writeUInt32LE(7);
    const put = writeBytes(s, pipe.w, word);
    const set = s.syscall(SYSCALLS.read, [arg.fd(pipe.r), arg.ringmem(h.ring, 0, array), 4]);
    const e = enter(s, h, 1, 0, 0);
    const st = s.uringState(h.ring);
    const q2 = s.uringQueue(h.ring, b, 64, 1);
    const e2 = enter(s, h, 1, 1, 1);
    const c = reap(s, h, 1, 4);
    const v = await target.run(p);
    requireSetup(v, [
      { what: 'io_uring_setup', step: h.setup },
      { what: 'queue of a NOP', step: q, want: 1 },
      { what: 'pipe2', step: pipe.step },
      { what: 'write of the index', step: put, want: 4 },
      { what: 'read of the index into the SQ array', step: set, want: 4 },
      { what: 'queue of the second NOP', step: q2, want: 1 },
    ]);
    expect(v.ret(e), 'io_uring_enter of the bad entry: nothing submitted').to.equal(0);
    const ring = v.step(st).ring!;
    expect([ring.sqHead, ring.sqDropped], 'the entry is consumed and counted as dropped').to.deep.equal([1, 1]);
    expect(v.ret(e2), 'the next SQE is submitted').to.equal(1);
    expect(
      v.step(c).cqes.map((x) => [Number(x.userData), x.res]),
      'only the second NOP completes',
    ).to.deep.equal([[0x62, 0]]);
  },
);
