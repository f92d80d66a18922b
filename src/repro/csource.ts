/**
 * C reproducers: a wire program turned into one standalone C file (libc and UAPI headers only, raw
 * syscall(2), io_uring rings mapped by hand) that runs the steps the way native/exec.c does and
 * prints one line per recorded event (see {@link parseReproOutput} in ./output for the format).
 */
import { ENTER, entriesOf, IOSQE, syscallName, SYSCALLS, URING_OP } from '../abi';
import { decodeProgram, DecodedProgram, DecodedStep } from '../program/decode';
import { ArgKind, FillKind, LIMITS, Op, Post, REAP_MIN_TOTAL, SlotKind, StepFlag } from '../program/wire';
import { INCLUDES, NEEDS, Section, SECTIONS } from './runtime';

/** A program step no reproducer can express (yet): its kind is named in the message. */
export class UnsupportedStepError extends Error {}

/** A program the executor would reject: no reproducer is meaningful. */
export class InvalidProgramError extends Error {}

/** gcc invocation a reproducer is written for. */
export const REPRO_CFLAGS = ['-O1', '-static', '-Wall', '-Werror', '-pthread'];

const OP_NAME = Object.fromEntries(Object.entries(Op).map(([k, v]) => [v, k])) as Record<number, string>;
const URING_OP_NAME = new Map(entriesOf(URING_OP).map((e) => [e.value, e.name]));

/** Parameter names of the system calls a reproducer comments on. */
const PARAMS: Partial<Record<keyof typeof SYSCALLS, string[]>> = {
  read: ['fd', 'buf', 'count'],
  write: ['fd', 'buf', 'count'],
  close: ['fd'],
  pread64: ['fd', 'buf', 'count', 'offset'],
  pwrite64: ['fd', 'buf', 'count', 'offset'],
  fsync: ['fd'],
  ftruncate: ['fd', 'length'],
  openat: ['dirfd', 'path', 'flags', 'mode'],
  pipe2: ['pipefd', 'flags'],
  io_setup: ['nr_events', 'ctxp'],
  io_destroy: ['ctx'],
  io_submit: ['ctx', 'nr', 'iocbpp'],
  io_cancel: ['ctx', 'iocb', 'result'],
  io_getevents: ['ctx', 'min_nr', 'nr', 'events', 'timeout'],
  io_pgetevents: ['ctx', 'min_nr', 'nr', 'events', 'timeout', 'usig'],
  io_uring_setup: ['entries', 'params'],
  io_uring_enter: ['fd', 'to_submit', 'min_complete', 'flags', 'argp', 'argsz'],
  io_uring_register: ['fd', 'opcode', 'arg', 'nr_args'],
};

interface Arg {
  kind: number;
  slot: number;
  value: bigint;
}

function readArg(b: Buffer, o: number): Arg {
  return { kind: b.readUInt32LE(o), slot: b.readUInt32LE(o + 4), value: b.readBigUInt64LE(o + 8) };
}

/** A C integer literal of type long for a 64-bit wire value. */
function lit(v: bigint): string {
  const s = BigInt.asIntN(64, v);
  if (s >= -(2n ** 31n) && s < 2n ** 31n) return s.toString();
  return `(long)0x${v.toString(16)}ull`;
}

const flagNames = (v: bigint, table: { name: string; value: number }[]): string => {
  let rest = Number(v);
  const names: string[] = [];
  for (const e of table)
    if (e.value && (rest & e.value) === e.value) {
      names.push(e.name);
      rest &= ~e.value;
    }
  if (rest) names.push(`0x${rest.toString(16)}`);
  return names.length ? names.join('|') : '0';
};

/** C statements writing literal bytes: a string when they are one, else zeroes plus the non-zero LE words. */
function bytesBody(b: number, off: number, data: Buffer): string[] {
  const n = data.length;
  const at = (k: number) => `buf[${b}] + ${off + k}`;
  if (!n) return [];
  const z = data.indexOf(0);
  if (z === n - 1 && n > 1 && /^[\x20-\x7e]+$/.test(data.toString('latin1', 0, z))) return [`memcpy(${at(0)}, ${JSON.stringify(data.toString('latin1', 0, z))}, ${n});`];
  const out = [`memset(${at(0)}, 0, ${n});`];
  let k = 0;
  for (; k + 8 <= n; k += 8) {
    const w = data.readBigUInt64LE(k);
    if (w) out.push(`wr64(${at(k)}, 0x${w.toString(16)}ull);`);
  }
  for (; k < n; k++) if (data[k]) out.push(`${at(k).replace(/^buf\[(\d+)\] \+ (\d+)$/, 'buf[$1][$2]')} = 0x${data[k].toString(16)};`);
  return out;
}

