/**
 * The program builder: what tests and fuzzers write. A program is a list of raw syscall-level steps
 * over symbolic handles (buffers, fds, AIO contexts, rings, pids); `encode()` turns it into wire bytes
 * (native/WIRE.md) that every target runs unchanged.
 */
import {
  ArgKind,
  DEADLINE_SIGNAL,
  FillKind,
  LIBC_ARITY,
  LibcFn,
  LibcFnName,
  LIMITS,
  Op,
  OpCode,
  Post,
  PROGRAM_HEADER,
  PROGRAM_MAGIC,
  REAP_MIN_TOTAL,
  SlotKind,
  STEP_HEADER,
  StepFlag,
  WIRE_VERSION,
} from './wire';
import { programChecksum } from './pattern';
import { PROCESS_LEVEL } from '../abi/syscalls';
import { KCOV_IOCTL, KCOV_MODE } from '../abi/linux-io';

/**
 * KCOV for every sequence of a program (native/WIRE.md, KCOV): the kernel PCs its task ran, as a KCOV
 * record on the sequence's first step. `words` sizes the area (u64 entries, the first one the count).
 */
export interface KcovOptions {
  words: number;
}

/** A program buffer. */
export interface Buf {
  readonly kind: 'buf';
  readonly slot: number;
  readonly size: number;
}
/** An fd slot. */
export interface Fd {
  readonly kind: 'fd';
  readonly slot: number;
}
/** An AIO context slot. */
export interface Ctx {
  readonly kind: 'ctx';
  readonly slot: number;
}
/** An io_uring ring slot. */
export interface Ring {
  readonly kind: 'ring';
  readonly slot: number;
}
/** A pid slot. */
export interface Pid {
  readonly kind: 'pid';
  readonly slot: number;
}
/** A step of a program, to look up its results in the trace. */
export interface StepRef {
  readonly seq: number;
  readonly index: number;
  readonly op: OpCode;
}
/** A resolved-at-run-time argument (native/WIRE.md, Arguments). */
export interface Arg {
  readonly kind: number;
  readonly slot: number;
  readonly value: bigint;
}
/** What a syscall argument may be given as: a number is an immediate. */
export type ArgLike = Arg | number | bigint;

const MAX_SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER);

/** `v` as an unsigned 64-bit bigint (two's complement for negative values); throws as `BigInt(v)` does. */
function u64Of(v: number | bigint): bigint {
  // BigInt(n) alone is enough for the usual small non-negative integer
  if (typeof v === 'number' && v >= 0 && Number.isSafeInteger(v)) return BigInt(v);
  return BigInt.asUintN(64, BigInt(v));
}

/** Argument constructors. */
export const arg = {
  imm: (v: number | bigint): Arg => ({ kind: ArgKind.IMM, slot: 0, value: u64Of(v) }),
  buf: (b: Buf, off: number | bigint = 0): Arg => ({ kind: ArgKind.BUF, slot: b.slot, value: u64Of(off) }),
  fd: (f: Fd): Arg => ({ kind: ArgKind.FD, slot: f.slot, value: 0n }),
  ctx: (c: Ctx): Arg => ({ kind: ArgKind.CTX, slot: c.slot, value: 0n }),
  ring: (r: Ring): Arg => ({ kind: ArgKind.RING, slot: r.slot, value: 0n }),
  pid: (p: Pid): Arg => ({ kind: ArgKind.PID, slot: p.slot, value: 0n }),
  /** An address the kernel cannot touch: EFAULT material that cannot hit our own memory. */
  bad: (off = 0): Arg => ({ kind: ArgKind.BAD, slot: 0, value: BigInt(off) }),
  load32: (b: Buf, off: number): Arg => ({ kind: ArgKind.LOAD32, slot: b.slot, value: BigInt(off) }),
  load64: (b: Buf, off: number): Arg => ({ kind: ArgKind.LOAD64, slot: b.slot, value: BigInt(off) }),
  /** The result of the latest completion (CQE or io_event) carrying this user_data. */
  res: (userData: number | bigint): Arg => ({ kind: ArgKind.RES, slot: 0, value: u64Of(userData) }),
  ringmem: (r: Ring, region: 0 | 1 | 2, off: number): Arg => ({
    kind: ArgKind.RINGMEM,
    slot: r.slot,
    value: (BigInt(region) << 32n) | BigInt(off),
  }),
  /** The executor's `notify(union sigval)`, which counts into the u32 `sival_ptr` names: SIGEV_THREAD's function. */
  notify: (): Arg => ({ kind: ArgKind.NOTIFY, slot: 0, value: 0n }),
};

