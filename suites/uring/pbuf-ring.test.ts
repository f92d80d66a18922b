/**
 * Provided-buffer rings (IORING_REGISTER_PBUF_RING, 5.19): what registration accepts and refuses, how
 * RECV with IOSQE_BUFFER_SELECT consumes the ring (in ring order, -ENOBUFS when head meets tail, more
 * once the tail moves), IORING_REGISTER_PBUF_STATUS (6.8) and incremental consumption (IOU_PBUF_RING_INC,
 * 6.12). man io_uring_register(2), io_uring_setup_buf_ring(3), io_uring_buf_ring_add(3), io_uring_prep_recv(3).
 */
import { expect } from 'chai';
import {
  BUF_LAYOUT,
  BUF_REG_LAYOUT,
  BUF_STATUS_LAYOUT,
  CQE_F,
  errno,
  IOSQE,
  PBUF_RING,
  REGISTER,
  SYSCALLS,
  URING_CONST,
} from '../../src/abi';
import { arg, ArgLike, Buf, Program, Sequence, StepRef } from '../../src/program/builder';
import { patternBytes } from '../../src/program/pattern';
import { RingHandle } from '../../src/program/uring';
import { providedBuffers, provideSpec, UringRunner } from '../../src/oracle/uring-files';
import { expectSetup, flagMissing, socketpair } from '../../src/oracle/uring-net';
import { conformance } from '../../src/suite/conformance';

const SHIFT = URING_CONST.CQE_BUFFER_SHIFT.value;
const SELECT = IOSQE.BUFFER_SELECT.value;
const R = BUF_REG_LAYOUT.fields;
const RING_GID = 100;
const E = BUF_LAYOUT.fields;

/** A struct io_uring_buf_reg. */
function bufReg(s: Sequence, r: { ring: ArgLike; entries: number; bgid: number; flags?: number; resv?: number }): Buf {
  const b = s.program.buf(BUF_REG_LAYOUT.size);
  s.patch(b, R.ring_addr.offset, 8, r.ring);
  s.patch(b, R.ring_entries.offset, 4, r.entries);
  s.patch(b, R.bgid.offset, 2, r.bgid);
  s.patch(b, R.pad.offset, 2, r.flags ?? 0);
  s.patch(b, R.resv.offset, 8, r.resv ?? 0);
  return b;
}

/** io_uring_register(ring, op, arg, 1). */
const register = (s: Sequence, h: RingHandle, op: number, a: Buf): StepRef =>
  s.syscall(SYSCALLS.io_uring_register, [arg.ring(h.ring), op, arg.buf(a), 1]);

/** Publish buffer `bid` (`len` bytes at `addr`) at ring index `index` (io_uring_buf_ring_add(3)). */
function addBuf(s: Sequence, ring: Buf, mask: number, index: number, addr: ArgLike, len: number, bid: number): void {
  const at = (index & mask) * BUF_LAYOUT.size;
  s.patch(ring, at + E.addr.offset, 8, addr);
  s.patch(ring, at + E.len.offset, 4, len);
  s.patch(ring, at + E.bid.offset, 2, bid);
}

/** Move the ring's tail (entry 0's resv) to `tail` (io_uring_buf_ring_advance(3)). */
const setTail = (s: Sequence, ring: Buf, tail: number) => s.patch(ring, E.resv.offset, 2, tail);

