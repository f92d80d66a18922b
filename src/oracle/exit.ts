/**
 * Submitters that go away (SEMANTICS §1.7, §3.11): a forked child leaves requests in flight on a ring or an
 * AIO context and then exits, calls exit_group from a second thread, is SIGKILLed or calls execve. The
 * parent checks that nothing hangs, leaks or keeps running on its behalf.
 */
import * as path from 'path';
import { expect } from 'chai';
import { errno, IOSQE, O, POLL_EV, SETUP, SIG, SYSCALLS } from '../abi';
import { aioGetevents, aioSetup, aioSubmit, iocb, setLedgerMode } from '../program/aio';
import { arg, Program, Sequence, StepRef } from '../program/builder';
import { close, pipe2, pread, readSmallFile, scratchFile, timespecMs } from '../program/sys';
import { AIO_NR, AioNrReadings, judgeAioNr, readDecimal } from './aio-nr';
import type { TraceView } from '../program/trace';
import { reap, RingHandle, setupRing, sqe, submit } from '../program/uring';
import { Capabilities, refusedSetupFlags } from '../target/caps';

/** An executable every target has: the host's /bin/sh, and the VM image's busybox links (vm-images/init.sh). */
export const SHELL = '/bin/sh';

/** What submits: a ring of one setup kind, or a legacy AIO context. */
export type Submitter = 'uring' | 'uring-sqpoll' | 'uring-defer' | 'aio';
/** How the submitter goes away. */
export type Departure = 'exit' | 'thread-exit-group' | 'sigkill' | 'execve';

/** Setup flags of each io_uring submitter. */
export const RING_FLAGS: Record<Exclude<Submitter, 'aio'>, number> = {
  uring: 0,
  'uring-sqpoll': SETUP.SQPOLL.value,
  'uring-defer': SETUP.DEFER_TASKRUN.value | SETUP.SINGLE_ISSUER.value,
};

/** Ops a submitter's program exercises, for `conformance({ ops })`. */
export const SUBMITTER_OPS: Record<Submitter, string[]> = {
  uring: ['uring.READ', 'uring.WRITE', 'uring.POLL_ADD', 'uring.TIMEOUT'],
  'uring-sqpoll': ['uring.READ', 'uring.WRITE', 'uring.POLL_ADD', 'uring.TIMEOUT'],
  'uring-defer': ['uring.READ', 'uring.WRITE', 'uring.POLL_ADD', 'uring.TIMEOUT'],
  aio: ['aio.PWRITE', 'aio.POLL'],
};

/** Why this kernel cannot run the submitter (the probe refused its setup flags), or undefined. */
export function missingSetup(caps: Capabilities, s: Submitter): string | undefined {
  if (s === 'aio' || s === 'uring') return undefined;
  return refusedSetupFlags(caps, s === 'uring-sqpoll' ? ['SQPOLL'] : ['DEFER_TASKRUN', 'SINGLE_ISSUER']);
}

/** Steps that read /proc/self/status; `threads(v)` is its `Threads:` count (io-wq and SQPOLL threads included). */
export function readThreadCount(seq: Sequence): { threads: (v: TraceView) => number } {
  const { read, dump } = readSmallFile(seq, '/proc/self/status', 4096);
  return {
    threads: (v) => {
      const n = v.ret(read);
      if (n <= 0) throw new Error(`reading /proc/self/status returned ${n}`);
      const m = /^Threads:\s+(\d+)/m.exec(v.step(dump).dump!.subarray(0, n).toString('ascii'));
      if (!m) throw new Error('/proc/self/status has no Threads: line');
      return Number(m[1]);
    },
  };
}

/** The decoded parts of a wait status. */
export function waitStatus(st: bigint | number): { exited?: number; signal?: number } {
  const s = Number(st);
  return (s & 0x7f) === 0 ? { exited: (s >> 8) & 0xff } : { signal: s & 0x7f };
}

/** Bytes of the write the child completes (and reaps) before it goes away. */
export const WRITTEN = 4096;
const SEED = 0xe417;
const PIPE_SEED = 0x9e7e;
const PIPE_BYTES = 64;
/** Exit code of the `exit` and `thread-exit-group` departures. */
export const EXIT_CODE = 7;
/** Exit code of the image the `execve` departure runs (`sh -c 'exit 5'`). */
export const EXEC_CODE = 5;

/** user_data of the io_uring requests; the AIO ones use 1 (write) and 3 (poll). */
export const UD = {
  write: 1n,
  read: 10n,
  poll: 11n,
  timeout: 12n,
  linkHead: 13n,
  linkWrite: 14n,
  asyncRead: 15n,
} as const;