/** Options of a SYSCALL step. */
export interface SyscallOptions {
  /** Store a non-negative result in this fd slot (closed when the program ends). */
  fd?: Fd;
  /** Store the result in this pid slot. */
  pid?: Pid;
  /** Record `ret` io_events from the buffer given as argument 3 (io_getevents, io_pgetevents). */
  aioEvents?: boolean;
  /** As aioEvents, and an io_getevents cut short before its timeout is called again for the rest (post 6). */
  aioWait?: boolean;
  /**
   * As aioWait, with min_nr counting every io_event taken from the ctx of argument 0 (a CTX arg) since its setup:
   * the call waits only for what earlier steps did not take (post 7).
   */
  aioWaitTotal?: boolean;
  /** A negative result ends this sequence. */
  stopOnError?: boolean;
  /** Store the result (negative ones too) as an i64 at the start of this buffer, for later LOAD64/LOAD32 args. */
  store?: Buf;
}

/**
 * A little-endian writer over a zeroed buffer that grows: a sequence writes all its steps into one,
 * so a step costs no allocation. Bytes it skips stay zero (padding).
 */
class Writer {
  b: Buffer;
  o = 0;
  constructor(n: number) {
    this.b = Buffer.alloc(n);
  }
  /** Room for `n` more bytes. */
  reserve(n: number): void {
    if (this.o + n <= this.b.length) return;
    const next = Buffer.alloc(Math.max(2 * this.b.length, this.o + n));
    this.b.copy(next, 0, 0, this.o);
    this.b = next;
  }
  u16(v: number): this {
    this.b.writeUInt16LE(v, this.o);
    this.o += 2;
    return this;
  }
  u32(v: number): this {
    this.b.writeUInt32LE(v >>> 0, this.o);
    this.o += 4;
    return this;
  }
  /** A u64, as `BigInt.asUintN(64, BigInt(v))` gives it; through two u32 writes when the value fits in 53 bits. */
  u64(v: bigint | number): this {
    if (typeof v === 'number' && Number.isSafeInteger(v)) {
      // two's complement of a safe integer: the low word is ToUint32, the high one the floor of v / 2^32
      this.b.writeUInt32LE(v >>> 0, this.o);
      this.b.writeUInt32LE(Math.floor(v / 0x100000000) >>> 0, this.o + 4);
    } else if (typeof v === 'bigint' && v >= 0n && v <= MAX_SAFE_BIG) {
      const n = Number(v);
      this.b.writeUInt32LE(n >>> 0, this.o);
      this.b.writeUInt32LE(Math.floor(n / 0x100000000), this.o + 4);
    } else this.b.writeBigUInt64LE(BigInt.asUintN(64, BigInt(v)), this.o);
    this.o += 8;
    return this;
  }
  arg(a: Arg): this {
    return this.u32(a.kind).u32(a.slot).u64(a.value);
  }
  /** An argument as `toArg` would make it, without making it: a number or bigint is an immediate. */
  argLike(a: ArgLike): this {
    return typeof a === 'object' ? this.arg(a) : this.u32(ArgKind.IMM).u32(0).u64(a);
  }
  bytes(d: Uint8Array): this {
    this.b.set(d, this.o);
    this.o += d.length;
    return this;
  }
}

const pad8 = (n: number): number => (n + 7) & ~7;

/** One sequence of steps: the main one (0), or one run by a forked child or a thread. */
export class Sequence {
  /** The steps' wire bytes, back to back (the main sequence usually holds most of them). */
  private readonly w: Writer;
  /** End of the last whole step: a step that threw half-written is rolled back to here. */
  private committed = 0;
  private n = 0;
  constructor(
    readonly program: Program,
    readonly id: number,
  ) {
    this.w = new Writer(id === 0 ? 4096 : 256);
  }