conformance(
  'uring REGISTER_PBUF_RING refuses bad rings (-EINVAL, -EFAULT, -EEXIST); UNREGISTER_PBUF_RING -ENOENT/-EINVAL',
  {
    ops: ['uring.register', 'uring.PROVIDE_BUFFERS', 'uring.REMOVE_BUFFERS'],
    rule: 'man io_uring_register(2) IORING_REGISTER_PBUF_RING',
  },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const u = new UringRunner(s);
    const mem = p.buf(4096, 4096);
    const PBUF = REGISTER.PBUF_RING.value;
    const UNREG = REGISTER.UNREGISTER_PBUF_RING.value;
    // the refusals first, on RING_GID (none registers anything), then a good ring, then the rest; ids of 64
    // and up, as 6.1 keeps groups below 64 in a flat array where every id answers as if it existed
    const bad = [
      {
        what: 'ring_entries 3, not a power of two',
        reg: { ring: arg.buf(mem), entries: 3, bgid: RING_GID },
        want: -errno.EINVAL,
      },
      {
        what: 'ring_entries 65536, above 32768',
        reg: { ring: arg.buf(mem), entries: 65536, bgid: RING_GID },
        want: -errno.EINVAL,
      },
      {
        what: 'ring_addr not page aligned',
        reg: { ring: arg.buf(mem, 64), entries: 4, bgid: RING_GID },
        want: -errno.EINVAL,
      },
      {
        what: 'ring_addr 0 without IOU_PBUF_RING_MMAP',
        reg: { ring: 0, entries: 4, bgid: RING_GID },
        want: -errno.EFAULT,
      },
      {
        what: 'a resv word set',
        reg: { ring: arg.buf(mem), entries: 4, bgid: RING_GID, resv: 1 },
        want: -errno.EINVAL,
      },
      {
        what: 'an unknown flag (bit 15)',
        reg: { ring: arg.buf(mem), entries: 4, bgid: RING_GID, flags: 1 << 15 },
        want: -errno.EINVAL,
      },
    ].map((c) => ({ ...c, step: register(s, u.h, PBUF, bufReg(s, c.reg)) }));
    const good = register(s, u.h, PBUF, bufReg(s, { ring: arg.buf(mem), entries: 4, bgid: RING_GID }));
    const again = register(s, u.h, PBUF, bufReg(s, { ring: arg.buf(mem), entries: 4, bgid: RING_GID }));
    // a legacy group (PROVIDE_BUFFERS) and the ring group refuse each other's operations
    const pb = providedBuffers(s, 2, 0, 2, 64);
    const provided = u.res(provideSpec(pb));
    const ringOverLegacy = register(s, u.h, PBUF, bufReg(s, { ring: arg.buf(p.buf(4096, 4096)), entries: 4, bgid: 2 }));
    const provideIntoRing = u.res({ ...provideSpec(pb), buf_group: RING_GID });
    const removeFromRing = u.res({ opcode: 'REMOVE_BUFFERS', fd: 1, buf_group: RING_GID });
    const unregLegacy = register(s, u.h, UNREG, bufReg(s, { ring: 0, entries: 0, bgid: 2 }));
    const unregNone = register(s, u.h, UNREG, bufReg(s, { ring: 0, entries: 0, bgid: 999 }));
    const unreg = register(s, u.h, UNREG, bufReg(s, { ring: 0, entries: 0, bgid: RING_GID }));
    const unregAgain = register(s, u.h, UNREG, bufReg(s, { ring: 0, entries: 0, bgid: RING_GID }));
    const reuse = register(s, u.h, PBUF, bufReg(s, { ring: arg.buf(mem), entries: 4, bgid: RING_GID }));
    const v = await target.run(p);
    expectSetup(v, [u.h.setup], 'io_uring_setup');
    for (const c of bad) expect(v.ret(c.step), `REGISTER_PBUF_RING with ${c.what}`).to.equal(c.want);
    expect(v.ret(good), 'REGISTER_PBUF_RING of a page-aligned ring of 4 entries: 0').to.equal(0);
    expect(v.ret(again), 'REGISTER_PBUF_RING of a group already registered: -EEXIST').to.equal(-errno.EEXIST);
    expect(provided(v), 'PROVIDE_BUFFERS of group 2: 0').to.equal(0);
    expect(v.ret(ringOverLegacy), 'REGISTER_PBUF_RING over a group of provided buffers: -EEXIST').to.equal(
      -errno.EEXIST,
    );
    expect(provideIntoRing(v), 'PROVIDE_BUFFERS into a buffer-ring group: -EINVAL').to.equal(-errno.EINVAL);
    expect(removeFromRing(v), 'REMOVE_BUFFERS from a buffer-ring group: -EINVAL').to.equal(-errno.EINVAL);
    expect(v.ret(unregLegacy), 'UNREGISTER_PBUF_RING of a group of provided buffers: -EINVAL').to.equal(-errno.EINVAL);
    expect(v.ret(unregNone), 'UNREGISTER_PBUF_RING of a group never registered: -ENOENT').to.equal(-errno.ENOENT);
    expect(v.ret(unreg), 'UNREGISTER_PBUF_RING of the ring: 0').to.equal(0);
    expect(v.ret(unregAgain), 'UNREGISTER_PBUF_RING again: -ENOENT').to.equal(-errno.ENOENT);
    expect(v.ret(reuse), 'the group id is free again: REGISTER_PBUF_RING 0').to.equal(0);
  },
);

