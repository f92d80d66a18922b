/**
 * IORING_OP_SEND and IORING_OP_RECV against send(2) and recv(2) on AF_UNIX socketpairs, and multishot
 * RECV with provided buffers (man io_uring_prep_send, io_uring_prep_recv, io_uring_prep_recv_multishot).
 */
import { expect } from 'chai';
import { CQE_F, errno, IOSQE, MSG, RECVSEND, SHUT, SYSCALLS, URING_CONST } from '../../src/abi';
import { arg, Program } from '../../src/program/builder';
import { patternBytes } from '../../src/program/pattern';
import { scratchFile } from '../../src/program/sys';
import { reap, setupRing, sqe, submit } from '../../src/program/uring';
import { conformance } from '../../src/suite/conformance';
import { expectSetup, oneShot, reaped, resOf, socketpair } from '../../src/oracle/uring-net';

const SEED = 0x5e0d;

conformance(
  'uring.SEND sends like send(2) and fails like it',
  { ops: ['uring.SEND'], rule: 'man io_uring_prep_send' },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 4 });
    const src = p.buf(100);
    s.fillPattern(src, 0, 100, SEED);
    const file = scratchFile(s, scratch, 'not-a-socket');
    // EPIPE: our own side shut for writing; MSG_NOSIGNAL keeps SIGPIPE away from the executor
    const cases = [
      { what: 'a connected socket', shut: false, file: false, want: 100 },
      { what: 'a socket shut for writing', shut: true, file: false, want: -errno.EPIPE },
      { what: 'a regular file', shut: false, file: true, want: -errno.ENOTSOCK },
    ];
    const runs = cases.map((c, i) => {
      const pairs = [socketpair(s), socketpair(s)];
      const shut = c.shut ? pairs.map((x) => s.syscall(SYSCALLS.shutdown, [arg.fd(x.x), SHUT.WR.value])) : [];
      const [fs, fa] = c.file ? [file.fd, file.fd] : [pairs[0].x, pairs[1].x];
      const sync = s.syscall(SYSCALLS.sendto, [arg.fd(fs), arg.buf(src), 100, MSG.NOSIGNAL.value, 0, 0]);
      // liburing io_uring_prep_send: addr = buf, len = length, msg_flags = flags
      const one = oneShot(
        s,
        h,
        { opcode: 'SEND', fd: fa, addr: arg.buf(src), len: 100, msg_flags: MSG.NOSIGNAL.value },
        BigInt(0x5e0 + i),
      );
      // what the peer received: everything there is, without waiting
      const got = pairs.map((x) => {
        const b = p.buf(4096);
        return {
          read: s.syscall(SYSCALLS.recvfrom, [arg.fd(x.y), arg.buf(b), 4096, MSG.DONTWAIT.value, 0, 0]),
          dump: s.dump(b),
        };
      });
      return { c, setup: [...pairs.map((x) => x.step), ...shut], sync, one, got };
    });
    const v = await target.run(p);
    expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
    expectSetup(v, [file.step], 'scratch file');
    for (const r of runs) {
      expectSetup(v, r.setup, `fixture of "${r.c.what}"`);
      expect(v.ret(r.sync), `send(2) on ${r.c.what}`).to.equal(r.c.want);
      expect(resOf(v, r.one), `SEND on ${r.c.what}: the same result as send(2) (man io_uring_prep_send)`).to.equal(
        r.c.want,
      );
      const [a, b] = r.got.map((g) => [v.ret(g.read), v.step(g.dump).dump!] as const);
      expect(b[0], `the peer of ${r.c.what} receives what send(2)'s peer received`).to.equal(a[0]);
      expect(b[1].equals(a[1]), 'the same bytes').to.equal(true);
      if (r.c.want > 0)
        expect(b[1].subarray(0, 100).equals(patternBytes(SEED, 0, 100)), 'the bytes sent').to.equal(true);
    }
  },
);

