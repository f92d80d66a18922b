/**
 * The read and write checks shared by AIO (PREAD/PWRITE/PREADV/PWRITEV) and io_uring
 * (READ/WRITE/READV/WRITEV): the same fixture and the same expectations, only the submission differs.
 */
import { expect } from 'chai';
import { SYSCALLS } from '../abi';
import { arg, Buf, Fd, Sequence } from '../program/builder';
import { patternBytes } from '../program/pattern';
import { pread, pwrite } from '../program/sys';
import { conformance } from '../suite/conformance';
import { differential, iovecs, ResultOf, viaAio, viaUring } from './differential';

/** Three segments out of buffer order: [offset in the buffer, length]. */
const SEGMENTS = [
  [1024, 100],
  [0, 200],
  [2048, 300],
] as const;

/** How one interface submits a read or write op: a buffer (or iovec array) and a length (or iovec count). */
interface Iface {
  name: 'aio' | 'uring';
  rule: string;
  ops: { read: string; write: string; readv: string; writev: string };
  submit(s: Sequence, op: string, fd: Fd, b: Buf, len: number, off: number): ResultOf;
  /** Seed base, distinct per interface so a mixed-up buffer cannot pass. */
  seed: number;
}

const IFACES: Record<'aio' | 'uring', Iface> = {
  aio: {
    name: 'aio',
    rule: 'SEMANTICS §1.2',
    ops: { read: 'PREAD', write: 'PWRITE', readv: 'PREADV', writev: 'PWRITEV' },
    seed: 0x0a10,
    submit: (s, op, fd, b, len, off) =>
      viaAio(s, { opcode: op as 'PREAD', fd, aio_buf: arg.buf(b), aio_nbytes: len, aio_offset: off }),
  },
  uring: {
    name: 'uring',
    rule: 'SEMANTICS §3.2',
    ops: { read: 'READ', write: 'WRITE', readv: 'READV', writev: 'WRITEV' },
    seed: 0x0b10,
    submit: (s, op, fd, b, len, off) => viaUring(s, { opcode: op as 'READ', fd, addr: arg.buf(b), len, off }),
  },
};

/** `<iface>.<read op> matches pread on a short file`. */
export function readMatchesPreadOnShortFile(which: 'aio' | 'uring'): void {
  const i = IFACES[which];
  const seed = i.seed;
  const op = i.ops.read;
  conformance(`${i.name}.${op} matches pread on a short file`, { ops: [`${i.name}.${op}`], rule: i.rule }, async ({ target, scratch }) => {
    // 1000-byte file, 4096 asked for at 600: 400 bytes are there
    const twin = await differential(target, scratch, {
      content: [{ seed, off: 0, len: 1000 }],
      buf: { size: 4096 },
      sync: (s, x) => pread(s, x.fd, x.buf, 4096, 600),
      async: (s, x) => i.submit(s, op, x.fd, x.buf, 4096, 600),
    });
    expect(twin.async.result, `a read past EOF returns the bytes available (${i.rule})`).to.equal(400);
    expect(twin.bytes.async.buf.subarray(0, 400).equals(patternBytes(seed, 600, 400)), 'the 400 bytes at 600 land in the buffer').to.equal(true);
    expect(twin.async, `same result, buffer and file as pread(2) (${i.rule})`).to.deep.equal(twin.sync);
  });
}

/** `<iface>.<read op> of a hole reads zeros`. */
export function readOfHoleReadsZeros(which: 'aio' | 'uring'): void {
  const i = IFACES[which];
  const op = i.ops.read;
  conformance(`${i.name}.${op} of a hole reads zeros`, { ops: [`${i.name}.${op}`], rule: i.rule }, async ({ target, scratch }) => {
    // data only at 64 KiB: [0, 64 KiB) is a hole; the buffer starts as 0xa5
    const twin = await differential(target, scratch, {
      content: [{ seed: i.seed, off: 65536, len: 4096 }],
      buf: { size: 4096 },
      sync: (s, x) => pread(s, x.fd, x.buf, 4096, 8192),
      async: (s, x) => i.submit(s, op, x.fd, x.buf, 4096, 8192),
    });
    expect(twin.async.result, `a read inside the file is full length (${i.rule})`).to.equal(4096);
    expect(twin.bytes.async.buf.equals(Buffer.alloc(4096)), 'a hole reads as zeros').to.equal(true);
    expect(twin.async, `same result, buffer and file as pread(2) (${i.rule})`).to.deep.equal(twin.sync);
  });
}

