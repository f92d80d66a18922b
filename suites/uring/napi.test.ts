/**
 * IORING_REGISTER_NAPI / IORING_UNREGISTER_NAPI (6.9): registering busy-poll settings writes the previous
 * ones back into the argument, unregistering writes the current ones and clears them; pad and resv must be 0.
 * man io_uring_register_napi(3), io_uring_unregister_napi(3), io_uring_register(2).
 */
import { expect } from 'chai';
import { errno, NAPI_LAYOUT, REGISTER, SYSCALLS } from '../../src/abi';
import { arg, Program, Sequence } from '../../src/program/builder';
import { RingHandle, setupRing } from '../../src/program/uring';
import { expectSetup, flagMissing } from '../../src/oracle/uring-net';
import { conformance } from '../../src/suite/conformance';

const F = NAPI_LAYOUT.fields;

/** A struct io_uring_napi; the call on it and a dump of it afterwards. */
function napiCall(
  s: Sequence,
  h: RingHandle,
  op: number,
  n: { timeout?: number; prefer?: number; pad?: number; resv?: number; nrArgs?: number },
) {
  const b = s.program.buf(NAPI_LAYOUT.size);
  s.patch(b, F.busy_poll_to.offset, 4, n.timeout ?? 0);
  s.patch(b, F.prefer_busy_poll.offset, 1, n.prefer ?? 0);
  // bytes that are padding in every version: pad[1] (6.13 turned pad[0] into `opcode`) and the upper half of
  // resv (6.13 turned its lower half into `op_param`)
  s.patch(b, F.pad.offset + 1, 1, n.pad ?? 0);
  s.patch(b, F.resv.offset + 4, 4, n.resv ?? 0);
  const step = s.syscall(SYSCALLS.io_uring_register, [arg.ring(h.ring), op, arg.buf(b), n.nrArgs ?? 1]);
  return { step, dump: s.dump(b) };
}

conformance(
  'uring REGISTER_NAPI returns the previous busy-poll settings in its argument; UNREGISTER_NAPI the current ones (6.9)',
  { ops: ['uring.register'], rule: 'man io_uring_register_napi(3), io_uring_unregister_napi(3)' },
  async ({ target, caps, skip }) => {
    const p = new Program();
    const s = p.main;
    const h = setupRing(s, { entries: 4 });
    const [REG, UNREG] = [REGISTER.NAPI.value, REGISTER.UNREGISTER_NAPI.value];
    const calls = [
      { what: 'REGISTER_NAPI {100 us, prefer}', c: napiCall(s, h, REG, { timeout: 100, prefer: 1 }), back: [0, 0] },
      { what: 'REGISTER_NAPI {200 us}', c: napiCall(s, h, REG, { timeout: 200 }), back: [100, 1] },
      { what: 'UNREGISTER_NAPI', c: napiCall(s, h, UNREG, {}), back: [200, 0] },
      { what: 'UNREGISTER_NAPI again', c: napiCall(s, h, UNREG, { timeout: 7, prefer: 1 }), back: [0, 0] },
    ];
    const refused = [
      { what: 'REGISTER_NAPI with pad[1] set', c: napiCall(s, h, REG, { timeout: 5, pad: 1 }) },
      { what: 'REGISTER_NAPI with the last resv word set', c: napiCall(s, h, REG, { timeout: 5, resv: 1 }) },
    ];
    // nothing was registered by the refused calls: unregistering reports 0 us
    const last = napiCall(s, h, UNREG, {});
    const v = await target.run(p);
    expectSetup(v, [h.setup], 'io_uring_setup');
    const why = flagMissing(caps, REGISTER.NAPI, v.ret(calls[0].c.step));
    if (why) skip(why);
    for (const c of calls) {
      expect(v.ret(c.c.step), `${c.what}: 0`).to.equal(0);
      const d = v.step(c.c.dump).dump!;
      expect(
        [d.readUInt32LE(F.busy_poll_to.offset), d.readUInt8(F.prefer_busy_poll.offset)],
        `${c.what} writes back {busy_poll_to, prefer_busy_poll} as they were before it`,
      ).to.deep.equal(c.back);
    }
    for (const r of refused) expect(v.ret(r.c.step), `${r.what}: -EINVAL`).to.equal(-errno.EINVAL);
    expect(v.ret(last.step), 'UNREGISTER_NAPI after the refusals: 0').to.equal(0);
    expect(
      v.step(last.dump).dump!.readUInt32LE(F.busy_poll_to.offset),
      'the refused calls registered nothing',
    ).to.equal(0);
  },
);