  /** The wire bytes of each step (copies). */
  get steps(): Buffer[] {
    const out: Buffer[] = [];
    for (let o = 0; o < this.committed; ) {
      const end = o + STEP_HEADER + this.w.b.readUInt32LE(o + 4);
      out.push(Buffer.from(this.w.b.subarray(o, end)));
      o = end;
    }
    return out;
  }

  /** Number of steps. */
  get length(): number {
    return this.n;
  }

  /** @internal The steps' wire bytes, back to back (a view: valid until the next step). */
  get wire(): Buffer {
    return this.w.b.subarray(0, this.committed);
  }

  /** Start a step of `len` payload bytes: its header is written, the payload goes to the writer returned. */
  private begin(op: OpCode, len: number, flags = 0): Writer {
    if (this.n >= 0xffff) throw new Error(`sequence ${this.id}: more than 65535 steps`);
    const w = this.w;
    // a step that threw after begin() left bytes behind: zero them, as if it never started
    if (w.o !== this.committed) {
      w.b.fill(0, this.committed, w.o);
      w.o = this.committed;
    }
    w.reserve(STEP_HEADER + len);
    return w.u16(op).u16(flags).u32(len);
  }

  /** End the step begin() started: the rest of its payload is zero padding. */
  private end(op: OpCode, len: number): StepRef {
    this.committed += STEP_HEADER + len;
    this.w.o = this.committed;
    return { seq: this.id, index: this.n++, op };
  }

  /** A step with a fixed payload of 8, 16, 24 or 32 bytes of u32 words and u64s, written by `fill`. */
  private fixed(op: OpCode, len: number, fill: (w: Writer) => void, flags = 0): StepRef {
    fill(this.begin(op, len, flags));
    return this.end(op, len);
  }

  /** A raw system call; up to six arguments. */
  syscall(nr: number, args: ArgLike[] = [], opts: SyscallOptions = {}): StepRef {
    if (args.length > 6) throw new Error('a system call takes at most 6 arguments');
    if (PROCESS_LEVEL.has(nr)) this.program.markProcessLevel(`syscall ${nr}`);
    let post: number = Post.NONE;
    let postSlot = 0;
    if (opts.fd) [post, postSlot] = [Post.FD, opts.fd.slot];
    else if (opts.pid) [post, postSlot] = [Post.PID, opts.pid.slot];
    else if (opts.aioWait) post = Post.AIO_WAIT;
    else if (opts.aioWaitTotal) post = Post.AIO_WAIT_TOTAL;
    else if (opts.aioEvents) post = Post.AIO_EVENTS;
    else if (opts.store) [post, postSlot] = [Post.STORE, opts.store.slot];
    const len = 16 + 6 * 16;
    const w = this.begin(Op.SYSCALL, len, opts.stopOnError ? StepFlag.STOP_ON_ERROR : 0);
    w.u32(nr).u16(args.length).u16(post).u32(postSlot).u32(0);
    // unused arguments are IMM 0: all zero bytes, which the writer already holds
    for (let i = 0; i < args.length; i++) w.argLike(args[i]);
    return this.end(Op.SYSCALL, len);
  }

  /** Write a run-time value (an address, an fd, a context id) into a buffer: a relocation. */
  patch(b: Buf, off: number, width: 1 | 2 | 4 | 8, value: ArgLike): StepRef {
    return this.fixed(Op.PATCH, 32, (w) => w.u32(b.slot).u32(off).u32(width).u32(0).argLike(value));
  }

  /** Copy literal bytes into a buffer. */
  bytes(b: Buf, off: number, data: Uint8Array): StepRef {
    return this.bytesOf(b, off, [data], data.length);
  }

  /** @internal Copy the concatenation of `parts` (`n` bytes in all) into a buffer: one BYTES step. */
  bytesOf(b: Buf, off: number, parts: readonly Uint8Array[], n: number): StepRef {
    const len = 16 + pad8(n);
    const w = this.begin(Op.BYTES, len).u32(b.slot).u32(off).u32(n).u32(0);
    for (const d of parts) w.bytes(d);
    return this.end(Op.BYTES, len);
  }