/** A departure program and the steps its checks read. */
export interface DepartureRun {
  p: Program;
  refs: {
    open: StepRef;
    fork: StepRef;
    wait: StepRef;
    /** kill(pid, 0) after the wait. */
    probe: StepRef;
    setup: StepRef;
    writeSubmit: StepRef;
    /** The reap (io_uring) or io_getevents (AIO) of the write before the departure. */
    writeReap: StepRef;
    inflightSubmit: StepRef;
    /** A non-blocking reap (io_uring) right before the departure: the in-flight requests must not be in it. */
    early?: StepRef;
    /** Write to the pipe after the child is gone, and the read that follows (after closing the write end). */
    feed: StepRef;
    drain: StepRef;
    drained: StepRef;
    fileRead: StepRef;
    fileData: StepRef;
    kill?: StepRef;
    exec?: StepRef;
  };
  aioNr: { before: (v: TraceView) => number; during?: (v: TraceView) => number; after: (v: TraceView) => number };
  threads: (v: TraceView) => number;
  /** execve: how many [aio] and io_uring mappings the new image had. */
  execMaps?: (v: TraceView) => number;
}

/**
 * A program whose forked child submits a file write (and reaps it), then leaves in flight: a read of an empty
 * pipe, a POLL_ADD on it, a 10 s TIMEOUT, a linked chain (pipe read → file write), an IOSQE_ASYNC pipe read
 * (io-wq) — or for AIO a POLL iocb on the pipe — and goes away as `departure` says. The parent then waits,
 * probes the pid, rereads aio-nr, writes to the pipe and reads the data back, and rereads the file.
 */
