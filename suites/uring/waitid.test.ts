/** IORING_OP_WAITID against waitid(2): a forked child exiting with status 3, WNOWAIT, reaping, errors. */
import { expect } from 'chai';
import { arg, Pid, Program, StepRef } from '../../src/program/builder';
import { errno, P, SIG, SYSCALLS, WAIT } from '../../src/abi';
import { showResult, SoloRing } from '../../src/oracle/uring-paths';
import type { ResultOf } from '../../src/oracle/differential';
import { conformance } from '../../src/suite/conformance';

/** x86-64 siginfo_t: 128 bytes; for SIGCHLD si_pid @16, si_uid @20, si_status @24 (asm-generic/siginfo.h). */
const SIGINFO_SIZE = 128;
/** si_code of a child that exited (CLD_EXITED, asm-generic/siginfo.h): not in src/abi yet. */
const CLD_EXITED = 1;
const STATUS = 3;

/** The fields of a SIGCHLD siginfo. */
function decode(b: Buffer) {
  return {
    signo: b.readInt32LE(0),
    errno: b.readInt32LE(4),
    code: b.readInt32LE(8),
    pid: b.readInt32LE(16),
    uid: b.readUInt32LE(20),
    status: b.readInt32LE(24),
  };
}

conformance(
  'uring.WAITID waits for a child like waitid(2): siginfo of an exit with status 3, WNOWAIT, reaping, errors',
  { ops: ['uring.WAITID'], rule: 'man io_uring_prep_waitid' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const child = p.seq();
    child.exit(STATUS);
    // one child per side: the sync calls wait for A, the SQEs for B
    const pids: Pid[] = [p.pid(), p.pid()];
    const forks = pids.map((pid) => s.fork(child, pid));
    const ring = new SoloRing(s);
    const E = WAIT.EXITED.value;
    // [what, expected result, idtype, options]; the id is always the side's child
    const cases: [string, number, number, number][] = [
      ['WEXITED | WNOWAIT: the exit is reported, the child stays', 0, P.PID.value, E | WAIT.NOWAIT.value],
      ['WEXITED: the exit is reported and the child reaped', 0, P.PID.value, E],
      ['WEXITED again: no such child any more', -errno.ECHILD, P.PID.value, E],
      ['options without WEXITED, WSTOPPED or WCONTINUED', -errno.EINVAL, P.PID.value, WAIT.NOHANG.value],
      ['undefined idtype 7', -errno.EINVAL, 7, E],
    ];
    const runs = cases.map(([what, want, idtype, options]) => {
      const infos = [p.buf(SIGINFO_SIZE), p.buf(SIGINFO_SIZE)];
      const sync: StepRef = s.syscall(SYSCALLS.waitid, [idtype, arg.pid(pids[0]), arg.buf(infos[0]), options, 0]);
      // io_uring_prep_waitid: id in fd, idtype in len, options in file_index, the siginfo in addr2
      const async: ResultOf = ring.run({
        opcode: 'WAITID',
        fd: arg.pid(pids[1]),
        len: idtype,
        file_index: options,
        addr2: arg.buf(infos[1]),
      });
      return { c: { what, want }, sync, async, dumps: infos.map((b) => s.dump(b)) };
    });
    const v = await target.run(p);
    const forked = forks.map((f) => v.ret(f));
    expect(
      forked.every((x) => x > 0),
      'both forks succeeded',
    ).to.equal(true);
    for (const r of runs) {
      const got = r.async(v);
      expect(showResult(got), `${r.c.what}: the CQE result (man 2 waitid)`).to.equal(showResult(r.c.want));
      expect(showResult(got), `${r.c.what}: same result as waitid(2)`).to.equal(showResult(v.ret(r.sync)));
      if (r.c.want !== 0) continue;
      const [sync, async] = r.dumps.map((d) => decode(v.step(d).dump!));
      expect(
        async,
        `${r.c.what}: siginfo SIGCHLD, CLD_EXITED, status ${STATUS}, si_pid the child's (man 2 waitid)`,
      ).to.include({
        signo: SIG.CHLD.value,
        errno: 0,
        code: CLD_EXITED,
        pid: forked[1],
        status: STATUS,
      });
      expect({ ...async, pid: 0 }, `${r.c.what}: same siginfo as waitid(2) but for the pid`).to.deep.equal({
        ...sync,
        pid: 0,
      });
      expect(sync.pid, 'waitid(2) reported its own child').to.equal(forked[0]);
    }
  },
);
