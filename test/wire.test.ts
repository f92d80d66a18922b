/** Wire codec: programs encode and decode without loss; traces decode every record kind. */
import { expect } from 'chai';
import { arg, Program, resealProgram } from '../src/program/builder';
import { decodeProgram, ProgramFormatError } from '../src/program/decode';
import { fnv1a32, fnv1a64, programChecksum, fnv1a64Reference, patternBytes, tracePatternWord } from '../src/program/pattern';
import { decodeTrace, TraceFormatError } from '../src/program/trace';
import { ArgKind, DEADLINE_SIGNAL, LibcFn, Op, Post, Rec, TRACE_MAGIC } from '../src/program/wire';
import { aioSetup, aioWaitEvents, aioWaitUntilTotal } from '../src/program/aio';
import { SYSCALLS } from '../src/abi';

/** Build trace bytes by hand, as the executor would. */
function traceBytes(records: { type: number; seq?: number; step?: number; proc?: number; payload: Buffer }[], status = 0, msg = ''): Buffer {
  const m = Buffer.from(msg);
  const mpad = Buffer.alloc((m.length + 7) & ~7);
  m.copy(mpad);
  const recs = records.map((r) => {
    const h = Buffer.alloc(16);
    h.writeUInt16LE(r.type, 0);
    h.writeUInt16LE(r.seq ?? 0, 2);
    h.writeUInt16LE(r.step ?? 0, 4);
    h.writeUInt16LE(r.proc ?? 0, 6);
    h.writeUInt32LE(r.payload.length, 8);
    return Buffer.concat([h, r.payload]);
  });
  const body = Buffer.concat([mpad, ...recs]);
  const h = Buffer.alloc(32);
  h.writeUInt32LE(TRACE_MAGIC, 0);
  h.writeUInt16LE(1, 4);
  h.writeUInt16LE(status, 6);
  h.writeUInt32LE(32 + body.length, 8);
  h.writeUInt32LE(records.length, 12);
  h.writeInt32LE(-1, 16);
  h.writeUInt32LE(m.length, 20);
  return Buffer.concat([h, body]);
}

function stepPayload(ret: bigint, errno: number, flags = 0, ret2 = 0n): Buffer {
  const b = Buffer.alloc(40);
  b.writeBigInt64LE(ret, 0);
  b.writeInt32LE(errno, 8);
  b.writeUInt32LE(flags, 12);
  b.writeBigUInt64LE(5n, 16);
  b.writeBigUInt64LE(9n, 24);
  b.writeBigInt64LE(ret2, 32);
  return b;
}

