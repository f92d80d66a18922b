/**
 * KCOV: the KCOV step (wire, executor), its trace record, PCs → io_uring/aio functions, fuzz programs
 * built with it; on a cached kasync build with KCOV, the PCs a program's tasks ran, in a VM.
 */
import { expect } from 'chai';
import { execFileSync } from 'child_process';
import fc from 'fast-check';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { buildStream } from '../fuzz/build';
import { AioOpKind, streamArb, StreamModel, UringOpKind } from '../fuzz/model';
import { KCOV_IOCTL, KCOV_MODE, SYSCALLS } from '../src/abi';
import { asyncText, countAsyncPcs, groupOfPc, objectFunctions, parseSystemMap, placeGroups } from '../src/coverage/kcov';
import { arg, Program, resealProgram } from '../src/program/builder';
import { decodeProgram } from '../src/program/decode';
import { decodeTrace } from '../src/program/trace';
import { Op, Rec, TRACE_MAGIC } from '../src/program/wire';
import { LocalTarget } from '../src/target/local';
import { view } from '../src/target/target';
import { VmTarget } from '../src/target/vm';
import { findExecutable } from '../src/tools';
import { listBuilds } from '../src/vm/build';

/** A trace of one KCOV record on step 0 (the executor's layout, native/WIRE.md). */
function kcovTrace(pcs: number[], edges: number[], raw: number, overflow: boolean): Buffer {
  const p = Buffer.alloc(16 + ((4 * (pcs.length + edges.length) + 7) & ~7));
  p.writeUInt32LE(pcs.length, 0);
  p.writeUInt32LE(edges.length, 4);
  p.writeUInt32LE(raw, 8);
  p.writeUInt32LE(overflow ? 1 : 0, 12);
  [...pcs, ...edges].forEach((v, i) => p.writeUInt32LE(v, 16 + 4 * i));
  const rec = Buffer.alloc(16);
  rec.writeUInt16LE(Rec.KCOV, 0);
  rec.writeUInt32LE(p.length, 8);
  const h = Buffer.alloc(32);
  h.writeUInt32LE(TRACE_MAGIC, 0);
  h.writeUInt16LE(1, 4);
  h.writeUInt32LE(32 + 16 + p.length, 8);
  h.writeUInt32LE(1, 12);
  h.writeInt32LE(-1, 16);
  return Buffer.concat([h, rec, p]);
}

