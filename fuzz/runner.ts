/**
 * The fuzz loop: `jobs` executors (host targets or VMs), each running fast-check over stream models;
 * every run is built, executed and judged. A failure is written to its failure dir at once, then
 * shrunk for a bounded time (replaying fast-check's seed and path) and given a minimal program and a
 * C reproducer. New outcome classes go to the corpus, whose entries seed the next run.
 */
import fc from 'fast-check';
import type { Trace } from '../src/program/trace';
import { lostRun, seenByTarget, Target, TargetError } from '../src/target/target';
import { VmBystanderError } from '../src/target/vm';
import { buildStream, knownBugAvoidance } from './build';
import { Corpus } from './corpus';
import { FaultKind, withFault } from './faults';
import { recordFinding, recordMinimal } from './failures';
import { CANCEL_MODES, RING_KINDS, StreamModel, StreamOps, streamArb, supportedOps, UringReqModel } from './model';
import { Failure, judge, outcomeClasses } from './oracle';

/** Set `stopped` to end a run early (Ctrl-C): the current run and failure dir are finished first. */
export interface StopFlag {
  stopped: boolean;
}

/** Options of a fuzz run. */
export interface FuzzOptions {
  /** Stop after this long (ms)… */
  timeMs?: number;
  /** …or after this many runs, whichever comes first. */
  runs?: number;
  seed: number;
  jobs: number;
  /** Failure dirs go here. */
  out: string;
  /** The corpus file. */
  corpus: string;
  /** Time each shrink may take (ms). */
  shrinkMs: number;
  /** Programs in flight per target (default 1): as many fast-check loops share each job's target. */
  procs?: number;
  /** One target per job. */
  makeTarget: (job: number) => Promise<Target>;
  /** Wrap each target with a fault (to show the oracle bites). */
  fault?: FaultKind;
  /** Program length bounds (steps of the model). */
  minSteps?: number;
  maxSteps?: number;
  stop?: StopFlag;
  onStatus?: (s: FuzzStatus) => void;
  /** Console and leak checks (VM targets) at most this often, ms (default 2000); after a failing run, and in a shrink, at once. */
  kernelCheckMs?: number;
  statusEveryMs?: number;
  log?: (line: string) => void;
}

/** Progress figures. */
export interface FuzzStatus {
  runs: number;
  runsPerSec: number;
  /** Distinct outcome classes seen in this run. */
  unique: number;
  /** Distinct findings (failure dirs) of this run. */
  failures: number;
  elapsedMs: number;
}

/** One finding of the run. */
export interface Finding {
  title: string;
  detail: string;
  dir: string;
  count: number;
  /** Steps of the shrunk model (undefined: not shrunk). */
  minimalSteps?: number;
  repro?: string;
}

/** What a run did. */
export interface FuzzSummary extends FuzzStatus {
  failureDirs: string[];
  findings: Finding[];
  stopped: boolean;
  corpusSize: number;
}

/** Thrown inside the property to end fast-check's loop when time or runs are up. */
class Stop extends Error {}

/** The result of one program. */
interface RunResult {
  failures: Failure[];
  trace?: Trace;
  wire: Buffer;
  /** Its id on the target (targets that say; a VM's). */
  id?: number;
  /** For a kernel report, hang or crash: the runs that may have caused it, the likeliest first. */
  suspects?: number[];
}

/** Programs whose models are kept per target, so that a report pinned on another lane's run can be replayed. */
const RECENT_MODELS = 2048;
/** Programs, at most, replayed (and shrunk) for one finding: the likeliest suspects. */
const MAX_SUSPECTS = 16;

/** A finding the target saw (a console report, a leak) rather than the oracle in one program's trace. */
function seenOnTarget(title: string): boolean {
  return title.startsWith('kernel:') || title.startsWith('leak:');
}

