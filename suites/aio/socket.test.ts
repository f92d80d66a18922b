/**
 * PREAD and PWRITE on a connected AF_UNIX socketpair work like read(2) and write(2); a socket has no
 * position, and sock_read_iter/sock_write_iter refuse a nonzero one with -ESPIPE (SEMANTICS §1.6).
 */
import { expect } from 'chai';
import { AF, errno, SOCK_FLAG, SOCK_TYPE, SYSCALLS } from '../../src/abi';
import { aioGetevents, aioSetup, aioSubmit, iocb } from '../../src/program/aio';
import { arg, Program, Sequence } from '../../src/program/builder';
import { patternBytes } from '../../src/program/pattern';
import { conformance } from '../../src/suite/conformance';

const SEED = 0x0a60;

/** socketpair(AF_UNIX, SOCK_STREAM) into two fresh fd slots. */
function socketpair(s: Sequence) {
  const p = s.program;
  const b = p.buf(8);
  const step = s.syscall(SYSCALLS.socketpair, [
    AF.UNIX.value,
    SOCK_TYPE.STREAM.value | SOCK_FLAG.CLOEXEC.value,
    0,
    arg.buf(b),
  ]);
  const [x, y] = [p.fd(), p.fd()];
  s.setSlot(x, arg.load32(b, 0));
  s.setSlot(y, arg.load32(b, 4));
  return { x, y, step };
}

conformance(
  'aio.PWRITE and aio.PREAD on a socketpair move bytes like write and read',
  { ops: ['aio.PREAD', 'aio.PWRITE'], rule: 'SEMANTICS §1.6' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const src = p.buf(100);
    s.fillPattern(src, 0, 100, SEED);
    const [a, b] = [socketpair(s), socketpair(s)];
    const [da, db] = [p.buf(4096), p.buf(4096)];
    s.fillByte(da, 0, 4096, 0xa5);
    s.fillByte(db, 0, 4096, 0xa5);
    const write = s.syscall(SYSCALLS.write, [arg.fd(a.x), arg.buf(src), 100]);
    const read = s.syscall(SYSCALLS.read, [arg.fd(a.y), arg.buf(da), 4096]);
    const { ctx, setup } = aioSetup(s, 4);
    const w = aioSubmit(s, ctx, [
      iocb({ opcode: 'PWRITE', fd: b.x, aio_data: 1, aio_buf: arg.buf(src), aio_nbytes: 100 }),
    ]).submit;
    const wev = aioGetevents(s, ctx, 1, 4);
    const r = aioSubmit(s, ctx, [
      iocb({ opcode: 'PREAD', fd: b.y, aio_data: 2, aio_buf: arg.buf(db), aio_nbytes: 4096 }),
    ]).submit;
    const rev = aioGetevents(s, ctx, 1, 4);
    const [dumpA, dumpB] = [s.dump(da), s.dump(db)];
    const v = await target.run(p);
    expect([v.ret(a.step), v.ret(b.step), v.ret(setup)], 'socketpair, socketpair, io_setup').to.deep.equal([0, 0, 0]);
    expect([v.ret(write), v.ret(read)], 'write(2) and read(2) move the 100 bytes').to.deep.equal([100, 100]);
    expect([v.ret(w), v.ret(r)], 'io_submit queues the write, then the read').to.deep.equal([1, 1]);
    const res = [...v.step(wev).events, ...v.step(rev).events].map((e) => [e.data, e.res]);
    expect(res, 'the socket write and read complete like write(2) and read(2) (SEMANTICS §1.6)').to.deep.equal([
      [1n, 100n],
      [2n, 100n],
    ]);
    const got = v.step(dumpB).dump!;
    expect(got.subarray(0, 100).equals(patternBytes(SEED, 0, 100)), 'the read returns the bytes written').to.equal(
      true,
    );
    expect(got.equals(v.step(dumpA).dump!), 'the buffer afterwards is the same as read(2) leaves it').to.equal(true);
  },
);

conformance(
  'aio.PWRITE and aio.PREAD on a socket with a nonzero aio_offset complete with -ESPIPE',
  { ops: ['aio.PREAD', 'aio.PWRITE'], rule: 'SEMANTICS §1.5' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const src = p.buf(100);
    const { x, y, step: pair } = socketpair(s);
    const pw = s.syscall(SYSCALLS.pwrite64, [arg.fd(x), arg.buf(src), 100, 4096]);
    const { ctx, setup } = aioSetup(s, 4);
    const { submit } = aioSubmit(s, ctx, [
      iocb({ opcode: 'PWRITE', fd: x, aio_data: 1, aio_buf: arg.buf(src), aio_nbytes: 100, aio_offset: 4096 }),
      iocb({ opcode: 'PREAD', fd: y, aio_data: 2, aio_buf: arg.buf(src), aio_nbytes: 100, aio_offset: 4096 }),
    ]);
    const ev = aioGetevents(s, ctx, 2, 4);
    const v = await target.run(p);
    expect([v.ret(pair), v.ret(setup)], 'socketpair, io_setup').to.deep.equal([0, 0]);
    expect(v.ret(pw), 'pwrite(2) on a socket fails with -ESPIPE').to.equal(-errno.ESPIPE);
    expect(v.ret(submit), 'io_submit queues both: the offset is checked by the socket, not by io_submit').to.equal(2);
    expect(
      v
        .step(ev)
        .events.map((e) => [e.data, e.res])
        .sort((m, n) => Number(m[0] - n[0])),
      'each io_event carries -ESPIPE (SEMANTICS §1.5: errors of the I/O path arrive in res)',
    ).to.deep.equal([
      [1n, BigInt(-errno.ESPIPE)],
      [2n, BigInt(-errno.ESPIPE)],
    ]);
  },
);