describe('kcov: the KCOV step and record', () => {
  it('encodes the area size, the ioctl numbers and the mode from src/abi', () => {
    const p = new Program();
    const ref = p.main.kcov(1024);
    const step = p.main.steps[ref.index];
    expect(step.readUInt16LE(0)).to.equal(Op.KCOV);
    expect(step.readUInt32LE(4)).to.equal(40);
    expect(step.readUInt32LE(8)).to.equal(1024);
    expect(step.readBigUInt64LE(16)).to.equal(BigInt(KCOV_IOCTL.INIT_TRACE.value));
    expect(step.readBigUInt64LE(24)).to.equal(BigInt(KCOV_IOCTL.ENABLE.value));
    expect(step.readBigUInt64LE(32)).to.equal(BigInt(KCOV_IOCTL.DISABLE.value));
    expect(step.readBigUInt64LE(40)).to.equal(BigInt(KCOV_MODE.PC.value));
    expect(() => p.main.kcov(1)).to.throw(/kcov area of 1 words/);
    expect(() => p.main.kcov(2 ** 22 + 1)).to.throw(/kcov area/);
  });

  it('with the kcov option, every sequence starts with a KCOV step', () => {
    const p = new Program({ kcov: { words: 64 } });
    const first = p.main.syscall(SYSCALLS.getpid, []);
    const t = p.seq();
    expect(first.index).to.equal(1);
    expect(p.main.steps[0].readUInt16LE(0)).to.equal(Op.KCOV);
    expect(t.steps.map((s) => s.readUInt16LE(0))).to.deep.equal([Op.KCOV]);
  });

  it('decodes a KCOV record: PCs, edges, the raw count and overflow', () => {
    const t = decodeTrace(kcovTrace([0x81000010, 0x81000020, 0x81000030], [7, 9], 12, true));
    const k = t.steps[0].kcov!;
    expect([...k.pcs]).to.deep.equal([0x81000010, 0x81000020, 0x81000030]);
    expect([...k.edges]).to.deep.equal([7, 9]);
    expect(k).to.include({ raw: 12, overflow: true });
    const bad = kcovTrace([1], [], 1, false);
    bad.writeUInt32LE(100, 48); // 100 PCs claimed in a record holding one
    expect(() => decodeTrace(bad)).to.throw(/100 PCs and 0 edges do not fit/);
  });

  it('the executor refuses an area out of range, and where KCOV is missing the step fails with errno and the program goes on', async () => {
    const local = new LocalTarget();
    try {
      const p = new Program();
      p.main.kcov(64);
      const wire = p.encode();
      wire.writeUInt32LE(1, 32 + 8 + 8); // header, one sequence's table entry, the step header: its area size
      const rejected = view(await local.runWire(resealProgram(wire), 1000)).trace;
      expect(rejected.status).to.equal('error');
      expect(rejected.message).to.match(/kcov area of 1 words/);

      const q = new Program();
      const k = q.main.kcov(64);
      const pid = q.main.syscall(SYSCALLS.getpid, []);
      const v = await local.run(q);
      if (fs.existsSync('/sys/kernel/debug/kcov')) {
        // a host with KCOV: the Node thread that ran the program was traced
        expect(v.step(k).ret).to.equal(0n);
        expect(v.step(k).kcov!.pcs.length).to.be.greaterThan(0);
      } else {
        expect(v.step(k).ret < 0n, `KCOV step result ${v.step(k).ret}`).to.equal(true);
        expect(v.step(k).kcov).to.equal(undefined);
      }
      expect(v.step(pid).ret).to.equal(BigInt(process.pid));
    } finally {
      await local.close();
    }
  });
});

