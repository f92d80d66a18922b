/**
 * IORING_REGISTER_CLONE_BUFFERS (6.12): a ring takes the registered buffers of another ring, as if it had
 * registered the same memory itself. Man io_uring_register(2) and io_uring_clone_buffers(3): the destination
 * must have no buffers (-EBUSY), the source must have some (-ENXIO), src_fd must be a ring (-EOPNOTSUPP).
 */
import { expect } from 'chai';
import { CLONE_BUFFERS, CLONE_BUFFERS_LAYOUT, errno, REGISTER, releasedBy, SYSCALLS, URING_CONST } from '../../src/abi';
import { arg, ArgLike, Program, Sequence, StepRef } from '../../src/program/builder';
import { patternBytes } from '../../src/program/pattern';
import { encodeStruct, place } from '../../src/program/struct';
import { pwrite, scratchFile } from '../../src/program/sys';
import { ringFds, RingHandle } from '../../src/program/uring';
import { registerBuffers, requireSetup, UringRunner } from '../../src/oracle/uring-files';
import { conformance } from '../../src/suite/conformance';

/** IORING_REGISTER_CLONE_BUFFERS into `dst` from the ring (or fd) `src`: the whole table (nr 0). */
function clone(s: Sequence, dst: RingHandle, src: ArgLike, flags = 0): StepRef {
  const b = s.program.buf(CLONE_BUFFERS_LAYOUT.size);
  place(s, b, 0, encodeStruct(CLONE_BUFFERS_LAYOUT, { src_fd: src, flags }));
  return s.syscall(SYSCALLS.io_uring_register, [arg.ring(dst.ring), REGISTER.CLONE_BUFFERS.value, arg.buf(b), 1]);
}

conformance(
  'uring.register CLONE_BUFFERS gives a ring the registered buffers of another, for READ_FIXED through them',
  { ops: ['uring.register', 'uring.READ_FIXED'], rule: 'man 3 io_uring_clone_buffers' },
  async ({ target, scratch, caps, skip }) => {
    if (!releasedBy(REGISTER.CLONE_BUFFERS.since!, caps.kernel))
      skip(`IORING_REGISTER_CLONE_BUFFERS is ${REGISTER.CLONE_BUFFERS.since}, kernel ${caps.kernel}`);
    const p = new Program();
    const s = p.main;
    const { fd, step: open } = scratchFile(s, scratch, 'f');
    const data = p.buf(64);
    s.fillPattern(data, 0, 64, 0x7e01);
    const wrote = pwrite(s, fd, data, 64, 0);
    const bufs = [p.buf(4096, 4096), p.buf(4096, 4096)];
    const src = new UringRunner(s);
    const reg = registerBuffers(s, src.h, bufs);
    const dst = new UringRunner(s);
    const cloned = clone(s, dst.h, arg.ring(src.h.ring));
    // buffer 1 of the clone is the source's buffer 1: READ_FIXED through the destination fills it
    const read = dst.res({ opcode: 'READ_FIXED', fd, addr: arg.buf(bufs[1], 128), len: 64, off: 0, buf_index: 1 });
    const dump = s.dump(bufs[1], 128, 64);
    const outside = dst.res({ opcode: 'READ_FIXED', fd, addr: arg.buf(bufs[0]), len: 64, off: 0, buf_index: 1 });
    const again = clone(s, dst.h, arg.ring(src.h.ring));
    const empty = new UringRunner(s);
    const fromEmpty = clone(s, new UringRunner(s).h, arg.ring(empty.h.ring));
    const fromFile = clone(s, new UringRunner(s).h, arg.fd(fd));
    // the source named by its registered ring index (IORING_REGISTER_RING_FDS) with IORING_REGISTER_SRC_REGISTERED
    const rfd = ringFds(s, src.h, -1);
    const SRC_REG = CLONE_BUFFERS.SRC_REGISTERED.value;
    const byIndex = clone(s, new UringRunner(s).h, rfd.index, SRC_REG);
    const pastIndex = clone(s, new UringRunner(s).h, URING_CONST.RINGFD_REG_MAX.value, SRC_REG);
    const badFlag = clone(s, new UringRunner(s).h, arg.ring(src.h.ring), 1 << 7);
    const v = await target.run(p);
    requireSetup(v, [
      { what: 'open of the file', step: open },
      { what: 'pwrite of the file', step: wrote, want: 64 },
      { what: 'IORING_REGISTER_BUFFERS on the source ring', step: reg },
    ]);
    expect(v.ret(cloned), 'IORING_REGISTER_CLONE_BUFFERS').to.equal(0);
    expect(read(v), 'READ_FIXED through the cloned buffer 1').to.equal(64);
    expect(
      v.step(dump).dump!.equals(patternBytes(0x7e01, 0, 64)),
      "the bytes land in the source ring's buffer",
    ).to.equal(true);
    expect(outside(v), 'READ_FIXED with buf_index 1 but an address in buffer 0: -EFAULT').to.equal(-errno.EFAULT);
    expect(v.ret(again), 'cloning into a ring that has buffers: -EBUSY').to.equal(-errno.EBUSY);
    expect(v.ret(fromEmpty), 'cloning from a ring without buffers: -ENXIO').to.equal(-errno.ENXIO);
    expect(v.ret(fromFile), 'src_fd is a regular file, not a ring: -EOPNOTSUPP').to.equal(-errno.EOPNOTSUPP);
    expect(v.ret(rfd.step), 'IORING_REGISTER_RING_FDS of the source').to.equal(1);
    expect(v.ret(byIndex), 'cloning from the registered index with SRC_REGISTERED').to.equal(0);
    expect(v.ret(pastIndex), 'SRC_REGISTERED with an index past the registered-ring table: -EINVAL').to.equal(
      -errno.EINVAL,
    );
    expect(v.ret(badFlag), `an undefined flag (${CLONE_BUFFERS.SRC_REGISTERED.name} is bit 0): -EINVAL`).to.equal(
      -errno.EINVAL,
    );
  },
);
