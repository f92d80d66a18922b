/**
 * IORING_REGISTER_RESTRICTIONS with an invalid entry (a register op or SQE op past the last one, an unknown entry
 * kind) fails with -EINVAL and resets every restriction of that call, so the ring has none registered and a
 * later valid registration is accepted (not -EBUSY); an unreadable array is -EFAULT (SEMANTICS §3.7; man
 * io_uring_register(2) IORING_REGISTER_RESTRICTIONS).
 */
import { expect } from 'chai';
import { errno, REGISTER, RESTRICTION, RESTRICTION_LAYOUT, SETUP, SYSCALLS, URING_OP } from '../../src/abi';
import { arg, ArgLike, Program, Sequence } from '../../src/program/builder';
import { encodeStruct, placeAll } from '../../src/program/struct';
import { reap, RingHandle, setupRing, sqe, submit } from '../../src/program/uring';
import { requireSetup } from '../../src/oracle/uring-files';
import { conformance } from '../../src/suite/conformance';

/** A restriction array of [entry kind, its byte] pairs. */
function entries(s: Sequence, list: [number, number][]): ArgLike {
  const b = s.program.buf(RESTRICTION_LAYOUT.size * list.length);
  placeAll(s, b, 0, list.map(([opcode, byte]) => encodeStruct(RESTRICTION_LAYOUT, { opcode, sqe_op: byte })));
  return arg.buf(b);
}

function register(s: Sequence, h: RingHandle, op: number, a: ArgLike, n: number) {
  return s.syscall(SYSCALLS.io_uring_register, [arg.ring(h.ring), op, a, n]);
}

const OP_BYTE_MAX = 255;

conformance(
  'uring.register RESTRICTIONS with an invalid entry fails with -EINVAL and keeps none of its entries; an unreadable array is -EFAULT',
  {
    ops: ['uring.setup', 'uring.register', 'uring.NOP', 'uring.READ'],
    rule: 'SEMANTICS §3.7; man io_uring_register(2)',
  },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 4, flags: SETUP.R_DISABLED.value });
    const R = REGISTER.RESTRICTIONS.value;
    const { REGISTER_OP, SQE_OP } = RESTRICTION;
    const read = URING_OP.READ.value;
    const bad: [string, ArgLike, number][] = [
      ['register_op 255', entries(s, [[REGISTER_OP.value, OP_BYTE_MAX]]), 1],
      ['SQE_OP READ, then sqe_op 255', entries(s, [[SQE_OP.value, read], [SQE_OP.value, OP_BYTE_MAX]]), 2],
      ['an unknown entry kind', entries(s, [[SQE_OP.value, read], [0xff, 0]]), 2],
    ];
    const fails = bad.map(([, a, n]) => register(s, h, R, a, n));
    const fault = register(s, h, R, arg.bad(), 1);
    // only NOP allowed, and the ENABLE_RINGS register op
    const ok = register(
      s,
      h,
      R,
      entries(s, [
        [SQE_OP.value, URING_OP.NOP.value],
        [REGISTER_OP.value, REGISTER.ENABLE_RINGS.value],
      ]),
      2,
    );
    const en = register(s, h, REGISTER.ENABLE_RINGS.value, 0, 0);
    const sub = submit(s, h, [
      sqe({ opcode: 'NOP', user_data: 1 }),
      sqe({ opcode: 'READ', fd: -1, addr: arg.buf(p.buf(8)), len: 8, user_data: 2 }),
    ]);
    const c = reap(s, h, 2, 4);
    const v = await target.run(p);
    requireSetup(v, [{ what: 'io_uring_setup (R_DISABLED)', step: h.setup }]);
    for (const [k, [what]] of bad.entries())
      expect(v.ret(fails[k]), `RESTRICTIONS with ${what}: -EINVAL`).to.equal(-errno.EINVAL);
    expect(v.ret(fault), 'RESTRICTIONS from an unreadable array: -EFAULT').to.equal(-errno.EFAULT);
    expect(v.ret(ok), 'nothing was registered by the failed calls: a valid registration is accepted').to.equal(0);
    expect(v.ret(en), 'IORING_REGISTER_ENABLE_RINGS').to.equal(0);
    expect(v.ret(sub.enter), 'both SQEs consumed').to.equal(2);
    expect(
      v
        .step(c)
        .cqes.map((x) => [Number(x.userData), x.res])
        .sort((a, b) => a[0] - b[0]),
      'NOP is allowed; READ, in the failed calls only, is not (-EACCES)',
    ).to.deep.equal([
      [1, 0],
      [2, -errno.EACCES],
    ]);
  },
);
