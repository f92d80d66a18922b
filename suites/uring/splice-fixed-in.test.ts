/**
 * SPLICE and TEE reading from a registered file (SPLICE_F_FD_IN_FIXED: `splice_fd_in` is a fixed-file
 * index), and an OPENAT that a failed link head cancels after it was prepared (it creates nothing).
 * man io_uring_prep_splice(3), io_uring_prep_tee(3), io_uring_prep_openat(3); SEMANTICS §3.10 (links).
 */
import * as path from 'path';
import { expect } from 'chai';
import { AT, errno, IOSQE, O, SPLICE_FD, SYSCALLS } from '../../src/abi';
import { arg, Program } from '../../src/program/builder';
import { pipe2 } from '../../src/program/sys';
import { reap, setupRing, sqe, submit } from '../../src/program/uring';
import { registerFiles, statxDump, writeBytes } from '../../src/oracle/uring-files';
import { byUserData, expectSetup, oneShot, resOf } from '../../src/oracle/uring-net';
import { conformance } from '../../src/suite/conformance';

const NO_OFFSET = -1n;

conformance(
  'uring.TEE and SPLICE with SPLICE_F_FD_IN_FIXED read from the registered pipe: TEE copies without consuming, SPLICE moves',
  {
    ops: ['uring.TEE', 'uring.SPLICE'],
    rule: 'man io_uring_prep_splice(3) (SPLICE_F_FD_IN_FIXED: splice_fd_in is a registered file index), io_uring_prep_tee(3); tee(2), splice(2)',
  },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 8 });
    const [src, a, b] = [pipe2(s), pipe2(s), pipe2(s)];
    const reg = registerFiles(s, h, [src.r]);
    const w = writeBytes(s, src.w, Buffer.from('fixed-in'));
    const fixed = SPLICE_FD.FIXED.value;
    const tee = oneShot(s, h, { opcode: 'TEE', splice_fd_in: 0, fd: a.w, len: 8, splice_flags: fixed }, 0x3f0n);
    const splice = oneShot(
      s,
      h,
      {
        opcode: 'SPLICE',
        splice_fd_in: 0,
        splice_off_in: NO_OFFSET,
        fd: b.w,
        off: NO_OFFSET,
        len: 8,
        splice_flags: fixed,
      },
      0x3f1n,
    );
    const bufs = [p.buf(16), p.buf(16)];
    const reads = [a, b].map((x, i) => s.syscall(SYSCALLS.read, [arg.fd(x.r), arg.buf(bufs[i]), 16]));
    const dumps = bufs.map((x) => s.dump(x, 0, 8));
    const v = await target.run(p);
    expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
    expectSetup(v, [src.step, a.step, b.step, w], 'pipes and the write');
    expect(v.ret(reg), 'the source pipe registered as fixed file 0').to.equal(0);
    expect(resOf(v, tee), 'TEE from fixed file 0: 8 bytes').to.equal(8);
    expect(resOf(v, splice), 'SPLICE from fixed file 0: the same 8 bytes, still there after TEE').to.equal(8);
    expect(reads.map((r) => v.ret(r)), 'both pipes hold 8 bytes').to.deep.equal([8, 8]);
    expect(dumps.map((d) => v.step(d).dump!.toString()), 'the bytes written').to.deep.equal(['fixed-in', 'fixed-in']);
  },
);

conformance(
  'uring.OPENAT linked behind a request that fails is cancelled (-ECANCELED) and creates nothing',
  {
    ops: ['uring.OPENAT', 'uring.READ'],
    rule: 'SEMANTICS §3.10 (a link member that fails: the rest complete with -ECANCELED); man io_uring_prep_openat(3)',
  },
  async ({ target, scratch }) => {
    const [HEAD, OPEN] = [0x3f8n, 0x3f9n];
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 4 });
    const file = path.posix.join(scratch, 'never-created');
    const buf = p.buf(16);
    const flags = O.CREAT.value | O.RDWR.value | O.CLOEXEC.value;
    const sub = submit(s, h, [
      // fd -1 is no file: the head fails -EBADF
      sqe({ opcode: 'READ', fd: -1, addr: arg.buf(buf), len: 16, flags: IOSQE.IO_LINK.value, user_data: HEAD }),
      sqe({
        opcode: 'OPENAT',
        fd: AT.FDCWD.value,
        addr: arg.buf(p.cstr(file)),
        open_flags: flags,
        len: 0o600,
        user_data: OPEN,
      }),
    ]);
    const got = reap(s, h, 2, 4);
    const st = statxDump(s, AT.FDCWD.value, p.cstr(file), 0, 0);
    const v = await target.run(p);
    expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
    expect(v.ret(sub.enter), 'both SQEs submitted').to.equal(2);
    expect(byUserData(v.step(got).cqes), 'the READ of fd -1 fails -EBADF; the linked OPENAT -ECANCELED').to.deep.equal([
      [HEAD, -errno.EBADF],
      [OPEN, -errno.ECANCELED],
    ]);
    expect(v.ret(st.call), 'the file was never created').to.equal(-errno.ENOENT);
  },
);
