/**
 * `kasync repro <failure-dir | file.kasp | file.c>`: replay a finding and say whether it still fails.
 * Exit 1: still fails; 0: no longer fails (or nothing to compare with); 2: bad input.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { Command } from 'commander';
import { decodeProgram } from '../program/decode';
import { decodeTrace, Trace } from '../program/trace';
import { buildAndRun, diffOutcome, essence, maskVolatile, ReproCompileError, reproDeadlineMs } from '../repro/replay';
import { lostRun, seenByTarget, Target, TargetFinding } from '../target/target';
import { isHostKernel } from '../vm/kernels';
import { VmError } from '../vm/qemu';
import { makeTarget, TargetOpts } from './targets';
import { UsageError } from './usage';

/** What a replay concluded. */
export interface ReproVerdict {
  /** `fails`: the failure reproduced; `passes`: it did not; `unknown`: nothing recorded to compare with. */
  verdict: 'fails' | 'passes' | 'unknown';
  /** Human lines: what ran where, and why this verdict. */
  lines: string[];
}

/** Options of `kasync repro`. */
export type ReproOptions = Partial<TargetOpts>;

// The fuzzer's oracle, when it is there (fuzz/ is written in parallel): typed here by what we call.
interface FuzzOracle {
  buildStream(m: unknown, ctx: { dir: string; slowdown?: number }): { program: { encode(): Buffer; deadlineMs: number }; plan: unknown };
  /** Build options that steer around the known bugs of a kernel, as the fuzzer used them there. */
  knownBugAvoidance(kernel: string): object;
  judge(plan: unknown, trace: Trace): { title: string; detail: string; env?: boolean }[];
}

function loadOracle(): FuzzOracle | undefined {
  try {
    /* eslint-disable @typescript-eslint/no-var-requires */
    const build = require('../../fuzz/build');
    const oracle = require('../../fuzz/oracle');
    if (typeof build.buildStream === 'function' && typeof oracle.judge === 'function')
      return { buildStream: build.buildStream, judge: oracle.judge, knownBugAvoidance: build.knownBugAvoidance };
  } catch {
    // no oracle yet: fall back to comparing traces
  }
  return undefined;
}

/** A trace written by the fuzzer as JSON (bigints as decimal strings, buffers as hex) back into a Trace. */
export function traceFromJson(text: string): Trace {
  const j = JSON.parse(text);
  if (!j || !Array.isArray(j.steps)) throw new Error('no steps');
  const big = (v: unknown) => BigInt((v as string | number | undefined) ?? 0);
  return {
    status: j.status,
    exitStatus: j.exitStatus ?? -1,
    message: j.message ?? '',
    steps: j.steps.map((s: Record<string, any>) => ({
      ...s,
      ret: big(s.ret),
      ret2: big(s.ret2),
      t0Ns: big(s.t0Ns),
      t1Ns: big(s.t1Ns),
      cqes: (s.cqes ?? []).map((c: Record<string, any>) => ({ ...c, userData: big(c.userData) })),
      events: (s.events ?? []).map((e: Record<string, any>) => ({ data: big(e.data), obj: big(e.obj), res: big(e.res), res2: big(e.res2) })),
      ...(s.digest !== undefined ? { digest: big(s.digest) } : {}),
      ...(typeof s.dump === 'string' ? { dump: Buffer.from(s.dump, 'hex') } : {}),
    })),
  };
}

