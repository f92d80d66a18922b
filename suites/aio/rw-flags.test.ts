/**
 * aio_rw_flags against the same RWF_* flags given to preadv2(2)/pwritev2(2): HIPRI (accepted, and
 * ignored: nobody polls), DSYNC, SYNC, NOWAIT (SEMANTICS §1.4, §1.6). RWF_APPEND is in append.test.ts,
 * unknown bits in iocb-fields.test.ts.
 */
import { expect } from 'chai';
import { errno, O, POSIX_FADV, RWF, SYSCALLS } from '../../src/abi';
import { aioGetevents, aioSetup, aioSubmit, iocb } from '../../src/program/aio';
import { arg, Buf, Fd, Program, Sequence } from '../../src/program/builder';
import { patternBytes } from '../../src/program/pattern';
import { pipe2 } from '../../src/program/sys';
import { differential, iovecs, viaAio } from '../../src/oracle/differential';
import { writeWithRwfMatchesPwritev2 } from '../../src/oracle/rw-twins';
import { conformance } from '../../src/suite/conformance';

writeWithRwfMatchesPwritev2('aio', 'HIPRI');
writeWithRwfMatchesPwritev2('aio', 'DSYNC');
writeWithRwfMatchesPwritev2('aio', 'SYNC');

/** preadv2(fd, [b, len], 1, off, flags). */
function preadv2(s: Sequence, fd: Fd, b: Buf, len: number, off: number, flags: number) {
  return s.syscall(SYSCALLS.preadv2, [arg.fd(fd), arg.buf(iovecs(s, b, [[0, len]])), 1, off, 0, flags]);
}

conformance(
  'aio.PREAD with RWF_HIPRI on a buffered file matches preadv2 with RWF_HIPRI',
  { ops: ['aio.PREAD'], rule: 'SEMANTICS §1.4' },
  async ({ target, scratch }) => {
    const f = RWF.HIPRI.value;
    const t = await differential(target, scratch, {
      content: [{ seed: 0x0a40, off: 0, len: 8192 }],
      buf: { size: 4096 },
      sync: (s, x) => preadv2(s, x.fd, x.buf, 4096, 1000, f),
      async: (s, x) =>
        viaAio(s, {
          opcode: 'PREAD',
          fd: x.fd,
          aio_buf: arg.buf(x.buf),
          aio_nbytes: 4096,
          aio_offset: 1000,
          aio_rw_flags: f,
        }),
    });
    expect(t.async.result, 'RWF_HIPRI is accepted and the read is full (SEMANTICS §1.4)').to.equal(4096);
    expect(t.bytes.async.buf.equals(patternBytes(0x0a40, 1000, 4096)), 'the bytes at 1000 land in the buffer').to.equal(
      true,
    );
    expect(t.async, 'same result and buffer as preadv2(2) with RWF_HIPRI').to.deep.equal(t.sync);
  },
);

conformance(
  'aio.PREAD with RWF_NOWAIT of cached file data matches preadv2 with RWF_NOWAIT',
  { ops: ['aio.PREAD'], rule: 'SEMANTICS §1.4' },
  async ({ target, scratch }) => {
    // just written, so in the page cache: nothing to wait for
    const f = RWF.NOWAIT.value;
    const t = await differential(target, scratch, {
      content: [{ seed: 0x0a41, off: 0, len: 8192 }],
      buf: { size: 4096 },
      sync: (s, x) => preadv2(s, x.fd, x.buf, 4096, 0, f),
      async: (s, x) =>
        viaAio(s, {
          opcode: 'PREAD',
          fd: x.fd,
          aio_buf: arg.buf(x.buf),
          aio_nbytes: 4096,
          aio_offset: 0,
          aio_rw_flags: f,
        }),
    });
    // tmpfs files lack FMODE_NOWAIT on 6.1 and 6.12 (-EOPNOTSUPP, measured), not on 6.18; ext4 has it
    expect(
      [4096, -errno.EOPNOTSUPP],
      'a cached read does not block: full length, or -EOPNOTSUPP (SEMANTICS §1.4)',
    ).to.include(t.async.result);
    expect(t.async, 'same result and buffer as preadv2(2) with RWF_NOWAIT').to.deep.equal(t.sync);
  },
);

