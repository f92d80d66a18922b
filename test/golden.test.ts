/**
 * The fast paths of the builder, the struct encoder, the trace decoder and the stream oracle change no
 * byte and no value: wire bytes, plans and ledger records of a fixed corpus of programs, decoded
 * traces, and the oracle's verdicts on simulated traces all hash to digests taken before they were
 * made fast. A digest changes when any encoded byte or decoded value does; a deliberate change to the
 * wire format or the oracle updates the digest in the same commit, with the reason.
 */
import { expect } from 'chai';
import { createHash } from 'crypto';
import fc from 'fast-check';
import { buildStream, Built } from '../fuzz/build';
import { AIO_OPS, FILE_WORDS, StreamModel, streamArb, URING_OPS } from '../fuzz/model';
import { judge, outcomeClasses } from '../fuzz/oracle';
import { errno, IO_URING_PARAMS_LAYOUT, IOSQE, KERNEL_TIMESPEC_LAYOUT, SETUP } from '../src/abi';
import { aioDestroy, aioGetevents, aioPgetevents, aioSetup, aioSubmit, aioSubmitsOf, iocb } from '../src/program/aio';
import { arg, Program, resealProgram } from '../src/program/builder';
import { decodeProgram } from '../src/program/decode';
import { patternBytes, prng } from '../src/program/pattern';
import { aiocb, aiocbList, lioListio, placeSigevent } from '../src/program/posix-aio';
import { encodeStruct } from '../src/program/struct';
import { pipe2, readSmallFile, scratchFile } from '../src/program/sys';
import { decodeTrace } from '../src/program/trace';
import { enter, reap, setupRing, sqe, submit, uringSubmitsOf } from '../src/program/uring';
import { Rec, RECORD_HEADER, TRACE_HEADER, TRACE_MAGIC } from '../src/program/wire';

/**
 * Digests taken with the code before the fast paths (commit 3301717); retaken when the fuzz streams
 * widened (ring kinds, fixed files, cancel modes, POLL_REMOVE, dupPipe, threads, multishot polls: new
 * models, plans and verdicts); retaken again when they widened to registered and provided buffers,
 * FILES_UPDATE, alias fds closed under requests, forked children and io_getevents retried (post 6); the
 * wire digest again when the final drain of a ring became a REAP_MIN_TOTAL reap (plans and verdicts unchanged);
 * all four when the final drain of an AIO context became a post-7 wait for the total, made whenever anything
 * was submitted to the context (new steps: new wires, plans, simulated traces and verdicts);
 * the plans and decoded digests again when UringReq and StepResult objects got every optional field present
 * (undefined) for one hidden class each: canon keeps undefined members; without them both digests are
 * unchanged (wire and verdicts unchanged).
 */
const GOLDEN = {
  wire: '7acf577f388a0ee4be366ba16c8e9bf1149f4b16043b9d133a9cbbf792867f5b',
  plans: 'ed249f9ff1f9eea1e039113e5064aa6c97ad36746270b5fa480b639582549a7b',
  decoded: '1cb311293977670a726f9738e89765a34e861144e2d5421e28ab81656913303e',
  verdicts: '83f0d9568fa95a177f0ef5133694cca466d97d0d8ecbf09e5901d79b0bf74590',
};

