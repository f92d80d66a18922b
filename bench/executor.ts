/**
 * Executor throughput as ratios against a plain C loop making the same raw calls, built and run
 * in the same run (bench/baseline.c): io_uring NOPs and AIO 4 KiB preads, at batch 1 and 32, for an
 * already-encoded program and end to end (build, encode, run, decode).
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { O, SYSCALLS } from '../src/abi';
import { aioGetevents, aioSetup, aioSubmit, iocb } from '../src/program/aio';
import { Arg, arg, Program, StepRef } from '../src/program/builder';
import { decodeProgram } from '../src/program/decode';
import { openat } from '../src/program/sys';
import { decodeTrace } from '../src/program/trace';
import { enter, reap, setupRing, sqe } from '../src/program/uring';
import { ROOT } from '../src/paths';
import { LocalTarget, loadAddon, traceOf } from '../src/target/local';

const N = 10_000;
const REPEAT = 7;

/** N io_uring NOPs, `batch` per io_uring_enter; the SQE batch is written once and queued again and again. */
function nopProgram(batch: number): Program {
  const p = new Program({ deadlineMs: 60_000, traceCap: 64 << 20 });
  const s = p.main;
  const h = setupRing(s, { entries: 64 });
  const b = p.buf(64 * batch);
  s.bytes(b, 0, Buffer.concat(Array.from({ length: batch }, (_, i) => sqe({ opcode: 'NOP', user_data: i }).bytes)));
  for (let done = 0; done < N; done += batch) {
    s.uringQueue(h.ring, b, 0, batch);
    enter(s, h, batch, batch, 1);
    reap(s, h, batch, batch, 5000);
  }
  return p;
}

/** N AIO 4 KiB preads of a 64 KiB file, `batch` per io_submit, reaped by io_getevents. */
function preadProgram(file: string, batch: number): Program {
  const p = new Program({ deadlineMs: 60_000, traceCap: 64 << 20 });
  const s = p.main;
  const { fd } = openat(s, file, O.RDONLY.value | O.CLOEXEC.value);
  const { ctx } = aioSetup(s, 64);
  const bufs = p.buf(4096 * batch, 4096);
  const cbs = Array.from({ length: batch }, (_, i) => iocb({ opcode: 'PREAD', fd, aio_buf: arg.buf(bufs, 4096 * i), aio_nbytes: 4096, aio_offset: (i % 16) * 4096 }));
  // the iocbs and their pointer array are written once; the loop is raw io_submit + io_getevents
  const sub = aioSubmit(s, ctx, cbs).submit;
  const reapOnce = aioGetevents(s, ctx, batch, batch, null);
  const [submitArgs, reapArgs] = [stepArgs(p, sub), stepArgs(p, reapOnce)];
  for (let done = batch; done < N; done += batch) {
    s.syscall(SYSCALLS.io_submit, submitArgs);
    s.syscall(SYSCALLS.io_getevents, reapArgs, { aioEvents: true });
  }
  return p;
}

/** The six arguments of a SYSCALL step already in the program, to repeat it. */
function stepArgs(p: Program, ref: StepRef): Arg[] {
  const pl = decodeProgram(p.encode()).seqs[ref.seq][ref.index].payload;
  return Array.from({ length: 6 }, (_, i) => ({ kind: pl.readUInt32LE(16 + 16 * i), slot: pl.readUInt32LE(20 + 16 * i), value: pl.readBigUInt64LE(24 + 16 * i) }));
}

/** The trace header's status word says ok (the already-encoded case times the executor, not the decoder). */
function statusOk(t: Buffer): void {
  if (t.readUInt16LE(6) !== 0) throw new Error(`benchmark program failed: ${decodeTrace(t).message}`);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function timeNs(f: () => unknown): Promise<number> {
  const t0 = process.hrtime.bigint();
  await f();
  return Number(process.hrtime.bigint() - t0);
}

async function medianOf(f: () => unknown): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < REPEAT; i++) xs.push(await timeNs(f));
  return median(xs);
}

/** Run the benchmark; returns its figures. */
export async function benchExecutor(log: (s: string) => void): Promise<Record<string, number>> {
  const addon = loadAddon();
  const local = new LocalTarget();
  const traceBuf = Buffer.allocUnsafeSlow(4 << 20);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kasync-bench-'));
  try {
    const bin = path.join(dir, 'baseline');
    execFileSync('cc', ['-O2', '-o', bin, path.join(ROOT, 'bench', 'baseline.c')]);
    const file = path.join(dir, 'data');
    fs.writeFileSync(file, Buffer.alloc(16 * 4096, 7));
    // the baseline prints its span, and for pread also the part io_destroy took (first number, second number)
    const cRuns = (args: string[]) => Array.from({ length: REPEAT }, () => execFileSync(bin, args).toString().trim().split(' ').map(Number));
    const c = (args: string[]) => {
      const runs = cRuns(args);
      return { ns: median(runs.map((r) => r[0])), destroyNs: median(runs.map((r) => r[1] ?? 0)) };
    };
    const check = (t: Buffer) => {
      const d = decodeTrace(t);
      if (d.status !== 'ok') throw new Error(`benchmark program failed: ${d.message}`);
      return d;
    };
    const out: Record<string, number> = {};
    const cases: [string, (b: number) => Program, string[]][] = [
      ['nop', nopProgram, ['nop']],
      ['pread', (b) => preadProgram(file, b), ['pread']],
    ];
    for (const [name, build, cargs] of cases) {
      for (const batch of [1, 32]) {
        const wire = build(batch).encode();
        check(traceOf(addon.runSync(wire, traceBuf), traceBuf)); // warm up, and prove it works
        const base = c([...cargs, String(N), String(batch), ...(name === 'pread' ? [file] : [])]);
        const cNs = base.ns;
        // the encoded program through the addon, in-process on this thread, into a reused buffer as the local target does
        const runNs = await medianOf(() => statusOk(traceOf(addon.runSync(wire, traceBuf), traceBuf)));
        // what a test pays: build, encode, run off the main thread, decode (the local target's run)
        const e2eNs = await medianOf(async () => {
          const v = await local.run(build(batch));
          if (v.trace.status !== 'ok') throw new Error(`benchmark program failed: ${v.trace.message}`);
        });
        const key = `${name === 'nop' ? '' : 'pread_'}`;
        out[`${key}ratio_batch${batch}`] = round(cNs / runNs);
        out[`${key}e2e_ratio_batch${batch}`] = round(cNs / e2eNs);
        out[`${key}c_ops_per_sec_batch${batch}`] = Math.round((N * 1e9) / cNs);
        out[`${key}addon_ops_per_sec_batch${batch}`] = Math.round((N * 1e9) / runNs);
        if (base.destroyNs) out[`${key}c_io_destroy_ms_batch${batch}`] = round(base.destroyNs / 1e6);
        const destroy = base.destroyNs ? ` (io_destroy ${(base.destroyNs / 1e6).toFixed(2)} ms of it)` : '';
        log(`${name} batch ${batch}: C ${(cNs / 1e6).toFixed(2)} ms${destroy}, addon ${(runNs / 1e6).toFixed(2)} ms (ratio ${out[`${key}ratio_batch${batch}`]}), end to end ${(e2eNs / 1e6).toFixed(2)} ms (ratio ${out[`${key}e2e_ratio_batch${batch}`]})`);
      }
    }
    return out;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    await local.close();
  }
}

const round = (x: number) => Math.round(x * 1000) / 1000;
