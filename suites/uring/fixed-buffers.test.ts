/**
 * IORING_OP_READ_FIXED / WRITE_FIXED (5.1) and READV_FIXED / WRITEV_FIXED (6.15): I/O through buffers
 * registered with IORING_REGISTER_BUFFERS, against pread/pwrite/preadv/pwritev (SEMANTICS §3.2).
 */
import { expect } from 'chai';
import { errno, SYSCALLS } from '../../src/abi';
import { arg, Buf, Fd, Program, Sequence } from '../../src/program/builder';
import { patternBytes } from '../../src/program/pattern';
import { pread, pwrite, scratchFile } from '../../src/program/sys';
import { differential, ResultOf } from '../../src/oracle/differential';
import { iovecArray, registerBuffers, requireSetup, UringRunner } from '../../src/oracle/uring-files';
import { conformance } from '../../src/suite/conformance';

/** The async side: register the side's buffer as index 0 on a fresh ring, then one fixed op on it. */
function viaFixed(s: Sequence, op: 'READ_FIXED' | 'WRITE_FIXED', fd: Fd, b: Buf, len: number, off: number): ResultOf {
  const u = new UringRunner(s, { entries: 4 });
  const reg = registerBuffers(s, u.h, [b]);
  const res = u.res({ opcode: op, fd, addr: arg.buf(b), len, off, buf_index: 0 });
  return (v) => {
    requireSetup(v, [{ what: 'IORING_REGISTER_BUFFERS', step: reg }]);
    return res(v);
  };
}

/** The async side of a vectored fixed op: iovecs inside the registered buffer 0. */
function viaFixedV(
  s: Sequence,
  op: 'READV_FIXED' | 'WRITEV_FIXED',
  fd: Fd,
  b: Buf,
  segs: readonly (readonly [number, number])[],
  off: number,
): ResultOf {
  const u = new UringRunner(s, { entries: 4 });
  const reg = registerBuffers(s, u.h, [b]);
  const iov = iovecArray(
    s,
    segs.map(([o, n]) => [b, o, n] as const),
  );
  const res = u.res({ opcode: op, fd, addr: arg.buf(iov), len: segs.length, off, buf_index: 0 });
  return (v) => {
    requireSetup(v, [{ what: 'IORING_REGISTER_BUFFERS', step: reg }]);
    return res(v);
  };
}

const SEGMENTS = [
  [1024, 100],
  [0, 200],
  [2048, 300],
] as const;

conformance(
  'uring.READ_FIXED reads into a registered buffer like pread',
  { ops: ['uring.READ_FIXED'], rule: 'SEMANTICS §3.2' },
  async ({ target, scratch }) => {
    // 3000-byte file, 4096 asked for at 1000: 2000 bytes
    const twin = await differential(target, scratch, {
      content: [{ seed: 0x0f01, off: 0, len: 3000 }],
      buf: { size: 4096 },
      sync: (s, x) => pread(s, x.fd, x.buf, 4096, 1000),
      async: (s, x) => viaFixed(s, 'READ_FIXED', x.fd, x.buf, 4096, 1000),
    });
    expect(twin.async.result, 'a read stopping at EOF returns the bytes there (SEMANTICS §3.2)').to.equal(2000);
    expect(
      twin.bytes.async.buf.subarray(0, 2000).equals(patternBytes(0x0f01, 1000, 2000)),
      'the bytes land in the registered buffer',
    ).to.equal(true);
    expect(twin.async, 'same result, buffer and file as pread(2)').to.deep.equal(twin.sync);
  },
);

conformance(
  'uring.WRITE_FIXED writes from a registered buffer like pwrite',
  { ops: ['uring.WRITE_FIXED'], rule: 'SEMANTICS §3.2' },
  async ({ target, scratch }) => {
    const twin = await differential(target, scratch, {
      content: [{ seed: 0x0f02, off: 0, len: 1000 }],
      buf: { size: 4096, fill: { seed: 0x0f03, pos: 500 } },
      sync: (s, x) => pwrite(s, x.fd, x.buf, 4096, 500),
      async: (s, x) => viaFixed(s, 'WRITE_FIXED', x.fd, x.buf, 4096, 500),
    });
    expect(twin.async.result, 'the whole write is done (SEMANTICS §3.2)').to.equal(4096);
    expect(twin.async.size, 'the file grows to the end of the write').to.equal(4596);
    expect(
      twin.bytes.async.file.subarray(500).equals(patternBytes(0x0f03, 500, 4096)),
      'the buffer bytes are in the file',
    ).to.equal(true);
    expect(twin.async, 'same result, size and bytes as pwrite(2)').to.deep.equal(twin.sync);
  },
);