/** Emits one reproducer. */
class Emitter {
  private readonly sections = new Set<Section>(['core']);
  private readonly nrs = new Map<string, number>();
  /** Literal bytes BYTES steps put at offset 0 of each buffer: to show paths and SQEs in comments. */
  private readonly known = new Map<number, Buffer>();

  /** The program has a SYSCALL post 7 step: io_events taken from each ctx slot are counted. */
  private readonly totals: boolean;

  constructor(private readonly p: DecodedProgram) {
    const total = (st: DecodedStep) => st.op === Op.SYSCALL && st.payload.length >= 8 && st.payload.readUInt16LE(6) === Post.AIO_WAIT_TOTAL;
    this.totals = p.seqs.some((q) => q.some(total));
  }

  /** With post 7 in the program: count the io_events a getevents step on a ctx slot took. */
  private took(args: Arg[]): string[] {
    if (!this.totals || !args.length || args[0].kind !== ArgKind.CTX) return [];
    return [`aio_took(${args[0].slot}, r);`];
  }

  private fail(s: number, i: number, m: string): never {
    throw new InvalidProgramError(`step ${i} of sequence ${s}: ${m}`);
  }

  private checkRange(s: number, i: number, b: number, off: number, n: number): void {
    if (b >= this.p.bufs.length) this.fail(s, i, `buffer ${b} out of range`);
    if (off > this.p.bufs[b].size || n > this.p.bufs[b].size - off) this.fail(s, i, `bytes [${off}, +${n}) outside buffer ${b}`);
  }

  private checkSlot(s: number, i: number, slot: number, max: number, what: string): void {
    if (slot >= max) this.fail(s, i, `${what} slot ${slot} out of range`);
  }

  private nr(nr: number): string {
    const name = syscallName(nr);
    if (!name) return String(nr);
    this.nrs.set(name, nr);
    return `__NR_${name}`;
  }

  private use(sec: Section): void {
    if (this.sections.has(sec)) return;
    this.sections.add(sec);
    for (const d of NEEDS[sec]) this.use(d);
  }