describe('kcov: PCs in io_uring and aio functions', () => {
  it('reads text symbols from System.map (low 32 bits) and places a PC in the symbol at or below it', () => {
    const syms = parseSystemMap(
      [
        'ffffffff81000000 T _text',
        'ffffffff81000100 t io_read',
        'ffffffff81000200 D some_data',
        'ffffffff81000300 T aio_read',
        'ffffffff81000400 T schedule',
      ].join('\n'),
    );
    expect(syms.map((s) => s.name)).to.deep.equal(['_text', 'io_read', 'aio_read', 'schedule']);
    const t = { starts: Uint32Array.from(syms.map((s) => s.addr)), groups: [undefined, 'io_uring' as const, 'aio' as const, undefined] };
    expect(groupOfPc(t, 0x81000000 - 1)).to.equal(undefined);
    expect(groupOfPc(t, 0x81000100)).to.equal('io_uring');
    expect(groupOfPc(t, 0x810002ff)).to.equal('io_uring'); // data symbols do not end a function
    expect(groupOfPc(t, 0x81000300)).to.equal('aio');
    expect(groupOfPc(t, 0x81000404)).to.equal(undefined);
    expect(countAsyncPcs(t, [0x81000104, 0x81000108, 0x81000304, 0x81000404])).to.deep.equal({ io_uring: 2, aio: 1, all: 4 });
  });

  it('a static name found in many objects counts only within its group\'s span', () => {
    const syms = [
      { addr: 0x1000, name: 'helper.constprop.0' }, // another object's copy, far off
      { addr: 0x200000, name: 'io_a' },
      { addr: 0x200100, name: 'helper.constprop.0' }, // io_uring's own copy
      { addr: 0x200200, name: 'io_b' },
      { addr: 0x300000, name: 'aio_x' },
      { addr: 0x900000, name: 'io_init' }, // .init.text: unique, so still io_uring's
    ];
    const groups = placeGroups(syms, { io_uring: new Set(['io_a', 'io_b', 'helper.constprop.0', 'io_init']), aio: new Set(['aio_x']) });
    expect(groups).to.deep.equal([undefined, 'io_uring', 'io_uring', 'io_uring', 'aio', 'io_uring']);
  });

  it('names the functions an object defines (nm)', function () {
    const cc = findExecutable('cc');
    if (!cc || !findExecutable('nm')) {
      this.test!.title += ' (skipped: needs cc and nm)';
      return this.skip();
    }
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kasync-kcov-'));
    try {
      fs.writeFileSync(path.join(tmp, 'x.c'), 'static int helper(int x) { return x + 1; }\nint io_thing(int x) { return helper(x) * 2; }\nint table[4];\n');
      execFileSync(cc, ['-O0', '-c', '-o', path.join(tmp, 'x.o'), path.join(tmp, 'x.c')]);
      expect([...objectFunctions([path.join(tmp, 'x.o')])].sort()).to.deep.equal(['helper', 'io_thing']);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe('kcov: fuzz programs', () => {
  it('buildStream with kcov starts every sequence with a KCOV step, main and threads alike', () => {
    const ops = { uring: ['NOP', 'READ'] as UringOpKind[], aio: ['PREAD'] as AioOpKind[] };
    const nop = { op: 'NOP' as const, link: 0 as const, drain: false, file: 0, at: 0, words: 1, target: 0, count: 0, ms: 0 };
    const [m] = fc.sample(streamArb(ops, { minSteps: 4, maxSteps: 8 }), { seed: 5, numRuns: 1 });
    const threaded: StreamModel = { ...m, rings: m.rings.length ? m.rings : [4], threads: true, steps: [...m.steps, { kind: 'threadSubmit', ring: 0, reqs: [nop, nop] }] };
    const built = buildStream(threaded, { dir: '/nonexistent', kcov: { words: 1024 } });
    const prog = decodeProgram(built.program.encode());
    expect(prog.seqs.length).to.be.greaterThan(1);
    for (const seq of prog.seqs) expect(seq[0].op).to.equal(Op.KCOV);
    const plain = decodeProgram(buildStream(threaded, { dir: '/nonexistent' }).program.encode());
    expect(plain.seqs.flat().some((st) => st.op === Op.KCOV)).to.equal(false);
  });
});

describe('kcov: on a cached kasync build with KCOV (VM)', function () {
  this.timeout(10 * 60_000);

  it("records the PCs of each sequence's task: io_uring_setup runs io_uring functions, a thread gets its own record", async function () {
    const build = (await listBuilds()).find((b) => b.record.profile === 'coverage' && b.record.spec.startsWith('debian-src:'));
    if (!build || !findExecutable('qemu-system-x86_64') || !findExecutable('nm')) {
      this.test!.title += ' (skipped: needs a coverage build in the cache — kasync kernels build debian-src:6.12 --profile coverage — qemu and nm)';
      return this.skip();
    }
    const text = asyncText(build.dir);
    const target = new VmTarget({ kernel: { spec: build.record.spec, release: build.record.release, vmlinuz: build.bzImage }, slowdown: 10 });
    try {
      const p = new Program({ deadlineMs: 20_000, kcov: { words: 1 << 16 } });
      const setup = p.main.syscall(SYSCALLS.io_uring_setup, [4, arg.buf(p.buf(120))]);
      const t = p.seq();
      t.syscall(SYSCALLS.getpid, []);
      p.main.threads([t], 10_000);
      const v = await target.run(p);
      expect(v.step(setup).ret > 0n, 'io_uring_setup gave a ring fd').to.equal(true);
      const first = v.trace.steps.find((s) => s.seq === 0 && s.step === 0)!;
      expect(first.ret).to.equal(0n);
      const main = first.kcov!;
      expect(main.pcs.length).to.be.greaterThan(100);
      expect([...main.pcs]).to.deep.equal([...new Set(main.pcs)].sort((a, b) => a - b));
      expect(main.raw).to.be.at.least(main.pcs.length);
      expect(countAsyncPcs(text, main.pcs).io_uring, 'PCs in io_uring functions').to.be.greaterThan(20);
      const thread = v.trace.steps.find((s) => s.seq === t.id && s.step === 0)!;
      expect(thread.ret).to.equal(0n);
      expect(thread.proc).to.not.equal(0);
      // getpid alone: no io_uring code
      expect(countAsyncPcs(text, thread.kcov!.pcs).io_uring).to.equal(0);
      expect(thread.kcov!.pcs.length).to.be.greaterThan(0);
    } finally {
      await target.close();
    }
  });
});