export function departureProgram(scratch: string, submitter: Submitter, departure: Departure): DepartureRun {
  const p = new Program({ deadlineMs: 15_000 });
  setLedgerMode(p, 'at-most-once'); // the child leaves requests in flight on purpose
  const s = p.main;
  const { fd: file, step: open } = scratchFile(s, scratch, 'data');
  const pipe = pipe2(s, O.CLOEXEC.value);
  const ready = pipe2(s, O.CLOEXEC.value);
  const before = readDecimal(s, AIO_NR);
  const shell = p.cstr(SHELL);
  const argv = p.buf(8 * 4);
  // the new image counts the AIO ring and io_uring ring mappings it has (none, if execve dropped the old mm)
  const maps = path.posix.join(scratch, 'maps');
  const script = `grep -c -e '\\[aio\\]' -e 'io_uring' /proc/$$/maps > ${maps}; exit ${EXEC_CODE}`;
  ['sh', '-c', script].forEach((a, i) => s.patch(argv, 8 * i, 8, arg.buf(p.cstr(a))));
  const data = p.buf(WRITTEN);
  s.fillPattern(data, 0, WRITTEN, SEED);
  const sink = p.buf(WRITTEN);

  const c = p.seq();
  let setup: StepRef;
  let writeSubmit: StepRef;
  let writeReap: StepRef;
  let inflightSubmit: StepRef;
  let early: StepRef | undefined;
  let during: ((v: TraceView) => number) | undefined;
  if (submitter === 'aio') {
    const a = aioSetup(c, DEPARTURE_CTX_EVENTS);
    setup = a.setup;
    writeSubmit = aioSubmit(c, a.ctx, [
      iocb({ opcode: 'PWRITE', fd: file, aio_data: 1, aio_buf: arg.buf(data), aio_nbytes: WRITTEN, aio_offset: 0 }),
    ]).submit;
    writeReap = aioGetevents(c, a.ctx, 1, 4);
    // a pipe PREAD would block inside io_submit (SEMANTICS §1.6): a POLL is the AIO request that stays in flight
    const poll = iocb({ opcode: 'POLL', fd: pipe.r, aio_data: 3, aio_buf: POLL_EV.IN.value });
    inflightSubmit = aioSubmit(c, a.ctx, [poll]).submit;
    during = readDecimal(c, AIO_NR).value;
  } else {
    const h: RingHandle = setupRing(c, { flags: RING_FLAGS[submitter], entries: 16 });
    setup = h.setup;
    writeSubmit = submit(c, h, [sqe({ opcode: 'WRITE', fd: file, addr: arg.buf(data), len: WRITTEN, off: 0, user_data: UD.write })]).enter;
    writeReap = reap(c, h, 1, 1, 5000);
    const rd = (ud: bigint, flags = 0) =>
      sqe({ opcode: 'READ', fd: pipe.r, addr: arg.buf(sink), len: PIPE_BYTES, off: 0, flags, user_data: ud });
    inflightSubmit = submit(c, h, [
      rd(UD.read),
      sqe({ opcode: 'POLL_ADD', fd: pipe.r, poll32_events: POLL_EV.IN.value, user_data: UD.poll }),
      sqe({ opcode: 'TIMEOUT', fd: -1, addr: arg.buf(timespecMs(c, 10_000)), len: 1, user_data: UD.timeout }),
      rd(UD.linkHead, IOSQE.IO_LINK.value),
      sqe({ opcode: 'WRITE', fd: file, addr: arg.buf(data), len: WRITTEN, off: WRITTEN, user_data: UD.linkWrite }),
      rd(UD.asyncRead, IOSQE.ASYNC.value),
    ]).enter;
    // time for the SQPOLL thread to take the SQEs and for the io-wq worker to block in the pipe read
    c.sleep(150);
    early = reap(c, h, 0, 16, 0);
  }
  const threads = readThreadCount(c).threads;

  let kill: StepRef | undefined;
  let exec: StepRef | undefined;
  switch (departure) {
    case 'exit':
      c.exit(EXIT_CODE);
      break;
    case 'thread-exit-group': {
      const t = p.seq();
      t.exit(EXIT_CODE, true);
      c.threads([t], 5000);
      c.exit(99); // not reached: exit_group took the whole process
      break;
    }
    case 'sigkill': {
      const one = p.buf(1);
      c.syscall(SYSCALLS.write, [arg.fd(ready.w), arg.buf(one), 1]);
      c.sleep(10_000);
      c.exit(98);
      break;
    }
    case 'execve':
      exec = c.syscall(SYSCALLS.execve, [arg.buf(shell), arg.buf(argv), 0]);
      c.exit(97); // execve failed
      break;
  }

  const pid = p.pid();
  const fork = s.fork(c, pid);
  close(s, ready.w); // so the read below sees EOF if the child dies before it is ready
  if (departure === 'sigkill') {
    const got = p.buf(8);
    s.syscall(SYSCALLS.read, [arg.fd(ready.r), arg.buf(got), 1]);
    kill = s.syscall(SYSCALLS.kill, [arg.pid(pid), SIG.KILL.value]);
  }
  const wait = s.wait(pid, 5000);
  const probe = s.syscall(SYSCALLS.kill, [arg.pid(pid), 0]);
  const after = readDecimal(s, AIO_NR);
  const execMaps = departure === 'execve' ? readDecimal(s, maps).value : undefined;
  // A request of the dead child still armed on the pipe would take these bytes. Closing the only write end left
  // makes the read return 0 (EOF) instead of blocking if they were taken.
  const bytes = p.buf(PIPE_BYTES);
  s.fillPattern(bytes, 0, PIPE_BYTES, PIPE_SEED);
  const feed = s.syscall(SYSCALLS.write, [arg.fd(pipe.w), arg.buf(bytes), PIPE_BYTES]);
  close(s, pipe.w);
  const back = p.buf(2 * PIPE_BYTES);
  const drain = s.syscall(SYSCALLS.read, [arg.fd(pipe.r), arg.buf(back), 2 * PIPE_BYTES]);
  const drained = s.verify(back, 0, PIPE_BYTES, PIPE_SEED);
  const fileBack = p.buf(2 * WRITTEN);
  const fileRead = pread(s, file, fileBack, 2 * WRITTEN, 0);
  const fileData = s.verify(fileBack, 0, WRITTEN, SEED);
  return {
    p,
    refs: {
      open,
      fork,
      wait,
      probe,
      setup,
      writeSubmit,
      writeReap,
      inflightSubmit,
      early,
      feed,
      drain,
      drained,
      fileRead,
      fileData,
      kill,
      exec,
    },
    aioNr: { before: before.value, during, after: after.value },
    threads,
    execMaps,
  };
}

/** The wait status a departure should give. */
export function expectedStatus(d: Departure): { exited?: number; signal?: number } {
  if (d === 'sigkill') return { signal: SIG.KILL.value };
  return { exited: d === 'execve' ? EXEC_CODE : EXIT_CODE };
}