/** Run the fuzzer. */
export async function fuzz(o: FuzzOptions): Promise<FuzzSummary> {
  const stop = o.stop ?? { stopped: false };
  const t0 = Date.now();
  const end = o.timeMs !== undefined ? t0 + o.timeMs : Infinity;
  const corpus = new Corpus(o.corpus);
  const outcomes = new Set<string>();
  const findings = new Map<string, Finding>();
  let started = 0;
  let runs = 0;
  const done = () => stop.stopped || Date.now() >= end || (o.runs !== undefined && started >= o.runs);
  const status = (): FuzzStatus => {
    const elapsedMs = Date.now() - t0;
    return { runs, runsPerSec: elapsedMs > 0 ? (runs * 1000) / elapsedMs : 0, unique: outcomes.size, failures: findings.size, elapsedMs };
  };
  const timer = o.onStatus ? setInterval(() => o.onStatus!(status()), o.statusEveryMs ?? 1000) : undefined;

  const procs = Math.max(1, o.procs ?? 1);
  const job = async (j: number) => {
    const raw = await o.makeTarget(j);
    const target = o.fault ? withFault(raw, o.fault) : raw;
    try {
      const caps = await target.probe();
      const ops = supportedOps(caps);
      const arb = streamArb(ops, { minSteps: o.minSteps, maxSteps: o.maxSteps });
      const kernel = caps.kernel;
      // known kernel bugs of this kernel are not found again on every run (src/suite/known-bugs.ts)
      const avoid = knownBugAvoidance(kernel);
      // lanes sharing the target's CPUs: each program's waits allow for the others (not in a shrink, which runs alone)
      const share = target.cpus ? Math.max(1, procs / target.cpus) : 1;
      // one console check every 2 s per target, whichever lane makes it
      const checkMs = o.kernelCheckMs ?? 2000;
      let lastKernelCheck = Date.now();
      // the last programs run on this target, by id: a console report names the ones it may be of
      const recent = new Map<number, StreamModel>();
      // one fast-check loop: `procs` of them share the target, each with its own scratch dir
      const lane = async (l: number) => {
        let scratch = ''; // none yet
        try {
          scratch = await target.makeScratch();
          // a fresh scratch dir in place of the current one, which is removed (a rebooted VM's went with it)
          const renewScratch = async () => {
            const old = scratch;
            scratch = await target.makeScratch();
            if (old) await target.removeScratch(old).catch(() => undefined);
          };
          let envInARow = 0;

          // alone: in a shrink (exclusive), where a kernel finding also has the console checked after every run
          const runOne = async (m: StreamModel, alone = false, checkEach = false): Promise<RunResult> => {
            for (let attempt = 0; ; attempt++) {
              const built = buildStream(m, { dir: scratch, slowdown: target.slowdown, share: alone ? 1 : share, ...avoid });
              let failures: Failure[];
              let trace: Trace | undefined;
              let id: number | undefined;
              let suspects: number[] | undefined;
              const onStart = (n: number) => {
                id = n;
                recent.set(n, m);
                recent.delete(n - RECENT_MODELS);
              };
              try {
                trace = (await target.run(built.program, { onStart })).trace;
                failures = judge(built.plan, trace);
                const classes = outcomeClasses(built.plan, trace);
                for (const c of classes) outcomes.add(c);
                if (!failures.length) corpus.offer(m, classes, kernel);
              } catch (e) {
                // the program never gave a trace: a hang or a lost VM (the VM target reboots for the next one)
                if (e instanceof VmBystanderError) failures = [{ title: 'vm: restarted under this program', detail: e.message, env: true }];
                else {
                  const lost = lostRun(e as Error);
                  suspects = lost.suspects;
                  failures = [{ title: lost.title, detail: lost.detail }];
                }
                await renewScratch().catch(() => undefined);
              }
              if ((target.checkKernel || target.checkRest) && (checkEach || failures.length || Date.now() - lastKernelCheck >= checkMs)) {
                lastKernelCheck = Date.now();
                const seen = await seenByTarget(target, 'this program');
                for (const k of seen) failures.push({ title: k.title, detail: k.detail });
                // the finding's suspects are those of what it is titled by
                if (seenOnTarget(failures[0]?.title ?? '')) suspects ??= seen.find((k) => k.title === failures[0].title)?.suspects;
              }
              const env = failures.filter((f) => f.env);
              if (!env.length) {
                envInARow = 0;
                // the wire bytes only matter for a failure dir: encoding costs as much as judging
                return { failures, trace, wire: failures.length ? built.program.encode() : Buffer.alloc(0), id, suspects };
              }
              // not a finding: run it again (on a fresh scratch dir when setup failed)
              if (++envInARow >= 10) throw new Error(`the environment keeps failing: ${env[0].title}: ${env[0].detail}`);
              o.log?.(`retrying a run: ${env[0].title}: ${env[0].detail}`);
              if (env[0].title.startsWith('setup')) await renewScratch();
            }
          };

          const examples = corpusExamples(corpus, ops);
          for (let iter = 0; !done(); iter++) {
            const seed = (o.seed + (j * procs + l) * 1_000_003 + iter * 7919) | 0;
            let found: { m: StreamModel; r: RunResult; runs: number } | undefined;
            const prop = fc.asyncProperty(arb, async (m) => {
              if (done()) throw new Stop();
              started++;
              const r = await runOne(m);
              runs++;
              if (r.failures.length) {
                found = { m, r, runs };
                return false;
              }
              return true;
            });
            const res = await fc.check(prop, { seed, numRuns: 2 ** 31 - 1, endOnFailure: true, examples: iter === 0 ? examples : [] });
            if (!found || !res.failed || res.errorInstance instanceof Stop) break;
            const f = found.r.failures[0];
            const path = res.counterexamplePath ?? '';
            // a hang, crash or console report with other programs in flight may be theirs: the target names
            // the suspects (the console's markers; what was in flight), and each is replayed alone in turn
            const own = found.r.id;
            const order = [...new Set([...(found.r.suspects ?? []), ...(own === undefined ? [] : [own])])].filter((id) => id === own || recent.has(id)).slice(0, MAX_SUSPECTS);
            const suspects = order.filter((id) => id !== own).map((id) => ({ run: id, model: recent.get(id)! }));
            // this lane's own program is replayed by fast-check's seed and path, another's from its model
            const candidates: Array<{ run?: number; model?: StreamModel }> = order.length ? order.map((id) => (id === own ? {} : { run: id, model: recent.get(id)! })) : [{}];
            const rec = recordFinding(o.out, {
              title: f.title,
              detail:
                found.r.failures.map((x) => `${x.title}: ${x.detail}`).join('\n') +
                (suspects.length ? `\n(${suspects.length} other program(s) may have caused it, in flight, just ended or run since the last check: suspects.json; the shrink replays each alone)` : ''),
              model: found.m,
              program: found.r.wire,
              seed,
              path,
              runs: found.runs,
              trace: found.r.trace ?? { status: 'runner-died', exitStatus: -1, message: 'no trace', steps: [] },
              kernel,
              target: target.name,
              consoleLog: consoleLogOf(raw),
              suspects,
            });
            const finding: Finding = findings.get(rec.dir) ?? { title: f.title, detail: f.detail, dir: rec.dir, count: rec.count };
            finding.count = rec.count;
            findings.set(rec.dir, finding);
            o.log?.(`${rec.isNew ? 'new finding' : 'seen again'}: ${f.title} (${rec.dir}, count ${rec.count})`);
            if (!rec.isNew || stop.stopped) continue;
            // alone on its target, each candidate in turn (this lane's own by fast-check's seed and path)
            const deadline = Date.now() + o.shrinkMs;
            const kernelLevel = seenOnTarget(f.title);
            const run = (x: StreamModel) => runOne(x, true, kernelLevel);
            const shrink = async () => {
              for (const c of candidates) {
                if (stop.stopped || Date.now() > deadline) return undefined;
                const start = c.model ? { model: c.model } : { seed, path, examples: iter === 0 ? examples : [] };
                const m = await shrinkFinding(arb, start, f.title, deadline, stop, run);
                if (m) return { m, run: c.run };
              }
              return undefined;
            };
            const shrunk = await (target.exclusive ? target.exclusive(shrink) : shrink());
            const minimal = shrunk?.m;
            if (shrunk?.run !== undefined) o.log?.(`reproduced by suspect run ${shrunk.run}, not by the program it was seen after`);
            if (minimal) {
              // relative file names: the reproducer runs in whatever directory it is started in
              const built = buildStream(minimal, { dir: '.', slowdown: target.slowdown, ...avoid });
              const m = recordMinimal(rec.dir, minimal, built.program.encode(), shrunk?.run !== undefined ? `shrunk from suspect run ${shrunk.run} (suspects.json), not from model.json` : undefined);
              finding.minimalSteps = minimal.steps.length;
              finding.repro = m.repro;
              o.log?.(`shrunk to ${minimal.steps.length} step(s)${m.error ? ` (${m.error})` : ''}`);
            } else if (!stop.stopped) {
              o.log?.(`not reproduced by replaying ${candidates.length > 1 ? `it or its ${candidates.length - 1} suspect(s)` : 'it'}${procs > 1 ? ' alone' : ''} within --shrink-time: kept as found, with no minimal program`);
            }
          }
        } finally {
          if (scratch) await target.removeScratch(scratch).catch(() => undefined);
        }
      };
      // every lane ends (stop is set by the first that fails) before the target closes
      const ends = await Promise.allSettled(Array.from({ length: procs }, (_, l) => lane(l).catch((e) => ((stop.stopped = true), Promise.reject(e)))));
      for (const e of ends) if (e.status === 'rejected') throw e.reason;
    } finally {
      await target.close();
    }
  };

  // a job that cannot go on (its target is gone, the environment keeps failing) stops the others
  let broken: Error | undefined;
  const guarded = (j: number) =>
    job(j).catch((e: Error) => {
      broken ??= e;
      stop.stopped = true;
    });
  try {
    await Promise.all(Array.from({ length: Math.max(1, o.jobs) }, (_, j) => guarded(j)));
    if (broken) throw new TargetError(`fuzzing stopped: ${broken.message.split('\n')[0]}`);
  } finally {
    if (timer) clearInterval(timer);
    corpus.close();
  }
  const s = status();
  const list = [...findings.values()];
  return { ...s, failures: list.length, failureDirs: list.map((f) => f.dir), findings: list, stopped: stop.stopped, corpusSize: corpus.size };
}

