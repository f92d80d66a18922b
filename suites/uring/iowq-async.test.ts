/**
 * IOSQE_ASYNC work on io-wq: many punted requests at once, bounded (regular-file writes, hashed by inode)
 * and unbounded (pipe reads), under IORING_REGISTER_IOWQ_MAX_WORKERS limits of one worker each. Every
 * request completes once with its own result and data (SEMANTICS §3.2, §3.13; man io_uring_enter(2)
 * IOSQE_ASYNC, man io_uring_register(2) IORING_REGISTER_IOWQ_MAX_WORKERS).
 */
import { expect } from 'chai';
import { arg, Program, Sequence } from '../../src/program/builder';
import * as path from 'path';
import { IOSQE, O, REGISTER, SYSCALLS } from '../../src/abi';
import { patternBytes } from '../../src/program/pattern';
import { mkfifo, openat, pipe2, pread, scratchFile } from '../../src/program/sys';
import { reap, RingHandle, setupRing, sqe, submit } from '../../src/program/uring';
import { blockedFifoOpen } from '../../src/oracle/uring-paths';
import { conformance } from '../../src/suite/conformance';

const N = 16;
const BLOCK = 4096;
const SEED = 0x0c10;

/** IORING_REGISTER_IOWQ_MAX_WORKERS with [bounded, unbounded]; its step. */
function maxWorkers(s: Sequence, h: RingHandle, bounded: number, unbounded: number) {
  const a = s.program.buf(8);
  s.patch(a, 0, 4, bounded);
  s.patch(a, 4, 4, unbounded);
  return s.syscall(SYSCALLS.io_uring_register, [arg.ring(h.ring), REGISTER.IOWQ_MAX_WORKERS.value, arg.buf(a), 2]);
}

for (const limit of [0, 1]) {
  const how = limit ? 'with one bounded and one unbounded io-wq worker' : 'with the default io-wq limits';
  conformance(
    `uring: ${N} IOSQE_ASYNC writes to one file ${how} each complete in full and leave the file as the same pwrites would`,
    {
      ops: ['uring.WRITE', ...(limit ? ['uring.register'] : [])],
      rule: 'SEMANTICS §3.2, §3.13; man io_uring_enter(2) IOSQE_ASYNC',
    },
    async ({ target, scratch }) => {
      const p = new Program();
      const s = p.main;
      const { fd, step: open } = scratchFile(s, scratch, 'hashed');
      const src = p.buf(N * BLOCK, 4096);
      s.fillPattern(src, 0, N * BLOCK, SEED + limit);
      const h = setupRing(s, { entries: N });
      const reg = limit ? maxWorkers(s, h, 1, 1) : undefined;
      // block k of the buffer to block N-1-k of the file: all at once, all punted to io-wq
      const sub = submit(
        s,
        h,
        Array.from({ length: N }, (_, k) =>
          sqe({
            opcode: 'WRITE',
            flags: IOSQE.ASYNC.value,
            fd,
            addr: arg.buf(src, k * BLOCK),
            len: BLOCK,
            off: (N - 1 - k) * BLOCK,
            user_data: k + 1,
          }),
        ),
        N,
      );
      const c = reap(s, h, N, N);
      const back = p.buf(N * BLOCK + 1);
      const read = pread(s, fd, back, N * BLOCK + 1, 0);
      const dump = s.dump(back);
      const v = await target.run(p);
      expect(v.ret(open), 'open of the scratch file').to.be.at.least(0);
      if (reg) expect(v.ret(reg), 'IORING_REGISTER_IOWQ_MAX_WORKERS [1, 1]').to.equal(0);
      expect(v.ret(sub.enter), `all ${N} SQEs consumed`).to.equal(N);
      expect(
        v
          .step(c)
          .cqes.map((q) => [Number(q.userData), q.res])
          .sort((a, b) => a[0] - b[0]),
        `each write completes once, in full (${BLOCK} bytes)`,
      ).to.deep.equal(Array.from({ length: N }, (_, k) => [k + 1, BLOCK]));
      expect(v.ret(read), 'the file is exactly the written blocks long').to.equal(N * BLOCK);
      const file = v.step(dump).dump!;
      const want = Buffer.concat(
        Array.from({ length: N }, (_, j) => patternBytes(SEED + limit, (N - 1 - j) * BLOCK, BLOCK)),
      );
      expect(file.subarray(0, N * BLOCK).equals(want), 'every block landed at its own offset').to.equal(true);
    },
  );
}