conformance(
  'uring.RECV receives like recv(2), waits for data, and fails like it',
  { ops: ['uring.RECV'], rule: 'man io_uring_prep_recv' },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 4 });
    const src = p.buf(100);
    s.fillPattern(src, 0, 100, SEED + 1);
    const pairs = [socketpair(s), socketpair(s)];
    for (const x of pairs) s.syscall(SYSCALLS.write, [arg.fd(x.x), arg.buf(src), 100]);
    const bufs = [p.buf(4096), p.buf(4096)];
    for (const b of bufs) s.fillByte(b, 0, 4096, 0xa5);
    const sync = s.syscall(SYSCALLS.recvfrom, [arg.fd(pairs[0].y), arg.buf(bufs[0]), 4096, 0, 0, 0]);
    const one = oneShot(s, h, { opcode: 'RECV', fd: pairs[1].y, addr: arg.buf(bufs[1]), len: 4096 }, 0x4ec0n);
    const dumps = bufs.map((b) => s.dump(b));
    // an empty socket: RECV stays pending until the peer writes
    const wait = submit(s, h, [
      sqe({ opcode: 'RECV', fd: pairs[1].y, addr: arg.buf(bufs[1]), len: 4096, user_data: 0x4ec1 }),
    ]);
    const pending = reap(s, h, 0, 4, 50);
    const late = s.syscall(SYSCALLS.write, [arg.fd(pairs[1].x), arg.buf(src), 30]);
    const woke = reap(s, h, 1, 4);
    // errors: MSG_DONTWAIT on an empty socket, a regular file
    const file = scratchFile(s, scratch, 'not-a-socket');
    const errs = [
      {
        what: 'an empty socket with MSG_DONTWAIT',
        fd: pairs[0].y,
        fa: pairs[1].y,
        flags: MSG.DONTWAIT.value,
        want: -errno.EAGAIN,
      },
      { what: 'a regular file', fd: file.fd, fa: file.fd, flags: 0, want: -errno.ENOTSOCK },
    ].map((e, i) => ({
      ...e,
      sync: s.syscall(SYSCALLS.recvfrom, [arg.fd(e.fd), arg.buf(bufs[0]), 4096, e.flags, 0, 0]),
      one: oneShot(
        s,
        h,
        { opcode: 'RECV', fd: e.fa, addr: arg.buf(bufs[1]), len: 4096, msg_flags: e.flags },
        BigInt(0x4ec2 + i),
      ),
    }));
    const v = await target.run(p);
    expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
    expectSetup(v, [...pairs.map((x) => x.step), file.step], 'socketpairs and file');
    expect(v.ret(sync), 'recv(2) takes the 100 bytes').to.equal(100);
    expect(resOf(v, one), 'RECV takes the 100 bytes like recv(2) (man io_uring_prep_recv)').to.equal(100);
    const [a, b] = dumps.map((d) => v.step(d).dump!);
    expect(b.equals(a), 'the buffer afterwards is the one recv(2) leaves').to.equal(true);
    expect(b.subarray(0, 100).equals(patternBytes(SEED + 1, 0, 100)), 'the bytes written').to.equal(true);
    expect(v.ret(wait.enter), 'the second RECV is submitted').to.equal(1);
    expect(v.step(pending).cqes, 'nothing to read: the RECV stays pending').to.deep.equal([]);
    expect(v.ret(late), 'the peer writes 30 bytes').to.equal(30);
    expect(
      v.step(woke).cqes.map((q) => [q.userData, q.res]),
      'the pending RECV completes with the 30 bytes (man io_uring_prep_recv)',
    ).to.deep.equal([[0x4ec1n, 30]]);
    for (const e of errs) {
      expect(v.ret(e.sync), `recv(2) on ${e.what}`).to.equal(e.want);
      expect(resOf(v, e.one), `RECV on ${e.what}: the same error as recv(2)`).to.equal(e.want);
    }
  },
);