  /** C expression of an argument, and the check that must pass before the step runs. */
  private arg(s: number, i: number, a: Arg): { expr: string; need?: string; text: string } {
    const err = (m: string) => `step_error(t, ${s}, ${i}, "${m}"); return;`;
    switch (a.kind) {
      case ArgKind.IMM:
        return { expr: lit(a.value), text: lit(a.value) };
      case ArgKind.BUF:
        this.checkSlot(s, i, a.slot, this.p.bufs.length, 'buffer');
        return { expr: `BUF(${a.slot}, ${lit(a.value)})`, text: a.value ? `buf${a.slot}+${a.value}` : `buf${a.slot}` };
      case ArgKind.FD:
        this.checkSlot(s, i, a.slot, LIMITS.fds, 'fd');
        return { expr: a.value ? `(FD(${a.slot}) + ${lit(a.value)})` : `FD(${a.slot})`, text: `fd${a.slot}` };
      case ArgKind.CTX:
        this.checkSlot(s, i, a.slot, LIMITS.ctxs, 'ctx');
        return { expr: `(long)ctx[${a.slot}]`, need: `if (!ctx_set[${a.slot}]) { ${err(`ctx slot ${a.slot} is empty`)} }`, text: `ctx${a.slot}` };
      case ArgKind.RING:
        this.checkSlot(s, i, a.slot, LIMITS.rings, 'ring');
        this.use('ring');
        return { expr: `RING_FD(${a.slot})`, text: `ring${a.slot}` };
      case ArgKind.PID:
        this.checkSlot(s, i, a.slot, LIMITS.pids, 'pid');
        return { expr: `(long)pid[${a.slot}]`, need: `if (!pid_set[${a.slot}]) { ${err(`pid slot ${a.slot} is empty`)} }`, text: `pid${a.slot}` };
      case ArgKind.BAD:
        if (a.value >= 4096n) this.fail(s, i, `BAD offset ${a.value}`);
        return { expr: `BAD(${a.value})`, text: `BAD+${a.value}` };
      case ArgKind.LOAD32:
      case ArgKind.LOAD64: {
        const w = a.kind === ArgKind.LOAD32 ? 32 : 64;
        if (a.value > 0xffffffffn) this.fail(s, i, `load offset ${a.value}`);
        this.checkRange(s, i, a.slot, Number(a.value), w / 8);
        return { expr: `(long)rd${w}(buf[${a.slot}] + ${a.value})`, text: `*(u${w} *)(buf${a.slot}+${a.value})` };
      }
      case ArgKind.RES:
        this.use('res');
        return { expr: `(long)res_of(${lit(a.value)})`, text: `res(${a.value})` };
      case ArgKind.RINGMEM: {
        this.checkSlot(s, i, a.slot, LIMITS.rings, 'ring');
        const region = Number(a.value >> 32n);
        if (region > 2) this.fail(s, i, `ring region ${region}`);
        const field = ['sq', 'cq', 'sqes'][region];
        const off = a.value & 0xffffffffn;
        this.use('ring');
        return {
          expr: `(long)((uintptr_t)ring[${a.slot}].${field} + ${off})`,
          need: `if (!ring[${a.slot}].mapped) { ${err(`ring ${a.slot} is not set up`)} }`,
          text: `ring${a.slot}.${field}+${off}`,
        };
      }
    }
    throw new UnsupportedStepError(`C reproducer: argument kind ${a.kind} (step ${i} of sequence ${s}) is not supported`);
  }

  private sqeSummary(b: number, off: number, count: number): string {
    const d = this.known.get(b);
    if (!d || off + 64 * count > d.length || count > 8) return '';
    const parts: string[] = [];
    for (let k = 0; k < count; k++) {
      const q = d.subarray(off + 64 * k);
      const flags = q[1] ? ` ${flagNames(BigInt(q[1]), entriesOf(IOSQE))}` : '';
      parts.push(`${URING_OP_NAME.get(q[0]) ?? `op${q[0]}`} ud=${q.readBigUInt64LE(32)}${flags}`);
    }
    return `: ${parts.join(', ')}`;
  }

  private describeSyscall(nr: number, args: Arg[], texts: string[]): string {
    const name = syscallName(nr);
    const params = name ? PARAMS[name] : undefined;
    const shown = texts.map((t, k) => {
      const a = args[k];
      if (name === 'io_uring_enter' && k === 3 && a.kind === ArgKind.IMM) t = flagNames(a.value, entriesOf(ENTER));
      if (a.kind === ArgKind.BUF && a.value === 0n) {
        const d = this.known.get(a.slot);
        const z = d ? d.indexOf(0) : -1;
        if (d && z > 0 && /^[\x20-\x7e]+$/.test(d.toString('latin1', 0, z))) t = JSON.stringify(d.toString('latin1', 0, z));
      }
      return params?.[k] && a.kind === ArgKind.IMM ? `${params[k]}=${t}` : t;
    });
    return `${name ?? `syscall ${nr}`}(${shown.join(', ')})`;
  }