conformance(
  `uring: ${N} IOSQE_ASYNC reads on ${N} empty pipes, with one unbounded io-wq worker, each complete with their own pipe's bytes once written`,
  { ops: ['uring.READ', 'uring.register'], rule: 'SEMANTICS §3.2, §3.13; man io_uring_enter(2) IOSQE_ASYNC' },
  async ({ target }) => {
    const p = new Program();
    const s = p.main;
    const pipes = Array.from({ length: N }, () => pipe2(s, O.CLOEXEC.value));
    const h = setupRing(s, { entries: N, cqEntries: 2 * N });
    const reg = maxWorkers(s, h, 1, 1);
    const bufs = pipes.map(() => p.buf(64));
    const sub = submit(
      s,
      h,
      pipes.map((x, k) =>
        sqe({
          opcode: 'READ',
          flags: IOSQE.ASYNC.value,
          fd: x.r,
          addr: arg.buf(bufs[k]),
          len: 64,
          off: -1n,
          user_data: k + 1,
        }),
      ),
    );
    const early = reap(s, h, 0, N, 0);
    // pipe k gets 8 + k bytes, written in reverse order
    const msg = p.buf(64);
    s.fillPattern(msg, 0, 64, SEED);
    const writes = [...pipes.keys()]
      .reverse()
      .map((k) => s.syscall(SYSCALLS.write, [arg.fd(pipes[k].w), arg.buf(msg), 8 + k]));
    const c = reap(s, h, N, N);
    const dumps = bufs.map((b) => s.dump(b));
    const v = await target.run(p);
    expect(v.ret(reg), 'IORING_REGISTER_IOWQ_MAX_WORKERS [1, 1]').to.equal(0);
    expect(v.ret(sub.enter), `all ${N} SQEs consumed`).to.equal(N);
    expect(v.step(early).cqes, 'no read completes before its pipe has data').to.deep.equal([]);
    expect(
      writes.map((w) => v.ret(w)),
      'the writes',
    ).to.deep.equal([...pipes.keys()].reverse().map((k) => 8 + k));
    expect(
      v
        .step(c)
        .cqes.map((q) => [Number(q.userData), q.res])
        .sort((a, b) => a[0] - b[0]),
      'each read completes once with what its pipe held',
    ).to.deep.equal(pipes.map((_, k) => [k + 1, 8 + k]));
    for (const k of pipes.keys())
      expect(
        v
          .step(dumps[k])
          .dump!.subarray(0, 8 + k)
          .equals(patternBytes(SEED, 0, 8 + k)),
        `pipe ${k}'s bytes`,
      ).to.equal(true);
  },
);

for (const limit of [0, 1]) {
  const how = limit ? 'with one bounded io-wq worker they wait for it' : 'meanwhile other punted requests complete';
  conformance(
    `uring.OPENAT of a FIFO for reading blocks an io-wq worker until a writer opens it; ${how}`,
    {
      ops: ['uring.OPENAT', 'uring.NOP', ...(limit ? ['uring.register'] : [])],
      rule: 'man 7 fifo; man io_uring_register(2) IORING_REGISTER_IOWQ_MAX_WORKERS; SEMANTICS §3.2',
    },
    async ({ target, scratch }) => {
      const p = new Program();
      const s = p.main;
      const fifo = path.posix.join(scratch, 'fifo');
      const made = mkfifo(s, fifo);
      const h = setupRing(s, { entries: 8 });
      const reg = limit ? maxWorkers(s, h, 1, 0) : undefined;
      // IOSQE_ASYNC: the open goes to io-wq (bounded work: no file yet) and sleeps there until the FIFO has a
      // writer (issued inline, OPENAT first tries O_NONBLOCK, which opens a FIFO at once: measured on 6.18)
      const open = submit(s, h, [
        blockedFifoOpen(p, fifo, 1),
      ]);
      const nops = submit(
        s,
        h,
        [2, 3, 4].map((ud) => sqe({ opcode: 'NOP', flags: IOSQE.ASYNC.value, user_data: ud })),
      );
      // default limits: a blocked worker does not hold up other work; one bounded worker: it does
      const meanwhile = reap(s, h, limit ? 0 : 3, 4, limit ? 0 : 5000);
      // opening for writing blocks until there is a reader (man 7 fifo): it returns once the worker's open waits
      const { step: writer } = openat(s, fifo, O.WRONLY.value | O.CLOEXEC.value);
      const rest = reap(s, h, limit ? 4 : 1, 4);
      const v = await target.run(p);
      expect(v.ret(made), 'mknodat of the FIFO').to.equal(0);
      if (reg) expect(v.ret(reg), 'IORING_REGISTER_IOWQ_MAX_WORKERS [1, 0]').to.equal(0);
      expect([v.ret(open.enter), v.ret(nops.enter)], 'the SQEs are consumed').to.deep.equal([1, 3]);
      const uds = (st: typeof rest) =>
        v
          .step(st)
          .cqes.map((q) => Number(q.userData))
          .sort();
      expect(
        uds(meanwhile),
        limit ? 'the NOPs wait behind the blocked open' : 'the NOPs complete while the open is blocked',
      ).to.deep.equal(limit ? [] : [2, 3, 4]);
      expect(v.ret(writer), 'the writer opens the FIFO').to.be.at.least(0);
      const all = [...v.step(meanwhile).cqes, ...v.step(rest).cqes];
      expect(
        all.filter((q) => q.userData === 1n).map((q) => q.res >= 0),
        'the open completes with an fd once the writer is there',
      ).to.deep.equal([true]);
      expect(
        all
          .filter((q) => q.userData !== 1n)
          .map((q) => [Number(q.userData), q.res])
          .sort(),
        'each NOP completes once with 0',
      ).to.deep.equal([
        [2, 0],
        [3, 0],
        [4, 0],
      ]);
      expect(uds(rest), 'after the writer: the open (and the NOPs behind it)').to.deep.equal(
        limit ? [1, 2, 3, 4] : [1],
      );
    },
  );
}
