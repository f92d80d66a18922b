/**
 * `kasync fuzz`: property-based fuzzing of interleaved AIO and io_uring request streams (fuzz/).
 * A live status line on stderr, a summary on stdout (with `--json`, its last line is one JSON object),
 * findings in `--out` (default ./failures), the corpus in `--corpus` (default <out>/corpus.jsonl).
 * Exit 0: nothing found; 1: findings; 2: a usage mistake; 130/143: stopped by SIGINT/SIGTERM after
 * finishing the current failure dir and flushing the corpus.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Command, Option } from 'commander';
import { FAULTS, FaultKind, isFault } from '../../fuzz/faults';
import { fuzz, FuzzStatus, FuzzSummary, StopFlag } from '../../fuzz/runner';
import { MAX_LANES } from '../program/wire';
import { ChildTarget } from '../target/child';
import { LocalTarget } from '../target/local';
import type { Target } from '../target/target';
import { VmTarget } from '../target/vm';
import { isHostKernel, resolveKernel } from '../vm/kernels';
import { UsageError } from './usage';

/** Parse a duration: `500ms`, `60s`, `10m`, `1h`, or a number of seconds. */
export function parseDuration(flag: string, v: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(v.trim());
  const ms = m ? Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'] : NaN;
  if (!(ms > 0) || !Number.isFinite(ms)) throw new UsageError(`${flag} '${v}' must be a positive duration like 60s, 10m or 1h`);
  return Math.round(ms);
}

function parseCount(flag: string, v: string, max = 2 ** 31 - 1): number {
  const n = /^\d+$/.test(v.trim()) ? Number(v) : NaN;
  if (!(n >= 1 && n <= max)) throw new UsageError(`${flag} '${v}' must be a whole number from 1 to ${max}`);
  return n;
}

interface FuzzCliOptions {
  time?: string;
  runs?: string;
  seed?: string;
  jobs?: string;
  out: string;
  corpus?: string;
  shrinkTime: string;
  steps: string;
  json?: boolean;
  target: string;
  kernel?: string;
  modules?: string;
  append?: string;
  vcpus?: string;
  procs?: string;
  injectFault?: string;
}

/** The summary for people: one line, then a line per finding. */
export function formatSummary(s: FuzzSummary, seed: number): string {
  const lines = [
    `kasync fuzz: ${(s.elapsedMs / 1000).toFixed(1)} s, ${s.runs} runs (${s.runsPerSec.toFixed(1)} runs/s), ${s.unique} outcome classes, ${s.failures} failure${s.failures === 1 ? '' : 's'}; seed ${seed}${s.stopped ? ' (stopped early)' : ''}`,
  ];
  for (const f of s.findings)
    lines.push(`FAIL ${f.title} — ${f.dir} (seen ${f.count}x${f.minimalSteps !== undefined ? `, shrunk to ${f.minimalSteps} step${f.minimalSteps === 1 ? '' : 's'}` : ''})`);
  return lines.join('\n') + '\n';
}

function statusLine(s: FuzzStatus): string {
  return `kasync fuzz: ${s.runs} runs, ${s.runsPerSec.toFixed(0)}/s, ${s.unique} outcome classes, ${s.failures} failures`;
}

/** Programs in flight per VM by default: they overlap the guest's waits (RCU grace periods, forks, the virtio round trip). */
const VM_PROCS = 8;