  /** Fill with the data pattern (stream `seed`, from stream position `pos`). */
  fillPattern(b: Buf, off: number, n: number, seed: number, pos = 0): StepRef {
    if (seed < 1 || seed > 0xffffffff) throw new Error('pattern seed must be 1..2^32-1');
    return this.fixed(Op.FILL, 32, (w) => w.u32(b.slot).u32(off).u32(n).u32(FillKind.PATTERN).u64(seed).u64(pos));
  }

  /** Fill with one byte value (0 zeroes). */
  fillByte(b: Buf, off: number, n: number, value = 0): StepRef {
    const kind = value === 0 ? FillKind.ZERO : FillKind.BYTE;
    return this.fixed(Op.FILL, 32, (w) => w.u32(b.slot).u32(off).u32(n).u32(kind).u64(value).u64(0));
  }

  /** Record the FNV-1a 64 digest of a range. */
  digest(b: Buf, off = 0, n = b.size - off): StepRef {
    return this.fixed(Op.DIGEST, 16, (w) => w.u32(b.slot).u32(off).u32(n).u32(0));
  }

  /** Record the bytes of a range (at most 1 MiB). */
  dump(b: Buf, off = 0, n = b.size - off): StepRef {
    if (n > LIMITS.dumpBytes) throw new Error(`dump of ${n} bytes: at most ${LIMITS.dumpBytes}`);
    return this.fixed(Op.DUMP, 16, (w) => w.u32(b.slot).u32(off).u32(n).u32(0));
  }

  /** Compare a range with the pattern and record the mismatches. */
  verify(b: Buf, off: number, n: number, seed: number, pos = 0): StepRef {
    return this.fixed(Op.VERIFY, 32, (w) => w.u32(b.slot).u32(off).u32(n).u32(0).u64(seed).u64(pos));
  }

  /** Store a run-time value in a slot (an fd read from a pipe2 array, a context id from io_setup). */
  setSlot(target: Fd | Ctx | Pid, value: ArgLike): StepRef {
    const kind = target.kind === 'fd' ? SlotKind.FD : target.kind === 'ctx' ? SlotKind.CTX : SlotKind.PID;
    return this.fixed(Op.SETSLOT, 24, (w) => w.u32(kind).u32(target.slot).argLike(value));
  }

  /** io_uring_setup(entries, params) and map the rings; `params` holds a raw io_uring_params. */
  uringSetup(ring: Ring, entries: number, params: Buf): StepRef {
    return this.fixed(Op.URING_SETUP, 16, (w) => w.u32(ring.slot).u32(entries).u32(params.slot).u32(0));
  }

  /** Copy `count` raw SQEs from a buffer into the SQ and publish them. */
  uringQueue(ring: Ring, b: Buf, off: number, count: number): StepRef {
    return this.fixed(Op.URING_QUEUE, 16, (w) => w.u32(ring.slot).u32(b.slot).u32(off).u32(count));
  }

  /**
   * Take up to `max` CQEs, waiting up to `waitMs` for `min` of them. With `total`, `min` counts every CQE reaped
   * from the ring since its setup (native/WIRE.md REAP_MIN_TOTAL).
   */
  uringReap(ring: Ring, min: number, max: number, waitMs: number, total = false): StepRef {
    const m = total ? (min | REAP_MIN_TOTAL) >>> 0 : min;
    return this.fixed(Op.URING_REAP, 16, (w) => w.u32(ring.slot).u32(m).u32(max).u32(waitMs));
  }

  /** Record the ring's head, tail, flag and overflow words. */
  uringState(ring: Ring): StepRef {
    return this.fixed(Op.URING_STATE, 8, (w) => w.u32(ring.slot).u32(0));
  }

  /** Unmap and close a ring. */
  uringClose(ring: Ring): StepRef {
    return this.fixed(Op.URING_CLOSE, 8, (w) => w.u32(ring.slot).u32(0));
  }

  /** Fork; the child runs `child` and exits 0. Process-level. */
  fork(child: Sequence, pid: Pid): StepRef {
    this.program.markProcessLevel('fork');
    return this.fixed(Op.FORK, 8, (w) => w.u32(child.id).u32(pid.slot));
  }

  /** waitpid with a deadline; on the deadline the child is killed. Process-level. */
  wait(pid: Pid, waitMs: number): StepRef {
    this.program.markProcessLevel('wait');
    return this.fixed(Op.WAIT, 8, (w) => w.u32(pid.slot).u32(waitMs));
  }

