/**
 * IORING_OP_FSYNC over a range (sqe->off/len, vfs_fsync_range) and IORING_OP_SYNC_FILE_RANGE (5.2)
 * against fsync(2), fdatasync(2) and sync_file_range(2), with their error cases (SEMANTICS §3.2).
 */
import { expect } from 'chai';
import { errno, FSYNC, SYSCALLS } from '../../src/abi';
import { arg, Program } from '../../src/program/builder';
import { pipe2, scratchFile } from '../../src/program/sys';
import { differential } from '../../src/oracle/differential';
import { requireSetup, UringRunner } from '../../src/oracle/uring-files';
import { conformance } from '../../src/suite/conformance';

// <linux/fs.h> SYNC_FILE_RANGE_*: not in src/abi yet
const SYNC_FILE_RANGE_WAIT_BEFORE = 1;
const SYNC_FILE_RANGE_WRITE = 2;
const SYNC_FILE_RANGE_WAIT_AFTER = 4;
const SFR_ALL = SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER;

conformance(
  'uring.FSYNC of a byte range completes with 0 like fsync and fdatasync',
  { ops: ['uring.FSYNC'], rule: 'SEMANTICS §3.2' },
  async ({ target, scratch }) => {
    for (const [twin, flags] of [
      ['fsync', 0],
      ['fdatasync', FSYNC.DATASYNC.value],
    ] as const) {
      const t = await differential(target, scratch, {
        content: [{ seed: 0x0f10, off: 0, len: 16384 }],
        buf: { size: 8 },
        sync: (s, x) => s.syscall(SYSCALLS[twin], [arg.fd(x.fd)]),
        async: (s, x) =>
          new UringRunner(s, { entries: 4 }).res({
            opcode: 'FSYNC',
            fd: x.fd,
            fsync_flags: flags,
            off: 4096,
            len: 8192,
          }),
      });
      expect(t.async.result, `FSYNC of [4096, 12288) with flags ${flags} completes with 0 (SEMANTICS §3.2)`).to.equal(
        0,
      );
      expect(t.async, `same result and file as ${twin}(2)`).to.deep.equal(t.sync);
    }
  },
);

conformance(
  'uring.FSYNC fails like fsync on a pipe (-EINVAL) and fd -1 (-EBADF), and rejects unknown fsync_flags',
  { ops: ['uring.FSYNC'], rule: 'man 2 fsync' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const { r, step: pipe } = pipe2(s);
    const syncPipe = s.syscall(SYSCALLS.fsync, [arg.fd(r)]);
    const syncBad = s.syscall(SYSCALLS.fsync, [-1]);
    const u = new UringRunner(s);
    const pipeRes = u.res({ opcode: 'FSYNC', fd: r, off: 0, len: 4096 });
    const badRes = u.res({ opcode: 'FSYNC', fd: -1 });
    const flagRes = u.res({ opcode: 'FSYNC', fd: r, fsync_flags: 2 });
    const v = await target.run(p);
    requireSetup(v, [{ what: 'pipe2', step: pipe }]);
    expect(v.ret(syncPipe), 'fsync(2) of a pipe: -EINVAL').to.equal(-errno.EINVAL);
    expect(pipeRes(v), 'FSYNC of a pipe fails like fsync(2) (man 2 fsync)').to.equal(v.ret(syncPipe));
    expect(v.ret(syncBad), 'fsync(-1): -EBADF').to.equal(-errno.EBADF);
    expect(badRes(v), 'FSYNC of fd -1 fails like fsync(2)').to.equal(v.ret(syncBad));
    expect(flagRes(v), 'fsync_flags bit 1 (undefined) is -EINVAL at prep (SEMANTICS §3.5)').to.equal(-errno.EINVAL);
  },
);

conformance(
  'uring.SYNC_FILE_RANGE syncs a range like sync_file_range',
  { ops: ['uring.SYNC_FILE_RANGE'], rule: 'man 2 sync_file_range' },
  async ({ target, scratch }) => {
    for (const flags of [SYNC_FILE_RANGE_WRITE, SFR_ALL, 0]) {
      const t = await differential(target, scratch, {
        content: [{ seed: 0x0f11, off: 0, len: 16384 }],
        buf: { size: 8 },
        sync: (s, x) => s.syscall(SYSCALLS.sync_file_range, [arg.fd(x.fd), 4096, 8192, flags]),
        async: (s, x) =>
          new UringRunner(s, { entries: 4 }).res({
            opcode: 'SYNC_FILE_RANGE',
            fd: x.fd,
            off: 4096,
            len: 8192,
            sync_range_flags: flags,
          }),
      });
      expect(t.async.result, `flags ${flags}: 0 (man 2 sync_file_range)`).to.equal(0);
      expect(t.async, `flags ${flags}: same result and file as sync_file_range(2)`).to.deep.equal(t.sync);
    }
  },
);

conformance(
  'uring.SYNC_FILE_RANGE fails like sync_file_range on bad flags, a negative offset, a pipe and fd -1',
  { ops: ['uring.SYNC_FILE_RANGE'], rule: 'man 2 sync_file_range' },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    const { fd, step: open } = scratchFile(s, scratch, 'f');
    const { r, step: pipe } = pipe2(s);
    const u = new UringRunner(s);
    const cases = [
      { what: 'flags 8 (undefined)', fd, off: 0, len: 4096, flags: 8, want: -errno.EINVAL },
      { what: 'offset -4096', fd, off: -4096, len: 4096, flags: SYNC_FILE_RANGE_WRITE, want: -errno.EINVAL },
      { what: 'a pipe', fd: r, off: 0, len: 4096, flags: SYNC_FILE_RANGE_WRITE, want: -errno.ESPIPE },
      { what: 'fd -1', fd: -1, off: 0, len: 4096, flags: SYNC_FILE_RANGE_WRITE, want: -errno.EBADF },
    ].map((c) => ({
      ...c,
      sync: s.syscall(SYSCALLS.sync_file_range, [
        typeof c.fd === 'number' ? c.fd : arg.fd(c.fd),
        c.off,
        c.len,
        c.flags,
      ]),
      async: u.res({ opcode: 'SYNC_FILE_RANGE', fd: c.fd, off: c.off, len: c.len, sync_range_flags: c.flags }),
    }));
    const v = await target.run(p);
    requireSetup(v, [
      { what: 'open', step: open },
      { what: 'pipe2', step: pipe },
    ]);
    for (const c of cases) {
      expect(v.ret(c.sync), `sync_file_range(2) on ${c.what}`).to.equal(c.want);
      expect(c.async(v), `SYNC_FILE_RANGE on ${c.what} fails like sync_file_range(2)`).to.equal(c.want);
    }
  },
);