describe('wire: programs', () => {
  it('encode then decode keeps every step, in order, per sequence', () => {
    const p = new Program({ deadlineMs: 1234 });
    const b = p.buf(4096, 4096);
    const fd = p.fd();
    const child = p.seq();
    p.main.fillPattern(b, 0, 4096, 7, 8192);
    p.main.syscall(17, [arg.fd(fd), arg.buf(b, 16), 4096, 0], { stopOnError: true });
    p.main.patch(b, 8, 8, arg.buf(b, 512));
    child.sleep(1);
    const wire = p.encode();
    const d = decodeProgram(wire);
    expect(d.deadlineMs).to.equal(1234);
    expect(d.bufs).to.deep.equal([{ size: 4096, align: 4096 }]);
    expect(d.seqs.map((s) => s.map((x) => x.opName))).to.deep.equal([['FILL', 'SYSCALL', 'PATCH'], ['SLEEP']]);
    expect(d.seqs[0][1].flags, 'STOP_ON_ERROR').to.equal(1);
    const sys = d.seqs[0][1].payload;
    expect(sys.readUInt32LE(0), 'syscall nr').to.equal(17);
    expect(sys.readUInt16LE(4), 'nargs').to.equal(4);
    expect(sys.readUInt32LE(16 + 16 + 8), 'arg 1 offset into the buffer').to.equal(16);
    expect(d.seqs[1][0].payload.readBigUInt64LE(0), 'sleep ns').to.equal(1_000_000n);
  });

  it('io_getevents waits encode post 6, and post 7 with the total as min_nr and the ctx as argument 0', () => {
    const p = new Program();
    const { ctx } = aioSetup(p.main, 4);
    const wait = aioWaitEvents(p.main, ctx, 2, 3, null);
    const total = aioWaitUntilTotal(p.main, ctx, 5, 13, null);
    const d = decodeProgram(p.encode());
    const field = (i: number) => {
      const pl = d.seqs[0][i].payload;
      return { nr: pl.readUInt32LE(0), post: pl.readUInt16LE(6), arg0: pl.readUInt32LE(16), min: pl.readBigUInt64LE(32 + 8), max: pl.readBigUInt64LE(48 + 8) };
    };
    expect(field(wait.index)).to.deep.equal({ nr: SYSCALLS.io_getevents, post: Post.AIO_WAIT, arg0: ArgKind.CTX, min: 2n, max: 3n });
    expect(field(total.index)).to.deep.equal({ nr: SYSCALLS.io_getevents, post: Post.AIO_WAIT_TOTAL, arg0: ArgKind.CTX, min: 5n, max: 13n });
  });

  it('every step is padded to 8 bytes, so odd literal lengths survive', () => {
    const p = new Program();
    const b = p.buf(16);
    p.main.bytes(b, 3, Buffer.from('hello'));
    const d = decodeProgram(p.encode());
    const pl = d.seqs[0][0].payload;
    expect(d.seqs[0][0].op).to.equal(Op.BYTES);
    expect(pl.length % 8).to.equal(0);
    expect(pl.subarray(16, 21).toString()).to.equal('hello');
  });

  it('a flipped byte fails the checksum; a truncated program fails the length check', () => {
    const p = new Program();
    p.main.bytes(p.buf(8), 0, Buffer.from('abcdefgh'));
    const wire = p.encode();
    const bad = Buffer.from(wire);
    bad[bad.length - 1] ^= 1;
    expect(() => decodeProgram(bad)).to.throw(ProgramFormatError, /checksum/);
    expect(() => decodeProgram(wire.subarray(0, wire.length - 8))).to.throw(ProgramFormatError, /bytes/);
    expect(() => decodeProgram(resealProgram(bad))).not.to.throw();
  });

  it('process-level steps mark the program for the child target', () => {
    const p = new Program();
    expect(p.processLevel).to.equal(false);
    p.main.syscall(39, []); // getpid: harmless
    expect(p.processLevel).to.equal(false);
    p.main.exit(0);
    expect(p.processLevel).to.equal(true);
    const q = new Program();
    q.main.syscall(117, [0, 0, 0]); // setresuid
    expect(q.processLevel).to.equal(true);
  });

  it('LIBC and SIGCOUNT steps and the NOTIFY arg round-trip, and mark the program process-level', () => {
    const p = new Program();
    const cb = p.buf(168);
    expect(p.processLevel).to.equal(false);
    p.main.libc('lio_listio', [1, arg.buf(cb, 8), 2, arg.notify()], { stopOnError: true });
    expect(p.processLevel, 'glibc starts threads: the child target').to.equal(true);
    const q = new Program();
    q.main.sigCount(35);
    expect(q.processLevel, 'a signal handler: the child target').to.equal(true);
    p.main.sigCount(35);
    const d = decodeProgram(p.encode());
    expect(d.seqs[0].map((x) => x.opName)).to.deep.equal(['LIBC', 'SIGCOUNT']);
    const [libc, sig] = d.seqs[0];
    expect([libc.op, libc.flags, libc.libcFn, libc.payload.length]).to.deep.equal([Op.LIBC, 1, 'lio_listio', 104]);
    expect(libc.payload.readUInt32LE(0), 'fn').to.equal(LibcFn.lio_listio);
    expect(libc.payload.readUInt16LE(4), 'nargs').to.equal(4);
    const argAt = (k: number) => [libc.payload.readUInt32LE(8 + 16 * k), libc.payload.readUInt32LE(12 + 16 * k), libc.payload.readBigUInt64LE(16 + 16 * k)];
    expect(argAt(0), 'mode: IMM 1').to.deep.equal([ArgKind.IMM, 0, 1n]);
    expect(argAt(1), 'list: BUF 0 + 8').to.deep.equal([ArgKind.BUF, 0, 8n]);
    expect(argAt(3), 'sigevent: NOTIFY').to.deep.equal([ArgKind.NOTIFY, 0, 0n]);
    expect(argAt(4), 'unused args are IMM 0').to.deep.equal([ArgKind.IMM, 0, 0n]);
    expect([sig.op, sig.payload.readUInt32LE(0), sig.payload.length]).to.deep.equal([Op.SIGCOUNT, 35, 8]);
  });

  it('a LIBC step with an unknown function decodes with its number; the builder refuses wrong arity and the deadline signal', () => {
    const p = new Program();
    p.main.libc('aio_error', [arg.buf(p.buf(168))]);
    const wire = p.encode();
    const d = decodeProgram(wire);
    wire.writeUInt32LE(77, d.seqs[0][0].payload.byteOffset - wire.byteOffset);
    expect(decodeProgram(resealProgram(wire)).seqs[0][0].libcFn).to.equal('fn77');
    expect(() => p.main.libc('aio_fsync', [arg.buf(p.buf(8))])).to.throw(/takes 2 arguments/);
    expect(() => p.main.sigCount(DEADLINE_SIGNAL)).to.throw(/deadline signal/);
    expect(() => p.main.sigCount(0)).to.throw(/out of range/);
  });

  it('the builder refuses what the executor would reject', () => {
    const p = new Program();
    expect(() => p.buf(0)).to.throw(/size/);
    expect(() => p.buf(64, 3)).to.throw(/align/);
    expect(() => p.main.syscall(0, [1, 2, 3, 4, 5, 6, 7])).to.throw(/at most 6/);
    expect(() => p.main.fillPattern(p.buf(8), 0, 8, 0)).to.throw(/seed/);
  });
});

