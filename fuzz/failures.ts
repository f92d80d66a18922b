/**
 * Failure directories: `<out>/<hash(title)>/`, written whole (in a temp dir, then renamed) before
 * any shrinking or reboot, so a finding is never lost. Seeing the same title again bumps `count`.
 * Layout: description, program.kasp, model.json, seed.json, trace.json, kernel.txt, count,
 * console.log (VM), suspects.json (VM, programs in flight: the other programs that may have caused a
 * kernel report, hang or crash); after shrinking minimal.kasp, minimal.json, repro.c (or repro.error).
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import type { Trace } from '../src/program/trace';
import { programToC } from '../src/repro/csource';
import type { StreamModel } from './model';

/** What is known of a finding when it is first seen. */
export interface FindingRecord {
  title: string;
  detail: string;
  model: StreamModel;
  /** Wire bytes of the program. */
  program: Buffer;
  /** fast-check replay: seed and path. */
  seed: number;
  path: string;
  /** Runs made before it. */
  runs: number;
  trace: Trace;
  kernel: string;
  target: string;
  /** Console log file of the VM, when there is one. */
  consoleLog?: string;
  /** Other programs that may have caused it (in flight beside it, or just ended), by run id. */
  suspects?: Array<{ run: number; model: StreamModel }>;
}

/** The directory name of a title. */
export function findingHash(title: string): string {
  return createHash('sha1').update(title).digest('hex').slice(0, 16);
}

/** JSON of a trace: bigints as decimal strings, buffers as hex. */
export function traceJson(t: Trace): string {
  return JSON.stringify(t, (_k, v) => (typeof v === 'bigint' ? v.toString() : v && v.type === 'Buffer' && Array.isArray(v.data) ? Buffer.from(v.data).toString('hex') : v), 1);
}

function writeAtomic(file: string, data: string | Buffer): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
}

/**
 * Record a finding. A new title gets a complete directory (renamed into place in one step); a known
 * one gets its count bumped. Returns the directory and whether it is new.
 */
export function recordFinding(out: string, r: FindingRecord): { dir: string; count: number; isNew: boolean } {
  fs.mkdirSync(out, { recursive: true });
  const dir = path.join(out, findingHash(r.title));
  if (!fs.existsSync(dir)) {
    const tmp = fs.mkdtempSync(path.join(out, `.tmp-${findingHash(r.title)}-`));
    fs.writeFileSync(path.join(tmp, 'description'), `${r.title}\n${r.detail}\n`);
    fs.writeFileSync(path.join(tmp, 'program.kasp'), r.program);
    fs.writeFileSync(path.join(tmp, 'model.json'), JSON.stringify(r.model, null, 1));
    fs.writeFileSync(path.join(tmp, 'seed.json'), JSON.stringify({ seed: r.seed, path: r.path, runs: r.runs, title: r.title }) + '\n');
    fs.writeFileSync(path.join(tmp, 'trace.json'), traceJson(r.trace));
    fs.writeFileSync(path.join(tmp, 'kernel.txt'), `${r.kernel}\ntarget ${r.target}\n`);
    if (r.consoleLog && fs.existsSync(r.consoleLog)) fs.copyFileSync(r.consoleLog, path.join(tmp, 'console.log'));
    if (r.suspects?.length) fs.writeFileSync(path.join(tmp, 'suspects.json'), JSON.stringify(r.suspects, null, 1));
    fs.writeFileSync(path.join(tmp, 'count'), '1\n');
    try {
      fs.renameSync(tmp, dir);
      return { dir, count: 1, isNew: true };
    } catch (e) {
      // another job recorded the same title a moment ago: count this one there
      fs.rmSync(tmp, { recursive: true, force: true });
      if (!['ENOTEMPTY', 'EEXIST'].includes((e as NodeJS.ErrnoException).code ?? '')) throw e;
    }
  }
  const count = findingCount(dir) + 1;
  writeAtomic(path.join(dir, 'count'), `${count}\n`);
  return { dir, count, isNew: false };
}

/** How many times the finding in `dir` was seen. */
export function findingCount(dir: string): number {
  try {
    return Number(fs.readFileSync(path.join(dir, 'count'), 'utf8').trim()) || 0;
  } catch {
    return 0;
  }
}

/** Add the shrunk program and its C reproducer. */
export function recordMinimal(dir: string, model: StreamModel, program: Buffer, origin?: string): { repro?: string; error?: string } {
  if (origin) fs.appendFileSync(path.join(dir, 'description'), `minimal program: ${origin}\n`);
  writeAtomic(path.join(dir, 'minimal.kasp'), program);
  writeAtomic(path.join(dir, 'minimal.json'), JSON.stringify(model, null, 1));
  try {
    const c = programToC(program);
    writeAtomic(path.join(dir, 'repro.c'), c);
    return { repro: path.join(dir, 'repro.c') };
  } catch (e) {
    const error = `no C reproducer: ${(e as Error).message}`;
    writeAtomic(path.join(dir, 'repro.error'), error + '\n');
    return { error };
  }
}