function readFile(file: string, what: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    throw new UsageError(`cannot read ${what} ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

function readProgram(file: string): Buffer {
  const wire = readFile(file, 'program');
  try {
    decodeProgram(wire);
  } catch (e) {
    throw new UsageError(`${file} is not a kasync program: ${(e as Error).message}`);
  }
  return wire;
}

function recordedTrace(dir: string): Trace | undefined {
  const file = path.join(dir, 'trace.json');
  if (!fs.existsSync(file)) return undefined;
  try {
    return traceFromJson(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UsageError(`${file} is not a recorded trace: ${(e as Error).message}`);
  }
}

function firstLine(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8').split('\n')[0] || undefined;
  } catch {
    return undefined;
  }
}


/**
 * Judge a replay: what the target saw itself (a VM's console reports and leaks, a hang or crash: no
 * trace), then the trace by the fuzzer's oracle when a model was recorded, else against the recorded trace.
 */
function verdictOf(
  trace: Trace | undefined,
  wire: Buffer,
  ref: { recorded?: Trace; oracle?: { o: FuzzOracle; plan: unknown }; title?: string },
  seen: TargetFinding[] = [],
): ReproVerdict {
  const lines: string[] = [];
  if (trace?.status === 'error') throw new UsageError(`program rejected by the executor: ${trace.message}`);
  const found = [...(trace && ref.oracle ? ref.oracle.o.judge(ref.oracle.plan, trace).filter((f) => !f.env) : []), ...seen];
  const same = ref.title ? found.filter((f) => f.title === ref.title) : found;
  if (same.length) return { verdict: 'fails', lines: [`still fails: ${same[0].title}: ${same[0].detail}`] };
  if (found.length || !trace) return { verdict: 'fails', lines: [`fails differently: ${found[0].title}: ${found[0].detail}`] };
  if (ref.oracle) {
    const by = seen.length || /^(kernel|leak):/.test(ref.title ?? '') ? 'the oracle and the target find nothing' : 'the oracle finds nothing';
    return { verdict: 'passes', lines: [`no longer fails: ${by}${ref.title ? ` (recorded: ${ref.title})` : ''}`] };
  }
  if (ref.recorded) {
    const diff = diffOutcome(essence(maskVolatile(ref.recorded, wire)), essence(maskVolatile(trace, wire)), 3);
    if (!diff.length) return { verdict: 'fails', lines: ['still fails: same results and completions as the recorded trace'] };
    return { verdict: 'passes', lines: ['no longer fails: the results differ from the recorded trace', ...diff.map((d) => `  ${d}`)] };
  }
  lines.push(`ran: trace ${trace.status}, ${trace.steps.length} steps${trace.message ? ` (${trace.message})` : ''}`);
  lines.push('no recorded trace.json or model next to it: nothing to compare with');
  return { verdict: 'unknown', lines };
}

/** Replay a failure dir, a program file or a C reproducer; see {@link ReproVerdict}. */
export async function reproduce(input: string, o: ReproOptions = {}): Promise<ReproVerdict> {
  let st: fs.Stats;
  try {
    st = fs.statSync(input);
  } catch (e) {
    throw new UsageError(`cannot read ${input}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const dir = st.isDirectory() ? input : path.dirname(input);
  const title = firstLine(path.join(dir, 'description'));
  if (!st.isDirectory() && input.endsWith('.c')) {
    if (o.kernel && !isHostKernel(o.kernel))
      throw new UsageError('a .c reproducer runs on the host only; to replay on another kernel give the failure dir or its .kasp');
    const source = readFile(input, 'C reproducer').toString('utf8');
    const kasp = ['minimal.kasp', 'program.kasp'].map((f) => path.join(dir, f)).find((f) => fs.existsSync(f));
    const wire = kasp ? readProgram(kasp) : undefined;
    let ran;
    try {
      ran = await buildAndRun(source, reproDeadlineMs(source) ?? 60_000, path.basename(input));
    } catch (e) {
      if (e instanceof ReproCompileError) throw new UsageError(e.message);
      throw e;
    }
    const lines = [`built ${path.basename(input)} in ${ran.compileMs} ms, ran it on the host in ${ran.runMs} ms`];
    const oracle = wire ? oracleFor(dir, path.join(dir, 'minimal.json')) : undefined;
    const v = wire ? verdictOf(ran.trace, wire, { recorded: kasp?.endsWith('program.kasp') ? recordedTrace(dir) : undefined, oracle, title }) : verdictOf(ran.trace, Buffer.alloc(0), {});
    return { verdict: v.verdict, lines: [...lines, ...v.lines] };
  }
  let wire: Buffer;
  let modelFile: string | undefined;
  let recorded: Trace | undefined;
  if (st.isDirectory()) {
    const min = path.join(dir, 'minimal.kasp');
    const full = path.join(dir, 'program.kasp');
    if (!fs.existsSync(min) && !fs.existsSync(full)) throw new UsageError(`${input} holds no minimal.kasp or program.kasp: not a failure dir`);
    // the recorded trace is the full program's: it compares only with that program
    wire = readProgram(fs.existsSync(min) ? min : full);
    modelFile = fs.existsSync(min) ? path.join(dir, 'minimal.json') : path.join(dir, 'model.json');
    if (!fs.existsSync(min)) recorded = recordedTrace(dir);
  } else {
    wire = readProgram(input);
    if (path.basename(input) === 'program.kasp') recorded = recordedTrace(dir);
  }
  const target = await makeTarget({ ...o, target: o.target ?? 'child' });
  try {
    const oracle = modelFile ? oracleFor(dir, modelFile) : undefined;
    if (oracle) {
      // Rebuilt from the model: the recorded program names a scratch dir that is gone by now.
      const scratch = await target.makeScratch();
      try {
        const model = JSON.parse(fs.readFileSync(modelFile!, 'utf8'));
        const avoid = oracle.o.knownBugAvoidance((await target.probe()).kernel);
        const built = oracle.o.buildStream(model, { dir: scratch, slowdown: target.slowdown, ...avoid });
        const w = built.program.encode();
        const r = await replay(target, w, built.program.deadlineMs);
        const v = verdictOf(r.trace, w, { oracle: { o: oracle.o, plan: built.plan }, title }, r.seen);
        return { verdict: v.verdict, lines: [`rebuilt ${path.basename(modelFile!)} and ran it on ${target.name}`, ...v.lines, ...suspectsHint(dir, modelFile!, v)] };
      } finally {
        await target.removeScratch(scratch);
      }
    }
    const r = await replay(target, wire, decodeProgram(wire).deadlineMs);
    const v = verdictOf(r.trace, wire, { recorded, title }, r.seen);
    return { verdict: v.verdict, lines: [`ran the program on ${target.name}`, ...v.lines] };
  } finally {
    await target.close();
  }
}

/** Run a program, then ask the target what it saw (a VM: console reports, leaks); a hang or crash gives no trace. */
async function replay(target: Target, wire: Buffer, deadlineMs: number): Promise<{ trace?: Trace; seen: TargetFinding[] }> {
  let trace: Trace | undefined;
  const seen: TargetFinding[] = [];
  try {
    trace = decodeTrace(await target.runWire(wire, deadlineMs));
  } catch (e) {
    if (!(e instanceof VmError)) throw e;
    seen.push(lostRun(e));
  }
  seen.push(...(await seenByTarget(target, 'the replay')));
  return { trace, seen };
}

/** A finding made with other programs in flight, not shrunk, may be another's: say where they are. */
function suspectsHint(dir: string, modelFile: string, v: ReproVerdict): string[] {
  const file = path.join(dir, 'suspects.json');
  if (v.verdict !== 'passes' || path.basename(modelFile) !== 'model.json' || !fs.existsSync(file)) return [];
  return [`${file} holds the other programs that were in flight when it was seen: it may be one of theirs`];
}

function oracleFor(dir: string, modelFile: string): { o: FuzzOracle; plan: unknown } | undefined {
  if (!fs.existsSync(modelFile)) return undefined;
  const o = loadOracle();
  if (!o) return undefined;
  let model: unknown;
  try {
    model = JSON.parse(fs.readFileSync(modelFile, 'utf8'));
  } catch (e) {
    throw new UsageError(`${modelFile} is not a model: ${(e as Error).message}`);
  }
  // the plan's step indexes do not depend on the scratch dir
  return { o, plan: o.buildStream(model, { dir }).plan };
}

/** Adds `repro <failure-dir | file.kasp | file.c>` to the program. */
export function registerRepro(program: Command): void {
  program
    .command('repro')
    .description('replay a fuzz failure (dir, .kasp program or .c reproducer) and say whether it still fails; exit 1 if it does')
    .argument('<input>', 'failures/<id>, a .kasp program or a .c reproducer')
    .option('-t, --target <name>', 'where the program runs on the host: child (default) or local', 'child')
    .option('-k, --kernel <spec>', 'replay in a qemu VM of this kernel (programs only; .c runs on the host)')
    .option('--modules <dir>', "with --kernel PATH: the kernel's modules")
    .option('--fs <type>', "the VM's scratch filesystem")
    .option('--append <words>', "extra words for the VM kernel's command line")
    .action(async (input: string, o: ReproOptions) => {
      const v = await reproduce(input, o);
      process.stdout.write(v.lines.join('\n') + '\n');
      process.exitCode = v.verdict === 'fails' ? 1 : 0;
    });
}
