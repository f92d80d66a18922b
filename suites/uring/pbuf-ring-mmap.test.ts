/**
 * Provided-buffer rings the kernel allocates (IOU_PBUF_RING_MMAP, 6.4): registration takes no address,
 * the application maps the ring at IORING_OFF_PBUF_RING | bgid << IORING_OFF_PBUF_SHIFT
 * (a group without such a ring cannot be mapped: -ENOMEM), and entries it publishes there are what RECV with
 * IOSQE_BUFFER_SELECT consumes. Also: a group whose classic buffers are all used up can take a ring.
 * man io_uring_register(2) IORING_REGISTER_PBUF_RING, io_uring_setup_buf_ring(3).
 */
import { expect } from 'chai';
import {
  BUF_LAYOUT,
  BUF_REG_LAYOUT,
  CQE_F,
  errno,
  IOSQE,
  MMAP,
  OFF,
  PBUF_RING,
  REGISTER,
  SYSCALLS,
  URING_CONST,
} from '../../src/abi';
import { arg, ArgLike, Buf, Program, Sequence } from '../../src/program/builder';
import { pipe2 } from '../../src/program/sys';
import { RingHandle, setupRing } from '../../src/program/uring';
import { conformance } from '../../src/suite/conformance';
import { expectSetup, flagMissing, oneShot, resOf, socketpair } from '../../src/oracle/uring-net';
import { providedBuffers, provideSpec } from '../../src/oracle/uring-files';

const R = BUF_REG_LAYOUT.fields;
const E = BUF_LAYOUT.fields;
const SHIFT = URING_CONST.CQE_BUFFER_SHIFT.value;
const PAGE = 4096;

/** IORING_REGISTER_PBUF_RING (or UNREGISTER) with a struct io_uring_buf_reg. */
function pbufRing(
  s: Sequence,
  h: RingHandle,
  r: { ring: ArgLike; entries: number; bgid: number; flags: number },
  op = REGISTER.PBUF_RING.value,
) {
  const b = s.program.buf(BUF_REG_LAYOUT.size);
  s.patch(b, R.ring_addr.offset, 8, r.ring);
  s.patch(b, R.ring_entries.offset, 4, r.entries);
  s.patch(b, R.bgid.offset, 2, r.bgid);
  s.patch(b, R.pad.offset, 2, r.flags);
  return s.syscall(SYSCALLS.io_uring_register, [arg.ring(h.ring), op, arg.buf(b), 1]);
}

/** mmap of the ring fd at IORING_OFF_PBUF_RING for `bgid`; the address (or -errno) stored in `at`. */
function mapRing(s: Sequence, h: RingHandle, bgid: number, at: Buf) {
  const off = OFF.PBUF_RING.value + bgid * 2 ** OFF.PBUF_SHIFT.value;
  const prot = MMAP.PROT_READ.value | MMAP.PROT_WRITE.value;
  return s.syscall(SYSCALLS.mmap, [0, PAGE, prot, MMAP.MAP_SHARED.value, arg.ring(h.ring), off], { store: at });
}