  /** The statements of one step (inside its block), and its comment. */
  private step(s: number, i: number, st: DecodedStep): { comment: string; body: string[]; stop?: boolean } {
    const pl = st.payload;
    const u32 = (o: number) => pl.readUInt32LE(o);
    const fin = (st.flags & StepFlag.STOP_ON_ERROR) !== 0;
    const need = (n: number) => {
      if (pl.length < n) this.fail(s, i, `${st.opName} payload is ${pl.length} bytes`);
    };
    switch (st.op) {
      case Op.SYSCALL: {
        need(112);
        const nr = u32(0);
        const nargs = pl.readUInt16LE(4);
        const post = pl.readUInt16LE(6);
        const ps = u32(8);
        if (nargs > 6) this.fail(s, i, `${nargs} args`);
        const args = Array.from({ length: nargs }, (_, k) => readArg(pl, 16 + 16 * k));
        const rs = args.map((a) => this.arg(s, i, a));
        const body = rs.flatMap((r) => (r.need ? [r.need] : []));
        const exprs = [...rs.map((r) => r.expr), ...Array(6 - nargs).fill('0')];
        if (syscallName(nr) === 'io_uring_enter' && nargs > 3 && args[3].kind === ArgKind.IMM && args[3].value)
          exprs[3] += ` /* ${flagNames(args[3].value, entriesOf(ENTER).map((e) => ({ name: e.cName, value: e.value })))} */`;
        body.push(`long a[6] = {${exprs.join(', ')}};`);
        // post 7: min_nr less what earlier steps took from the ctx (argument 0, checked below)
        if (post === Post.AIO_WAIT_TOTAL && nargs >= 3 && args[0].kind === ArgKind.CTX)
          body.push(`a[1] = aio_owed(${args[0].slot}, a[1], a[2]);`);
        body.push(`long r = do_sys(t, &o, ${this.nr(nr)}, a);`);
        let comment = this.describeSyscall(nr, args, rs.map((r) => r.text));
        if (nr === SYSCALLS.close && nargs) {
          body.push('if (r == 0) forget_fd(a[0]);');
          if (this.sections.has('ring')) body.push('if (r == 0) forget_ring_fd(a[0]);');
        }
        if (nr === SYSCALLS.io_destroy && nargs) body.push('if (r == 0) forget_ctx(a[0]);');
        switch (post) {
          case Post.NONE:
            body.push('(void)r;');
            break;
          case Post.FD:
            this.checkSlot(s, i, ps, LIMITS.fds, 'fd');
            body.push(`if (r >= 0) fd[${ps}] = r, fd_set_[${ps}] = 1;`);
            comment += ` -> fd${ps}`;
            break;
          case Post.PID:
            this.checkSlot(s, i, ps, LIMITS.pids, 'pid');
            body.push(`if (r >= 0) pid[${ps}] = r, pid_set[${ps}] = 1, pid_own[${ps}] = 0;`);
            comment += ` -> pid${ps}`;
            break;
          case Post.CTX:
            this.checkSlot(s, i, ps, LIMITS.ctxs, 'ctx');
            body.push(`if (r >= 0) ctx[${ps}] = (uint64_t)r, ctx_set[${ps}] = 1${this.totals ? `, ctx_taken[${ps}] = 0` : ''};`);
            if (this.totals) this.use('aio');
            comment += ` -> ctx${ps}`;
            break;
          case Post.STORE:
            this.checkRange(s, i, ps, 0, 8);
            body.push(`memcpy((void *)BUF(${ps}, 0), &r, 8);`);
            comment += ` -> stored in buf${ps}`;
            break;
          case Post.AIO_EVENTS:
            if (nargs < 4 || args[3].kind !== ArgKind.BUF) this.fail(s, i, 'post 3 needs argument 3 to be a buffer');
            this.use('aio');
            body.push(...this.took(args), `aio_events(t, ${s}, ${i}, r, ${args[3].slot}, ${lit(args[3].value)});`);
            comment += ', io_events recorded';
            break;
          case Post.AIO_WAIT:
          case Post.AIO_WAIT_TOTAL: {
            // post 7 counts per ctx slot, so argument 0 is a CTX arg
            const total = post === Post.AIO_WAIT_TOTAL;
            if (nr !== SYSCALLS.io_getevents || nargs < 5 || (total && args[0].kind !== ArgKind.CTX) || args[3].kind !== ArgKind.BUF || !(args[4].kind === ArgKind.BUF || (args[4].kind === ArgKind.IMM && args[4].value === 0n)))
              this.fail(s, i, total ? 'post 7 needs io_getevents on a ctx argument with buffers for its events and timeout' : 'post 6 needs io_getevents with buffers for its events and timeout');
            this.use('aio');
            body.push(`r = aio_wait_rest(t, &o, a, r);`, ...this.took(args), `aio_events(t, ${s}, ${i}, r, ${args[3].slot}, ${lit(args[3].value)});`);
            comment += total
              ? ', until min_nr io_events were taken from the ctx in all (called again when cut short), io_events recorded'
              : ', called again until min_nr events (EINTR), io_events recorded';
            break;
          }
          default:
            this.fail(s, i, `unknown post ${post}`);
        }
        return { comment, body, stop: fin };
      }
      case Op.PATCH: {
        need(32);
        const [b, off, width] = [u32(0), u32(4), u32(8)];
        if (![1, 2, 4, 8].includes(width)) this.fail(s, i, `width ${width}`);
        this.checkRange(s, i, b, off, width);
        const r = this.arg(s, i, readArg(pl, 16));
        return {
          comment: `PATCH buf${b}[${off}] (${width} bytes) = ${r.text}`,
          body: [...(r.need ? [r.need] : []), `uint64_t v = (uint64_t)${r.expr};`, `memcpy(buf[${b}] + ${off}, &v, ${width});`, 'o.ret = (int64_t)v;'],
        };
      }
      case Op.BYTES: {
        need(16);
        const [b, off, n] = [u32(0), u32(4), u32(8)];
        need(16 + n);
        this.checkRange(s, i, b, off, n);
        const data = pl.subarray(16, 16 + n);
        if (off === 0) this.known.set(b, Buffer.from(data));
        return { comment: `BYTES ${n} literal bytes into buf${b}[${off}]`, body: bytesBody(b, off, data) };
      }
      case Op.FILL: {
        need(32);
        const [b, off, n, kind] = [u32(0), u32(4), u32(8), u32(12)];
        const seed = pl.readBigUInt64LE(16);
        const pos = pl.readBigUInt64LE(24);
        this.checkRange(s, i, b, off, n);
        if (kind === FillKind.PATTERN) {
          this.use('pattern');
          return {
            comment: `FILL buf${b}[${off}, +${n}) with pattern seed 0x${seed.toString(16)} from position ${pos}`,
            body: [`fill_pattern(buf[${b}] + ${off}, ${n}, 0x${seed.toString(16)}ull, ${pos}ull);`],
          };
        }
        if (kind > 2) this.fail(s, i, `fill kind ${kind}`);
        const byte = kind === FillKind.BYTE ? Number(seed & 0xffn) : 0;
        return { comment: `FILL buf${b}[${off}, +${n}) with byte 0x${byte.toString(16)}`, body: [`memset(buf[${b}] + ${off}, 0x${byte.toString(16)}, ${n});`] };
      }
      case Op.DIGEST:
      case Op.DUMP: {
        need(16);
        const [b, off, n] = [u32(0), u32(4), u32(8)];
        this.checkRange(s, i, b, off, n);
        if (st.op === Op.DUMP && n > LIMITS.dumpBytes) this.fail(s, i, `dump of ${n} bytes`);
        const fn = st.op === Op.DIGEST ? 'digest' : 'dump';
        this.use(fn);
        return { comment: `${st.opName} buf${b}[${off}, +${n})`, body: [`${fn}(t, ${s}, ${i}, buf[${b}] + ${off}, ${n});`] };
      }
      case Op.VERIFY: {
        need(32);
        const [b, off, n] = [u32(0), u32(4), u32(8)];
        const seed = pl.readBigUInt64LE(16);
        const pos = pl.readBigUInt64LE(24);
        this.checkRange(s, i, b, off, n);
        this.use('pattern');
        return {
          comment: `VERIFY buf${b}[${off}, +${n}) against pattern seed 0x${seed.toString(16)} from position ${pos}`,
          body: [`verify(t, ${s}, ${i}, &o, ${b}, ${off}, ${n}, 0x${seed.toString(16)}ull, ${pos}ull);`],
        };
      }
      case Op.SETSLOT: {
        need(24);
        const [kind, slot] = [u32(0), u32(4)];
        const r = this.arg(s, i, readArg(pl, 8));
        const body = [...(r.need ? [r.need] : []), `uint64_t v = (uint64_t)${r.expr};`];
        if (kind === SlotKind.FD) {
          this.checkSlot(s, i, slot, LIMITS.fds, 'fd');
          body.push(`fd[${slot}] = (int64_t)v, fd_set_[${slot}] = 1;`);
        } else if (kind === SlotKind.CTX) {
          this.checkSlot(s, i, slot, LIMITS.ctxs, 'ctx');
          body.push(`ctx[${slot}] = v, ctx_set[${slot}] = 1${this.totals ? `, ctx_taken[${slot}] = 0` : ''};`);
          if (this.totals) this.use('aio');
        } else if (kind === SlotKind.PID) {
          this.checkSlot(s, i, slot, LIMITS.pids, 'pid');
          body.push(`pid[${slot}] = (int64_t)v, pid_set[${slot}] = 1, pid_own[${slot}] = 0;`);
        } else this.fail(s, i, `slot kind ${kind}`);
        body.push('o.ret = (int64_t)v;');
        const what = ['', 'fd', 'ctx', 'pid'][kind];
        return { comment: `SETSLOT ${what}${slot} = ${r.text}`, body };
      }
      case Op.URING_SETUP: {
        need(16);
        const [ring, entries, pbuf] = [u32(0), u32(4), u32(8)];
        this.checkSlot(s, i, ring, LIMITS.rings, 'ring');
        this.checkRange(s, i, pbuf, 0, 120);
        this.use('ring');
        return {
          comment: `URING_SETUP ring${ring}: io_uring_setup(entries=${entries}, buf${pbuf}), then map SQ, CQ and SQEs`,
          body: [`if (ring_setup(t, ${s}, ${i}, &o, ${ring}, ${entries}, buf[${pbuf}])) return;`],
          stop: fin,
        };
      }
      case Op.URING_QUEUE: {
        need(16);
        const [ring, b, off, count] = [u32(0), u32(4), u32(8), u32(12)];
        this.checkSlot(s, i, ring, LIMITS.rings, 'ring');
        this.checkRange(s, i, b, off, 64 * count);
        this.use('ring');
        return {
          comment: `URING_QUEUE ring${ring}: ${count} SQEs from buf${b}[${off}]${this.sqeSummary(b, off, count)}`,
          body: [`if (ring_queue(t, ${s}, ${i}, &o, ${ring}, ${b}, ${off}, ${count})) return;`],
          stop: fin,
        };
      }
      case Op.URING_REAP: {
        need(16);
        const [ring, min, max, waitms] = [u32(0), u32(4), u32(8), u32(12)];
        this.checkSlot(s, i, ring, LIMITS.rings, 'ring');
        if (!(min & REAP_MIN_TOTAL) && min > max) this.fail(s, i, `min ${min} > max ${max}`);
        this.use('ring');
        return {
          comment:
            min & REAP_MIN_TOTAL
              ? `URING_REAP ring${ring}: wait up to ${waitms} ms until ${(min & ~REAP_MIN_TOTAL) >>> 0} CQEs were reaped from the ring in all`
              : `URING_REAP ring${ring}: take up to ${max} CQEs, waiting up to ${waitms} ms for ${min}`,
          body: [`if (ring_reap(t, ${s}, ${i}, &o, ${ring}, ${min}, ${max}, ${waitms})) return;`],
          stop: fin,
        };
      }
      case Op.URING_STATE: {
        need(8);
        const ring = u32(0);
        this.checkSlot(s, i, ring, LIMITS.rings, 'ring');
        this.use('ring');
        return { comment: `URING_STATE ring${ring}: head, tail, flag and overflow words`, body: [`if (ring_state(t, ${s}, ${i}, ${ring})) return;`] };
      }
      case Op.URING_CLOSE: {
        need(8);
        const ring = u32(0);
        this.checkSlot(s, i, ring, LIMITS.rings, 'ring');
        this.use('ring');
        return {
          comment: `URING_CLOSE ring${ring}: unmap and close`,
          body: [`if (!ring[${ring}].used) { step_error(t, ${s}, ${i}, "ring ${ring} is not set up"); return; }`, `ring_close(&ring[${ring}], &o);`],
          stop: fin,
        };
      }
      case Op.FORK: {
        need(8);
        const [seq, slot] = [u32(0), u32(4)];
        if (seq >= this.p.seqs.length) this.fail(s, i, `sequence ${seq} out of range`);
        this.checkSlot(s, i, slot, LIMITS.pids, 'pid');
        this.use('fork');
        return { comment: `FORK: the child runs sequence ${seq}, its pid goes to pid${slot}`, body: [`do_fork(&o, seq_${seq}, ${slot});`], stop: fin };
      }
      case Op.WAIT: {
        need(8);
        const [slot, waitms] = [u32(0), u32(4)];
        this.checkSlot(s, i, slot, LIMITS.pids, 'pid');
        this.use('fork');
        return { comment: `WAIT for pid${slot}, up to ${waitms || 'the program deadline'} ms`, body: [`if (do_wait(t, ${s}, ${i}, &o, ${slot}, ${waitms})) return;`], stop: fin };
      }
      case Op.THREADS: {
        need(8);
        const [n, waitms] = [u32(0), u32(4)];
        if (n < 1 || n > LIMITS.threads) this.fail(s, i, `${n} threads`);
        need(8 + 4 * n);
        const seqs = Array.from({ length: n }, (_, k) => u32(8 + 4 * k));
        for (const q of seqs) if (q >= this.p.seqs.length) this.fail(s, i, `sequence ${q} out of range`);
        this.use('threads');
        return {
          comment: `THREADS: sequences ${seqs.join(', ')} on ${n} threads, joined within ${waitms || 'the program deadline'} ms`,
          body: [`static void (*const seqs[])(struct thr *) = {${seqs.map((q) => `seq_${q}`).join(', ')}};`, `do_threads(&o, seqs, ${n}, ${waitms});`],
          stop: fin,
        };
      }
      case Op.SLEEP: {
        need(8);
        const ns = pl.readBigUInt64LE(0);
        return {
          comment: `SLEEP ${Number(ns) / 1e6} ms`,
          body: [
            `struct timespec ts = {${ns / 1_000_000_000n}, ${ns % 1_000_000_000n}};`,
            'arm(t, deadline);',
            'set_ret(&o, sys(__NR_clock_nanosleep, CLOCK_MONOTONIC, 0, (long)&ts, 0, 0, 0));',
            'if (now_ns() >= deadline) o.flags |= F_DEADLINE;',
          ],
          stop: fin,
        };
      }
      case Op.EXIT: {
        need(8);
        const [code, group] = [u32(0), u32(4)];
        if (group > 1) this.fail(s, i, `exit group ${group}`);
        const nr = group ? SYSCALLS.exit_group : SYSCALLS.exit;
        return {
          comment: `EXIT ${group ? 'exit_group' : 'exit'}(${code})`,
          body: ['disarm(t); // a dead thread\'s timer must not signal the rest of the process', `sys(${this.nr(nr)}, ${code}, 0, 0, 0, 0, 0);`],
        };
      }
    }
    throw new UnsupportedStepError(`C reproducer: step kind ${OP_NAME[st.op] ?? st.opName}${st.libcFn ? ` (${st.libcFn})` : ''} (step ${i} of sequence ${s}) is not supported`);
  }

