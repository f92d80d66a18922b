/**
 * Build and run C reproducers on the host, and compare what two runs of one program did (the
 * reproducer against the executor, a replay against the recorded failure).
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { decodeProgram } from '../program/decode';
import type { Trace } from '../program/trace';
import { ArgKind, Op, SlotKind } from '../program/wire';
import { REPRO_CFLAGS } from './csource';
import { parseReproOutput } from './output';

/** The C file did not build: the message holds gcc's first error. */
export class ReproCompileError extends Error {}

/** Extra time a reproducer gets beyond its program deadline before it is killed. */
const GRACE_MS = 5000;

interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Run a command to completion under a deadline (SIGKILL at the deadline; the child is always reaped). */
function run(cmd: string, args: string[], timeoutMs: number, cwd?: string): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      p.kill('SIGKILL');
    }, timeoutMs);
    p.stdout.on('data', (d: Buffer) => out.push(d));
    p.stderr.on('data', (d: Buffer) => err.push(d));
    p.on('error', (e) => (clearTimeout(timer), reject(e)));
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), timedOut });
    });
  });
}

/** Is gcc there to build reproducers? */
export async function haveGcc(): Promise<boolean> {
  try {
    return (await run('gcc', ['--version'], 10_000)).code === 0;
  } catch {
    return false;
  }
}

/** Compile `source` (a C file) into a static binary next to it; resolves to the binary and the build time. */
export async function compileRepro(source: string, out = source.replace(/\.c$/, '') + '.bin'): Promise<{ bin: string; ms: number }> {
  const t0 = Date.now();
  let r: Ran;
  try {
    r = await run('gcc', [...REPRO_CFLAGS, '-o', out, source], 120_000, path.dirname(source));
  } catch (e) {
    throw new ReproCompileError(`cannot run gcc: ${(e as Error).message}`);
  }
  if (r.code !== 0) {
    const first = r.stderr.split('\n').find((l) => /error|undefined reference/.test(l)) ?? r.stderr.split('\n')[0] ?? '';
    throw new ReproCompileError(`${path.basename(source)} does not compile: ${first.split(path.dirname(source) + '/').join('').trim() || (r.timedOut ? 'gcc timed out' : `gcc exit ${r.code}`)}`);
  }
  return { bin: out, ms: Date.now() - t0 };
}

/** The deadline a C reproducer was generated with (its `setup(ms, …)` call), if it says. */
export function reproDeadlineMs(source: string): number | undefined {
  const m = /\bsetup\((\d+),/.exec(source);
  return m ? Number(m[1]) : undefined;
}

/** Run a built reproducer on the host and parse its events; killed `GRACE_MS` after `deadlineMs`. */
export async function runRepro(bin: string, deadlineMs: number): Promise<Trace & { ms: number }> {
  const t0 = Date.now();
  const r = await run(path.resolve(bin), [], deadlineMs + GRACE_MS, path.dirname(path.resolve(bin)));
  const waitStatus = r.signal ? os.constants.signals[r.signal] : (r.code ?? 0) << 8;
  return { ...parseReproOutput(r.stdout, { waitStatus }), ms: Date.now() - t0 };
}

/** What must be equal for two runs of one program to count as the same outcome. */
export interface Essence {
  status: Trace['status'];
  steps: {
    seq: number;
    step: number;
    proc: number;
    ret: string;
    errno: number;
    error?: string;
    cqes: string[];
    events: string[];
    digest?: string;
    verify?: string;
    dump?: string;
  }[];
}

/** Results, errnos, completions (user_data, res, flags), digests, verifies and dumps, ordered by step. */
export function essence(t: Trace, opts: { cqeFlags?: boolean } = {}): Essence {
  const steps = t.steps
    .map((s) => ({
      seq: s.seq,
      step: s.step,
      proc: s.proc,
      ret: s.ret.toString(),
      errno: s.errno,
      ...(s.error !== undefined ? { error: s.error } : {}),
      cqes: s.cqes.map((c) => `${c.userData} ${c.res}${opts.cqeFlags === false ? '' : ` ${c.flags}`}`),
      events: s.events.map((e) => `${e.data} ${e.res} ${e.res2}`),
      ...(s.digest !== undefined ? { digest: s.digest.toString(16) } : {}),
      ...(s.verify ? { verify: `${s.verify.mismatches} ${s.verify.first}` } : {}),
      ...(s.dump ? { dump: Buffer.from(s.dump).toString('hex') } : {}),
    }))
    .sort((a, b) => a.proc - b.proc || a.seq - b.seq || a.step - b.step);
  return { status: t.status, steps };
}

/** The first differences between two outcomes, one line each (empty: the same outcome). */
export function diffOutcome(a: Essence, b: Essence, max = 5): string[] {
  const out: string[] = [];
  if (a.status !== b.status) out.push(`status ${a.status} vs ${b.status}`);
  const key = (s: Essence['steps'][number]) => `${s.proc}/${s.seq}/${s.step}`;
  const mb = new Map(b.steps.map((s) => [key(s), s]));
  const ma = new Map(a.steps.map((s) => [key(s), s]));
  for (const s of a.steps) {
    const o = mb.get(key(s));
    const where = `step ${s.step} of sequence ${s.seq} (proc ${s.proc})`;
    if (!o) out.push(`${where} ran only in the first`);
    else if (JSON.stringify(s) !== JSON.stringify(o)) out.push(`${where}: ${JSON.stringify(s)} vs ${JSON.stringify(o)}`);
  }
  for (const s of b.steps) if (!ma.has(key(s))) out.push(`step ${s.step} of sequence ${s.seq} (proc ${s.proc}) ran only in the second`);
  return out.slice(0, max);
}

/** Write `source` (as `name`) to a fresh temp dir, build and run it, and remove the dir. */
export async function buildAndRun(source: string, deadlineMs: number, name = 'repro.c', tmpRoot = os.tmpdir()): Promise<{ trace: Trace; compileMs: number; runMs: number }> {
  const dir = fs.mkdtempSync(path.join(tmpRoot, 'kasync-repro-'));
  try {
    const file = path.join(dir, path.basename(name));
    fs.writeFileSync(file, source);
    const { bin, ms } = await compileRepro(file);
    const { ms: runMs, ...trace } = await runRepro(bin, deadlineMs);
    return { trace, compileMs: ms, runMs };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The trace with the results that differ on every run replaced by 1 when positive: pids (FORK, WAIT)
 * and addresses (PATCH and SETSLOT of a buffer, BAD or ring address, or of a context id).
 */
export function maskVolatile(t: Trace, wire: Buffer): Trace {
  const p = decodeProgram(wire);
  const ADDRESS = new Set<number>([ArgKind.BUF, ArgKind.BAD, ArgKind.RINGMEM, ArgKind.CTX]);
  const volatile = (seq: number, step: number) => {
    const st = p.seqs[seq]?.[step];
    if (!st) return false;
    if (st.op === Op.FORK || st.op === Op.WAIT) return true;
    if (st.op === Op.PATCH && st.payload.length >= 32) return ADDRESS.has(st.payload.readUInt32LE(16));
    if (st.op === Op.SETSLOT && st.payload.length >= 24) return st.payload.readUInt32LE(0) === SlotKind.CTX || ADDRESS.has(st.payload.readUInt32LE(8));
    return false;
  };
  return { ...t, steps: t.steps.map((s) => (volatile(s.seq, s.step) && s.ret > 0n ? { ...s, ret: 1n } : s)) };
}