conformance(
  'uring.RECV with BUFFER_SELECT takes ring buffers in ring order, -ENOBUFS at the tail, more once it moves; PBUF_STATUS',
  {
    ops: ['uring.RECV', 'uring.register'],
    rule: 'man io_uring_register(2) IORING_REGISTER_PBUF_RING, PBUF_STATUS; io_uring_buf_ring_add(3)',
  },
  async ({ target, caps, note }) => {
    const [BGID, SIZE, N] = [5, 32, 4];
    const SEED = 0xb0f1;
    const p = new Program();
    const s = p.main;
    const u = new UringRunner(s);
    const pair = socketpair(s);
    // bids in reverse of ring order, so "ring order" and "bid order" cannot be mistaken for each other
    const ring = p.buf(N * BUF_LAYOUT.size, 4096);
    const mem = p.buf(N * SIZE, 4096);
    for (let i = 0; i < N; i++) addBuf(s, ring, N - 1, i, arg.buf(mem, (N - 1 - i) * SIZE), SIZE, N - 1 - i);
    setTail(s, ring, N);
    const reg = register(s, u.h, REGISTER.PBUF_RING.value, bufReg(s, { ring: arg.buf(ring), entries: N, bgid: BGID }));
    const src = p.buf(N * 10 + 10);
    s.fillPattern(src, 0, src.size, SEED);
    // one message per RECV: each written, then received, so each takes one buffer
    const recvs = Array.from({ length: N }, (_, k) => {
      const w = s.syscall(SYSCALLS.write, [arg.fd(pair.x), arg.buf(src, 10 * k), 10]);
      return { w, c: u.run({ opcode: 'RECV', fd: pair.y, flags: SELECT, buf_group: BGID, len: SIZE }) };
    });
    const status = (group: number) => {
      const b = p.buf(BUF_STATUS_LAYOUT.size);
      s.patch(b, BUF_STATUS_LAYOUT.fields.buf_group.offset, 4, group);
      return { step: register(s, u.h, REGISTER.PBUF_STATUS.value, b), dump: s.dump(b) };
    };
    const st = status(BGID);
    const stNone = status(77);
    const w5 = s.syscall(SYSCALLS.write, [arg.fd(pair.x), arg.buf(src, 10 * N), 10]);
    const empty = u.run({ opcode: 'RECV', fd: pair.y, flags: SELECT, buf_group: BGID, len: SIZE });
    // give buffer 2 back at ring index N (the slot of index 0) and move the tail: the data waiting is received
    addBuf(s, ring, N - 1, N, arg.buf(mem, 2 * SIZE), SIZE, 2);
    setTail(s, ring, N + 1);
    const refill = u.run({ opcode: 'RECV', fd: pair.y, flags: SELECT, buf_group: BGID, len: SIZE });
    const dump = s.dump(mem);
    const v = await target.run(p);
    expectSetup(v, [pair.step, u.h.setup], 'socketpair and ring');
    expect(v.ret(reg), 'REGISTER_PBUF_RING: 0').to.equal(0);
    const data = v.step(dump).dump!;
    for (const [k, r] of recvs.entries()) {
      expect(v.ret(r.w), `message ${k} written`).to.equal(10);
      const c = r.c(v);
      expect(c.res, `RECV ${k}: 10 bytes`).to.equal(10);
      expect(c.flags & CQE_F.BUFFER.value, `RECV ${k}: IORING_CQE_F_BUFFER`).to.equal(CQE_F.BUFFER.value);
      const bid = c.flags >>> SHIFT;
      expect(bid, `RECV ${k} takes ring entry ${k}, buffer id ${N - 1 - k} (ring order)`).to.equal(N - 1 - k);
      if (bid !== 2)
        // buffer 2 is re-added and refilled below
        expect(
          data.subarray(bid * SIZE, bid * SIZE + 10).equals(patternBytes(SEED, 10 * k, 10)),
          `buffer ${bid} holds message ${k}`,
        ).to.equal(true);
    }
    expect(v.ret(w5), 'message 4 written').to.equal(10);
    expect(empty(v).res, 'RECV with the ring consumed (head == tail): -ENOBUFS').to.equal(-errno.ENOBUFS);
    const c = refill(v);
    expect([c.res, c.flags >>> SHIFT], 'after the tail moves, RECV takes the re-added buffer 2').to.deep.equal([10, 2]);
    expect(
      data.subarray(2 * SIZE, 2 * SIZE + 10).equals(patternBytes(SEED, 10 * N, 10)),
      'buffer 2 holds message 4',
    ).to.equal(true);
    const why = flagMissing(caps, REGISTER.PBUF_STATUS, v.ret(st.step));
    if (why) return note(`ring order checked; not PBUF_STATUS: ${why}`);
    expect(v.ret(st.step), 'PBUF_STATUS of the ring: 0').to.equal(0);
    expect(
      v.step(st.dump).dump!.readUInt32LE(BUF_STATUS_LAYOUT.fields.head.offset),
      'PBUF_STATUS head: 4 buffers consumed',
    ).to.equal(N);
    expect(v.ret(stNone.step), 'PBUF_STATUS of a group never registered: -ENOENT').to.equal(-errno.ENOENT);
  },
);