conformance(
  'aio.PREAD with RWF_NOWAIT of data dropped from the page cache never blocks: the bytes or -EAGAIN, like preadv2',
  { ops: ['aio.PREAD'], rule: 'SEMANTICS §1.4' },
  async ({ target, scratch }) => {
    // fdatasync then POSIX_FADV_DONTNEED evicts the pages on a disk filesystem. A NOWAIT read then starts
    // readahead and fails with -EAGAIN unless the disk answered first (it sometimes does in a VM: measured
    // both ways on 6.12 ext4, -EAGAIN on 6.1 ext4 and 6.18 ext4), so each side is judged alone. On tmpfs
    // the page cache is the file: 4096 (6.18), or -EOPNOTSUPP where tmpfs lacks FMODE_NOWAIT (6.1, 6.12).
    const f = RWF.NOWAIT.value;
    const evict = (s: Sequence, fd: Fd) => {
      s.syscall(SYSCALLS.fdatasync, [arg.fd(fd)]);
      s.syscall(SYSCALLS.fadvise64, [arg.fd(fd), 0, 0, POSIX_FADV.DONTNEED.value]);
    };
    const t = await differential(target, scratch, {
      content: [{ seed: 0x0a42, off: 0, len: 65536 }],
      buf: { size: 4096 },
      sync: (s, x) => (evict(s, x.fd), preadv2(s, x.fd, x.buf, 4096, 32768, f)),
      async: (s, x) => (
        evict(s, x.fd),
        viaAio(s, {
          opcode: 'PREAD',
          fd: x.fd,
          aio_buf: arg.buf(x.buf),
          aio_nbytes: 4096,
          aio_offset: 32768,
          aio_rw_flags: f,
        })
      ),
    });
    for (const side of ['sync', 'async'] as const) {
      const { result } = t[side];
      const who = side === 'sync' ? 'preadv2(2)' : 'the io_event';
      expect(
        [4096, -errno.EAGAIN, -errno.EOPNOTSUPP],
        `${who}: the bytes, -EAGAIN or -EOPNOTSUPP (SEMANTICS §1.4)`,
      ).to.include(result);
      const want = result === 4096 ? patternBytes(0x0a42, 32768, 4096) : Buffer.alloc(4096, 0xa5);
      expect(
        t.bytes[side].buf.equals(want),
        `${who}: ${result === 4096 ? 'the file bytes' : 'the buffer untouched'}`,
      ).to.equal(true);
    }
    expect(t.async.file, 'the file is the same afterwards').to.equal(t.sync.file);
  },
);

conformance(
  'aio.PREAD with RWF_NOWAIT on an empty pipe fails like preadv2: -EAGAIN in the io_event, or -EOPNOTSUPP',
  { ops: ['aio.PREAD'], rule: 'SEMANTICS §1.4' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const f = RWF.NOWAIT.value;
    const { r, step: pipe } = pipe2(s, O.CLOEXEC.value);
    const b = p.buf(4096);
    const sync = preadv2(s, r, b, 4096, -1, f);
    const { ctx, setup } = aioSetup(s, 4);
    const { submit } = aioSubmit(s, ctx, [
      iocb({ opcode: 'PREAD', fd: r, aio_data: 1, aio_buf: arg.buf(b), aio_nbytes: 4096, aio_rw_flags: f }),
    ]);
    const ev = aioGetevents(s, ctx, 0, 4, 1e9);
    const v = await target.run(p);
    expect(v.ret(pipe), 'pipe2').to.equal(0);
    expect(v.ret(setup), 'io_setup').to.equal(0);
    expect(v.step(submit).deadline, 'io_submit did not block (SEMANTICS §1.4)').to.equal(false);
    const events = v.step(ev).events.map((e) => [e.data, e.res]);
    if (v.ret(sync) === -errno.EOPNOTSUPP) {
      // measured on 6.1: pipes lack FMODE_NOWAIT, so kiocb_set_rw_flags refuses RWF_NOWAIT
      expect(
        v.ret(submit),
        'a file without nowait support: io_submit fails with -EOPNOTSUPP (SEMANTICS §1.4)',
      ).to.equal(-errno.EOPNOTSUPP);
      expect(events, 'a rejected iocb posts no io_event (SEMANTICS §1.5)').to.deep.equal([]);
      return;
    }
    // measured on 6.12 and 6.18
    expect(v.ret(sync), 'preadv2(RWF_NOWAIT) of an empty blocking pipe fails with -EAGAIN').to.equal(-errno.EAGAIN);
    expect(v.ret(submit), 'io_submit accepts the read (SEMANTICS §1.4)').to.equal(1);
    expect(events, 'would-block is -EAGAIN in the io_event, not an io_submit error (SEMANTICS §1.4)').to.deep.equal([
      [1n, BigInt(-errno.EAGAIN)],
    ]);
  },
);
