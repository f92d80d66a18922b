/** IORING_OP_SPLICE against splice(2): file → pipe and pipe → file, offsets and -1, errors (SEMANTICS §3.2). */
import { expect } from 'chai';
import * as path from 'path';
import { arg, Fd, Program, StepRef } from '../../src/program/builder';
import { entriesOf, errno, O, SEEK, SPLICE_F, SYSCALLS } from '../../src/abi';
import { patternBytes } from '../../src/program/pattern';
import { pipe2, pread, pwrite } from '../../src/program/sys';
import { checkSetup, showResult, SoloRing, str } from '../../src/oracle/uring-paths';
import type { ResultOf } from '../../src/oracle/differential';
import { conformance } from '../../src/suite/conformance';

const SEED = 0x5b11;
const FILE_SIZE = 4096;
/** "No offset" for io_uring's splice_off_in / off: the fd's own position, or a pipe (man io_uring_prep_splice). */
const NO_OFFSET = -1n;
/** The lowest splice flag above every SPLICE_F_* (0x10 today, undefined). */
const UNDEFINED_SPLICE_F = 2 * Math.max(...entriesOf(SPLICE_F).map((f) => f.value));

/** One splice: `in`/`out` are the side's file or pipe ends; an offset of -1 means NULL for splice(2). */
interface SpliceCase {
  what: string;
  want: number;
  in: 'file' | 'pipe' | 'bad';
  out: 'file' | 'pipe';
  offIn: number;
  offOut: number;
  len: number;
  flags?: number;
}