conformance(
  'uring.RECV from an IOU_PBUF_RING_INC ring consumes a buffer piecewise: the same bid, F_BUF_MORE, data back to back',
  { ops: ['uring.RECV', 'uring.register'], rule: 'man io_uring_register(2) IOU_PBUF_RING_INC (6.12)' },
  async ({ target, caps, skip }) => {
    const [BGID, SIZE] = [6, 64];
    const SEED = 0x1dc0;
    const p = new Program();
    const s = p.main;
    const u = new UringRunner(s);
    const pair = socketpair(s);
    const ring = p.buf(2 * BUF_LAYOUT.size, 4096);
    const mem = p.buf(SIZE, 4096);
    addBuf(s, ring, 1, 0, arg.buf(mem), SIZE, 9);
    setTail(s, ring, 1);
    const reg = register(
      s,
      u.h,
      REGISTER.PBUF_RING.value,
      bufReg(s, { ring: arg.buf(ring), entries: 2, bgid: BGID, flags: PBUF_RING.INC.value }),
    );
    const src = p.buf(SIZE);
    s.fillPattern(src, 0, SIZE, SEED);
    // 20 + 30 bytes fit the 64-byte buffer; the last 14 use it up
    const parts = [20, 30, 14];
    let at = 0;
    const recvs = parts.map((n) => {
      const w = s.syscall(SYSCALLS.write, [arg.fd(pair.x), arg.buf(src, at), n]);
      at += n;
      return { n, w, c: u.run({ opcode: 'RECV', fd: pair.y, flags: SELECT, buf_group: BGID, len: SIZE }) };
    });
    const w4 = s.syscall(SYSCALLS.write, [arg.fd(pair.x), arg.buf(src), 1]);
    const empty = u.run({ opcode: 'RECV', fd: pair.y, flags: SELECT, buf_group: BGID, len: SIZE });
    const dump = s.dump(mem);
    const v = await target.run(p);
    expectSetup(v, [pair.step, u.h.setup], 'socketpair and ring');
    const why = flagMissing(caps, PBUF_RING.INC, v.ret(reg));
    if (why) skip(why);
    expect(v.ret(reg), 'REGISTER_PBUF_RING with IOU_PBUF_RING_INC: 0').to.equal(0);
    for (const [k, r] of recvs.entries()) {
      expect(v.ret(r.w), `write ${k}`).to.equal(r.n);
      const c = r.c(v);
      expect(
        [c.res, c.flags & CQE_F.BUFFER.value, c.flags >>> SHIFT],
        `RECV ${k}: ${r.n} bytes in buffer 9`,
      ).to.deep.equal([r.n, CQE_F.BUFFER.value, 9]);
      const more = k < parts.length - 1 ? CQE_F.BUF_MORE.value : 0;
      expect(
        c.flags & CQE_F.BUF_MORE.value,
        more
          ? `RECV ${k}: IORING_CQE_F_BUF_MORE, the buffer has room left`
          : `RECV ${k}: no F_BUF_MORE, the buffer is used up`,
      ).to.equal(more);
    }
    expect(
      v.step(dump).dump!.equals(patternBytes(SEED, 0, SIZE)),
      'the three pieces lie back to back in the buffer',
    ).to.equal(true);
    expect(v.ret(w4), 'one more byte written').to.equal(1);
    expect(empty(v).res, 'the only buffer used up: -ENOBUFS').to.equal(-errno.ENOBUFS);
  },
);
