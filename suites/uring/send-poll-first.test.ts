/**
 * IORING_RECVSEND_POLL_FIRST (5.19): SEND and RECV arm poll before trying, but the outcome is the same
 * as without the flag: a ready socket completes at once like send(2)/recv(2), an empty one waits for data.
 * man io_uring_prep_send(3), io_uring_prep_recv(3).
 */
import { expect } from 'chai';
import { RECVSEND, SYSCALLS } from '../../src/abi';
import { arg, Program } from '../../src/program/builder';
import { patternBytes } from '../../src/program/pattern';
import { reap, sqe, submit } from '../../src/program/uring';
import { UringRunner } from '../../src/oracle/uring-files';
import { expectSetup, socketpair } from '../../src/oracle/uring-net';
import { conformance } from '../../src/suite/conformance';

const FIRST = RECVSEND.POLL_FIRST.value;
const SEED = 0x9f15;

conformance(
  'uring.SEND and RECV with IORING_RECVSEND_POLL_FIRST: ready sockets complete like send(2)/recv(2); an empty one waits',
  {
    ops: ['uring.SEND', 'uring.RECV'],
    rule: 'man io_uring_prep_send(3), io_uring_prep_recv(3) IORING_RECVSEND_POLL_FIRST',
  },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const u = new UringRunner(s);
    const pair = socketpair(s);
    const src = p.buf(100);
    s.fillPattern(src, 0, 100, SEED);
    // SEND with room in the socket: all 100 bytes, which the peer reads
    const send = u.run({ opcode: 'SEND', fd: pair.x, ioprio: FIRST, addr: arg.buf(src), len: 100 });
    // RECV with the data already there: it takes the 100 bytes
    const into = p.buf(256);
    const recv = u.run({ opcode: 'RECV', fd: pair.y, ioprio: FIRST, addr: arg.buf(into), len: 256 });
    const intoDump = s.dump(into);
    // RECV on the emptied socket: pending until the peer writes
    const late = p.buf(256);
    const arm = submit(s, u.h, [
      sqe({ opcode: 'RECV', fd: pair.y, ioprio: FIRST, addr: arg.buf(late), len: 256, user_data: 0x9f1 }),
    ]);
    const idle = reap(s, u.h, 0, 4, 50);
    const w = s.syscall(SYSCALLS.write, [arg.fd(pair.x), arg.buf(src, 10), 30]);
    const woke = reap(s, u.h, 1, 4);
    const lateDump = s.dump(late);
    const v = await target.run(p);
    expectSetup(v, [pair.step, u.h.setup], 'socketpair and ring');
    expect(send(v).res, 'SEND with POLL_FIRST on a socket with room: 100, like send(2)').to.equal(100);
    expect(recv(v).res, 'RECV with POLL_FIRST with data waiting: 100, like recv(2)').to.equal(100);
    expect(
      v
        .step(intoDump)
        .dump!.subarray(0, 100)
        .equals(patternBytes(SEED, 0, 100)),
      'the bytes sent',
    ).to.equal(true);
    expect(v.ret(arm.enter), 'the RECV on the empty socket is submitted').to.equal(1);
    expect(v.step(idle).cqes, 'nothing to read: it stays pending').to.deep.equal([]);
    expect(v.ret(w), 'the peer writes 30 bytes').to.equal(30);
    expect(
      v.step(woke).cqes.map((q) => [q.userData, q.res]),
      'the pending RECV completes with the 30 bytes',
    ).to.deep.equal([[0x9f1n, 30]]);
    expect(
      v
        .step(lateDump)
        .dump!.subarray(0, 30)
        .equals(patternBytes(SEED, 10, 30)),
      'the 30 bytes written',
    ).to.equal(true);
  },
);