/** Every check of a departure program (SEMANTICS §1.7, §3.11), one expect each. */
export function checkDeparture(v: TraceView, run: DepartureRun, submitter: Submitter, departure: Departure): void {
  const r = run.refs;
  const rule = submitter === 'aio' ? 'SEMANTICS §1.7' : 'SEMANTICS §3.11';
  expect(v.ret(r.open), 'open of the scratch file').to.be.at.least(0);
  expect(v.ret(r.fork), 'fork').to.be.above(0);
  if (submitter === 'aio') {
    expect(v.ret(r.setup), 'io_setup in the child').to.equal(0);
    expect(v.ret(r.writeSubmit), 'io_submit of the write').to.equal(1);
    const events = v.step(r.writeReap).events.map((e) => [e.data, e.res]);
    expect(events, 'the write completed before the departure').to.deep.equal([[1n, BigInt(WRITTEN)]]);
    expect(v.ret(r.inflightSubmit), 'io_submit of the POLL on the empty pipe').to.equal(1);
  } else {
    expect(v.ret(r.setup), 'io_uring_setup in the child').to.be.at.least(0);
    expect(v.ret(r.writeSubmit), 'io_uring_enter took the write').to.equal(1);
    const cqes = v.step(r.writeReap).cqes.map((c) => [c.userData, c.res]);
    expect(cqes, 'the write completed before the departure').to.deep.equal([[UD.write, WRITTEN]]);
    expect(v.ret(r.inflightSubmit), 'io_uring_enter took the six in-flight SQEs').to.equal(6);
    expect(v.step(r.early!).cqes, 'nothing in flight had completed before the departure').to.deep.equal([]);
    // io-wq workers (iou-wrk-*) and the SQPOLL thread (iou-sqp-*) are threads of the process (FEAT_NATIVE_WORKERS)
    const io = 'the child had io threads (the IOSQE_ASYNC read blocks in an io-wq worker)';
    expect(run.threads(v), io).to.be.at.least(2);
  }
  if (r.kill) expect(v.ret(r.kill), 'kill(child, SIGKILL)').to.equal(0);
  if (r.exec) expect(v.maybe(r.exec)?.ret, `execve of ${SHELL} does not return`).to.equal(undefined);
  if (run.execMaps) expect(run.execMaps(v), `the new image maps no AIO or io_uring ring (${rule})`).to.equal(0);
  const w = v.step(r.wait);
  expect(w.deadline, `no hang: the child was reaped within the WAIT deadline (${rule})`).to.equal(false);
  expect(Number(w.ret), 'waitpid returned the child').to.equal(v.ret(r.fork));
  expect(waitStatus(w.ret2), `the child's wait status (${departure})`).to.deep.equal(expectedStatus(departure));
  // io-wq and SQPOLL threads are threads of the process: once it is reaped, none of them is left
  expect(v.ret(r.probe), `kill(pid, 0) after the wait: the process and all its threads are gone (${rule})`).to.equal(
    -errno.ESRCH,
  );
  expect(v.ret(r.feed), 'write to the pipe after the child is gone').to.equal(PIPE_BYTES);
  expect(v.ret(r.drain), `the pipe still holds the bytes: no request of the gone child read them (${rule})`).to.equal(
    PIPE_BYTES,
  );
  expect(v.step(r.drained).verify!.mismatches, 'the bytes read back are the ones written').to.equal(0);
  const chain = submitter === 'aio' ? '' : '; the linked write after the pipe read never ran';
  expect(v.ret(r.fileRead), `the file holds the completed write${chain} (${rule})`).to.equal(WRITTEN);
  expect(v.step(r.fileData).verify!.mismatches, `the completed write's data is in the file (${rule})`).to.equal(0);
}

/** nr_events of the AIO submitter's context. */
export const DEPARTURE_CTX_EVENTS = 8;

/**
 * Runs a departure program and every check of it; for the AIO submitter also fs.aio-nr (the context counted
 * while held, and freed by the departure), which is system-wide and so judged by {@link judgeAioNr}.
 * io_uring rings do not count in aio-nr.
 */
export async function runDeparture(
  target: { run(p: Program): Promise<TraceView> },
  scratch: string,
  submitter: Submitter,
  departure: Departure,
  note: (text: string) => void,
): Promise<void> {
  const attempt = async (): Promise<AioNrReadings> => {
    const run = departureProgram(scratch, submitter, departure);
    const v = await target.run(run.p);
    checkDeparture(v, run, submitter, departure);
    return { before: run.aioNr.before(v), during: run.aioNr.during?.(v), after: run.aioNr.after(v) };
  };
  if (submitter === 'aio') await judgeAioNr(DEPARTURE_CTX_EVENTS, 'SEMANTICS §1.7', note, attempt);
  else await attempt();
}