  /** Run sequences on threads concurrently and join them. Process-level. */
  threads(seqs: Sequence[], waitMs: number): StepRef {
    if (seqs.length < 1 || seqs.length > LIMITS.threads) throw new Error(`threads: 1..${LIMITS.threads} sequences`);
    this.program.markProcessLevel('threads');
    return this.fixed(Op.THREADS, 8 + pad8(4 * seqs.length), (w) => {
      w.u32(seqs.length).u32(waitMs);
      for (const s of seqs) w.u32(s.id);
    });
  }

  /** Sleep, under the program deadline. */
  sleep(ms: number): StepRef {
    return this.fixed(Op.SLEEP, 8, (w) => w.u64(BigInt(Math.round(ms * 1e6))));
  }

  /**
   * Call a glibc function of the executor's fixed table (POSIX AIO, and `count_wait`), recording its C
   * return value and errno. Process-level: glibc starts helper threads and notifications send signals.
   */
  libc(fn: LibcFnName, args: ArgLike[], opts: { stopOnError?: boolean } = {}): StepRef {
    if (args.length !== LIBC_ARITY[fn]) throw new Error(`${fn} takes ${LIBC_ARITY[fn]} arguments, got ${args.length}`);
    this.program.markProcessLevel(fn);
    const len = 8 + 6 * 16;
    const w = this.begin(Op.LIBC, len, opts.stopOnError ? StepFlag.STOP_ON_ERROR : 0);
    w.u32(LibcFn[fn]).u16(args.length).u16(0);
    for (let i = 0; i < args.length; i++) w.argLike(args[i]);
    return this.end(Op.LIBC, len);
  }

  /** Count deliveries of `signo` into the u32 each signal's `si_value.sival_ptr` names. Process-level. */
  sigCount(signo: number): StepRef {
    if (!(signo >= 1 && signo <= 64)) throw new Error(`signal ${signo} out of range`);
    if (signo === DEADLINE_SIGNAL) throw new Error(`signal ${signo} is the executor's deadline signal`);
    this.program.markProcessLevel('sigcount');
    return this.fixed(Op.SIGCOUNT, 8, (w) => w.u32(signo).u32(0));
  }

  /**
   * Enable KCOV (basic-block PCs) for the task running this sequence: the executor opens
   * /sys/kernel/debug/kcov, and when the sequence ends records the distinct PCs and edges it saw
   * (a KCOV record on this step). Result 0, or -errno (ENOENT: no KCOV in the kernel).
   */
  kcov(words: number): StepRef {
    if (!(Number.isInteger(words) && words >= 2 && words <= LIMITS.kcovWords))
      throw new Error(`kcov area of ${words} words`);
    const len = 40;
    const w = this.begin(Op.KCOV, len);
    w.u32(words).u32(0).u64(KCOV_IOCTL.INIT_TRACE.value).u64(KCOV_IOCTL.ENABLE.value);
    w.u64(KCOV_IOCTL.DISABLE.value).u64(KCOV_MODE.PC.value);
    return this.end(Op.KCOV, len);
  }

  /** exit_group (group) or exit of this thread. Process-level. */
  exit(code: number, group = true): StepRef {
    this.program.markProcessLevel('exit');
    return this.fixed(Op.EXIT, 8, (w) => w.u32(code).u32(group ? 1 : 0));
  }
}

/** Options of a program. */
export interface ProgramOptions {
  /** Whole-program deadline in ms (default 10 s). */
  deadlineMs?: number;
  /** Trace capacity in bytes (default: the executor's 16 MiB). */
  traceCap?: number;
  /** Every sequence starts with a KCOV step (its step 0), so the trace tells what kernel code each ran. */
  kcov?: KcovOptions;
}

/** A program under construction. Its main sequence's methods are on the program itself via `main`. */
export class Program {
  readonly main: Sequence;
  private readonly seqs: Sequence[] = [];
  private readonly bufs: { size: number; align: number }[] = [];
  private counts = { fd: 0, ctx: 0, ring: 0, pid: 0 };
  private processSteps: string[] = [];
  deadlineMs: number;
  traceCap: number;
  readonly kcovOptions?: KcovOptions;

