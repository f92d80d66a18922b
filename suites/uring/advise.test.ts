/**
 * IORING_OP_FADVISE and IORING_OP_MADVISE (5.6) against posix_fadvise(2) (fadvise64) and madvise(2):
 * the advice goes in sqe->fadvise_advice, the range in off/len (FADVISE) or addr/len (MADVISE).
 */
import { expect } from 'chai';
import { entriesOf, errno, MADV, POSIX_FADV, SYSCALLS } from '../../src/abi';
import { arg, Program } from '../../src/program/builder';
import { pipe2, scratchFile } from '../../src/program/sys';
import { differential } from '../../src/oracle/differential';
import { requireSetup, UringRunner } from '../../src/oracle/uring-files';
import { conformance } from '../../src/suite/conformance';

conformance(
  'uring.FADVISE gives every POSIX_FADV_* advice the result fadvise64 gives',
  { ops: ['uring.FADVISE'], rule: 'man 2 posix_fadvise' },
  async ({ target, scratch }) => {
    for (const adv of entriesOf(POSIX_FADV)) {
      const twin = await differential(target, scratch, {
        content: [{ seed: 0x0f30, off: 0, len: 16384 }],
        buf: { size: 8 },
        sync: (s, x) => s.syscall(SYSCALLS.fadvise64, [arg.fd(x.fd), 4096, 8192, adv.value]),
        async: (s, x) =>
          new UringRunner(s, { entries: 4 }).res({
            opcode: 'FADVISE',
            fd: x.fd,
            off: 4096,
            len: 8192,
            fadvise_advice: adv.value,
          }),
      });
      expect(twin.async.result, `POSIX_FADV_${adv.name} of a file: 0 (man 2 posix_fadvise)`).to.equal(0);
      expect(twin.async, `POSIX_FADV_${adv.name}: same result and file as fadvise64(2)`).to.deep.equal(twin.sync);
    }
  },
);

conformance(
  'uring.FADVISE fails like fadvise64 on bad advice, a pipe and fd -1',
  { ops: ['uring.FADVISE'], rule: 'man 2 posix_fadvise' },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    const { fd, step: open } = scratchFile(s, scratch, 'f');
    const { r, step: pipe } = pipe2(s);
    const u = new UringRunner(s);
    const cases = [
      { what: 'advice 99', fd, advice: 99, want: -errno.EINVAL },
      { what: 'a pipe', fd: r, advice: POSIX_FADV.WILLNEED.value, want: -errno.ESPIPE },
      { what: 'fd -1', fd: -1, advice: POSIX_FADV.WILLNEED.value, want: -errno.EBADF },
    ].map((c) => ({
      ...c,
      sync: s.syscall(SYSCALLS.fadvise64, [typeof c.fd === 'number' ? c.fd : arg.fd(c.fd), 0, 4096, c.advice]),
      async: u.res({ opcode: 'FADVISE', fd: c.fd, off: 0, len: 4096, fadvise_advice: c.advice }),
    }));
    const v = await target.run(p);
    requireSetup(v, [
      { what: 'open', step: open },
      { what: 'pipe2', step: pipe },
    ]);
    for (const c of cases) {
      expect(v.ret(c.sync), `fadvise64(2) on ${c.what}`).to.equal(c.want);
      expect(c.async(v), `FADVISE on ${c.what} fails like fadvise64(2)`).to.equal(c.want);
    }
  },
);

conformance(
  'uring.MADVISE with MADV_DONTNEED zeroes an anonymous buffer like madvise',
  { ops: ['uring.MADVISE'], rule: 'man 2 madvise' },
  async ({ target, scratch }) => {
    // program buffers are private anonymous memory: MADV_DONTNEED drops the pages, they read back as zeros
    const twin = await differential(target, scratch, {
      buf: { size: 8192, fill: { seed: 0x0f31 } },
      sync: (s, x) => s.syscall(SYSCALLS.madvise, [arg.buf(x.buf), 8192, MADV.DONTNEED.value]),
      async: (s, x) =>
        new UringRunner(s, { entries: 4 }).res({
          opcode: 'MADVISE',
          addr: arg.buf(x.buf),
          len: 8192,
          fadvise_advice: MADV.DONTNEED.value,
        }),
    });
    expect(twin.async.result, 'MADV_DONTNEED of mapped pages: 0 (man 2 madvise)').to.equal(0);
    expect(twin.bytes.async.buf.equals(Buffer.alloc(8192)), 'the pages read back as zeros').to.equal(true);
    expect(twin.async, 'same result and buffer as madvise(2)').to.deep.equal(twin.sync);
  },
);

conformance(
  'uring.MADVISE gives the result madvise gives for good and bad advice, alignment and ranges',
  { ops: ['uring.MADVISE'], rule: 'man 2 madvise' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const b = p.buf(8192, 4096);
    s.fillPattern(b, 0, 8192, 0x0f32);
    const u = new UringRunner(s);
    const cases = [
      { what: 'MADV_WILLNEED', addr: arg.buf(b), len: 8192, advice: MADV.WILLNEED.value, want: 0 },
      { what: 'MADV_NORMAL', addr: arg.buf(b), len: 8192, advice: MADV.NORMAL.value, want: 0 },
      { what: 'advice 99', addr: arg.buf(b), len: 8192, advice: 99, want: -errno.EINVAL },
      {
        what: 'an address not page-aligned',
        addr: arg.buf(b, 1),
        len: 4096,
        advice: MADV.WILLNEED.value,
        want: -errno.EINVAL,
      },
      // the BAD page is mapped PROT_NONE, not unmapped: madvise(2) accepts advice on it (6.1, 6.12, 6.18)
      { what: 'a PROT_NONE page', addr: arg.bad(), len: 4096, advice: MADV.WILLNEED.value, want: 0 },
    ].map((c) => ({
      ...c,
      sync: s.syscall(SYSCALLS.madvise, [c.addr, c.len, c.advice]),
      async: u.res({ opcode: 'MADVISE', addr: c.addr, len: c.len, fadvise_advice: c.advice }),
    }));
    const left = s.verify(b, 0, 8192, 0x0f32);
    const v = await target.run(p);
    for (const c of cases) {
      expect(v.ret(c.sync), `madvise(2) with ${c.what}`).to.equal(c.want);
      expect(c.async(v), `MADVISE with ${c.what} gives madvise(2)'s result`).to.equal(c.want);
    }
    expect(v.step(left).verify!.mismatches, 'advice other than DONTNEED leaves the bytes alone').to.equal(0);
  },
);
