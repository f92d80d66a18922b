/**
 * kernel.io_uring_disabled with kernel.io_uring_group (6.6+): 0 lets everyone set up rings, 1 only
 * CAP_SYS_ADMIN and members of the group, 2 nobody, not even root; the refusal is -EPERM (SEMANTICS §3.12).
 */
import { expect } from 'chai';
import { errno, IO_URING_PARAMS_LAYOUT, SYSCALLS } from '../../../src/abi';
import { arg, Program, Sequence, StepRef } from '../../../src/program/builder';
import { conformance } from '../../../src/suite/conformance';
import type { Target } from '../../../src/target/target';
import { dropToNobody, SPARE_GID } from '../../../src/oracle/creds';
import { readDecimal } from '../../../src/oracle/aio-nr';
import { writeSysctl } from '../../aio/sysctl';

const DISABLED = '/proc/sys/kernel/io_uring_disabled';
const GROUP = '/proc/sys/kernel/io_uring_group';

/** io_uring_setup(1, zeroed params): the ring fd goes to a slot the executor closes, or -errno. */
function setup(seq: Sequence): StepRef {
  const p = seq.program;
  return seq.syscall(SYSCALLS.io_uring_setup, [1, arg.buf(p.buf(IO_URING_PARAMS_LAYOUT.size))], { fd: p.fd() });
}

/** Put both sysctls back (a program of its own: the test's may have died half way). */
async function restore(target: Target, disabled: number, group: number): Promise<void> {
  const p = new Program();
  const a = writeSysctl(p.main, GROUP, group);
  const b = writeSysctl(p.main, DISABLED, disabled);
  const v = await target.run(p);
  expect(
    [v.ret(a.write), v.ret(b.write)].every((n) => n > 0),
    'restoring io_uring_group and io_uring_disabled',
  ).to.equal(true);
}

conformance(
  'uring.setup: kernel.io_uring_disabled 2 refuses everyone with -EPERM, 1 all but root and io_uring_group, 0 nobody',
  { ops: ['uring.setup'], rule: 'SEMANTICS §3.12', needs: { root: true } },
  async ({ target, caps, skip }) => {
    if (caps.sysctl.io_uring_disabled === null || caps.sysctl.io_uring_group === null)
      skip(`kernel ${caps.kernel} has no kernel.io_uring_disabled / io_uring_group (probe read none; added in 6.6)`);
    // the sysctls are system-wide: on the host they would refuse rings to every other program running
    if (!target.name.startsWith('vm:')) skip('needs a VM target (--kernel): changes system-wide io_uring sysctls');
    const saved = { disabled: caps.sysctl.io_uring_disabled!, group: caps.sysctl.io_uring_group! };
    const p = new Program();
    const s = p.main;
    const before = { disabled: readDecimal(s, DISABLED), group: readDecimal(s, GROUP) };
    const grp = writeSysctl(s, GROUP, SPARE_GID);
    const cases = [2, 1, 0].map((value) => {
      const set = writeSysctl(s, DISABLED, value);
      const root = setup(s);
      const who = (groups: number[]) => {
        const c = p.seq();
        const drop = dropToNobody(c, groups);
        const r = setup(c);
        const pid = p.pid();
        return { drop, r, fork: s.fork(c, pid), wait: s.wait(pid, 5000) };
      };
      return { value, set, root, outsider: who([]), member: who([SPARE_GID]) };
    });
    const back = [writeSysctl(s, GROUP, saved.group), writeSysctl(s, DISABLED, saved.disabled)];
    const after = { disabled: readDecimal(s, DISABLED), group: readDecimal(s, GROUP) };
    try {
      const v = await target.run(p);
      expect([before.disabled.value(v), before.group.value(v)], 'the sysctls are as the probe read them').to.deep.equal(
        [saved.disabled, saved.group],
      );
      expect(v.ret(grp.write), `io_uring_group set to ${SPARE_GID}`).to.be.above(0);
      const want: Record<number, [boolean, boolean, boolean]> = {
        2: [false, false, false],
        1: [true, false, true],
        0: [true, true, true],
      };
      for (const c of cases) {
        expect(v.ret(c.set.write), `io_uring_disabled set to ${c.value}`).to.be.above(0);
        for (const x of [c.outsider, c.member]) {
          expect([v.ret(x.fork) > 0, v.ret(x.wait) > 0], 'fork and reap the child').to.deep.equal([true, true]);
          expect(
            x.drop.map((d) => v.ret(d)),
            'setgroups, setresgid, setresuid to 65534',
          ).to.deep.equal([0, 0, 0]);
        }
        const got = [v.ret(c.root), v.ret(c.outsider.r), v.ret(c.member.r)].map((r) => (r >= 0 ? 'ring' : r));
        const exp = want[c.value].map((ok) => (ok ? 'ring' : -errno.EPERM));
        expect(
          got,
          `io_uring_disabled=${c.value}: setup by [root, 65534 outside io_uring_group, 65534 in it] (SEMANTICS §3.12)`,
        ).to.deep.equal(exp);
      }
      expect(
        back.map((b) => v.ret(b.write) > 0),
        'the program restores both sysctls',
      ).to.deep.equal([true, true]);
      expect([after.disabled.value(v), after.group.value(v)], 'and they read back as before').to.deep.equal([
        saved.disabled,
        saved.group,
      ]);
    } finally {
      await restore(target, saved.disabled, saved.group);
    }
  },
);
