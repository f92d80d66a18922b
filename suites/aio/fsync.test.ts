/** IOCB_CMD_FSYNC and IOCB_CMD_FDSYNC: completion like their twins, and argument checks (SEMANTICS §1.2, §1.5). */
import { expect } from 'chai';
import { errno, O, SYSCALLS } from '../../src/abi';
import { aioGetevents, aioSetup, aioSubmit, iocb, IocbSpec } from '../../src/program/aio';
import { arg, Program } from '../../src/program/builder';
import { pipe2, scratchFile } from '../../src/program/sys';
import { differential, viaAio } from '../../src/oracle/differential';
import { conformance } from '../../src/suite/conformance';

const TWINS = { FSYNC: 'fsync', FDSYNC: 'fdatasync' } as const;

for (const [op, twin] of Object.entries(TWINS) as [keyof typeof TWINS, (typeof TWINS)[keyof typeof TWINS]][]) {
  conformance(
    `aio.${op} completes with res 0 like ${twin}`,
    { ops: [`aio.${op}`], rule: 'SEMANTICS §1.2' },
    async ({ target, scratch }) => {
      const t = await differential(target, scratch, {
        content: [{ seed: 0x0a16, off: 0, len: 8192 }],
        buf: { size: 8 },
        sync: (s, x) => s.syscall(SYSCALLS[twin], [arg.fd(x.fd)]),
        async: (s, x) => viaAio(s, { opcode: op, fd: x.fd }),
      });
      expect(t.async.result, `${op} of a written file completes with res 0 (SEMANTICS §1.2, §1.6)`).to.equal(0);
      expect(t.async, `same result and file as ${twin}(2)`).to.deep.equal(t.sync);
    },
  );

  conformance(
    `aio.${op} with a nonzero aio_buf, aio_offset, aio_nbytes or aio_rw_flags is rejected with -EINVAL`,
    { ops: [`aio.${op}`], rule: 'SEMANTICS §1.5' },
    async ({ target, scratch }) => {
      const p = new Program();
      const s = p.main;
      const { fd, step: open } = scratchFile(s, scratch, 'f');
      const { ctx, setup } = aioSetup(s, 8);
      const fields: Partial<IocbSpec>[] = [
        { aio_buf: 1 },
        { aio_offset: 4096 },
        { aio_nbytes: 1 },
        { aio_rw_flags: 1 },
      ];
      const subs = fields.map((f, i) => ({
        field: Object.keys(f)[0],
        submit: aioSubmit(s, ctx, [iocb({ opcode: op, fd, aio_data: i, ...f })]).submit,
      }));
      const ev = aioGetevents(s, ctx, 0, 8, 0);
      const v = await target.run(p);
      expect(v.ret(open), 'open of the file').to.be.at.least(0);
      expect(v.ret(setup), 'io_setup').to.equal(0);
      for (const x of subs)
        expect(
          v.ret(x.submit),
          `${op} with a nonzero ${x.field}: io_submit fails with -EINVAL (SEMANTICS §1.5)`,
        ).to.equal(-errno.EINVAL);
      expect(v.step(ev).events, 'a synchronous rejection posts no io_event (SEMANTICS §1.5)').to.deep.equal([]);
    },
  );

  conformance(
    `aio.${op} on a pipe is rejected with -EINVAL like ${twin}`,
    { ops: [`aio.${op}`], rule: 'SEMANTICS §1.5' },
    async ({ target }) => {
      // a pipe has no ->fsync: the check is at io_submit, so no io_event
      const p = new Program();
      const s = p.main;
      const { w, step: pipe } = pipe2(s, O.CLOEXEC.value);
      const sync = s.syscall(SYSCALLS[twin], [arg.fd(w)]);
      const { ctx, setup } = aioSetup(s, 4);
      const { submit } = aioSubmit(s, ctx, [iocb({ opcode: op, fd: w, aio_data: 1 })]);
      const ev = aioGetevents(s, ctx, 0, 4, 0);
      const v = await target.run(p);
      expect([v.ret(pipe), v.ret(setup)], 'pipe2, io_setup').to.deep.equal([0, 0]);
      expect(v.ret(sync), `${twin}(2) of a pipe fails with -EINVAL`).to.equal(-errno.EINVAL);
      expect(
        v.ret(submit),
        `io_submit of ${op} on a file without ->fsync fails with -EINVAL (SEMANTICS §1.5)`,
      ).to.equal(-errno.EINVAL);
      expect(v.step(ev).events, 'a rejected iocb posts no io_event (SEMANTICS §1.5)').to.deep.equal([]);
    },
  );
}
