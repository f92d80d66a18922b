/**
 * IOSQE_IO_DRAIN in the middle of a link drains the whole link, and what follows the link waits for it: "the SQE
 * will not be started before previously submitted SQEs have completed, and new SQEs will not be started before
 * this one completes" (man io_uring_enter(2) IOSQE_IO_DRAIN; SEMANTICS §3.4). Closing the ring while a drained
 * request still waits cancels it without it ever running (SEMANTICS §3.11: ring teardown cancels drain-deferred
 * requests; its CQEs are not observable).
 */
import { expect } from 'chai';
import * as path from 'path';
import { errno, IOSQE, O, POLL_EV, POLLFD_LAYOUT, SYSCALLS } from '../../src/abi';
import { setLedgerMode } from '../../src/program/aio';
import { arg, Program } from '../../src/program/builder';
import { encodeStruct, place } from '../../src/program/struct';
import { close, mkfifo, openat, pipe2 } from '../../src/program/sys';
import { reap, setupRing, sqe, submit } from '../../src/program/uring';
import { registerFiles, requireSetup } from '../../src/oracle/uring-files';
import { blockedFifoOpen } from '../../src/oracle/uring-paths';
import { conformance } from '../../src/suite/conformance';

const DRAIN = IOSQE.IO_DRAIN.value;
const LINK = IOSQE.IO_LINK.value;

conformance(
  'uring IOSQE_IO_DRAIN on the second member of a link holds the link and the SQE after it until earlier requests complete',
  { ops: ['uring.READ', 'uring.NOP'], rule: 'man io_uring_enter(2) IOSQE_IO_DRAIN; SEMANTICS §3.4, §3.10' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const pipe = pipe2(s, O.CLOEXEC.value);
    const h = setupRing(s, { entries: 8 });
    const sub = submit(s, h, [
      sqe({ opcode: 'READ', fd: pipe.r, addr: arg.buf(p.buf(8)), len: 8, off: -1n, user_data: 1 }),
      sqe({ opcode: 'NOP', flags: LINK, user_data: 2 }),
      sqe({ opcode: 'NOP', flags: DRAIN, user_data: 3 }),
      sqe({ opcode: 'NOP', user_data: 4 }),
    ]);
    const early = reap(s, h, 0, 8, 0);
    const wr = s.syscall(SYSCALLS.write, [arg.fd(pipe.w), arg.buf(p.data(Buffer.from('abcd'))), 4]);
    const c = reap(s, h, 4, 8);
    const v = await target.run(p);
    requireSetup(v, [
      { what: 'pipe2', step: pipe.step },
      { what: 'io_uring_setup', step: h.setup },
      { what: 'io_uring_enter', step: sub.enter, want: 4 },
      { what: 'write to the pipe', step: wr, want: 4 },
    ]);
    expect(
      v.step(early).cqes,
      'while the READ waits nothing completes: not the link, not the NOP after it',
    ).to.deep.equal([]);
    const got = v.step(c).cqes.map((x) => [Number(x.userData), x.res]);
    expect(
      [...got].sort((a, b) => a[0] - b[0]),
      'all complete once the READ has its bytes',
    ).to.deep.equal([
      [1, 4],
      [2, 0],
      [3, 0],
      [4, 0],
    ]);
    expect(
      got.map((x) => x[0]),
      'in order: the READ, the link in chain order, then the SQE after the drained link',
    ).to.deep.equal([1, 2, 3, 4]);
  },
);

