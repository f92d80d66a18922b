/**
 * Fuzzer throughput: runs/s of 20-step stream programs, end to end (generate, build, encode, run,
 * decode, judge), on the host through the addon, against a baseline of the same fuzzer through the
 * `child` target (kasync-exec in a child process) in the same run; then inside a debian:6.12 VM with
 * its default 2 vCPUs and with 1 (`host`: the host part only; `vm`: the VM part only). Goals:
 * 1,000/s with the addon, 100/s in a TCG VM.
 *
 * Where a run's time goes on the host (2026-11-28, this 2-vCPU PVM guest, HZ=250; perf at 1 kHz over
 * 8 s of 16 jobs after a 3 s warm-up, in windows where other work took under 1 ms per run):
 * - before (9.7 ms of CPU per run, 200 runs/s): executor threads 2.3 ms (ring setup and teardown,
 *   munmap of buffers and rings: TLB shootdowns, 0.7 ms in all; page faults on fresh buffers), V8's
 *   optimizing compiler 1.8, SQPOLL kernel threads 1.7, Node's main thread 1.7 (build ~0.5, judge
 *   ~0.3, fast-check ~0.25, decode ~0.1, GC ~0.1), the child target for process-level programs (1 in
 *   20: a runner process, forks, an exec of sh and grep) 0.9, creating and ending executor threads 0.5;
 * - after (7.6-8.9 ms per run, 220-255 runs/s; in-process CPU per run 17% lower in interleaved runs):
 *   executor threads 1.5-1.9 (buffers in pooled arenas: no mmap, munmap or page fault for them; rings
 *   closed before io_destroy's grace period), compiler 0.95 (UringReq and StepResult objects of one
 *   shape each, judgeUring in parts: fewer and smaller recompiles), SQPOLL 1.4-1.5, main thread
 *   1.4-1.8, child target 0.8-1.0, thread start and exit 0.4-0.5.
 * What is left is mostly inherent. An SQPOLL thread spins for sq_thread_idle after every wake-up, 1 ms
 * rounded up to a jiffy (4-8 ms at HZ=250), for the 1 ring in 10 that is SQPOLL. Ring mappings cannot
 * be pooled or unmapped together (io_uring refuses MAP_FIXED): 3-4 munmaps, each a shootdown, per run.
 * The in-process fd snapshot (/proc/self/fd and an fstat per open fd, ~100 with 16 jobs) costs ~0.15 ms.
 * The compiler's share is warm-up: deopts on shapes first seen late go on for ~30 s (the 10 s window
 * here pays for them), after which it is a few per cent. Over 45 s in a quiet window, before and after:
 * 274 and 366 runs/s, 5.8 and 4.2 ms of process CPU per run (main thread 1.2 and 0.9).
 * CPU per run grows with other work on the machine (shootdowns and spinning wait for a busy or
 * descheduled vCPU): compare figures taken in one window. 32 jobs cost ~20% more CPU per run than
 * 4-16: the host figures use 16, the CLI's default. 1,000/s needs 2 ms per run on 2 cores: the SQPOLL
 * spin and the process-level programs alone take more than that at this model's weights.
 * Machine-wide by command (perf -a over 10 s of 16 jobs after 22 s of warm-up, 2026-11-28, both cores
 * busy, 305 runs/s, so 6.5 ms of CPU per run): node (JS, the addon's executor threads and their
 * syscalls) 52%, 3.4 ms; iou-sqp-* 24%, 1.6 ms; kasync-exec (the child target's runners) 13% plus
 * sh and grep 5%, 1.2 ms; iou-wrk-* 4%, 0.3 ms; kernel threads ~3%.
 *
 * In the VM (TCG), one program at a time, a run takes 33-39 ms end to end, of which the program's steps
 * are 8-9 ms in the guest: the rest is a fresh runner process per program (fork, exit), ring and context
 * teardown (an RCU grace period for a program with AIO contexts), the virtio-serial round trip and the
 * host's generate/build/judge. Most of that is waiting, not work: with 8 programs in flight
 * (`kasync fuzz --procs`, the default; tagged frames, each program in its own runner) the same VM ran
 * 3.4-4.2x as many (2026-11-28, debian:6.12, 2 vCPUs, 20-step programs, quiet machine: 101 runs/s in a
 * 30 s bench, 104-118 runs/s in 40 s runs; 22-28 runs/s one at a time), with qemu at ~115% of the 200% its two
 * vCPU threads could use. 12 in flight gave 101-128 runs/s: the default stays 8, as waits are stretched by
 * programs per vCPU (fuzz/build.ts `share`). 1 vCPU with 8 in flight: 67-71 runs/s (CPU-bound). Under load
 * from other work the VM figures drop 20-40%.
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
/** Programs in flight per VM: the CLI's default for --kernel. */
const PROCS = 8;
/** USER_HZ, the unit of /proc times: 100 on every Linux architecture Node runs on. */
const CLOCK_TICKS = 100;

