/**
 * Registered files (IORING_REGISTER_FILES) used with IOSQE_FIXED_FILE, updated by IORING_OP_FILES_UPDATE
 * (5.6) against its synchronous twin IORING_REGISTER_FILES_UPDATE, and turned back into normal fds by
 * IORING_OP_FIXED_FD_INSTALL (6.8), SEMANTICS §3.2 and §3.4.
 */
import { expect } from 'chai';
import { errno, FIXED_FD, IOSQE, REGISTER, RSRC_UPDATE_LAYOUT, SYSCALLS } from '../../src/abi';
import { arg, Buf, Fd, Program, Sequence, StepRef } from '../../src/program/builder';
import { patternBytes } from '../../src/program/pattern';
import { encodeStruct, place } from '../../src/program/struct';
import { pwrite, scratchFile } from '../../src/program/sys';
import type { TraceView } from '../../src/program/trace';
import { fdArray, registerFiles, requireSetup, UringRunner } from '../../src/oracle/uring-files';
import { conformance } from '../../src/suite/conformance';

const FIXED = IOSQE.FIXED_FILE.value;
// <asm-generic/fcntl.h>: fcntl is not in src/abi's syscall table yet
const SYS_FCNTL = 72;
const F_GETFD = 1;
const FD_CLOEXEC = 1;

/** Files a and b, 64 pattern bytes each (seeds 0x0a and 0x0b): which one a read reached is in its bytes. */
function twoFiles(
  s: Sequence,
  scratch: string,
): { a: Fd; b: Fd; setup: { what: string; step: StepRef; want?: number }[] } {
  const p = s.program;
  const setup: { what: string; step: StepRef; want?: number }[] = [];
  const [a, b] = (['a', 'b'] as const).map((name, i) => {
    const { fd, step } = scratchFile(s, scratch, name);
    const d = p.buf(64);
    s.fillPattern(d, 0, 64, 0x0a + i);
    setup.push(
      { what: `open of ${name}`, step },
      { what: `pwrite of ${name}`, step: pwrite(s, fd, d, 64, 0), want: 64 },
    );
    return fd;
  });
  return { a, b, setup };
}

/** Which file 64 bytes came from: 'a', 'b' or '?'. */
function whose(bytes: Buffer): string {
  if (bytes.equals(patternBytes(0x0a, 0, 64))) return 'a';
  if (bytes.equals(patternBytes(0x0b, 0, 64))) return 'b';
  return '?';
}

/** A FIXED_FILE READ of 64 bytes at 0 from `slot` into a fresh buffer: its res and the file it read. */
function fixedRead(u: UringRunner, slot: number): (v: TraceView) => [number, string] {
  const b = u.s.program.buf(64);
  const res = u.res({ opcode: 'READ', flags: FIXED, fd: slot, addr: arg.buf(b), len: 64, off: 0 });
  const dump = u.s.dump(b);
  return (v) => {
    const r = res(v);
    return [r, r === 64 ? whose(v.step(dump).dump!) : '-'];
  };
}

/** IORING_REGISTER_FILES_UPDATE: struct io_uring_rsrc_update { offset, resv, data = fds }. */
function registerUpdate(s: Sequence, u: UringRunner, offset: number, fds: Buf, n: number): StepRef {
  const up = s.program.buf(RSRC_UPDATE_LAYOUT.size);
  place(s, up, 0, encodeStruct(RSRC_UPDATE_LAYOUT, { offset, data: arg.buf(fds) }));
  return s.syscall(SYSCALLS.io_uring_register, [arg.ring(u.h.ring), REGISTER.FILES_UPDATE.value, arg.buf(up), n]);
}