conformance(
  'uring closing the ring cancels a drained WRITE still waiting behind a pending READ: the WRITE never happens, and the teardown drops the registered files',
  {
    ops: ['uring.READ', 'uring.WRITE', 'uring.register'],
    rule: 'SEMANTICS §3.11 (ring teardown cancels drain-deferred requests, then frees the ring)',
  },
  async ({ target }) => {
    const p = new Program();
    setLedgerMode(p, 'at-most-once'); // the ring is closed with both requests in flight: no CQE is reaped
    const s = p.main;
    const a = pipe2(s, O.CLOEXEC.value);
    const b = pipe2(s, O.CLOEXEC.value | O.NONBLOCK.value);
    const c = pipe2(s, O.CLOEXEC.value);
    const h = setupRing(s, { entries: 4 });
    // c's write end as a registered file, our own copy closed: the ring holds the last reference to it, which
    // goes when the teardown has run to its end (c's read end then polls POLLHUP: no writer left)
    const reg = registerFiles(s, h, [c.w]);
    const closeCw = close(s, c.w);
    const sub = submit(s, h, [
      sqe({ opcode: 'READ', fd: a.r, addr: arg.buf(p.buf(8)), len: 8, off: -1n, user_data: 1 }),
      sqe({
        opcode: 'WRITE',
        flags: DRAIN,
        fd: b.w,
        addr: arg.buf(p.data(Buffer.from('x'))),
        len: 1,
        off: -1n,
        user_data: 2,
      }),
    ]);
    const early = reap(s, h, 0, 4, 0);
    // the READ holds the only other reference to a's read end: once the teardown has freed it, a's write end
    // polls POLLERR (no reader left; man 7 pipe). poll(2) with events 0 waits for POLLERR or POLLHUP only.
    const closeR = close(s, a.r);
    const gone = s.uringClose(h.ring);
    const pfd = p.buf(POLLFD_LAYOUT.size);
    place(s, pfd, 0, encodeStruct(POLLFD_LAYOUT, { fd: arg.fd(a.w), events: 0 }));
    const waited = s.syscall(SYSCALLS.poll, [arg.buf(pfd), 1, 5000]);
    const revents = s.dump(pfd);
    const rd = s.syscall(SYSCALLS.read, [arg.fd(b.r), arg.buf(p.buf(8)), 8]);
    const hfd = p.buf(POLLFD_LAYOUT.size);
    place(s, hfd, 0, encodeStruct(POLLFD_LAYOUT, { fd: arg.fd(c.r), events: 0 }));
    const freed = s.syscall(SYSCALLS.poll, [arg.buf(hfd), 1, 5000]);
    const hup = s.dump(hfd);
    const v = await target.run(p);
    requireSetup(v, [
      { what: 'pipe2 a', step: a.step },
      { what: 'pipe2 b', step: b.step },
      { what: 'pipe2 c', step: c.step },
      { what: "IORING_REGISTER_FILES of c's write end", step: reg, want: 0 },
      { what: "close of c's write end", step: closeCw, want: 0 },
      { what: 'io_uring_setup', step: h.setup },
      { what: 'io_uring_enter', step: sub.enter, want: 2 },
      { what: "close of a's read end", step: closeR, want: 0 },
      { what: 'unmap and close of the ring', step: gone, want: 0 },
    ]);
    expect(v.step(early).cqes, 'before the close: the READ waits, the WRITE waits behind it').to.deep.equal([]);
    expect(v.ret(waited), 'the teardown freed the READ: one fd ready').to.equal(1);
    expect(
      v.step(revents).dump!.readUInt16LE(POLLFD_LAYOUT.fields.revents.offset) & POLL_EV.ERR.value,
      "a's write end: POLLERR, no reader left",
    ).to.equal(POLL_EV.ERR.value);
    expect(v.ret(rd), 'the drained WRITE never ran: b is empty (-EAGAIN)').to.equal(-errno.EAGAIN);
    expect(v.ret(freed), 'the teardown ran to its end and dropped the registered file').to.equal(1);
    expect(
      v.step(hup).dump!.readUInt16LE(POLLFD_LAYOUT.fields.revents.offset) & POLL_EV.HUP.value,
      "c's read end: POLLHUP, no writer left",
    ).to.equal(POLL_EV.HUP.value);
  },
);

conformance(
  'uring closing the ring interrupts an IOSQE_ASYNC OPENAT blocked in io-wq on a FIFO: the teardown completes and no reader is left',
  {
    ops: ['uring.OPENAT', 'uring.register'],
    rule: 'SEMANTICS §3.11 (ring teardown cancels io-wq work, running work is signalled); man 7 fifo',
  },
  async ({ target, scratch }) => {
    const p = new Program();
    setLedgerMode(p, 'at-most-once'); // the ring is closed with the open in flight: no CQE is reaped
    const s = p.main;
    const fifo = path.posix.join(scratch, 'fifo');
    const made = mkfifo(s, fifo);
    const c = pipe2(s, O.CLOEXEC.value);
    const h = setupRing(s, { entries: 4 });
    const reg = registerFiles(s, h, [c.w]);
    const closeCw = close(s, c.w);
    const sub = submit(s, h, [
      blockedFifoOpen(p, fifo, 1),
    ]);
    const early = reap(s, h, 0, 4, 200);
    const gone = s.uringClose(h.ring);
    // the registered file goes last, when the ring is freed: c's read end then polls POLLHUP
    const hfd = p.buf(POLLFD_LAYOUT.size);
    place(s, hfd, 0, encodeStruct(POLLFD_LAYOUT, { fd: arg.fd(c.r), events: 0 }));
    const freed = s.syscall(SYSCALLS.poll, [arg.buf(hfd), 1, 5000]);
    const hup = s.dump(hfd);
    const w = openat(s, fifo, O.WRONLY.value | O.NONBLOCK.value | O.CLOEXEC.value);
    const v = await target.run(p);
    requireSetup(v, [
      { what: 'mknodat of the FIFO', step: made, want: 0 },
      { what: 'pipe2', step: c.step },
      { what: 'io_uring_setup', step: h.setup },
      { what: "IORING_REGISTER_FILES of c's write end", step: reg, want: 0 },
      { what: "close of c's write end", step: closeCw, want: 0 },
      { what: 'io_uring_enter', step: sub.enter, want: 1 },
      { what: 'unmap and close of the ring', step: gone, want: 0 },
    ]);
    expect(v.step(early).cqes, 'no writer: the open waits in io-wq').to.deep.equal([]);
    expect(v.ret(freed), 'the teardown ran to its end').to.equal(1);
    expect(
      v.step(hup).dump!.readUInt16LE(POLLFD_LAYOUT.fields.revents.offset) & POLL_EV.HUP.value,
      "c's read end: POLLHUP",
    ).to.equal(POLL_EV.HUP.value);
    expect(v.ret(w.step), 'the open was interrupted: no reader on the FIFO (ENXIO)').to.equal(-errno.ENXIO);
  },
);