/** Adds `kasync fuzz` to the program. */
export function registerFuzz(program: Command): void {
  program
    .command('fuzz')
    .description('fuzz interleaved AIO and io_uring request streams against the stream oracle; findings go to --out')
    .option('--time <duration>', 'stop after this long: 60s, 10m, 1h (default 60s unless --runs is given)')
    .option('--runs <n>', 'stop after this many programs')
    .option('--seed <n>', 'fast-check seed (default: from the clock; printed in the summary)')
    .option('-j, --jobs <n>', 'parallel executors on the host (default 16), or VMs with --kernel (default 1)')
    .option('--out <dir>', 'failure directories go here', 'failures')
    .option('--corpus <file>', 'the corpus (JSON lines, append-only; default <out>/corpus.jsonl)')
    .option('--shrink-time <duration>', 'time to shrink each new finding', '30s')
    .option('--steps <n>', 'longest program, in stream steps', '20')
    .option('--json', 'the last line of output is one JSON object {runs, runsPerSec, failures, failureDirs}')
    .addOption(new Option('-t, --target <name>', 'where programs run on the host: local (in-process) or child (kasync-exec)').default('local'))
    .option('-k, --kernel <spec>', 'debian:6.1, debian:6.12 or a bzImage path: fuzz in qemu VMs of it')
    .option('--modules <dir>', "with --kernel PATH: the kernel's modules")
    .option('--append <words>', "extra words for the VM kernel's command line")
    .option('--procs <n>', `with --kernel: programs in flight in each VM, each in its own runner (default ${VM_PROCS})`)
    .option('--vcpus <n>', 'with --kernel: vCPUs per VM (default 2; 1 is 1.4-2.7x faster under TCG but not parallel)')
    .addOption(new Option('--inject-fault <kind>', `lie about traces (${FAULTS.join(', ')}) to show the oracle bites`).hideHelp())
    .action(async (o: FuzzCliOptions) => {
      const timeMs = o.time !== undefined ? parseDuration('--time', o.time) : o.runs === undefined ? 60_000 : undefined;
      const runs = o.runs !== undefined ? parseCount('--runs', o.runs) : undefined;
      const shrinkMs = parseDuration('--shrink-time', o.shrinkTime);
      const maxSteps = parseCount('--steps', o.steps, 1000);
      if (o.seed !== undefined && !/^-?\d+$/.test(o.seed.trim())) throw new UsageError(`--seed '${o.seed}' must be an integer`);
      const seed = o.seed !== undefined ? Number(o.seed) | 0 : Date.now() % 0x7fffffff;
      const vm = o.kernel !== undefined && !isHostKernel(o.kernel);
      const jobs = o.jobs !== undefined ? parseCount('--jobs', o.jobs, 256) : vm ? 1 : 16;
      if (o.injectFault !== undefined && !isFault(o.injectFault)) throw new UsageError(`unknown --inject-fault '${o.injectFault}' (${FAULTS.join(', ')})`);
      if (!vm && o.target !== 'local' && o.target !== 'child') throw new UsageError(`unknown target '${o.target}' (local, child)`);
      if (!vm && (o.modules || o.append || o.vcpus || o.procs)) {
        throw new UsageError('--modules, --append, --vcpus and --procs go with --kernel');
      }
      const procs = vm ? (o.procs !== undefined ? parseCount('--procs', o.procs, MAX_LANES) : VM_PROCS) : 1;
      const cpus = o.vcpus !== undefined ? parseCount('--vcpus', o.vcpus, 8) : undefined;
      const out = path.resolve(o.out);
      const corpus = path.resolve(o.corpus ?? path.join(out, 'corpus.jsonl'));
      try {
        fs.mkdirSync(out, { recursive: true });
      } catch (e) {
        throw new UsageError(`cannot create ${out}: ${(e as Error).message}`);
      }
      // executors spend most of their time asleep in io_destroy: give each job an addon thread
      process.env.UV_THREADPOOL_SIZE ??= String(Math.min(128, jobs + 4));
      // on the host, tmpfs unless told otherwise: fsync costs nothing there, so runs are fast
      if (!vm && !process.env.KASYNC_SCRATCH && fs.existsSync('/dev/shm')) process.env.KASYNC_SCRATCH = '/dev/shm';

      const log = (l: string) => process.stderr.write(`kasync: ${l}\n`);
      const kernel = vm ? await resolveKernel(o.kernel!, { modules: o.modules, log }) : undefined;
      const makeTarget = async (j: number): Promise<Target> => {
        if (kernel) return new VmTarget({ kernel, append: o.append, cpus, log: (l) => log(`vm ${j}: ${l}`) });
        return o.target === 'child' ? new ChildTarget() : new LocalTarget();
      };

      // Ctrl-C / SIGTERM: stop scheduling, finish the current failure dir, flush the corpus, summarise.
      // A second signal goes to the handlers that were there before (they exit at once).
      const stop: StopFlag = { stopped: false };
      let signal: 'SIGINT' | 'SIGTERM' | undefined;
      const saved = new Map<'SIGINT' | 'SIGTERM', NodeJS.SignalsListener[]>();
      const onSignal = (s: 'SIGINT' | 'SIGTERM') => {
        if (stop.stopped) {
          restore();
          process.kill(process.pid, s);
          return;
        }
        stop.stopped = true;
        signal = s;
        process.stderr.write(`\nkasync: ${s}: stopping after the current runs (again to stop at once)\n`);
      };
      const restore = () => {
        for (const [s, ls] of saved) {
          process.removeAllListeners(s);
          for (const l of ls) process.on(s, l);
        }
        saved.clear();
      };
      for (const s of ['SIGINT', 'SIGTERM'] as const) {
        saved.set(s, process.listeners(s) as NodeJS.SignalsListener[]);
        process.removeAllListeners(s);
        process.on(s, onSignal);
      }

      const tty = process.stderr.isTTY === true;
      let lastPrinted = 0;
      let summary: FuzzSummary;
      try {
        summary = await fuzz({
          timeMs,
          runs,
          seed,
          jobs,
          procs,
          out,
          corpus,
          shrinkMs,
          maxSteps,
          makeTarget,
          fault: o.injectFault as FaultKind | undefined,
          stop,
          statusEveryMs: 1000,
          onStatus: (s) => {
            if (tty) process.stderr.write(`\r\x1b[K${statusLine(s)}`);
            else if (s.elapsedMs - lastPrinted >= 10_000) {
              lastPrinted = s.elapsedMs;
              process.stderr.write(`${statusLine(s)}\n`);
            }
          },
          log: (l) => process.stderr.write(`${tty ? '\r\x1b[K' : ''}kasync: ${l}\n`),
        });
      } finally {
        restore();
      }
      if (tty) process.stderr.write('\r\x1b[K');
      process.stdout.write(formatSummary(summary, seed));
      if (o.json)
        process.stdout.write(JSON.stringify({ runs: summary.runs, runsPerSec: Math.round(summary.runsPerSec * 10) / 10, failures: summary.failures, failureDirs: summary.failureDirs }) + '\n');
      process.exitCode = signal ? (signal === 'SIGINT' ? 130 : 143) : summary.failures > 0 ? 1 : 0;
    });
}
