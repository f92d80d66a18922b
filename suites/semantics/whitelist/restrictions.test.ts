/**
 * io_uring's own whitelist: IORING_REGISTER_RESTRICTIONS on an IORING_SETUP_R_DISABLED ring
 * (SEMANTICS §3.7; man 2 io_uring_register). Once enabled, every SQE opcode off the allow-list
 * completes with -EACCES, register opcodes off it fail with -EACCES, SQE flags outside the allowed
 * set or missing a required one give -EACCES; restrictions register once (-EBUSY) and only on a
 * disabled ring (-EBADFD).
 */
import { expect } from 'chai';
import { errno, IOSQE, REGISTER, RESTRICTION, RESTRICTION_LAYOUT, SETUP, SYSCALLS, URING_OP } from '../../../src/abi';
import { arg, Program, Sequence, StepRef } from '../../../src/program/builder';
import { encodeStruct, placeAll } from '../../../src/program/struct';
import { reap, RingHandle, setupRing, sqe, submit } from '../../../src/program/uring';
import { refusedSetupFlags } from '../../../src/target/caps';
import { conformance, TestContext } from '../../../src/suite/conformance';

const RULE = 'SEMANTICS §3.7; man 2 io_uring_register IORING_REGISTER_RESTRICTIONS';
type Kind = keyof typeof RESTRICTION & string;

/** io_uring_register(ring, RESTRICTIONS, entries, n): each entry a restriction kind and its byte. */
function restrict(s: Sequence, h: RingHandle, entries: [Kind, number][]): StepRef {
  const b = s.program.buf(RESTRICTION_LAYOUT.size * entries.length);
  const byteField = (k: Kind) => (k === 'REGISTER_OP' ? 'register_op' : k === 'SQE_OP' ? 'sqe_op' : 'sqe_flags');
  const structs = entries.map(([k, v]) => encodeStruct(RESTRICTION_LAYOUT, { opcode: RESTRICTION[k].value, [byteField(k)]: v }));
  placeAll(s, b, 0, structs);
  return s.syscall(SYSCALLS.io_uring_register, [arg.ring(h.ring), REGISTER.RESTRICTIONS.value, arg.buf(b), entries.length]);
}

function register(s: Sequence, h: RingHandle, op: number, a: number | ReturnType<typeof arg.buf> = 0, n = 0): StepRef {
  return s.syscall(SYSCALLS.io_uring_register, [arg.ring(h.ring), op, a, n]);
}

/** One SQE alone, and its CQE: [user_data, res] pairs come from the reap. */
function one(s: Sequence, h: RingHandle, opcode: number, flags: number, ud: number): StepRef {
  submit(s, h, [sqe({ opcode, flags, fd: -1, user_data: ud })]);
  return reap(s, h, 1, 2, 2000);
}

function rDisabled(ctx: TestContext): number {
  const why = refusedSetupFlags(ctx.caps, ['R_DISABLED']);
  if (why) ctx.skip(why);
  return SETUP.R_DISABLED.value;
}

const res = (v: import('../../../src/program/trace').TraceView, r: StepRef): number[] => v.step(r).cqes.map((c) => c.res);

conformance(
  'whitelist.uring restrictions: on an R_DISABLED ring, every opcode off the allow-list completes with -EACCES, ' +
    'register ops too; a second registration is -EBUSY',
  { ops: ['uring.setup', 'uring.register', 'uring.NOP'], rule: RULE },
  async (ctx) => {
    const flags = rDisabled(ctx);
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 8, flags });
    const first = restrict(s, h, [
      ['SQE_OP', URING_OP.NOP.value],
      ['REGISTER_OP', REGISTER.PROBE.value],
    ]);
    const second = restrict(s, h, [['SQE_OP', URING_OP.READ.value]]);
    const enable = register(s, h, REGISTER.ENABLE_RINGS.value);
    const probeBuf = p.buf(16 + 8 * 8);
    const probe = register(s, h, REGISTER.PROBE.value, arg.buf(probeBuf), 8);
    const personality = register(s, h, REGISTER.PERSONALITY.value);
    const supported = ctx.caps.uring.ops.filter((o) => o.supported);
    const runs = supported.map((o) => ({ name: o.name, reap: one(s, h, o.value, 0, 0x100 + o.value) }));
    const v = await ctx.target.run(p);
    expect(v.ret(h.setup), 'io_uring_setup with IORING_SETUP_R_DISABLED').to.be.at.least(0);
    expect(v.ret(first), `RESTRICTIONS on the disabled ring (${RULE})`).to.equal(0);
    expect(v.ret(second), `a second RESTRICTIONS registration is -EBUSY (${RULE})`).to.equal(-errno.EBUSY);
    expect(v.ret(enable), 'ENABLE_RINGS').to.equal(0);
    expect(v.ret(probe), `REGISTER_PROBE, on the allow-list, works (${RULE})`).to.equal(0);
    expect(v.ret(personality), `REGISTER_PERSONALITY, off the allow-list, is -EACCES (${RULE})`).to.equal(-errno.EACCES);
    const got = runs.map((r) => `${r.name}: ${res(v, r.reap).join(',')}`);
    const want = runs.map((r) => `${r.name}: ${r.name === 'NOP' ? 0 : -errno.EACCES}`);
    const rule = `NOP (allowed) completes with 0; every other supported opcode completes with -EACCES (${RULE})`;
    expect(got, rule).to.deep.equal(want);
  },
);

