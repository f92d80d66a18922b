/** IORING_OP_PIPE against pipe2(2): two working ends with the same fd and file flags (man io_uring_prep_pipe). */
import { expect } from 'chai';
import { arg, Fd, Program, StepRef } from '../../src/program/builder';
import { errno, O, SYSCALLS } from '../../src/abi';
import { showResult, SoloRing } from '../../src/oracle/uring-paths';
import type { ResultOf } from '../../src/oracle/differential';
import { conformance } from '../../src/suite/conformance';

/** fcntl(2) on x86-64 and its F_GETFD / F_GETFL commands: not in src/abi yet. */
const SYS_FCNTL = 72;
const F_GETFD = 1;
const F_GETFL = 3;

conformance(
  'uring.PIPE creates a pipe like pipe2(2): working ends, O_CLOEXEC and O_NONBLOCK honoured, errors included',
  { ops: ['uring.PIPE'], rule: 'man io_uring_prep_pipe' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const ring = new SoloRing(s);
    const msg = p.data(Buffer.from('kasync'));
    const flagSets = [0, O.CLOEXEC.value, O.NONBLOCK.value | O.CLOEXEC.value];
    const runs = flagSets.map((flags) => {
      const sides = [0, 1].map((i) => {
        const fds = p.buf(8);
        s.fillByte(fds, 0, 8, 0xff);
        const made: StepRef | ResultOf =
          i === 0
            ? s.syscall(SYSCALLS.pipe2, [arg.buf(fds), flags])
            : ring.run({ opcode: 'PIPE', addr: arg.buf(fds), pipe_flags: flags });
        const r: Fd = p.fd();
        const w: Fd = p.fd();
        s.setSlot(r, arg.load32(fds, 0));
        s.setSlot(w, arg.load32(fds, 4));
        const probes = [r, w].flatMap((f) => [
          s.syscall(SYS_FCNTL, [arg.fd(f), F_GETFD, 0]),
          s.syscall(SYS_FCNTL, [arg.fd(f), F_GETFL, 0]),
        ]);
        const wrote = s.syscall(SYSCALLS.write, [arg.fd(w), arg.buf(msg), 6]);
        const b = p.buf(64);
        const read = s.syscall(SYSCALLS.read, [arg.fd(r), arg.buf(b), 64]);
        const dump = s.dump(b);
        // O_NONBLOCK only: a read of the now empty pipe must fail at once instead of blocking
        const empty = flags & O.NONBLOCK.value ? s.syscall(SYSCALLS.read, [arg.fd(r), arg.buf(b), 64]) : undefined;
        return { made, probes, wrote, read, dump, empty };
      });
      return { flags, sides };
    });
    // pipe2's own errors: an undefined flag, an unmapped array
    const bad = [
      { what: 'flag O_WRONLY', flags: O.WRONLY.value, addr: () => arg.buf(p.buf(8)), want: -errno.EINVAL },
      { what: 'fd array at an unmapped address', flags: 0, addr: () => arg.bad(), want: -errno.EFAULT },
    ].map((c) => ({
      c,
      sync: s.syscall(SYSCALLS.pipe2, [c.addr(), c.flags]),
      async: ring.run({ opcode: 'PIPE', addr: c.addr(), pipe_flags: c.flags }),
    }));
    const v = await target.run(p);
    for (const run of runs) {
      const f = `flags 0${run.flags.toString(8)}`;
      const outcome = run.sides.map((x, i) => ({
        result: i === 0 ? v.ret(x.made as StepRef) : (x.made as ResultOf)(v),
        // F_GETFD and F_GETFL of each end
        fcntl: x.probes.map((st) => v.ret(st)),
        wrote: v.ret(x.wrote),
        read: v
          .step(x.dump)
          .dump!.subarray(0, Math.max(0, v.ret(x.read)))
          .toString(),
        empty: x.empty && showResult(v.ret(x.empty)),
      }));
      expect(outcome[1].result, `${f}: PIPE completes with 0 (man io_uring_prep_pipe)`).to.equal(0);
      expect(outcome[1].read, `${f}: bytes written to the write end come out of the read end`).to.equal('kasync');
      if (run.flags & O.NONBLOCK.value)
        expect(outcome[1].empty, `${f}: O_NONBLOCK: reading the empty pipe fails with -EAGAIN`).to.equal('-EAGAIN');
      expect(outcome[1], `${f}: same result, fd flags, file flags and data path as pipe2(2)`).to.deep.equal(outcome[0]);
    }
    for (const b of bad) {
      const got = b.async(v);
      expect(showResult(got), `${b.c.what}: the CQE result (man 2 pipe)`).to.equal(showResult(b.c.want));
      expect(showResult(got), `${b.c.what}: same result as pipe2(2)`).to.equal(showResult(v.ret(b.sync)));
    }
  },
);