conformance(
  'uring REGISTER_PBUF_RING with IOU_PBUF_RING_MMAP: the kernel allocates the ring, the application maps it and publishes buffers that RECV consumes',
  {
    ops: ['uring.register', 'uring.RECV'],
    rule: 'man io_uring_register(2) IORING_REGISTER_PBUF_RING (IOU_PBUF_RING_MMAP: the kernel allocates the ring; mmap at IORING_OFF_PBUF_RING | bgid << IORING_OFF_PBUF_SHIFT); io_uring_buf_ring_add(3)',
  },
  async ({ target, caps, skip }) => {
    const [BGID, OTHER, BID] = [3, 4, 5];
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 8 });
    const mmapFlag = PBUF_RING.MMAP.value;
    const reg = pbufRing(s, h, { ring: 0, entries: 8, bgid: BGID, flags: mmapFlag });
    const at = p.buf(8);
    const map = mapRing(s, h, BGID, at);
    const noRing = mapRing(s, h, OTHER, p.buf(8));
    // entry 0 (buffer BID: 64 bytes of `mem`) and the tail (entry 0's resv) = 1, copied into the mapped
    // ring through a pipe: a program writes only its own buffers directly
    const mem = p.buf(64);
    const entry = p.buf(BUF_LAYOUT.size);
    s.patch(entry, E.addr.offset, 8, arg.buf(mem));
    s.patch(entry, E.len.offset, 4, 64);
    s.patch(entry, E.bid.offset, 2, BID);
    s.patch(entry, E.resv.offset, 2, 1);
    const pipe = pipe2(s);
    const put = s.syscall(SYSCALLS.write, [arg.fd(pipe.w), arg.buf(entry), BUF_LAYOUT.size]);
    const copy = s.syscall(SYSCALLS.read, [arg.fd(pipe.r), arg.load64(at, 0), BUF_LAYOUT.size]);
    const pair = socketpair(s);
    const src = p.data(Buffer.from('provided by a kernel-allocated ring'));
    const sent = s.syscall(SYSCALLS.write, [arg.fd(pair.x), arg.buf(src), src.size]);
    const recv = oneShot(
      s,
      h,
      { opcode: 'RECV', fd: pair.y, len: 0, flags: IOSQE.BUFFER_SELECT.value, buf_group: BGID },
      0x9a0n,
    );
    const dump = s.dump(mem, 0, src.size);
    // the ring is empty again (head met tail): the next RECV finds no buffer
    const sent2 = s.syscall(SYSCALLS.write, [arg.fd(pair.x), arg.buf(src), 4]);
    const empty = oneShot(
      s,
      h,
      { opcode: 'RECV', fd: pair.y, len: 0, flags: IOSQE.BUFFER_SELECT.value, buf_group: BGID },
      0x9a1n,
    );
    const unmap = s.syscall(SYSCALLS.munmap, [arg.load64(at, 0), PAGE]);
    const unreg = pbufRing(s, h, { ring: 0, entries: 0, bgid: BGID, flags: 0 }, REGISTER.UNREGISTER_PBUF_RING.value);
    const v = await target.run(p);
    expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
    const missing = flagMissing(caps, PBUF_RING.MMAP, v.ret(reg));
    if (missing) skip(missing);
    expect(v.ret(reg), 'IOU_PBUF_RING_MMAP with ring_addr 0: registered').to.equal(0);
    expect(v.ret(map), 'mmap at IORING_OFF_PBUF_RING | bgid << IORING_OFF_PBUF_SHIFT').to.be.above(0);
    // refused in the ring's get_unmapped_area, which reports every refusal as ENOMEM (as setup-modes finds
    // for IORING_SETUP_NO_MMAP rings)
    expect(v.ret(noRing), 'mmap for a group without a kernel-allocated ring fails (-ENOMEM)').to.equal(-errno.ENOMEM);
    expectSetup(v, [pipe.step, put, pair.step, sent, sent2], 'pipe, socketpair and writes');
    expect(v.ret(copy), 'the entry lands in the mapped ring').to.equal(BUF_LAYOUT.size);
    const cqe = v.step(recv.reap).cqes;
    expect(resOf(v, recv), 'RECV takes the bytes into the published buffer').to.equal(src.size);
    expect(
      [cqe[0].flags & CQE_F.BUFFER.value, cqe[0].flags >>> SHIFT],
      'the CQE names buffer BID (IORING_CQE_F_BUFFER, id in the upper 16 bits)',
    ).to.deep.equal([CQE_F.BUFFER.value, BID]);
    expect(v.step(dump).dump!.equals(Buffer.from('provided by a kernel-allocated ring')), 'the bytes').to.equal(true);
    expect(resOf(v, empty), 'the one buffer is used: -ENOBUFS').to.equal(-errno.ENOBUFS);
    expect(v.ret(unmap), 'munmap').to.equal(0);
    expect(v.ret(unreg), 'UNREGISTER_PBUF_RING').to.equal(0);
  },
);

conformance(
  'uring REGISTER_PBUF_RING on a group whose classic provided buffers are all used up succeeds, and RECV then uses the ring',
  {
    ops: ['uring.register', 'uring.PROVIDE_BUFFERS', 'uring.RECV'],
    rule: 'man io_uring_register(2) IORING_REGISTER_PBUF_RING (-EEXIST only while the group holds buffers); kernel io_uring/kbuf.c io_register_pbuf_ring',
  },
  async ({ target }) => {
    const GID = 9;
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 8 });
    const pb = providedBuffers(s, GID, 0, 1, 64);
    const provide = oneShot(s, h, provideSpec(pb), 0x9b0n);
    const pair = socketpair(s);
    const src = p.data(Buffer.from('first'));
    const w1 = s.syscall(SYSCALLS.write, [arg.fd(pair.x), arg.buf(src), 5]);
    const spec = { opcode: 'RECV' as const, fd: pair.y, len: 0, flags: IOSQE.BUFFER_SELECT.value, buf_group: GID };
    const r1 = oneShot(s, h, spec, 0x9b1n);
    // the group is empty now; a ring in program memory with one buffer, id 7
    const ring = p.buf(PAGE, PAGE);
    const mem = p.buf(64);
    s.patch(ring, E.addr.offset, 8, arg.buf(mem));
    s.patch(ring, E.len.offset, 4, 64);
    s.patch(ring, E.bid.offset, 2, 7);
    s.patch(ring, E.resv.offset, 2, 1);
    const reg = pbufRing(s, h, { ring: arg.buf(ring), entries: 1, bgid: GID, flags: 0 });
    const w2 = s.syscall(SYSCALLS.write, [arg.fd(pair.x), arg.buf(src), 5]);
    const r2 = oneShot(s, h, spec, 0x9b2n);
    const v = await target.run(p);
    expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
    expectSetup(v, [pair.step, w1, w2], 'socketpair and writes');
    expect(resOf(v, provide), 'PROVIDE_BUFFERS of one buffer').to.equal(0);
    expect(resOf(v, r1), 'RECV uses the classic buffer').to.equal(5);
    expect(v.ret(reg), 'a ring for the now-empty group: registered').to.equal(0);
    expect(resOf(v, r2), 'RECV uses the ring').to.equal(5);
    expect(v.step(r2.reap).cqes[0].flags >>> SHIFT, "the ring's buffer id").to.equal(7);
  },
);
