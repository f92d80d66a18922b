/**
 * 10,000 random, truncated and mutated wire programs through both front doors: every one gets a
 * decodable trace (error traces for the malformed), Node never crashes, nothing hangs, and no fd or
 * AIO context leaks.
 */
import { expect } from 'chai';
import { aioContextsHere, fdCount } from './leaks';
import fc from 'fast-check';
import { O, SYSCALLS } from '../src/abi';
import { aioGetevents, aioSetup, aioSubmit, iocb } from '../src/program/aio';
import { arg, Program } from '../src/program/builder';
import { openat, pipe2 } from '../src/program/sys';
import { decodeTrace } from '../src/program/trace';
import { reap, setupRing, sqe, submit } from '../src/program/uring';
import { ChildTarget } from '../src/target/child';
import { LocalTarget } from '../src/target/local';
import type { Target } from '../src/target/target';


/** Valid seed programs touching every step kind that runs in-process. */
function seeds(): Buffer[] {
  const a = new Program({ deadlineMs: 500 });
  const { r, w } = pipe2(a.main);
  const h = setupRing(a.main, { entries: 4 });
  const b = a.buf(4096, 4096);
  a.main.fillPattern(b, 0, 4096, 9);
  submit(a.main, h, [sqe({ opcode: 'WRITE', fd: w, addr: arg.buf(b), len: 64, user_data: 1 }), sqe({ opcode: 'READ', fd: r, addr: arg.buf(b, 64), len: 64, user_data: 2 })], 2);
  reap(a.main, h, 2, 4, 200);
  a.main.uringState(h.ring);
  a.main.verify(b, 64, 64, 9);
  a.main.digest(b);
  a.main.dump(b, 0, 32);
  const c = new Program({ deadlineMs: 500 });
  const { fd } = openat(c.main, '/dev/null', O.RDWR.value | O.CLOEXEC.value);
  const { ctx } = aioSetup(c.main, 4);
  const d = c.buf(512);
  aioSubmit(c.main, ctx, [iocb({ opcode: 'PREAD', fd, aio_buf: arg.buf(d), aio_nbytes: 512 })]);
  aioGetevents(c.main, ctx, 1, 4, 1e8);
  c.main.syscall(SYSCALLS.getpid, []);
  c.main.sleep(1);
  return [a.encode(), c.encode()];
}

/**
 * Random bytes, truncations and byte-flipped variants of the seeds. The flipped ones keep their old
 * checksum, so the executor must refuse them: a resealed mutant could run arbitrary system calls, and
 * that kind of fuzzing belongs in a VM, never on the host.
 */
const malformed = (seedProgs: Buffer[]) =>
  fc.oneof(
    fc.uint8Array({ minLength: 0, maxLength: 256 }).map((u) => ({ kind: 'random', bytes: Buffer.from(u) })),
    fc.tuple(fc.nat(seedProgs.length - 1), fc.double({ min: 0, max: 0.999, noNaN: true })).map(([i, f]) => ({
      kind: 'truncated',
      bytes: seedProgs[i].subarray(0, Math.floor(seedProgs[i].length * f)),
    })),
    fc.tuple(fc.nat(seedProgs.length - 1), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 })).map(([i, flips]) => {
      const b = Buffer.from(seedProgs[i]);
      // flip bytes of the header and tables, where a bad value must be rejected, not followed;
      // the deadline and trace-capacity words (12..23) are free choices, not damage
      for (const [at, x] of flips) {
        const i = at % Math.min(b.length, 96);
        b[i >= 12 && i < 24 ? i + 12 : i] ^= x;
      }
      return { kind: 'flipped', bytes: b };
    }),
  );

for (const make of [() => new LocalTarget(), () => new ChildTarget()]) {
  const name = make().name;
  describe(`robustness of the ${name} front door`, function () {
    this.timeout(300_000);
    let t: Target;
    before(() => (t = make()));
    after(() => t.close());

    it('10,000 random, truncated and corrupted programs: decodable traces, no crash, no hang, no leak', async () => {
      const progs = seeds();
      await t.runWire(progs[0], 1000); // warm up: the executor's own first-use allocations
      const fds = fdCount();
      const nr = aioContextsHere();
      const kinds: Record<string, number> = {};
      for (const input of fc.sample(malformed(progs), { numRuns: 10_000, seed: 42 })) {
        const trace = decodeTrace(await t.runWire(input.bytes, 1000));
        kinds[input.kind] = (kinds[input.kind] ?? 0) + 1;
        expect(trace.status, `${input.kind} program ${input.bytes.toString('hex').slice(0, 64)}… must be refused`).to.equal('error');
        expect(trace.message, 'an error trace says why').to.not.equal('');
      }
      expect(fdCount(), 'open fds back to baseline').to.equal(fds);
      expect(aioContextsHere(), 'AIO contexts of this process back to baseline').to.equal(nr);
      expect(Object.keys(kinds).sort(), 'every kind of damage was tried').to.deep.equal(['flipped', 'random', 'truncated']);
    });
  });
}