/**
 * CPU ms of Node's main thread so far (utime + stime of its task), or NaN off Linux. Less noisy than
 * runs/s when other work shares the cores: it is what building, decoding and judging cost.
 */
function mainThreadCpuMs(): number {
  return statCpuMs(`/proc/self/task/${process.pid}/stat`, false);
}

/**
 * CPU ms of this process and of its children that ended and were waited for (utime + stime, plus
 * cutime + cstime): with the `child` target, the kasync-exec servers and their runners. The fair
 * measure across targets: runs/s under other work mostly says how much of the machine one got.
 */
function treeCpuMs(): number {
  return statCpuMs('/proc/self/stat', true);
}

function statCpuMs(file: string, children: boolean): number {
  try {
    const stat = fs.readFileSync(file, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(f[11]) + Number(f[12]) + (children ? Number(f[13]) + Number(f[14]) : 0);
    return (ticks * 1000) / CLOCK_TICKS;
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
  procs = 1,
): Promise<{
  runsPerSec: number;
  runs: number;
  failures: number;
  /** Each finding: title and detail (a finding in a benchmark is worth reading). */
  findings: string[];
  mainMsPerRun: number;
  processMsPerRun: number;
  treeMsPerRun: number;
}> {
  const main0 = mainThreadCpuMs();
  const tree0 = treeCpuMs();
  const cpu0 = process.cpuUsage();
  const s = await fuzz({
    timeMs: ms,
    seed,
    jobs: targets.length,
    procs,
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
    findings: s.findings.map((f) => `${f.title}: ${f.detail}`),
    mainMsPerRun: per(mainThreadCpuMs() - main0),
    processMsPerRun: per((cpu.user + cpu.system) / 1000),
    // fuzz() closed the targets: their child processes have been waited for
    treeMsPerRun: per(treeCpuMs() - tree0),
  };
}

async function started<T extends Target>(t: T): Promise<T> {
  await t.probe();
  return t;
}

/** Stop a probed child target's server (its CPU so far is then counted before the measurement); runs restart it. */
async function closed(t: ChildTarget): Promise<ChildTarget> {
  await t.close();
  return t;
}

/** Times each program's round trip and its span in the guest (first step's start to last step's end). */
function timed(t: VmTarget): { rttMs: number; guestMs: number; n: number } {
  const acc = { rttMs: 0, guestMs: 0, n: 0 };
  const run = t.run.bind(t);
  t.run = async (p) => {
    const t0 = Date.now();
    const v = await run(p);
    const s = v.trace.steps;
    acc.rttMs += Date.now() - t0;
    acc.guestMs += s.length ? Number(s[s.length - 1].t1Ns - s[0].t0Ns) / 1e6 : 0;
    acc.n++;
    return v;
  };
  return acc;
}

/** Run the benchmark; returns its figures. */
export async function benchFuzz(log: (s: string) => void, args: string[] = []): Promise<Record<string, number>> {
  if (!process.env.KASYNC_SCRATCH && fs.existsSync('/dev/shm')) process.env.KASYNC_SCRATCH = '/dev/shm';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kasync-bench-fuzz-'));
  const secs = Number(args.find((a) => /^\d+$/.test(a)) ?? 10);
  const jobs = 16;
  const out: Record<string, number> = {};
  try {
    out.findings = 0;
    if (!args.includes('vm')) {
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
      const children = await Promise.all(Array.from({ length: jobs }, () => started(new ChildTarget()).then(closed)));
      const child = await measure(children, secs * 1000, dir, 3);
      out[`host_child_runs_per_sec_jobs${jobs}`] = child.runsPerSec;
      out[`host_addon_tree_cpu_ms_per_run_jobs${jobs}`] = many.treeMsPerRun;
      out[`host_child_tree_cpu_ms_per_run_jobs${jobs}`] = child.treeMsPerRun;
      out.addon_over_child = Math.round((many.runsPerSec / Math.max(child.runsPerSec, 0.1)) * 100) / 100;
      out.addon_cpu_saving_over_child = Math.round((child.treeMsPerRun / Math.max(many.treeMsPerRun, 0.001)) * 100) / 100;
      log(`host, child (baseline), ${jobs} jobs: ${child.runsPerSec} runs/s; the addon does ${out.addon_over_child}x that`);
      log(
        `  CPU per run with child processes: child ${child.treeMsPerRun} ms, addon ${many.treeMsPerRun} ms ` +
          `(${out.addon_cpu_saving_over_child}x less)`,
      );
      out.findings += one.failures + many.failures + child.failures;
      for (const f of [...one.findings, ...many.findings, ...child.findings]) log(`  finding: ${f}`);
    }
    out.load_average_1m = Math.round(os.loadavg()[0] * 10) / 10;
    if (!args.includes('host')) {
      const kernel = await resolveKernel('debian:6.12', { log });
      // one program at a time (the baseline) against PROCS in flight, on the same VM; then 1 vCPU
      for (const [cpus, procsList] of [
        [2, [1, PROCS]],
        [1, [PROCS]],
      ] as const) {
        const vm = await started(new VmTarget({ kernel, cpus, log: (l) => log(`vm (${cpus} vCPU): ${l}`) }));
        // fuzz() closes its targets: this VM serves both measurements, and is closed below
        const close = vm.close.bind(vm);
        vm.close = async () => undefined;
        try {
          for (const procs of procsList) {
            const t = timed(vm);
            const r = await measure([vm], Math.max(secs, 20) * 1000, dir, 4 + procs, procs);
            const key = `vm_${cpus}cpu_procs${procs}`;
            const per = (v: number) => Math.round((v / Math.max(1, t.n)) * 10) / 10;
            out[`${key}_runs_per_sec`] = r.runsPerSec;
            out[`${key}_round_trip_ms`] = per(t.rttMs);
            out[`${key}_guest_steps_ms`] = per(t.guestMs);
            out[`vm_${cpus}cpu_slowdown`] = Math.round(vm.slowdown * 10) / 10;
            out.findings += r.failures;
            const what = `debian:6.12 VM, ${cpus} vCPU (slowdown ${out[`vm_${cpus}cpu_slowdown`]}x), ${procs} in flight`;
            log(`${what}: ${r.runsPerSec} runs/s (${r.runs} runs, ${r.failures} findings)`);
            for (const f of r.findings) log(`  finding: ${f}`);
            log(`  per run: ${out[`${key}_round_trip_ms`]} ms round trip, of which the program's steps ${out[`${key}_guest_steps_ms`]} ms in the guest`);
          }
        } finally {
          await close();
        }
      }
      out.vm_procs_over_one = Math.round((out[`vm_2cpu_procs${PROCS}_runs_per_sec`] / Math.max(0.1, out.vm_2cpu_procs1_runs_per_sec)) * 100) / 100;
      log(`${PROCS} programs in flight run ${out.vm_procs_over_one}x as many programs a second as one at a time (2 vCPUs)`);
    }
    return out;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