describe('wire: traces', () => {
  it('decodes steps with their completions, digests, dumps and ring state', () => {
    // a CQE record: u32 n, u32 size, then n CQEs
    const cqe = Buffer.alloc(8 + 2 * 16);
    cqe.writeUInt32LE(2, 0);
    cqe.writeUInt32LE(16, 4);
    cqe.writeBigUInt64LE(42n, 8);
    cqe.writeInt32LE(-125, 16);
    cqe.writeUInt32LE(2, 20);
    cqe.writeBigUInt64LE(43n, 24);
    // an AIO_EVENT record: every io_event one io_getevents returned
    const ev = Buffer.alloc(64);
    ev.writeBigUInt64LE(7n, 0);
    ev.writeBigInt64LE(4096n, 16);
    ev.writeBigUInt64LE(8n, 32);
    const dg = Buffer.alloc(16);
    dg.writeBigUInt64LE(0xdeadbeefn, 0);
    const dump = Buffer.alloc(16);
    dump.writeUInt32LE(3, 0);
    dump.write('abc', 8);
    const rs = Buffer.alloc(40);
    rs.writeUInt32LE(11, 24);
    const t = decodeTrace(
      traceBytes([
        { type: Rec.CQE, step: 1, payload: cqe },
        { type: Rec.STEP, step: 1, payload: stepPayload(1n, 0) },
        { type: Rec.STEP, step: 2, payload: stepPayload(1n, 0) },
        { type: Rec.AIO_EVENT, step: 2, payload: ev },
        { type: Rec.STEP, step: 3, proc: 2, payload: stepPayload(-4n, 4, 1, 9n) },
        { type: Rec.DIGEST, step: 4, payload: dg },
        { type: Rec.DUMP, step: 4, payload: dump },
        { type: Rec.RING_STATE, step: 4, payload: rs },
        { type: Rec.STEP, step: 4, payload: stepPayload(0n, 0) },
      ]),
    );
    expect(t.status).to.equal('ok');
    const [s1, s2, s3, s4] = t.steps;
    expect(s1.cqes).to.deep.equal([
      { userData: 42n, res: -125, flags: 2, big: undefined },
      { userData: 43n, res: 0, flags: 0, big: undefined },
    ]);
    expect(s2.events.map((e) => e.data), 'a completion recorded after its STEP record still belongs to it').to.deep.equal([7n, 8n]);
    expect(s2.events[0].res).to.equal(4096n);
    expect(s3).to.include({ proc: 2, ret: -4n, errno: 4, deadline: true, ret2: 9n });
    expect(s4.digest).to.equal(0xdeadbeefn);
    expect(s4.dump?.toString()).to.equal('abc');
    expect(s4.ring?.cqOverflow).to.equal(11);
  });

  it('64-bit fields decode exactly at both ends of their range', () => {
    const cqe = Buffer.alloc(8 + 16);
    cqe.writeUInt32LE(1, 0);
    cqe.writeUInt32LE(16, 4);
    cqe.writeBigUInt64LE(0xffffffffffffffffn, 8);
    const big = (ret: bigint) => decodeTrace(traceBytes([{ type: Rec.STEP, payload: stepPayload(ret, 0) }])).steps[0].ret;
    for (const ret of [-(1n << 63n), -(1n << 53n) - 1n, -(1n << 53n), -1n, 0n, (1n << 53n) - 1n, 1n << 53n, (1n << 63n) - 1n])
      expect(big(ret), `ret ${ret}`).to.equal(ret);
    expect(decodeTrace(traceBytes([{ type: Rec.CQE, payload: cqe }])).steps[0].cqes[0].userData).to.equal(0xffffffffffffffffn);
  });

  it('an error trace carries its message', () => {
    const t = decodeTrace(traceBytes([], 1, 'step 3 of seq 0: buffer 9 out of range'));
    expect(t.status).to.equal('error');
    expect(t.message).to.equal('step 3 of seq 0: buffer 9 out of range');
  });

  it('refuses garbage with a TraceFormatError, never a crash', () => {
    expect(() => decodeTrace(Buffer.alloc(8))).to.throw(TraceFormatError);
    expect(() => decodeTrace(Buffer.alloc(64))).to.throw(TraceFormatError, /magic/);
    const good = traceBytes([{ type: Rec.STEP, payload: stepPayload(0n, 0) }]);
    expect(() => decodeTrace(good.subarray(0, good.length - 8))).to.throw(TraceFormatError);
    const lying = Buffer.alloc(16);
    lying.writeUInt32LE(5, 0); // five CQEs claimed, room for one
    lying.writeUInt32LE(8, 4);
    expect(() => decodeTrace(traceBytes([{ type: Rec.CQE, payload: lying }]))).to.throw(TraceFormatError, /CQEs/);
    const unknown = traceBytes([{ type: 99, payload: Buffer.alloc(8) }]);
    expect(() => decodeTrace(unknown)).to.throw(TraceFormatError, /unknown type 99/);
  });
});