  private reachable(): number[] {
    const seen = new Set<number>([0]);
    const todo = [0];
    while (todo.length) {
      const s = todo.pop()!;
      for (const st of this.p.seqs[s]) {
        const next: number[] = [];
        if (st.op === Op.FORK && st.payload.length >= 4) next.push(st.payload.readUInt32LE(0));
        if (st.op === Op.THREADS && st.payload.length >= 8)
          for (let k = 0; k < st.payload.readUInt32LE(0) && 8 + 4 * k + 4 <= st.payload.length; k++) next.push(st.payload.readUInt32LE(8 + 4 * k));
        for (const q of next) if (q < this.p.seqs.length && !seen.has(q)) seen.add(q), todo.push(q);
      }
    }
    return [...seen].sort((a, b) => a - b);
  }

  private sequence(s: number): string[] {
    const steps = this.p.seqs[s];
    const out = [`/* sequence ${s}${s === 0 ? ': the main one' : ''} */`, `static void seq_${s}(struct thr *t)`, '{'];
    if (steps.length) out.push('\tstruct res o;');
    steps.forEach((st, i) => {
      const { comment, body, stop } = this.step(s, i, st);
      out.push('', `\t/* step ${i}: ${comment.replace(/\*\//g, '* /')} */`, `\tif (!begin(${s}, ${i}, &o)) return;`);
      if (body.length) out.push('\t{', ...body.map((l) => (l.startsWith('\t') ? '\t\t' + l : `\t\t${l}`)), '\t}');
      out.push(`\tif (finish(t, ${s}, ${i}, &o, ${stop ? 1 : 0})) return;`);
    });
    out.push('}');
    return out;
  }