/** A canonical text of a value: keys sorted, `undefined` members kept, bigints and Buffers spelled out. */
function canon(v: unknown): string {
  if (typeof v === 'bigint') return `${v}n`;
  if (v === undefined) return 'undefined';
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
  if (Buffer.isBuffer(v)) return `<${v.toString('hex')}>`;
  if (v instanceof Map) return `Map[${[...v].map(([k, x]) => `${canon(k)}=${canon(x)}`).join(',')}]`;
  if (v instanceof Set) return `Set[${[...v].map(canon).join(',')}]`;
  if (Array.isArray(v)) return `[${v.map(canon).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${k}:${canon(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

const sha = (parts: (string | Buffer)[]): string => {
  const h = createHash('sha256');
  for (const p of parts) h.update(typeof p === 'string' ? p : p).update('\0');
  return h.digest('hex');
};

/** Fuzzer models: the programs whose speed matters. */
function models(): StreamModel[] {
  const ops = { uring: [...URING_OPS], aio: [...AIO_OPS] };
  return [
    ...fc.sample(streamArb(ops, { minSteps: 20, maxSteps: 20 }), { seed: 7, numRuns: 150 }),
    ...fc.sample(streamArb(ops, { minSteps: 1, maxSteps: 60 }), { seed: 8, numRuns: 100 }),
    ...fc.sample(streamArb({ uring: [...URING_OPS], aio: [] }), { seed: 9, numRuns: 25 }),
    ...fc.sample(streamArb({ uring: [], aio: [...AIO_OPS] }), { seed: 10, numRuns: 25 }),
  ];
}

/** Hand-written programs over every builder call, with values at the edges (negative, past 2^53, 2^64-1). */
function handPrograms(): Program[] {
  const out: Program[] = [];
  const big: (number | bigint)[] = [0, 1, -1, 0x7fffffff, 0xffffffff, 2 ** 32, 2 ** 53 - 1, -(2 ** 53) + 1, 2 ** 60];
  big.push(2n ** 63n, 2n ** 64n - 1n, -5n, 123456789012345678n);

  const p1 = new Program({ deadlineMs: 1234, traceCap: 1 << 20 });
  const s = p1.main;
  const b = p1.buf(4096, 4096);
  const b2 = p1.buf(100);
  const fd = p1.fd();
  for (const v of big) s.syscall(39, [v, arg.imm(v), arg.buf(b, v), arg.res(v), arg.bad(7), arg.load32(b2, 12)]);
  s.syscall(0, [], { stopOnError: true });
  const handles = [arg.fd(fd), arg.ring(p1.ring()), arg.ctx(p1.ctx()), arg.pid(p1.pid())];
  s.syscall(1, [...handles, arg.ringmem({ kind: 'ring', slot: 3 }, 2, 0x1234), arg.notify()], { fd });
  s.syscall(2, [arg.load64(b2, 8)], { store: b2 });
  s.syscall(3, [1, 2, 3], { aioEvents: true });
  s.syscall(4, [1], { pid: p1.pid() });
  for (const w of [1, 2, 4, 8] as const) for (const v of big) s.patch(b2, 3, w, v);
  for (let n = 0; n < 20; n++) s.bytes(b2, n, Buffer.from(Array.from({ length: n }, (_, i) => (i * 37 + n) & 0xff)));
  s.fillPattern(b, 8, 100, 0xffffffff, 2 ** 40);
  s.fillByte(b, 0, 10);
  s.fillByte(b, 0, 10, 0xab);
  s.digest(b);
  s.digest(b2, 5, 7);
  s.dump(b2);
  s.verify(b, 1, 2, 3, 4);
  s.setSlot(fd, arg.load32(b2, 0));
  s.setSlot(p1.ctx(), 77n);
  s.setSlot(p1.pid(), -1);
  s.sleep(0.3333);
  s.sleep(1500);
  const flags = SETUP.SQE128.value | SETUP.CQSIZE.value;
  const ring = setupRing(s, { entries: 8, flags, cqEntries: 64, sqThreadIdle: 10, sqThreadCpu: 1 });
  const ring2 = setupRing(s, { wq: ring.ring });
  s.uringState(ring.ring);
  const nop = sqe({ opcode: 'NOP', user_data: 2n ** 64n - 1n, flags: IOSQE.IO_LINK.value }, 128);
  submit(s, ring, [nop, sqe({ opcode: 9, fd, addr: arg.buf(b, 64), off: -1, len: 4096, user_data: 2 ** 53 + 2 }, 128)], 2);
  // aliases of one union (off/addr2, rw_flags/poll_events): the later field wins, as in spec order
  const aliased = { addr2: 7, off: 9, rw_flags: -1, poll_events: 0xffff, buf_index: 3, personality: 70000 };
  submit(s, ring2, [sqe({ opcode: 'READ', fd: 5, ...aliased, splice_fd_in: arg.fd(fd) })]);
  submit(s, ring2, []);
  enter(s, ring2, 1, 2, 3, arg.buf(b), 16);
  reap(s, ring, 1);
  reap(s, ring, 2, 9, 0);
  s.uringClose(ring.ring);
  out.push(p1);

  const p2 = new Program();
  const m = p2.main;
  const { ctx, id } = aioSetup(m, 128);
  const f = scratchFile(m, '/tmp/some dir', 'name').fd;
  const pipe = pipe2(m, 0o2000000);
  const cbs = [
    iocb({ opcode: 'PREAD', fd: f, aio_buf: arg.buf(p2.buf(64)), aio_nbytes: 64, aio_offset: -4096, aio_data: 2n ** 64n - 2n }),
    iocb({ opcode: 'PWRITE', fd: pipe.w, resfd: pipe.r, aio_flags: 1, aio_reqprio: -3, aio_rw_flags: -1, aio_data: arg.buf(p2.buf(8)) }),
    iocb({ opcode: 7, fd: 99, aio_key: 5, aio_reserved2: 2 ** 53 + 4, aio_data: 3 }),
    iocb({ opcode: 'POLL', fd: pipe.r, aio_buf: 1, resfd: 4 }),
  ];
  aioSubmit(m, ctx, cbs);
  aioSubmit(m, id, cbs.slice(1), 5, { store: p2.buf(8) });
  aioSubmit(m, 0, []);
  aioGetevents(m, ctx, 1, 4);
  aioGetevents(m, ctx, arg.load32(p2.buf(8), 0), 2, null);
  aioGetevents(m, ctx, 0, 0, 1.5e9 + 7);
  aioPgetevents(m, ctx, 1, 2, 0, arg.buf(p2.buf(16)));
  aioDestroy(m, ctx);
  aioDestroy(m, id);
  readSmallFile(m, '/proc/sys/fs/aio-max-nr');
  out.push(p2);

  const p3 = new Program({ deadlineMs: 99 });
  const child = p3.seq();
  const threads = [p3.seq(), p3.seq(), p3.seq()];
  const pid = p3.pid();
  p3.main.fork(child, pid);
  child.exit(3, false);
  threads.forEach((t, i) => t.syscall(39 + i, [i]));
  p3.main.threads(threads, 500);
  p3.main.wait(pid, 1000);
  const cb = p3.buf(160);
  const list = aiocbList(p3.main, [cb, null]);
  const sev = placeSigevent(p3.main, { kind: 'thread', value: arg.buf(cb, 4) });
  lioListio(p3.main, 0, list, 2, sev);
  p3.main.libc('aio_error', [arg.buf(cb)]);
  p3.main.sigCount(12);
  p3.main.exit(1);
  const notify = { kind: 'signal', signo: 34, value: 2 ** 33 } as const;
  const raw = aiocb({ fd: 3, buf: arg.buf(cb), nbytes: 10, offset: 2n ** 62n, opcode: 'WRITE', reqprio: -1, notify });
  p3.main.bytes(cb, 0, raw.bytes);
  const ts = encodeStruct(KERNEL_TIMESPEC_LAYOUT, { tv_sec: -1, tv_nsec: 999999999 });
  const params = encodeStruct(IO_URING_PARAMS_LAYOUT, { flags: 0xffffffff, 'sq_off.user_addr': 2n ** 64n - 1n }, 200);
  p3.main.bytes(cb, 0, Buffer.concat([ts.bytes, params.bytes]));
  out.push(p3);
  return out;
}

function builtCorpus(): Built[] {
  return models().map((m, i) => buildStream(m, { dir: `/scratch/golden-${i % 3}`, slowdown: 1 + (i % 4) / 2 }));
}

/** Trace bytes from records, as the executor writes them. */
/** One trace record. */
interface Record_ {
  type: number;
  seq: number;
  step: number;
  proc: number;
  payload: Buffer;
}

function traceBytes(records: Record_[], status = 0, msg = ''): Buffer {
  const m = Buffer.from(msg);
  const mlen = (m.length + 7) & ~7;
  let len = TRACE_HEADER + mlen;
  for (const r of records) len += RECORD_HEADER + r.payload.length;
  const b = Buffer.alloc(len);
  b.writeUInt32LE(TRACE_MAGIC, 0);
  b.writeUInt16LE(1, 4);
  b.writeUInt16LE(status, 6);
  b.writeUInt32LE(len, 8);
  b.writeUInt32LE(records.length, 12);
  b.writeInt32LE(-1, 16);
  b.writeUInt32LE(m.length, 20);
  m.copy(b, TRACE_HEADER);
  let o = TRACE_HEADER + mlen;
  for (const r of records) {
    b.writeUInt16LE(r.type, o);
    b.writeUInt16LE(r.seq, o + 2);
    b.writeUInt16LE(r.step, o + 4);
    b.writeUInt16LE(r.proc, o + 6);
    b.writeUInt32LE(r.payload.length, o + 8);
    r.payload.copy(b, o + RECORD_HEADER);
    o += RECORD_HEADER + r.payload.length;
  }
  return b;
}

function stepRec(step: number, ret: number, t0: number, t1: number, deadline = false) {
  const p = Buffer.alloc(40);
  p.writeBigInt64LE(BigInt(ret), 0);
  p.writeInt32LE(ret < 0 ? -ret : 0, 8);
  p.writeUInt32LE(deadline ? 1 : 0, 12);
  p.writeBigUInt64LE(BigInt(t0), 16);
  p.writeBigUInt64LE(BigInt(t1), 24);
  return { type: Rec.STEP, seq: 0, step, proc: 0, payload: p };
}

/**
 * A trace the kernel might have produced for a fuzz program: mostly lawful, sometimes not (a short
 * batch, a wrong result, a duplicate or stranger completion, a torn file word), so the oracle's
 * verdicts cover passing runs and most failure titles.
 */
function simulate(b: Built, rnd: () => number): Buffer {
  const { plan } = b;
  const nsteps = decodeProgram(b.program.encode()).seqs[0].length;
  const recs: Record_[] = [];
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  const odd = (p: number) => rnd() < p;
  const inflightU = new Map<number, number[]>();
  const inflightA = new Map<number, number[]>();
  const files = Array.from({ length: plan.files }, (_, f) => patternBytes(plan.fileSeeds[f], 0, FILE_WORDS * 8));
  const E = errno;
  let t = 1_000_000;
  for (let i = 0; i < nsteps; i++) {
    const st = plan.steps.get(i);
    const t0 = t;
    t += Math.floor(rnd() * 3_000_000);
    let ret = 0;
    let deadline = false;
    if (!st) ret = odd(0.003) ? -E.ENOENT : 3;
    else if (st.kind === 'queue') ret = st.reqs.length - (odd(0.02) ? 1 : 0);
    else if (st.kind === 'enter') {
      ret = odd(0.02) ? -E.EBUSY : st.reqs.length;
      if (ret > 0) inflightU.set(st.ring, [...(inflightU.get(st.ring) ?? []), ...st.reqs]);
    } else if (st.kind === 'reap') {
      const q = inflightU.get(st.ring) ?? [];
      const n = Math.min(st.want, q.length) - (odd(0.02) ? 1 : 0);
      const cqes: Buffer[] = [];
      for (let k = 0; k < n; k++) {
        const id = q.splice(odd(0.7) ? 0 : Math.floor(rnd() * q.length), 1)[0];
        const r = plan.uring[id];
        const domain: Record<string, number[]> = {
          NOP: [0, 0, -E.ECANCELED],
          READ: [r.len, r.len, -E.ECANCELED, -E.EINTR, r.len - 8],
          WRITE: [r.len, r.len, -E.ECANCELED, 3],
          FSYNC: [0, -E.EINTR, -E.EIO],
          POLL_ADD: [1, -E.ECANCELED, 0],
          ASYNC_CANCEL: [0, -E.ENOENT, -E.EALREADY, -E.ECANCELED, -E.EINVAL],
          TIMEOUT: [0, -E.ETIME, -E.ECANCELED],
          LINK_TIMEOUT: [-E.ETIME, -E.EALREADY, -E.ENOENT, -E.ECANCELED, 0],
          POLL_REMOVE: [0, -E.ENOENT, -E.EALREADY, -E.ECANCELED],
          READ_FIXED: [r.len, r.len, -E.EFAULT, -E.ECANCELED],
          WRITE_FIXED: [r.len, -E.EFAULT, -E.ECANCELED],
          FILES_UPDATE: [1, -E.ENXIO, 0],
          PROVIDE_BUFFERS: [0, 0, -E.ECANCELED],
          REMOVE_BUFFERS: [0, 1, -E.ENOENT, 5],
        };
        const res = pick(domain[r.op]);
        if ((r.op === 'WRITE' || r.op === 'WRITE_FIXED') && res === r.len) patternBytes(r.seed, r.off, r.len).copy(files[r.file], r.off);
        const c = Buffer.alloc(16);
        c.writeBigUInt64LE(odd(0.01) ? 0xfeedn : BigInt(r.userData), 0);
        c.writeInt32LE(res, 8);
        c.writeUInt32LE(odd(0.02) ? 2 : 0, 12);
        cqes.push(c);
        if (odd(0.01)) cqes.push(c);
      }
      const head = Buffer.alloc(8);
      head.writeUInt32LE(cqes.length, 0);
      head.writeUInt32LE(16, 4);
      if (cqes.length) recs.push({ type: Rec.CQE, seq: 0, step: i, proc: 0, payload: Buffer.concat([head, ...cqes]) });
      ret = cqes.length;
      if (n < st.want) t = t0 + st.waitMs * 1_000_000 + (odd(0.5) ? 1 : -1000);
      deadline = odd(0.5);
    } else if (st.kind === 'aioSubmit') {
      ret = st.reqs.length - (odd(0.02) ? 1 : 0);
      inflightA.set(st.ctx, [...(inflightA.get(st.ctx) ?? []), ...st.reqs.slice(0, ret)]);
    } else if (st.kind === 'aioReap') {
      const q = inflightA.get(st.ctx) ?? [];
      const n = Math.min(st.want, q.length);
      const evs: Buffer[] = [];
      for (let k = 0; k < n; k++) {
        const id = q.splice(odd(0.8) ? 0 : Math.floor(rnd() * q.length), 1)[0];
        const r = plan.aio[id];
        const res = odd(0.03) ? -E.EINVAL : r.op === 'POLL' ? pick([1, 0]) : r.op === 'FSYNC' ? 0 : r.len;
        if (r.op === 'PWRITE' && res === r.len) patternBytes(r.seed, r.off, r.len).copy(files[r.file], r.off);
        const e = Buffer.alloc(32);
        e.writeBigUInt64LE(BigInt(r.data), 0);
        e.writeBigUInt64LE(0x7f0000001000n + BigInt(64 * k), 8);
        e.writeBigInt64LE(BigInt(res), 16);
        e.writeBigInt64LE(odd(0.02) ? 1n : 0n, 24);
        evs.push(e);
      }
      if (evs.length) recs.push({ type: Rec.AIO_EVENT, seq: 0, step: i, proc: 0, payload: Buffer.concat(evs) });
      ret = odd(0.01) ? -E.EINTR : evs.length;
    } else if (st.kind === 'aioCancel') ret = pick([-E.EINVAL, -E.EINVAL, -E.EINPROGRESS, -E.EAGAIN]);
    else if (st.kind === 'pipeWrite') ret = 1;
    else if (st.kind === 'dump') {
      const data = Buffer.from(files[st.file]);
      if (odd(0.03)) data.writeUInt32LE(0xbad, 8 * Math.floor(rnd() * FILE_WORDS) + 4);
      const head = Buffer.alloc(8);
      head.writeUInt32LE(data.length, 0);
      recs.push({ type: Rec.DUMP, seq: 0, step: i, proc: 0, payload: Buffer.concat([head, data]) });
    }
    recs.push(stepRec(i, ret, t0, t, deadline));
  }
  const error = Buffer.concat([Buffer.from([4, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('slot')]);
  if (odd(0.01)) recs.push({ type: Rec.ERROR, seq: 0, step: nsteps, proc: 0, payload: error });
  return traceBytes(recs, odd(0.02) ? 2 : 0, odd(0.5) ? 'deadline' : '');
}

/** Traces of every record type with random fields: 64-bit values past 2^53, negative ones, CQE32, records before their STEP. */
function randomTraces(rnd: () => number): Buffer[] {
  const u32 = () => Math.floor(rnd() * 2 ** 32);
  const word = (p: Buffer, o: number) => {
    const k = rnd();
    // small, around 2^53, or any 64 bits
    const hi = k < 0.5 ? 0 : k < 0.7 ? 0x1fffff + Math.floor(rnd() * 3) : k < 0.85 ? 0xffffffff - Math.floor(rnd() * 3) : u32();
    p.writeUInt32LE(u32(), o);
    p.writeUInt32LE(hi >>> 0, o + 4);
  };
  const out: Buffer[] = [];
  for (let n = 0; n < 60; n++) {
    const recs: Record_[] = [];
    const nrec = Math.floor(rnd() * 30);
    for (let r = 0; r < nrec; r++) {
      const type = 1 + Math.floor(rnd() * 8);
      let p: Buffer;
      if (type === Rec.STEP) {
        p = Buffer.alloc(40);
        for (const o of [0, 16, 24, 32]) word(p, o);
        p.writeInt32LE(Math.floor(rnd() * 200) - 100, 8);
        p.writeUInt32LE(Math.floor(rnd() * 4), 12);
      } else if (type === Rec.CQE) {
        const size = rnd() < 0.5 ? 16 : 32;
        const k = Math.floor(rnd() * 4);
        p = Buffer.alloc(8 + k * size);
        p.writeUInt32LE(k, 0);
        p.writeUInt32LE(size, 4);
        for (let o = 8; o < p.length; o += 8) word(p, o);
      } else if (type === Rec.AIO_EVENT) {
        p = Buffer.alloc(32 * (1 + Math.floor(rnd() * 3)));
        for (let o = 0; o < p.length; o += 8) word(p, o);
      } else if (type === Rec.DIGEST || type === Rec.VERIFY) {
        p = Buffer.alloc(16);
        word(p, 0);
        word(p, 8);
      } else if (type === Rec.RING_STATE) {
        p = Buffer.alloc(40);
        for (let o = 0; o < 40; o += 4) p.writeUInt32LE(u32(), o);
      } else {
        const k = Math.floor(rnd() * 20);
        p = Buffer.alloc(8 + ((k + 7) & ~7));
        p.writeUInt32LE(k, 0);
        for (let i = 0; i < k; i++) p[8 + i] = 0x41 + Math.floor(rnd() * 26);
      }
      recs.push({ type, seq: Math.floor(rnd() * 3), step: Math.floor(rnd() * 5), proc: Math.floor(rnd() * 3), payload: p });
    }
    out.push(traceBytes(recs, Math.floor(rnd() * 4), rnd() < 0.3 ? 'msg\0\0' : ''));
  }
  return out;
}

describe('golden: fast paths change no byte and no value', function () {
  this.timeout(120_000);
  const corpus = builtCorpus();
  const hand = handPrograms();

  it('wire bytes of fuzz and hand-written programs', () => {
    const wires = [...corpus.map((b) => b.program.encode()), ...hand.map((p) => p.encode())];
    expect(wires.some((w) => w.length > 4000), 'the corpus has long programs').to.equal(true);
    expect(sha(wires)).to.equal(GOLDEN.wire);
    // a reseal of an untouched program is the identity
    for (const w of wires.slice(0, 20)) expect(resealProgram(Buffer.from(w)).equals(w)).to.equal(true);
  });

  it('plans, ledger records and process-level marks', () => {
    const parts = [
      ...corpus.map((b) => canon(b.plan)),
      ...[...corpus.map((b) => b.program), ...hand].map((p) =>
        canon({ aio: aioSubmitsOf(p), uring: uringSubmitsOf(p), processLevel: p.processLevel }),
      ),
    ];
    expect(sha(parts)).to.equal(GOLDEN.plans);
  });

  it('decoded traces, simulated and random', () => {
    const rnd = prng(99);
    const traces = [...corpus.map((b) => simulate(b, rnd)), ...randomTraces(rnd)];
    expect(sha(traces.map((t) => canon(decodeTrace(t))))).to.equal(GOLDEN.decoded);
  });

  it("the oracle's verdicts and outcome classes on simulated traces", () => {
    const rnd = prng(99);
    const verdicts = corpus.map((b) => {
      const t = decodeTrace(simulate(b, rnd));
      return canon({ failures: judge(b.plan, t), classes: outcomeClasses(b.plan, t) });
    });
    const titles = new Set(corpus.flatMap((b, i) => [...verdicts[i].matchAll(/title:"([^"]*)"/g)].map((x) => x[1])));
    const passing = verdicts.filter((v) => v.includes('failures:[]')).length;
    // 19 to 26 of the 300 pass over prng seeds 1..11 and 99 (before the AIO drain change 20 to 26): 15 is well clear of both
    expect(passing, 'some runs pass').to.be.greaterThan(15);
    expect(titles.size, `the simulated faults reach many failure titles: ${[...titles].join(' | ')}`).to.be.greaterThan(30);
    expect(sha(verdicts)).to.equal(GOLDEN.verdicts);
  });
});