conformance(
  'uring.READ_FIXED and WRITE_FIXED outside the registered buffers fail with -EFAULT',
  { ops: ['uring.READ_FIXED', 'uring.WRITE_FIXED'], rule: 'man 2 io_uring_enter' },
  async ({ target, scratch }) => {
    // man io_uring_enter: buf_index names a registered buffer and addr/len must lie inside it. -EFAULT for
    // an index past the table, a range past the buffer and no buffers at all (measured on 6.1, 6.12, 6.18)
    const p = new Program();
    const s = p.main;
    const { fd, step: open } = scratchFile(s, scratch, 'f');
    const b = p.buf(4096, 4096);
    const other = p.buf(4096, 4096);
    const bare = new UringRunner(s, { entries: 4 });
    const none = bare.res({ opcode: 'READ_FIXED', fd, addr: arg.buf(b), len: 64, off: 0, buf_index: 0 });
    const u = new UringRunner(s, { entries: 8 });
    const reg = registerBuffers(s, u.h, [b]);
    const cases = (['READ_FIXED', 'WRITE_FIXED'] as const).flatMap((op) => [
      {
        what: `${op} with buf_index 1 of 1 registered`,
        res: u.res({ opcode: op, fd, addr: arg.buf(b), len: 64, off: 0, buf_index: 1 }),
      },
      {
        what: `${op} running 1 byte past the registered buffer`,
        res: u.res({ opcode: op, fd, addr: arg.buf(b, 64), len: 4096 - 63, off: 0, buf_index: 0 }),
      },
      {
        what: `${op} of an unregistered buffer`,
        res: u.res({ opcode: op, fd, addr: arg.buf(other), len: 64, off: 0, buf_index: 0 }),
      },
    ]);
    const v = await target.run(p);
    requireSetup(v, [
      { what: 'open of the file', step: open },
      { what: 'IORING_REGISTER_BUFFERS', step: reg },
    ]);
    expect(none(v), 'READ_FIXED on a ring with no registered buffers: -EFAULT').to.equal(-errno.EFAULT);
    for (const c of cases) expect(c.res(v), `${c.what}: -EFAULT`).to.equal(-errno.EFAULT);
  },
);

conformance(
  'uring.READV_FIXED with 3 iovecs in a registered buffer matches preadv',
  { ops: ['uring.READV_FIXED'], rule: 'SEMANTICS §3.2' },
  async ({ target, scratch }) => {
    const seed = 0x0f04;
    const twin = await differential(target, scratch, {
      content: [{ seed, off: 0, len: 450 }],
      buf: { size: 4096 },
      sync: (s, x) =>
        s.syscall(SYSCALLS.preadv, [
          arg.fd(x.fd),
          arg.buf(
            iovecArray(
              s,
              SEGMENTS.map(([o, n]) => [x.buf, o, n] as const),
            ),
          ),
          3,
          50,
          0,
        ]),
      async: (s, x) => viaFixedV(s, 'READV_FIXED', x.fd, x.buf, SEGMENTS, 50),
    });
    expect(twin.async.result, 'a vectored read stops at EOF: 400 bytes (SEMANTICS §3.2)').to.equal(400);
    expect(
      twin.bytes.async.buf.subarray(1024, 1124).equals(patternBytes(seed, 50, 100)),
      'iovec 0 holds file bytes [50, 150)',
    ).to.equal(true);
    expect(twin.async, 'same result, buffer and file as preadv(2)').to.deep.equal(twin.sync);
  },
);

conformance(
  'uring.WRITEV_FIXED with 3 iovecs in a registered buffer matches pwritev',
  { ops: ['uring.WRITEV_FIXED'], rule: 'SEMANTICS §3.2' },
  async ({ target, scratch }) => {
    const seed = 0x0f05;
    const twin = await differential(target, scratch, {
      content: [{ seed: seed - 1, off: 0, len: 1000 }],
      buf: { size: 4096, fill: { seed } },
      sync: (s, x) =>
        s.syscall(SYSCALLS.pwritev, [
          arg.fd(x.fd),
          arg.buf(
            iovecArray(
              s,
              SEGMENTS.map(([o, n]) => [x.buf, o, n] as const),
            ),
          ),
          3,
          700,
          0,
        ]),
      async: (s, x) => viaFixedV(s, 'WRITEV_FIXED', x.fd, x.buf, SEGMENTS, 700),
    });
    expect(twin.async.result, 'all three iovecs are written (SEMANTICS §3.2)').to.equal(600);
    const gathered = Buffer.concat(SEGMENTS.map(([off, len]) => patternBytes(seed, off, len)));
    expect(twin.bytes.async.file.subarray(700).equals(gathered), 'the file holds the iovecs in order').to.equal(true);
    expect(twin.async, 'same result, size and bytes as pwritev(2)').to.deep.equal(twin.sync);
  },
);

conformance(
  'uring.READV_FIXED with an iovec outside the registered buffer fails with -EFAULT',
  { ops: ['uring.READV_FIXED', 'uring.WRITEV_FIXED'], rule: 'man 2 io_uring_enter' },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    const { fd, step: open } = scratchFile(s, scratch, 'f');
    const b = p.buf(4096, 4096);
    const other = p.buf(4096, 4096);
    const u = new UringRunner(s, { entries: 8 });
    const reg = registerBuffers(s, u.h, [b]);
    const outside = iovecArray(s, [
      [b, 0, 100],
      [other, 0, 100],
    ]);
    const inside = iovecArray(s, [[b, 0, 100]]);
    const cases = (['READV_FIXED', 'WRITEV_FIXED'] as const).flatMap((op) => [
      {
        what: `${op} with its 2nd iovec in an unregistered buffer`,
        res: u.res({ opcode: op, fd, addr: arg.buf(outside), len: 2, off: 0, buf_index: 0 }),
      },
      {
        what: `${op} with buf_index 1 of 1 registered`,
        res: u.res({ opcode: op, fd, addr: arg.buf(inside), len: 1, off: 0, buf_index: 1 }),
      },
    ]);
    const v = await target.run(p);
    requireSetup(v, [
      { what: 'open of the file', step: open },
      { what: 'IORING_REGISTER_BUFFERS', step: reg },
    ]);
    for (const c of cases) expect(c.res(v), `${c.what}: -EFAULT`).to.equal(-errno.EFAULT);
  },
);