const fnv1a32Step = (h: number, x: number) => Math.imul(h ^ x, 0x01000193) >>> 0;

describe('patterns and digests', () => {
  it('fast FNV-1a 64 equals the BigInt reference', () => {
    for (const n of [0, 1, 7, 8, 255, 4097]) {
      const d = patternBytes(3, n, n);
      expect(fnv1a64(d), `length ${n}`).to.equal(fnv1a64Reference(d));
    }
    expect(fnv1a64(Buffer.from('a'))).to.equal(0xaf63dc4c8601ec8cn); // published FNV-1a 64 test vector
    expect(fnv1a32(Buffer.from('a'))).to.equal(0xe40c292c); // published FNV-1a 32 test vector
    // the checksum takes words: one word w is one FNV-1a step with w in place of a byte
    expect(programChecksum(Buffer.from([0x61, 0, 0, 0]))).to.equal(0xe40c292c);
    expect(programChecksum(Buffer.from([0x61, 0, 0, 0, 0x62]))).to.equal(fnv1a32Step(0xe40c292c, 0x62));
  });

  it('every aligned pattern word names its seed and stream position', () => {
    const d = patternBytes(0xabcd, 4096, 64);
    expect(tracePatternWord(d.subarray(8, 16))).to.deep.equal({ seed: 0xabcd, pos: 4104 });
    expect(patternBytes(1, 4, 4)).to.deep.equal(patternBytes(1, 0, 8).subarray(4, 8));
  });
});
