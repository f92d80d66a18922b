/**
 * IORING_REGISTER_PROBE (5.6) as SEMANTICS §3.6 states it: what it writes (last_op, ops_len, op and flags of
 * each slot) and the inputs it refuses; and io_uring_register's answer to an opcode it does not know.
 */
import { expect } from 'chai';
import { errno, PROBE_LAYOUT, PROBE_OP, PROBE_OP_LAYOUT, REGISTER, SYSCALLS, URING_CONST } from '../../src/abi';
import { arg, ArgLike, Program, Sequence, StepRef } from '../../src/program/builder';
import { setupRing, RingHandle } from '../../src/program/uring';
import { conformance } from '../../src/suite/conformance';

function probe(s: Sequence, h: RingHandle, a: ArgLike, n: number): StepRef {
  return s.syscall(SYSCALLS.io_uring_register, [arg.ring(h.ring), REGISTER.PROBE.value, a, n]);
}

conformance(
  'uring.register PROBE fills last_op, ops_len and each slot, and refuses a dirty buffer, NULL and nr_args > 256',
  { ops: ['uring.register'], rule: 'SEMANTICS §3.6' },
  async ({ target, caps }) => {
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 4 });
    const MAX = URING_CONST.PROBE_MAX_OPS.value;
    const small = p.buf(PROBE_LAYOUT.size + 4 * PROBE_OP_LAYOUT.size);
    const four = probe(s, h, arg.buf(small), 4);
    const smallDump = s.dump(small);
    const big = p.buf(PROBE_LAYOUT.size + MAX * PROBE_OP_LAYOUT.size);
    const all = probe(s, h, arg.buf(big), MAX);
    const bigDump = s.dump(big, 0, PROBE_LAYOUT.size);
    const dirty = p.buf(PROBE_LAYOUT.size + PROBE_OP_LAYOUT.size);
    s.fillByte(dirty, PROBE_LAYOUT.fields.resv.offset, 1, 1);
    const dirtied = probe(s, h, arg.buf(dirty), 1);
    const nul = probe(s, h, 0, 1);
    const tooMany = probe(s, h, arg.buf(big), MAX + 1);
    const unreadable = probe(s, h, arg.bad(), 1);
    // no io_uring_register opcode has ever been this large (src/abi's REGISTER table ends far below it)
    const unknown = s.syscall(SYSCALLS.io_uring_register, [arg.ring(h.ring), 200, 0, 0]);
    const v = await target.run(p);
    expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
    expect(v.ret(four), 'PROBE with 4 slots').to.equal(0);
    const d = v.step(smallDump).dump!;
    const F = PROBE_LAYOUT.fields;
    const O = PROBE_OP_LAYOUT.fields;
    const lastOp = d[F.last_op.offset];
    expect(lastOp, 'last_op is the one the probe saw').to.equal(caps.uring.lastOp);
    expect(d[F.ops_len.offset], 'ops_len = min(nr_args, IORING_OP_LAST)').to.equal(4);
    const ops = [0, 1, 2, 3].map((i) => {
      const o = PROBE_LAYOUT.size + i * PROBE_OP_LAYOUT.size;
      return [d[o + O.op.offset], d.readUInt16LE(o + O.flags.offset) & PROBE_OP.SUPPORTED.value];
    });
    expect(ops, 'ops[i].op = i, and NOP, READV, WRITEV, FSYNC (5.1) are supported').to.deep.equal([
      [0, 1],
      [1, 1],
      [2, 1],
      [3, 1],
    ]);
    expect(v.ret(all), 'PROBE with 256 slots').to.equal(0);
    expect(v.step(bigDump).dump![F.ops_len.offset], 'ops_len is capped at IORING_OP_LAST').to.equal(lastOp + 1);
    expect(v.ret(dirtied), 'a probe buffer that is not all zero: -EINVAL').to.equal(-errno.EINVAL);
    expect(v.ret(nul), 'a NULL probe: -EINVAL').to.equal(-errno.EINVAL);
    expect(v.ret(tooMany), 'nr_args 257: -EINVAL').to.equal(-errno.EINVAL);
    expect(v.ret(unreadable), 'a probe the kernel cannot read: -EFAULT').to.equal(-errno.EFAULT);
    expect(v.ret(unknown), 'an unknown io_uring_register opcode: -EINVAL').to.equal(-errno.EINVAL);
  },
);
