/** IORING_OP_TEE against tee(2): bytes duplicated from one pipe to another, the source keeps them (SEMANTICS §3.2). */
import { expect } from 'chai';
import * as path from 'path';
import { arg, Fd, Program, StepRef } from '../../src/program/builder';
import { errno, O, SYSCALLS } from '../../src/abi';
import { patternBytes } from '../../src/program/pattern';
import { pipe2 } from '../../src/program/sys';
import { checkSetup, showResult, SoloRing, str } from '../../src/oracle/uring-paths';
import type { ResultOf } from '../../src/oracle/differential';
import { conformance } from '../../src/suite/conformance';

const SEED = 0x7e11;

conformance(
  'uring.TEE duplicates pipe bytes like tee(2) and leaves them in the source, errors included',
  { ops: ['uring.TEE'], rule: 'man io_uring_prep_tee' },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    const checks: { what: string; step: StepRef }[] = [];
    const data = p.buf(300);
    s.fillPattern(data, 0, 300, SEED);
    const sides = (['sync', 'async'] as const).map((name) => {
      // O_NONBLOCK: reading back afterwards must not block on an empty pipe
      const a = pipe2(s, O.NONBLOCK.value | O.CLOEXEC.value);
      const b = pipe2(s, O.NONBLOCK.value | O.CLOEXEC.value);
      checks.push({ what: `pipe2 A of ${name}`, step: a.step }, { what: `pipe2 B of ${name}`, step: b.step });
      checks.push({
        what: `300 bytes into A of ${name}`,
        step: s.syscall(SYSCALLS.write, [arg.fd(a.w), arg.buf(data), 300]),
      });
      const file = p.fd();
      const flags = O.RDWR.value | O.CREAT.value | O.CLOEXEC.value;
      checks.push({
        what: `create the ${name} file`,
        step: s.syscall(SYSCALLS.openat, [-100, str(p, path.posix.join(scratch, name)), flags, 0o600], { fd: file }),
      });
      return { a, b, file };
    });
    type Side = (typeof sides)[0];
    const cases: {
      what: string;
      want: number;
      in: (x: Side) => Fd | number;
      out: (x: Side) => Fd | number;
      len: number;
    }[] = [
      { what: 'tee 200 bytes A → B', want: 200, in: (x) => x.a.r, out: (x) => x.b.w, len: 200 },
      { what: 'tee 1000 bytes A → B: only the 300 in A', want: 300, in: (x) => x.a.r, out: (x) => x.b.w, len: 1000 },
      { what: 'tee into a file', want: -errno.EINVAL, in: (x) => x.a.r, out: (x) => x.file, len: 10 },
      { what: 'tee from fd -1', want: -errno.EBADF, in: () => -1, out: (x) => x.b.w, len: 10 },
    ];
    const fdArg = (f: Fd | number) => (typeof f === 'number' ? f : arg.fd(f));
    const ring = new SoloRing(s);
    const runs = cases.map((c) => {
      const sync = s.syscall(SYSCALLS.tee, [fdArg(c.in(sides[0])), fdArg(c.out(sides[0])), c.len, 0]);
      const async: ResultOf = ring.run({
        opcode: 'TEE',
        splice_fd_in: fdArg(c.in(sides[1])),
        fd: c.out(sides[1]),
        len: c.len,
      });
      return { c, sync, async };
    });
    const after = sides.map((x) =>
      [x.a.r, x.b.r].map((r) => {
        const b = p.buf(4096);
        return { read: s.syscall(SYSCALLS.read, [arg.fd(r), arg.buf(b), 4096]), dump: s.dump(b) };
      }),
    );
    const v = await target.run(p);
    checkSetup(v, checks);
    for (const r of runs) {
      const got = r.async(v);
      expect(showResult(got), `${r.c.what}: the CQE result (man 2 tee)`).to.equal(showResult(r.c.want));
      expect(showResult(got), `${r.c.what}: same result as tee(2)`).to.equal(showResult(v.ret(r.sync)));
    }
    const state = after.map((side) =>
      side.map((x) =>
        v.ret(x.read) < 0 ? showResult(v.ret(x.read)) : v.step(x.dump).dump!.subarray(0, v.ret(x.read)).toString('hex'),
      ),
    );
    const src = patternBytes(SEED, 0, 300);
    expect(state[1][0], 'A still holds its 300 bytes: tee does not consume (man 2 tee)').to.equal(src.toString('hex'));
    expect(state[1][1], 'B holds the first 200 bytes, then all 300').to.equal(
      Buffer.concat([src.subarray(0, 200), src]).toString('hex'),
    );
    expect(state[1], 'same contents of A and B as after tee(2)').to.deep.equal(state[0]);
  },
);