conformance(
  'uring.RECV multishot with provided buffers posts one CQE with F_MORE per message and ends at EOF',
  { ops: ['uring.RECV', 'uring.PROVIDE_BUFFERS'], rule: 'man io_uring_prep_recv_multishot' },
  async ({ target }) => {
    const BGID = 7;
    const SIZE = 64;
    const NBUFS = 4;
    const [PROVIDE, MULTI] = [0x9b0n, 0x9b1n];
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 8 });
    const pool = p.buf(SIZE * NBUFS);
    const src = p.buf(3 * 10);
    s.fillPattern(src, 0, 30, SEED + 2);
    const pair = socketpair(s);
    // liburing io_uring_prep_provide_buffers: fd = nr, addr = base, len = size of each, off = first bid
    const prov = oneShot(
      s,
      h,
      { opcode: 'PROVIDE_BUFFERS', fd: NBUFS, addr: arg.buf(pool), len: SIZE, off: 0, buf_group: BGID },
      PROVIDE,
    );
    const arm = submit(s, h, [
      sqe({
        opcode: 'RECV',
        fd: pair.y,
        flags: IOSQE.BUFFER_SELECT.value,
        ioprio: RECVSEND.RECV_MULTISHOT.value,
        buf_group: BGID,
        user_data: MULTI,
      }),
    ]);
    const idle = reap(s, h, 0, 4, 0);
    // one message at a time, each reaped before the next is written, so a stream socket cannot merge them
    const msgs = [0, 1, 2].map((k) => {
      const w = s.syscall(SYSCALLS.write, [arg.fd(pair.x), arg.buf(src, 10 * k), 10]);
      return { w, got: reap(s, h, 1, 4) };
    });
    const eof = s.syscall(SYSCALLS.shutdown, [arg.fd(pair.x), SHUT.WR.value]);
    const end = reap(s, h, 1, 4);
    const more = reap(s, h, 0, 4, 0);
    const poolDump = s.dump(pool);
    const v = await target.run(p);
    expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
    expectSetup(v, [pair.step, eof], 'socketpair and shutdown');
    expect(resOf(v, prov), 'PROVIDE_BUFFERS of 4 buffers completes with 0').to.equal(0);
    expect(v.ret(arm.enter), 'the multishot RECV is submitted').to.equal(1);
    expect(v.step(idle).cqes, 'nothing written yet: no CQE').to.deep.equal([]);
    const data = v.step(poolDump).dump!;
    const bids = msgs.map((m, k) => {
      expect(v.ret(m.w), `message ${k + 1} written`).to.equal(10);
      const cqes = v.step(m.got).cqes;
      expect(
        cqes.map((q) => [q.userData, q.res]),
        `message ${k + 1}: one CQE of 10 bytes`,
      ).to.deep.equal([[MULTI, 10]]);
      const f = cqes[0].flags;
      expect(f & (CQE_F.MORE.value | CQE_F.BUFFER.value), `message ${k + 1}: F_MORE and F_BUFFER`).to.equal(
        CQE_F.MORE.value | CQE_F.BUFFER.value,
      );
      const bid = f >>> URING_CONST.CQE_BUFFER_SHIFT.value;
      expect(bid, `message ${k + 1}: a buffer id of the group`).to.be.below(NBUFS);
      expect(
        data.subarray(bid * SIZE, bid * SIZE + 10).equals(patternBytes(SEED + 2, 10 * k, 10)),
        `message ${k + 1} is in buffer ${bid}`,
      ).to.equal(true);
      return bid;
    });
    expect(new Set(bids).size, 'each message took its own buffer').to.equal(3);
    const last = reaped(v, end, more);
    expect(
      last.map((q) => [q.userData, q.res]),
      'EOF: the multishot RECV ends with res 0',
    ).to.deep.equal([[MULTI, 0]]);
    expect(last[0].flags & CQE_F.MORE.value, 'the last CQE has no F_MORE').to.equal(0);
  },
);
