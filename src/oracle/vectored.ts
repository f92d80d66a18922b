/**
 * The vectored read and write checks, shared by AIO (PREADV/PWRITEV) and io_uring (READV/WRITEV):
 * the same fixture and the same expectations, only the submission differs.
 */
import { expect } from 'chai';
import { SYSCALLS } from '../abi';
import { arg, Buf, Fd, Sequence } from '../program/builder';
import { patternBytes } from '../program/pattern';
import { conformance } from '../suite/conformance';
import { differential, iovecs, ResultOf, viaAio, viaUring } from './differential';

/** Three segments out of buffer order: [offset in the buffer, length]. */
const SEGMENTS = [
  [1024, 100],
  [0, 200],
  [2048, 300],
] as const;

/** How one interface submits a vectored op at a file offset. */
interface Iface {
  name: 'aio' | 'uring';
  rule: string;
  read: string;
  write: string;
  submit(s: Sequence, op: string, fd: Fd, iov: Buf, off: number): ResultOf;
  /** Seed base, distinct per interface so a mixed-up buffer cannot pass. */
  seed: number;
}

const IFACES: Record<'aio' | 'uring', Iface> = {
  aio: {
    name: 'aio',
    rule: 'SEMANTICS §1.2',
    read: 'PREADV',
    write: 'PWRITEV',
    seed: 0x0a10,
    submit: (s, op, fd, iov, off) =>
      viaAio(s, { opcode: op as 'PREADV', fd, aio_buf: arg.buf(iov), aio_nbytes: SEGMENTS.length, aio_offset: off }),
  },
  uring: {
    name: 'uring',
    rule: 'SEMANTICS §3.2',
    read: 'READV',
    write: 'WRITEV',
    seed: 0x0b10,
    submit: (s, op, fd, iov, off) =>
      viaUring(s, { opcode: op as 'READV', fd, addr: arg.buf(iov), len: SEGMENTS.length, off }),
  },
};

/** `<iface>.<READV op> with 3 iovecs matches preadv`. */
export function vectoredReadMatchesPreadv(which: 'aio' | 'uring'): void {
  const i = IFACES[which];
  const seed = i.seed + 3;
  conformance(`${i.name}.${i.read} with 3 iovecs matches preadv`, { ops: [`${i.name}.${i.read}`], rule: i.rule }, async ({ target, scratch }) => {
    // 450-byte file read from 50: 400 bytes fill the first two iovecs and 100 of the third
    const twin = await differential(target, scratch, {
      content: [{ seed, off: 0, len: 450 }],
      buf: { size: 4096 },
      sync: (s, x) => s.syscall(SYSCALLS.preadv, [arg.fd(x.fd), arg.buf(iovecs(s, x.buf, SEGMENTS)), SEGMENTS.length, 50, 0]),
      async: (s, x) => i.submit(s, i.read, x.fd, iovecs(s, x.buf, SEGMENTS), 50),
    });
    expect(twin.async.result, `a vectored read stops at EOF: 400 bytes (${i.rule})`).to.equal(400);
    const b = twin.bytes.async.buf;
    expect(b.subarray(1024, 1124).equals(patternBytes(seed, 50, 100)), 'iovec 0 holds file bytes [50, 150)').to.equal(true);
    expect(b.subarray(0, 200).equals(patternBytes(seed, 150, 200)), 'iovec 1 holds file bytes [150, 350)').to.equal(true);
    expect(b.subarray(2048, 2148).equals(patternBytes(seed, 350, 100)), 'iovec 2 holds file bytes [350, 450)').to.equal(true);
    expect(twin.async, `same result, buffer and file as preadv(2) (${i.rule})`).to.deep.equal(twin.sync);
  });
}

/** `<iface>.<WRITEV op> with 3 iovecs matches pwritev`. */
export function vectoredWriteMatchesPwritev(which: 'aio' | 'uring'): void {
  const i = IFACES[which];
  const seed = i.seed + 5;
  conformance(`${i.name}.${i.write} with 3 iovecs matches pwritev`, { ops: [`${i.name}.${i.write}`], rule: i.rule }, async ({ target, scratch }) => {
    // 1000-byte file; 600 bytes gathered from three iovecs written at 700 grow it to 1300
    const twin = await differential(target, scratch, {
      content: [{ seed: seed - 1, off: 0, len: 1000 }],
      buf: { size: 4096, fill: { seed } },
      sync: (s, x) => s.syscall(SYSCALLS.pwritev, [arg.fd(x.fd), arg.buf(iovecs(s, x.buf, SEGMENTS)), SEGMENTS.length, 700, 0]),
      async: (s, x) => i.submit(s, i.write, x.fd, iovecs(s, x.buf, SEGMENTS), 700),
    });
    expect(twin.async.result, `all three iovecs are written (${i.rule})`).to.equal(600);
    expect(twin.async.size, 'the file grows to the end of the write').to.equal(1300);
    const gathered = Buffer.concat(SEGMENTS.map(([off, len]) => patternBytes(seed, off, len)));
    expect(twin.bytes.async.file.subarray(700).equals(gathered), 'the file holds the iovecs in iovec order').to.equal(true);
    expect(twin.async, `same result, size and bytes as pwritev(2) (${i.rule})`).to.deep.equal(twin.sync);
  });
}