/**
 * Replay the failing case and shrink it, keeping only failures of the same title: from fast-check's
 * seed and path (with the round's examples), or from a model of another lane (shrunk without
 * fast-check's context: every part of streamArb can be).
 */
async function shrinkFinding(
  arb: fc.Arbitrary<StreamModel>,
  start: { seed: number; path: string; examples: [StreamModel][] } | { model: StreamModel },
  title: string,
  deadline: number,
  stop: StopFlag,
  runOne: (m: StreamModel) => Promise<RunResult>,
): Promise<StreamModel | undefined> {
  let best: StreamModel | undefined;
  const prop = fc.asyncProperty(arb, async (m) => {
    if (stop.stopped || Date.now() > deadline) return true;
    const r = await runOne(m);
    if (!r.failures.some((f) => f.title === title)) return true;
    best = m;
    return false;
  });
  // the round's examples (corpus entries): fast-check's path counts them before the generated values. No
  // interruptAfterTimeLimit: it would leave a run in flight (a slow VM's) under the next program; past the
  // deadline the property passes at once, so the shrink ends without starting another run
  if ('model' in start) await fc.check(prop, { examples: [[start.model]], numRuns: 1, endOnFailure: false });
  // numRuns 1: the replayed case only (with more, a case that passes alone is followed by new random ones)
  else await fc.check(prop, { seed: start.seed, path: start.path, examples: start.examples, numRuns: 1, endOnFailure: false });
  return best;
}