  constructor(opts: ProgramOptions = {}) {
    this.deadlineMs = opts.deadlineMs ?? 10_000;
    this.traceCap = opts.traceCap ?? 0;
    this.kcovOptions = opts.kcov;
    this.main = this.seq();
  }

  /** A new sequence (for a forked child or a thread). */
  seq(): Sequence {
    if (this.seqs.length >= LIMITS.seqs) throw new Error(`more than ${LIMITS.seqs} sequences`);
    const s = new Sequence(this, this.seqs.length);
    this.seqs.push(s);
    if (this.kcovOptions) s.kcov(this.kcovOptions.words);
    return s;
  }

  /** A zeroed buffer; `align` 4096 gives a page-aligned buffer followed by an unmapped page. */
  buf(size: number, align = 8): Buf {
    if (this.bufs.length >= LIMITS.bufs) throw new Error(`more than ${LIMITS.bufs} buffers`);
    if (!(size >= 1 && size <= LIMITS.bufBytes)) throw new Error(`buffer size ${size} out of range`);
    if (!(align >= 1 && align <= 4096 && (align & (align - 1)) === 0)) throw new Error(`buffer align ${align}`);
    this.bufs.push({ size, align });
    return { kind: 'buf', slot: this.bufs.length - 1, size };
  }

  /** A buffer holding these bytes (written by a BYTES step in the main sequence, now). */
  data(bytes: Uint8Array, align = 8): Buf {
    const b = this.buf(Math.max(1, bytes.length), align);
    if (bytes.length) this.main.bytes(b, 0, bytes);
    return b;
  }

  /** A buffer holding a NUL-terminated string. */
  cstr(s: string): Buf {
    return this.data(Buffer.from(s + '\0', 'utf8'));
  }

  /** A fresh fd slot. */
  fd(): Fd {
    return { kind: 'fd', slot: this.take('fd', LIMITS.fds) };
  }
  /** A fresh AIO context slot. */
  ctx(): Ctx {
    return { kind: 'ctx', slot: this.take('ctx', LIMITS.ctxs) };
  }
  /** A fresh ring slot. */
  ring(): Ring {
    return { kind: 'ring', slot: this.take('ring', LIMITS.rings) };
  }
  /** A fresh pid slot. */
  pid(): Pid {
    return { kind: 'pid', slot: this.take('pid', LIMITS.pids) };
  }

  private take(k: keyof Program['counts'], max: number): number {
    if (this.counts[k] >= max) throw new Error(`more than ${max} ${k} slots`);
    return this.counts[k]++;
  }

  /** @internal */
  markProcessLevel(what: string): void {
    this.processSteps.push(what);
  }

  /** True when a step changes the process itself (fork, exit, credentials): it must run in `child`. */
  get processLevel(): boolean {
    return this.processSteps.length > 0;
  }

  /** The wire bytes. */
  encode(): Buffer {
    const tableOff = PROGRAM_HEADER + 8 * this.bufs.length;
    let length = tableOff + 8 * this.seqs.length;
    for (const s of this.seqs) length += s.wire.length;
    const w = new Writer(length);
    w.u32(PROGRAM_MAGIC).u16(WIRE_VERSION).u16(this.seqs.length).u32(length);
    w.u32(this.deadlineMs).u32(this.bufs.length).u32(this.traceCap);
    w.o = PROGRAM_HEADER;
    for (const b of this.bufs) w.u32(b.size).u32(b.align);
    let off = tableOff + 8 * this.seqs.length;
    for (const s of this.seqs) {
      w.u32(off).u32(s.length);
      off += s.wire.length;
    }
    for (const s of this.seqs) w.bytes(s.wire);
    // checksum at 24, reserved word at 28 stays 0
    w.b.writeUInt32LE(programChecksum(w.b.subarray(PROGRAM_HEADER)), 24);
    return w.b;
  }
}

/** Recompute the checksum of a (possibly mutated) program in place: fuzzing the validator past it. */
export function resealProgram(p: Buffer): Buffer {
  if (p.length >= PROGRAM_HEADER) p.writeUInt32LE(programChecksum(p.subarray(PROGRAM_HEADER)), 24);
  return p;
}