conformance(
  'whitelist.uring restrictions: SQE flags outside SQE_FLAGS_ALLOWED, or missing SQE_FLAGS_REQUIRED, give -EACCES',
  { ops: ['uring.setup', 'uring.register', 'uring.NOP'], rule: RULE },
  async (ctx) => {
    const flags = rDisabled(ctx);
    const p = new Program();
    const s = p.main;
    const ASYNC = IOSQE.ASYNC.value;
    const DRAIN = IOSQE.IO_DRAIN.value;
    const a = setupRing(s, { entries: 8, flags });
    const ra = restrict(s, a, [
      ['SQE_OP', URING_OP.NOP.value],
      ['SQE_FLAGS_ALLOWED', ASYNC],
    ]);
    const ea = register(s, a, REGISTER.ENABLE_RINGS.value);
    const allowed = [
      ['no flags', one(s, a, URING_OP.NOP.value, 0, 1), 0],
      ['IOSQE_ASYNC (allowed)', one(s, a, URING_OP.NOP.value, ASYNC, 2), 0],
      ['IOSQE_IO_DRAIN (not allowed)', one(s, a, URING_OP.NOP.value, DRAIN, 3), -errno.EACCES],
    ] as const;
    const b = setupRing(s, { entries: 8, flags });
    const rb = restrict(s, b, [
      ['SQE_OP', URING_OP.NOP.value],
      ['SQE_FLAGS_REQUIRED', ASYNC],
    ]);
    const eb = register(s, b, REGISTER.ENABLE_RINGS.value);
    const required = [
      ['no flags (IOSQE_ASYNC required)', one(s, b, URING_OP.NOP.value, 0, 4), -errno.EACCES],
      ['IOSQE_ASYNC', one(s, b, URING_OP.NOP.value, ASYNC, 5), 0],
      [
        'IOSQE_ASYNC|IOSQE_IO_DRAIN (DRAIN neither allowed nor required)',
        one(s, b, URING_OP.NOP.value, ASYNC | DRAIN, 6),
        -errno.EACCES,
      ],
    ] as const;
    const v = await ctx.target.run(p);
    const setup = [v.ret(ra), v.ret(ea), v.ret(rb), v.ret(eb)];
    expect(setup, 'RESTRICTIONS and ENABLE_RINGS on both rings').to.deep.equal([0, 0, 0, 0]);
    for (const [what, r, want] of [...allowed, ...required])
      expect(res(v, r), `a NOP with ${what} completes with ${want} (${RULE})`).to.deep.equal([want]);
  },
);

conformance(
  'whitelist.uring restrictions: RESTRICTIONS on a ring created without R_DISABLED is -EBADFD',
  { ops: ['uring.setup', 'uring.register'], rule: RULE },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 8 });
    const r = restrict(s, h, [['SQE_OP', URING_OP.NOP.value]]);
    const nop = one(s, h, URING_OP.NOP.value, 0, 7);
    const v = await target.run(p);
    expect(v.ret(r), `RESTRICTIONS needs an R_DISABLED ring: -EBADFD (${RULE})`).to.equal(-errno.EBADFD);
    expect(res(v, nop), 'the ring stays unrestricted: a NOP completes with 0').to.deep.equal([0]);
  },
);