/** Corpus entries this kernel can run (only operations its probe supports), newest first. */
function corpusExamples(c: Corpus, ops: StreamOps): [StreamModel][] {
  const kinds = ops.ringKinds ?? ['plain'];
  const modes = ops.cancelModes ?? ['ud'];
  const reqOk = (r: UringReqModel) =>
    ops.uring.includes(r.op) && (!r.fixed || !!ops.fixed) && (!r.select || !!ops.provide) && (r.op !== 'ASYNC_CANCEL' || modes.includes(CANCEL_MODES[r.cancel ?? 0]));
  const ok = (m: StreamModel) =>
    m.steps.every((s) =>
      s.kind === 'submit' || s.kind === 'threadSubmit' || s.kind === 'forkSubmit'
        ? s.reqs.every(reqOk)
        : s.kind === 'aioSubmit'
          ? s.reqs.every((r) => ops.aio.includes(r.op))
          : s.kind === 'files'
            ? !!ops.fixed
            : s.kind === 'bufs'
            ? !!ops.fixedBufs
            : s.kind === 'msPoll' || s.kind === 'msCancel'
              ? !!ops.multishot
              : true,
    ) &&
    (m.kinds ?? []).every((k) => kinds.includes(RING_KINDS[k])) &&
    (m.table === undefined || !!ops.fixed) &&
    (m.bufTable === undefined || !!ops.fixedBufs) &&
    (m.rings.length === 0 || ops.uring.length > 0) &&
    (m.ctxs === 0 || ops.aio.length > 0);
  return c.loaded
    .map((e) => e.model)
    .filter(ok)
    .slice(-32)
    .reverse()
    .map((m) => [m]);
}

function consoleLogOf(t: Target): string | undefined {
  const logs = (t as { consoleLogs?: string[] }).consoleLogs;
  return logs && logs.length ? logs[logs.length - 1] : undefined;
}
