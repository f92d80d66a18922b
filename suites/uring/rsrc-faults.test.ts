/**
 * Resource-table calls whose arguments point where the kernel cannot read, and a ring fd slipped into a
 * file-table update: REGISTER_BUFFERS2 with an unreadable tag array, BUFFERS_UPDATE with an unreadable
 * iovec, FILES_UPDATE with an io_uring fd, IORING_OP_FILES_UPDATE (IORING_FILE_INDEX_ALLOC) with an
 * unreadable fd array. man io_uring_register(2) (EFAULT; EBADF: io_uring fds cannot be registered),
 * io_uring_prep_files_update(3).
 */
import { expect } from 'chai';
import { errno, REGISTER, RSRC_REGISTER_LAYOUT, RSRC_UPDATE2_LAYOUT, SYSCALLS, URING_CONST } from '../../src/abi';
import { arg, ArgLike, Program, Sequence } from '../../src/program/builder';
import { encodeStruct, place, RawStruct } from '../../src/program/struct';
import { RingHandle, setupRing } from '../../src/program/uring';
import { iovecArray, registerFiles } from '../../src/oracle/uring-files';
import { oneShot, resOf } from '../../src/oracle/uring-net';
import { conformance } from '../../src/suite/conformance';

/** io_uring_register(op) with an encoded 32-byte struct (rsrc_register or rsrc_update2); nr_args = its size. */
function reg2(s: Sequence, h: RingHandle, op: number, st: RawStruct) {
  const b = s.program.buf(st.bytes.length);
  place(s, b, 0, st);
  return s.syscall(SYSCALLS.io_uring_register, [arg.ring(h.ring), op, arg.buf(b), st.bytes.length]);
}

conformance(
  'uring.register resource calls with unreadable arrays fail -EFAULT; a ring fd in FILES_UPDATE is -EBADF; OP_FILES_UPDATE with an unreadable fd array is -EFAULT',
  {
    ops: ['uring.register', 'uring.FILES_UPDATE'],
    rule: 'man io_uring_register(2) (EFAULT: arg or an array it points to is outside the address space; io_uring fds are refused with EBADF); man io_uring_prep_files_update(3)',
  },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 4 });
    const buf = p.buf(4096, 4096);
    const bad: ArgLike = arg.bad();
    const buffers2 = (tags: ArgLike) =>
      encodeStruct(RSRC_REGISTER_LAYOUT, { nr: 1, data: arg.buf(iovecArray(s, [[buf, 0, 4096]])), tags });
    const tagsBad = reg2(s, h, REGISTER.BUFFERS2.value, buffers2(bad));
    // a table to update: one buffer without tags, one empty file slot
    const good = reg2(s, h, REGISTER.BUFFERS2.value, buffers2(0));
    const upd = (data: ArgLike) => encodeStruct(RSRC_UPDATE2_LAYOUT, { offset: 0, data, nr: 1 });
    const updBad = reg2(s, h, REGISTER.BUFFERS_UPDATE.value, upd(bad));
    const files = registerFiles(s, h, [-1]);
    const arr = p.buf(4);
    s.patch(arr, 0, 4, arg.ring(h.ring));
    const ringInTable = reg2(s, h, REGISTER.FILES_UPDATE2.value, upd(arg.buf(arr)));
    const op = oneShot(
      s,
      h,
      { opcode: 'FILES_UPDATE', fd: -1, addr: bad, len: 1, off: URING_CONST.FILE_INDEX_ALLOC.value },
      0x2f0n,
    );
    const v = await target.run(p);
    expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
    expect(v.ret(tagsBad), 'REGISTER_BUFFERS2 with an unreadable tags array: -EFAULT').to.equal(-errno.EFAULT);
    expect(v.ret(good), 'REGISTER_BUFFERS2 without tags: 0').to.equal(0);
    expect(v.ret(updBad), 'BUFFERS_UPDATE with an unreadable iovec array: -EFAULT').to.equal(-errno.EFAULT);
    expect(v.ret(files), 'REGISTER_FILES of one empty slot').to.equal(0);
    expect(v.ret(ringInTable), 'FILES_UPDATE2 with the ring’s own fd: -EBADF').to.equal(-errno.EBADF);
    expect(resOf(v, op), 'IORING_OP_FILES_UPDATE (alloc) with an unreadable fd array: -EFAULT').to.equal(
      -errno.EFAULT,
    );
  },
);