/** `<iface>.<write op> extending a file matches pwrite`. */
export function writeExtendingFileMatchesPwrite(which: 'aio' | 'uring'): void {
  const i = IFACES[which];
  const seed = i.seed + 2;
  const op = i.ops.write;
  conformance(`${i.name}.${op} extending a file matches pwrite`, { ops: [`${i.name}.${op}`], rule: i.rule }, async ({ target, scratch }) => {
    // 1000-byte file; 4096 bytes written at 2000 leave a gap [1000, 2000) and grow the file to 6096
    const twin = await differential(target, scratch, {
      content: [{ seed: i.seed + 1, off: 0, len: 1000 }],
      buf: { size: 4096, fill: { seed, pos: 2000 } },
      sync: (s, x) => pwrite(s, x.fd, x.buf, 4096, 2000),
      async: (s, x) => i.submit(s, op, x.fd, x.buf, 4096, 2000),
    });
    expect(twin.async.result, `the whole write is done (${i.rule})`).to.equal(4096);
    expect(twin.async.size, 'the file grows to the end of the write').to.equal(6096);
    const file = twin.bytes.async.file;
    expect(file.subarray(1000, 2000).equals(Buffer.alloc(1000)), 'the gap before the write reads as zeros').to.equal(true);
    expect(file.subarray(2000).equals(patternBytes(seed, 2000, 4096)), 'the written bytes are in the file').to.equal(true);
    expect(twin.async, `same result, size and bytes as pwrite(2) (${i.rule})`).to.deep.equal(twin.sync);
  });
}

/** `<iface>.<readv op> with 3 iovecs matches preadv`. */
export function vectoredReadMatchesPreadv(which: 'aio' | 'uring'): void {
  const i = IFACES[which];
  const seed = i.seed + 3;
  const op = i.ops.readv;
  conformance(`${i.name}.${op} with 3 iovecs matches preadv`, { ops: [`${i.name}.${op}`], rule: i.rule }, async ({ target, scratch }) => {
    // 450-byte file read from 50: 400 bytes fill the first two iovecs and 100 of the third
    const twin = await differential(target, scratch, {
      content: [{ seed, off: 0, len: 450 }],
      buf: { size: 4096 },
      sync: (s, x) => s.syscall(SYSCALLS.preadv, [arg.fd(x.fd), arg.buf(iovecs(s, x.buf, SEGMENTS)), SEGMENTS.length, 50, 0]),
      async: (s, x) => i.submit(s, op, x.fd, iovecs(s, x.buf, SEGMENTS), SEGMENTS.length, 50),
    });
    expect(twin.async.result, `a vectored read stops at EOF: 400 bytes (${i.rule})`).to.equal(400);
    const b = twin.bytes.async.buf;
    expect(b.subarray(1024, 1124).equals(patternBytes(seed, 50, 100)), 'iovec 0 holds file bytes [50, 150)').to.equal(true);
    expect(b.subarray(0, 200).equals(patternBytes(seed, 150, 200)), 'iovec 1 holds file bytes [150, 350)').to.equal(true);
    expect(b.subarray(2048, 2148).equals(patternBytes(seed, 350, 100)), 'iovec 2 holds file bytes [350, 450)').to.equal(true);
    expect(twin.async, `same result, buffer and file as preadv(2) (${i.rule})`).to.deep.equal(twin.sync);
  });
}

/** `<iface>.<writev op> with 3 iovecs matches pwritev`. */
export function vectoredWriteMatchesPwritev(which: 'aio' | 'uring'): void {
  const i = IFACES[which];
  const seed = i.seed + 5;
  const op = i.ops.writev;
  conformance(`${i.name}.${op} with 3 iovecs matches pwritev`, { ops: [`${i.name}.${op}`], rule: i.rule }, async ({ target, scratch }) => {
    // 1000-byte file; 600 bytes gathered from three iovecs written at 700 grow it to 1300
    const twin = await differential(target, scratch, {
      content: [{ seed: seed - 1, off: 0, len: 1000 }],
      buf: { size: 4096, fill: { seed } },
      sync: (s, x) => s.syscall(SYSCALLS.pwritev, [arg.fd(x.fd), arg.buf(iovecs(s, x.buf, SEGMENTS)), SEGMENTS.length, 700, 0]),
      async: (s, x) => i.submit(s, op, x.fd, iovecs(s, x.buf, SEGMENTS), SEGMENTS.length, 700),
    });
    expect(twin.async.result, `all three iovecs are written (${i.rule})`).to.equal(600);
    expect(twin.async.size, 'the file grows to the end of the write').to.equal(1300);
    const gathered = Buffer.concat(SEGMENTS.map(([off, len]) => patternBytes(seed, off, len)));
    expect(twin.bytes.async.file.subarray(700).equals(gathered), 'the file holds the iovecs in iovec order').to.equal(true);
    expect(twin.async, `same result, size and bytes as pwritev(2) (${i.rule})`).to.deep.equal(twin.sync);
  });
}
