/**
 * IORING_OP_READ/READV/WRITE on /proc/self/mem, a file with ->read and ->write but no ->read_iter or
 * ->write_iter: io_uring falls back to calling them one segment at a time, and the results must be those
 * of pread(2), preadv(2) and pwrite(2) on the same fd. The file offset is an address in the caller's memory
 * (man 5 proc, /proc/pid/mem); SEMANTICS §3.2.
 */
import * as path from 'path';
import { expect } from 'chai';
import { O, SYSCALLS } from '../../src/abi';
import { arg, Program } from '../../src/program/builder';
import { patternBytes } from '../../src/program/pattern';
import { iovecs } from '../../src/oracle/differential';
import { SoloRing } from '../../src/oracle/uring-paths';
import { openat } from '../../src/program/sys';
import { conformance } from '../../src/suite/conformance';

const SEED = 0x0b90;
const N = 256;

conformance(
  'uring.READ, READV and WRITE of /proc/self/mem (no read_iter/write_iter) move the same bytes as pread, preadv and pwrite',
  { ops: ['uring.READ', 'uring.READV', 'uring.WRITE'], rule: 'man 5 proc /proc/pid/mem; SEMANTICS §3.2' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const { fd, step: open } = openat(s, path.posix.join('/proc/self', 'mem'), O.RDWR.value | O.CLOEXEC.value);
    const ring = new SoloRing(s);
    const src = p.buf(N, 64);
    s.fillPattern(src, 0, N, SEED);
    // per call, a destination for the syscall and one for the SQE
    const dst = Array.from({ length: 6 }, () => p.buf(N, 64));
    for (const d of dst) s.fillByte(d, 0, N, 0xa5);
    const segs = [
      [128, 100],
      [0, 28],
    ] as const;
    const read = [
      s.syscall(SYSCALLS.pread64, [arg.fd(fd), arg.buf(dst[0]), N, arg.buf(src)]),
      ring.run({ opcode: 'READ', fd, addr: arg.buf(dst[1]), len: N, off: arg.buf(src) }),
    ] as const;
    const readv = [
      s.syscall(SYSCALLS.preadv, [arg.fd(fd), arg.buf(iovecs(s, dst[2], segs)), 2, arg.buf(src), 0]),
      ring.run({ opcode: 'READV', fd, addr: arg.buf(iovecs(s, dst[3], segs)), len: 2, off: arg.buf(src) }),
    ] as const;
    // writes through the file into dst[4] and dst[5], from src
    const write = [
      s.syscall(SYSCALLS.pwrite64, [arg.fd(fd), arg.buf(src), N, arg.buf(dst[4])]),
      ring.run({ opcode: 'WRITE', fd, addr: arg.buf(src), len: N, off: arg.buf(dst[5]) }),
    ] as const;
    const dumps = dst.map((d) => s.dump(d));
    const v = await target.run(p);
    expect(v.ret(open), 'open of /proc/self/mem').to.be.at.least(0);
    const b = dumps.map((d) => v.step(d).dump!);
    const pat = patternBytes(SEED, 0, N);
    expect([v.ret(read[0]), read[1](v)], `READ: ${N} bytes, like pread`).to.deep.equal([N, N]);
    expect(b[1].equals(pat) && b[0].equals(pat), 'both got the source bytes').to.equal(true);
    expect([v.ret(readv[0]), readv[1](v)], 'READV: 128 bytes over two iovecs, like preadv').to.deep.equal([128, 128]);
    expect(b[3].equals(b[2]), 'the iovecs hold the same bytes as preadv left').to.equal(true);
    expect(
      b[3].subarray(128, 228).equals(pat.subarray(0, 100)) && b[3].subarray(0, 28).equals(pat.subarray(100, 128)),
      'in iovec order',
    ).to.equal(true);
    expect([v.ret(write[0]), write[1](v)], `WRITE: ${N} bytes, like pwrite`).to.deep.equal([N, N]);
    expect(b[5].equals(pat) && b[4].equals(pat), 'both wrote the source bytes into the target memory').to.equal(true);
  },
);