conformance(
  'uring.FILES_UPDATE replaces registered files like IORING_REGISTER_FILES_UPDATE and FIXED_FILE reads follow',
  { ops: ['uring.FILES_UPDATE', 'uring.READ'], rule: 'man 2 io_uring_register' },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    const { a, b, setup } = twoFiles(s, scratch);
    // the same table on two rings: updated by the SQE on one, by io_uring_register on the other
    const rings = [new UringRunner(s), new UringRunner(s)];
    for (const [i, u] of rings.entries())
      setup.push({ what: `IORING_REGISTER_FILES on ring ${i}`, step: registerFiles(s, u.h, [a, -1]) });
    const update = (which: 0 | 1, offset: number, fds: (Fd | number)[]) => {
      const arr = fdArray(s, fds);
      if (which === 1) {
        const st = registerUpdate(s, rings[1], offset, arr, fds.length);
        return (v: TraceView) => v.ret(st);
      }
      return rings[0].res({ opcode: 'FILES_UPDATE', fd: -1, addr: arg.buf(arr), len: fds.length, off: offset });
    };
    const steps = ([0, 1] as const).map((w) => {
      const u = rings[w];
      return [
        { what: 'READ of slot 0 (a)', r: fixedRead(u, 0) },
        { what: 'READ of the empty slot 1', r: fixedRead(u, 1) },
        { what: 'READ of slot 7, past the table', r: fixedRead(u, 7) },
        { what: 'update of slot 0 to b', r: update(w, 0, [b]) },
        { what: 'READ of slot 0 after it', r: fixedRead(u, 0) },
        { what: 'update of slots 0 and 1 to -1 and a', r: update(w, 0, [-1, a]) },
        { what: 'READ of slot 0 after it', r: fixedRead(u, 0) },
        { what: 'READ of slot 1 after it', r: fixedRead(u, 1) },
        { what: 'update at offset 2 of a 2-slot table', r: update(w, 2, [b]) },
        { what: 'update of fd 9999 (not open)', r: update(w, 0, [9999]) },
      ];
    });
    const v = await target.run(p);
    requireSetup(v, setup);
    const got = steps.map((list) => list.map((x) => [x.what, x.r(v)]));
    expect(got[0], 'FILES_UPDATE then FIXED_FILE READs: as expected (SEMANTICS §3.4)').to.deep.equal([
      ['READ of slot 0 (a)', [64, 'a']],
      ['READ of the empty slot 1', [-errno.EBADF, '-']],
      ['READ of slot 7, past the table', [-errno.EBADF, '-']],
      ['update of slot 0 to b', 1],
      ['READ of slot 0 after it', [64, 'b']],
      ['update of slots 0 and 1 to -1 and a', 2],
      ['READ of slot 0 after it', [-errno.EBADF, '-']],
      ['READ of slot 1 after it', [64, 'a']],
      ['update at offset 2 of a 2-slot table', -errno.EINVAL],
      ['update of fd 9999 (not open)', -errno.EBADF],
    ]);
    expect(
      got[0],
      'FILES_UPDATE gives the results IORING_REGISTER_FILES_UPDATE gives (man 2 io_uring_register)',
    ).to.deep.equal(got[1]);
  },
);

conformance(
  'uring.FILES_UPDATE in a link takes effect for the linked FIXED_FILE READ after it',
  { ops: ['uring.FILES_UPDATE', 'uring.READ'], rule: 'SEMANTICS §3.10' },
  async ({ target, scratch }) => {
    // fixed files of linked requests are looked up at issue, not at submit (IORING_FEAT_LINKED_FILE, 5.17)
    const p = new Program();
    const s = p.main;
    const { a, b, setup } = twoFiles(s, scratch);
    const u = new UringRunner(s);
    setup.push({ what: 'IORING_REGISTER_FILES', step: registerFiles(s, u.h, [a]) });
    const bufs = [p.buf(64), p.buf(64)];
    const LINK = IOSQE.IO_LINK.value;
    const [r1, up, r2] = u.batch([
      { opcode: 'READ', flags: FIXED | LINK, fd: 0, addr: arg.buf(bufs[0]), len: 64, off: 0 },
      { opcode: 'FILES_UPDATE', flags: LINK, fd: -1, addr: arg.buf(fdArray(s, [b])), len: 1, off: 0 },
      { opcode: 'READ', flags: FIXED, fd: 0, addr: arg.buf(bufs[1]), len: 64, off: 0 },
    ]);
    const dumps = bufs.map((x) => s.dump(x));
    const v = await target.run(p);
    requireSetup(v, setup);
    expect([r1(v).res, up(v).res, r2(v).res], 'READ 64, FILES_UPDATE 1, READ 64').to.deep.equal([64, 1, 64]);
    expect(
      dumps.map((d) => whose(v.step(d).dump!)),
      'the READ before the update reads a, the one after it b',
    ).to.deep.equal(['a', 'b']);
  },
);

