/**
 * Fuzzer throughput: runs/s of 20-step stream programs, end to end (generate, build, encode, run,
 * decode, judge), on the host through the addon, against a baseline of the same fuzzer through the
 * `child` target (kasync-exec in a child process) in the same run; then inside a debian:6.12 VM
 * (skipped with the argument `host`). Goals: 1,000/s with the addon, 100/s in a TCG VM.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { fuzz } from '../fuzz/runner';
import { ChildTarget } from '../src/target/child';
import { LocalTarget } from '../src/target/local';
import type { Target } from '../src/target/target';
import { VmTarget } from '../src/target/vm';
import { resolveKernel } from '../src/vm/kernels';

// executors sleep in io_destroy (an RCU grace period): many in flight need many addon threads.
// Read by libuv when its pool starts, which is after this module loads.
process.env.UV_THREADPOOL_SIZE ??= '64';

const STEPS = 20;
/** USER_HZ, the unit of /proc times: 100 on every Linux architecture Node runs on. */
const CLOCK_TICKS = 100;

/**
 * CPU ms of Node's main thread so far (utime + stime of its task), or NaN off Linux. Less noisy than
 * runs/s when other work shares the cores: it is what building, decoding and judging cost.
 */
function mainThreadCpuMs(): number {
  try {
    const stat = fs.readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return NaN;
  }
}
/** Fuzz for `ms` (or `runs`) on already-started targets; runs/s and CPU ms per run (main thread, whole process). */
async function measure(
  targets: Target[],
  ms: number,
  dir: string,
  seed: number,
): Promise<{ runsPerSec: number; runs: number; failures: number; mainMsPerRun: number; processMsPerRun: number }> {
  const main0 = mainThreadCpuMs();
  const cpu0 = process.cpuUsage();
  const s = await fuzz({
    timeMs: ms,
    seed,
    jobs: targets.length,
    out: path.join(dir, `out-${seed}`),
    corpus: path.join(dir, `corpus-${seed}.jsonl`),
    shrinkMs: 1000,
    minSteps: STEPS,
    maxSteps: STEPS,
    makeTarget: async (j) => targets[j],
  });
  const cpu = process.cpuUsage(cpu0);
  const per = (v: number) => Math.round((v / Math.max(1, s.runs)) * 1000) / 1000;
  return {
    runsPerSec: Math.round(s.runsPerSec * 10) / 10,
    runs: s.runs,
    failures: s.failures,
    mainMsPerRun: per(mainThreadCpuMs() - main0),
    processMsPerRun: per((cpu.user + cpu.system) / 1000),
  };
}

async function started<T extends Target>(t: T): Promise<T> {
  await t.probe();
  return t;
}

/** Run the benchmark; returns its figures. */
export async function benchFuzz(log: (s: string) => void, args: string[] = []): Promise<Record<string, number>> {
  if (!process.env.KASYNC_SCRATCH && fs.existsSync('/dev/shm')) process.env.KASYNC_SCRATCH = '/dev/shm';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kasync-bench-fuzz-'));
  const secs = Number(args.find((a) => /^\d+$/.test(a)) ?? 10);
  const jobs = 32;
  const out: Record<string, number> = {};
  try {
    const one = await measure([await started(new LocalTarget())], secs * 1000, dir, 1);
    out.host_addon_runs_per_sec_jobs1 = one.runsPerSec;
    log(`host, addon, 1 job: ${one.runsPerSec} runs/s (${one.runs} runs, ${one.failures} findings)`);
    const many = await measure(await Promise.all(Array.from({ length: jobs }, () => started(new LocalTarget()))), secs * 1000, dir, 2);
    out[`host_addon_runs_per_sec_jobs${jobs}`] = many.runsPerSec;
    out[`host_addon_main_thread_cpu_ms_per_run_jobs${jobs}`] = many.mainMsPerRun;
    out[`host_addon_process_cpu_ms_per_run_jobs${jobs}`] = many.processMsPerRun;
    log(`host, addon, ${jobs} jobs: ${many.runsPerSec} runs/s (${many.runs} runs, ${many.failures} findings)`);
    // every thread's CPU (executors, kernel work in syscalls) over 2 cores bounds runs/s, however fast Node's part is
    const load = os.loadavg()[0].toFixed(1);
    log(`  CPU per run: main thread ${many.mainMsPerRun} ms, whole process ${many.processMsPerRun} ms (load average ${load})`);
    const child = await measure(await Promise.all(Array.from({ length: jobs }, () => started(new ChildTarget()))), secs * 1000, dir, 3);
    out[`host_child_runs_per_sec_jobs${jobs}`] = child.runsPerSec;
    out.addon_over_child = Math.round((many.runsPerSec / Math.max(child.runsPerSec, 0.1)) * 100) / 100;
    log(`host, child (baseline), ${jobs} jobs: ${child.runsPerSec} runs/s; the addon does ${out.addon_over_child}x that`);
    out.findings = one.failures + many.failures + child.failures;
    out.load_average_1m = Math.round(os.loadavg()[0] * 10) / 10;
    if (!args.includes('host')) {
      const kernel = await resolveKernel('debian:6.12', { log });
      const vmJobs = 1;
      const vms = await Promise.all(Array.from({ length: vmJobs }, (_, j) => started(new VmTarget({ kernel, log: (l) => log(`vm ${j}: ${l}`) }))));
      const vm = await measure(vms, Math.max(secs, 20) * 1000, dir, 4);
      out.vm_runs_per_sec = vm.runsPerSec;
      out.vm_slowdown = Math.round((vms[0].slowdown ?? 1) * 10) / 10;
      out.findings += vm.failures;
      log(`debian:6.12 VM (slowdown ${out.vm_slowdown}x), ${vmJobs} job: ${vm.runsPerSec} runs/s (${vm.runs} runs, ${vm.failures} findings)`);
    }
    return out;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