conformance(
  'uring.SPLICE moves bytes between a file and a pipe like splice(2), offsets and errors included',
  { ops: ['uring.SPLICE'], rule: 'man io_uring_prep_splice' },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    const checks: { what: string; step: StepRef }[] = [];
    const content = p.buf(FILE_SIZE);
    s.fillPattern(content, 0, FILE_SIZE, SEED);
    const sides = (['sync', 'async'] as const).map((name) => {
      const file = p.fd();
      const flags = O.RDWR.value | O.CREAT.value | O.EXCL.value | O.CLOEXEC.value;
      checks.push({
        what: `create the ${name} file`,
        step: s.syscall(SYSCALLS.openat, [-100, str(p, path.posix.join(scratch, name)), flags, 0o600], { fd: file }),
      });
      checks.push({ what: `fill the ${name} file`, step: pwrite(s, file, content, FILE_SIZE, 0) });
      // the file position for the -1 cases
      checks.push({ what: 'lseek to 50', step: s.syscall(SYSCALLS.lseek, [arg.fd(file), 50, SEEK.SET.value]) });
      // O_NONBLOCK: reading the pipe back afterwards must not block when it is empty
      const pipe = pipe2(s, O.NONBLOCK.value | O.CLOEXEC.value);
      checks.push({ what: `pipe2 of the ${name} side`, step: pipe.step });
      return { file, pipe };
    });
    const cases: SpliceCase[] = [
      {
        what: 'file at offset 100 → pipe, 1000 bytes',
        want: 1000,
        in: 'file',
        out: 'pipe',
        offIn: 100,
        offOut: -1,
        len: 1000,
      },
      {
        what: 'file at its position (-1) → pipe, 200 bytes',
        want: 200,
        in: 'file',
        out: 'pipe',
        offIn: -1,
        offOut: -1,
        len: 200,
      },
      {
        what: 'pipe → file at offset 3000, 1100 bytes',
        want: 1100,
        in: 'pipe',
        out: 'file',
        offIn: -1,
        offOut: 3000,
        len: 1100,
      },
      {
        what: 'pipe with an offset other than -1',
        want: -errno.ESPIPE,
        in: 'pipe',
        out: 'file',
        offIn: 0,
        offOut: 0,
        len: 10,
      },
      { what: 'file → file (no pipe)', want: -errno.EINVAL, in: 'file', out: 'file', offIn: 0, offOut: 8000, len: 10 },
      { what: 'bad fd_in -1', want: -errno.EBADF, in: 'bad', out: 'pipe', offIn: -1, offOut: -1, len: 10 },
      {
        what: `undefined splice flag 0x${UNDEFINED_SPLICE_F.toString(16)}`,
        want: -errno.EINVAL,
        in: 'file',
        out: 'pipe',
        offIn: 0,
        offOut: -1,
        len: 10,
        flags: UNDEFINED_SPLICE_F,
      },
    ];
    const ring = new SoloRing(s);
    const end = (x: (typeof sides)[0], which: 'file' | 'pipe' | 'bad', dir: 'in' | 'out'): Fd | number =>
      which === 'bad' ? -1 : which === 'file' ? x.file : dir === 'in' ? x.pipe.r : x.pipe.w;
    const fdArg = (f: Fd | number) => (typeof f === 'number' ? f : arg.fd(f));
    const runs = cases.map((c) => {
      const [x, y] = sides;
      const offs = p.buf(16);
      s.bytes(offs, 0, Buffer.from(new BigInt64Array([BigInt(c.offIn), BigInt(c.offOut)]).buffer));
      const sync = s.syscall(SYSCALLS.splice, [
        fdArg(end(x, c.in, 'in')),
        c.offIn < 0 ? 0 : arg.buf(offs, 0),
        fdArg(end(x, c.out, 'out')),
        c.offOut < 0 ? 0 : arg.buf(offs, 8),
        c.len,
        c.flags ?? 0,
      ]);
      const async: ResultOf = ring.run({
        opcode: 'SPLICE',
        splice_fd_in: fdArg(end(y, c.in, 'in')),
        splice_off_in: c.offIn < 0 ? NO_OFFSET : c.offIn,
        fd: end(y, c.out, 'out'),
        off: c.offOut < 0 ? NO_OFFSET : c.offOut,
        len: c.len,
        splice_flags: c.flags ?? 0,
      });
      return { c, sync, async };
    });
    const after = sides.map((x) => {
      const fb = p.buf(8192);
      const read = pread(s, x.file, fb, 8192, 0);
      const pos = s.syscall(SYSCALLS.lseek, [arg.fd(x.file), 0, SEEK.CUR.value]);
      const pb = p.buf(8192);
      const drain = s.syscall(SYSCALLS.read, [arg.fd(x.pipe.r), arg.buf(pb), 8192]);
      return { read, file: s.dump(fb), pos, drain, pipe: s.dump(pb) };
    });
    const v = await target.run(p);
    checkSetup(v, checks);
    for (const r of runs) {
      const got = r.async(v);
      expect(showResult(got), `${r.c.what}: the CQE result (man 2 splice)`).to.equal(showResult(r.c.want));
      expect(showResult(got), `${r.c.what}: same result as splice(2)`).to.equal(showResult(v.ret(r.sync)));
    }
    const state = after.map((a) => ({
      file: v
        .step(a.file)
        .dump!.subarray(0, Math.max(0, v.ret(a.read)))
        .toString('hex'),
      position: v.ret(a.pos),
      pipe:
        v.ret(a.drain) < 0
          ? showResult(v.ret(a.drain))
          : v.step(a.pipe).dump!.subarray(0, v.ret(a.drain)).toString('hex'),
    }));
    const orig = patternBytes(SEED, 0, FILE_SIZE);
    const wantFile = Buffer.concat([orig.subarray(0, 3000), orig.subarray(100, 1100), orig.subarray(50, 150)]);
    expect(state[1].file, 'the file: bytes [100, 1100) then [50, 150) spliced back in at 3000 (man 2 splice)').to.equal(
      wantFile.toString('hex'),
    );
    expect(state[1].position, 'the file position moved by the 200 bytes of the -1 splice only: 50 → 250').to.equal(250);
    expect(state[1].pipe, 'the pipe still holds file bytes [150, 250)').to.equal(
      orig.subarray(150, 250).toString('hex'),
    );
    expect(state[1], 'same file bytes, file position and pipe contents as after splice(2)').to.deep.equal(state[0]);
  },
);