conformance(
  'uring.FIXED_FD_INSTALL turns a registered file into a normal fd, O_CLOEXEC unless asked not to',
  { ops: ['uring.FIXED_FD_INSTALL'], rule: 'man 3 io_uring_prep_fixed_fd_install' },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    const { a, setup } = twoFiles(s, scratch);
    const u = new UringRunner(s);
    setup.push({ what: 'IORING_REGISTER_FILES', step: registerFiles(s, u.h, [a, -1]) });
    const installs = [0, FIXED_FD.NO_CLOEXEC.value].map((flags) => {
      const id = u.nextId;
      const res = u.res({ opcode: 'FIXED_FD_INSTALL', flags: FIXED, fd: 0, install_fd_flags: flags });
      const b = p.buf(64);
      const read = s.syscall(SYSCALLS.pread64, [arg.res(id), arg.buf(b), 64, 0]);
      const getfd = s.syscall(SYS_FCNTL, [arg.res(id), F_GETFD]);
      const dump = s.dump(b);
      const closed = s.syscall(SYSCALLS.close, [arg.res(id)]);
      return { flags, res, read, getfd, dump, closed };
    });
    const errors = [
      { what: 'an empty slot', spec: { flags: FIXED, fd: 1 }, want: -errno.EBADF },
      { what: 'a slot past the table', spec: { flags: FIXED, fd: 5 }, want: -errno.EBADF },
      { what: 'no IOSQE_FIXED_FILE', spec: { flags: 0, fd: a }, want: -errno.EBADF },
      {
        what: 'install_fd_flags 2 (undefined)',
        spec: { flags: FIXED, fd: 0, install_fd_flags: 2 },
        want: -errno.EINVAL,
      },
    ].map((c) => {
      const id = u.nextId;
      const res = u.res({ opcode: 'FIXED_FD_INSTALL', ...c.spec });
      s.syscall(SYSCALLS.close, [arg.res(id)]);
      return { ...c, res };
    });
    const v = await target.run(p);
    requireSetup(v, setup);
    for (const i of installs) {
      expect(i.res(v), `FIXED_FD_INSTALL with flags ${i.flags} returns a new fd`).to.be.at.least(0);
      expect(v.ret(i.read), 'the new fd reads the registered file').to.equal(64);
      expect(whose(v.step(i.dump).dump!), 'the bytes are those of a').to.equal('a');
      expect(
        v.ret(i.getfd),
        `FD_CLOEXEC is ${i.flags ? 'clear with IORING_FIXED_FD_NO_CLOEXEC' : 'set by default'}`,
      ).to.equal(i.flags ? 0 : FD_CLOEXEC);
      expect(v.ret(i.closed), 'close(2) takes the new fd').to.equal(0);
    }
    for (const c of errors) expect(c.res(v), `FIXED_FD_INSTALL of ${c.what}`).to.equal(c.want);
  },
);

conformance(
  'uring.READ with IOSQE_FIXED_FILE on a ring without registered files fails with -EBADF, FILES_UPDATE with -ENXIO',
  { ops: ['uring.READ', 'uring.FILES_UPDATE'], rule: 'SEMANTICS §3.4' },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    const { a, setup } = twoFiles(s, scratch);
    const u = new UringRunner(s);
    const read = fixedRead(u, 0);
    const update = u.res({ opcode: 'FILES_UPDATE', fd: -1, addr: arg.buf(fdArray(s, [a])), len: 1, off: 0 });
    const v = await target.run(p);
    requireSetup(v, setup);
    expect(read(v), 'IOSQE_FIXED_FILE with no file table: -EBADF (SEMANTICS §3.4)').to.deep.equal([-errno.EBADF, '-']);
    // no table to update is -ENXIO, as for IORING_REGISTER_FILES_UPDATE (measured on 6.1, 6.12, 6.18)
    expect(update(v), 'FILES_UPDATE with no file table: -ENXIO').to.equal(-errno.ENXIO);
  },
);