  emit(): string {
    const seqs = this.reachable();
    // Steps first: they decide which runtime sections and syscall numbers the file needs.
    const bodies = seqs.map((s) => this.sequence(s).join('\n'));
    const order: Section[] = ['core', 'res', 'pattern', 'digest', 'dump', 'aio', 'ring', 'fork', 'threads'];
    if (this.sections.has('ring')) for (const n of ['io_uring_setup', 'io_uring_enter', 'io_uring_register', 'close'] as const) this.nrs.set(n, SYSCALLS[n]);
    const includes = [...INCLUDES, ...(this.sections.has('threads') ? ['pthread.h'] : [])];
    const bufs = this.p.bufs;
    const lines = [
      '// kasync C reproducer, generated from a wire program by src/repro/csource.ts.',
      `// Build: gcc ${REPRO_CFLAGS.join(' ')} -o repro repro.c`,
      '// Runs the program\'s steps the way kasync-exec does (native/exec.c) and prints one line per event:',
      '//   STEP seq step proc ret errno flags t0_ns t1_ns ret2     (flags: 1 deadline, 2 refused)',
      '//   CQE seq step proc user_data res flags [big0 big1]',
      '//   EVENT seq step proc data obj res res2',
      '//   DIGEST seq step proc fnv1a64-hex n | DUMP seq step proc n hex | VERIFY seq step proc mismatches first',
      '//   RING seq step proc sq_head sq_tail cq_head cq_tail sq_flags cq_flags cq_overflow sq_dropped sq_entries cq_entries',
      '//   ERROR seq step proc message | STATUS deadline|error message | END (the main sequence finished)',
      '#define _GNU_SOURCE',
      ...includes.map((h) => `#include <${h}>`),
      '',
      '// The runtime carries helpers a program may not use.',
      '#pragma GCC diagnostic ignored "-Wunused-function"',
      '',
      ...[...this.nrs].sort((a, b) => a[1] - b[1]).map(([n, v]) => `#ifndef __NR_${n}\n#define __NR_${n} ${v}\n#endif`),
      ...order.filter((x) => this.sections.has(x)).map((x) => SECTIONS[x].trimEnd()),
      '',
      '#define BUF(b, off) ((long)((uintptr_t)buf[b] + (uint64_t)(off)))',
      '#define FD(n) (fd_set_[n] ? (long)fd[n] : -1L)',
      '#define BAD(off) ((long)((uintptr_t)bad_page + (off)))',
      '',
      '// ---- the program ---------------------------------------------------------------------------',
      '',
      `static const uint32_t buf_sizes[] = {${bufs.length ? bufs.map((b) => b.size).join(', ') : '0'}};`,
      `static const uint32_t buf_aligns[] = {${bufs.length ? bufs.map((b) => b.align).join(', ') : '0'}};`,
      '',
      ...seqs.map((s) => `static void seq_${s}(struct thr *t);`),
      '',
      bodies.join('\n\n'),
      '',
      'int main(void)',
      '{',
      `\tsetup(${this.p.deadlineMs}, buf_sizes, buf_aligns, ${bufs.length}); // deadline in ms, buffers`,
      '\tstruct thr t = {0, -1, 0, seq_0};',
      '\tseq_0(&t);',
      '\tteardown();',
      '\tdisarm(&t);',
      '\tout("END\\n");',
      '\treturn 0;',
      '}',
      '',
    ];
    return lines.join('\n');
  }
}

/**
 * Emit a standalone C reproducer of an encoded program: `gcc -O1 -static -Wall -Werror -pthread` builds
 * it; run, it prints the events {@link parseReproOutput} turns back into a Trace. Throws
 * {@link UnsupportedStepError} naming a step kind it cannot express (never drops a step), and
 * {@link InvalidProgramError} for a program the executor would reject.
 */
export function programToC(wire: Buffer): string {
  return new Emitter(decodeProgram(wire)).emit();
}
