/**
 * The VM target: the same programs, run by `kasync-exec --agent` inside qemu booted with a
 * candidate kernel. One VM serves a whole run; it is rebooted after a kernel report, a hang or a
 * crash, and the test that caused it fails with the console tail.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { SYSCALLS } from '../abi';
import { Program } from '../program/builder';
import type { TraceView } from '../program/trace';
import { AttributedReport, attributeReports, classifyHang } from '../vm/console';
import { buildInitramfs } from '../vm/initramfs';
import { BASE_MODULES, FS_MODULES, resolveModules } from '../vm/modules';
import { DiskSource, makeDiskImage, ScratchFs, Vm, VmError } from '../vm/qemu';
import type { KernelImage } from '../vm/types';
import { RunGate } from './gate';
import { cachedProbe } from './host';
import { LocalTarget } from './local';
import { KernelFinding, RunHooks, Target, view } from './target';

/** How to run a VM target. */
export interface VmTargetOptions {
  kernel: KernelImage;
  fs?: ScratchFs;
  /** Keep console logs here (`<kernel>-boot<n>.log`); default: a temp dir removed on close. */
  logDir?: string;
  memoryMb?: number;
  /**
   * vCPUs (default 2). Under TCG on a loaded host one vCPU runs the fuzzer's programs 1.4-2.7x as
   * fast (no waiting for the other vCPU's thread in IPIs, TLB shootdowns and RCU), but loses the true
   * parallelism that races need: bench/fuzz.ts measures both.
   */
  cpus?: number;
  /** Extra kernel command-line words. */
  append?: string;
  /** Boot through the PVH entry when the kernel has one (default true). */
  pvh?: boolean;
  /** Progress lines (boot, reboot, slowdown). */
  log?: (line: string) => void;
  /** Skip measuring the slowdown (tests that only need the VM). */
  slowdown?: number;
  /**
   * /dev/vda instead of a fresh mkfs'ed image: a raw file or an NBD export (src/crash/nbd.ts), mounted
   * as the scratch filesystem `fs` (with fs tmpfs it is attached but not mounted). Reused by reboots.
   */
  disk?: DiskSource;
  /** More disks after /dev/vda (not mounted): a checker VM's crash states. */
  extraDisks?: DiskSource[];
}

/**
 * A program that was in flight when the VM went down for another program's reason (a hang, a
 * crash or a kernel report claimed by another, or a deliberate restart): not a finding of its own,
 * run it again.
 */
export class VmBystanderError extends VmError {}

/** Time a program gets past its deadline, on the host, before the VM counts as hung (scaled). */
const GRACE_MS = 5000;
/** Console lines kept with a hang or crash. */
const TAIL_LINES = 40;
/** Programs that ended lately and are kept as suspects of a report (besides those the console names). */
const RECENT_ENDED = 8;
/** Runs whose ids (by run number) and ends are remembered for naming suspects. */
const RUNS_KEPT = 4096;
/** How long (host ms, scaled) what a finished program held may take to be given back (asynchronous teardown). */
const REST_GRACE_MS = 2000;

/** Work dirs of VM targets not closed yet: removed when the process exits (a Ctrl-C mid-boot, an error exit). */
const openWorkDirs = new Set<string>();
let workDirHook = false;
function trackWorkDir(dir: string): void {
  openWorkDirs.add(dir);
  if (workDirHook) return;
  workDirHook = true;
  process.on('exit', () => {
    for (const d of openWorkDirs) fs.rmSync(d, { recursive: true, force: true });
  });
}

/** Runs programs in a VM of a candidate kernel. */
export class VmTarget implements Target {
  readonly name: string;
  slowdown = 1;
  readonly probe = cachedProbe(this);
  /** Console logs of every boot, in order. */
  readonly consoleLogs: string[] = [];
  /** Boot-to-agent-ready times, ms. */
  readonly bootTimes: number[] = [];
  private vm?: Vm;
  private booting?: Promise<Vm>;
  private readonly workDir: string;
  private readonly logDir: string;
  private runNo = 0;
  /** Console offset up to which reports were already taken. */
  private checkedTo = 0;
  private initramfs?: string;
  private calibrated = false;
  private readonly scratchOwner = new Map<string, Vm>();
  /** VMs whose end is already told: by the program that hung or saw it crash, or stopped on purpose. */
  private readonly claimed = new WeakSet<Vm>();
  /** Programs run concurrently, but a finding is shrunk alone. */
  private readonly gate = new RunGate();
  private kernelCheck: Promise<unknown> = Promise.resolve();
  /** Ids given to runs (RunHooks.onStart), across boots. */
  private lastId = 0;
  /** The running VM's run numbers (its KASYNC-RUN markers) and their ids. */
  private runIds = new Map<number, number>();
  private readonly inFlight = new Set<number>();
  /** The last runs to end, the latest last. */
  private readonly ended: number[] = [];
  /** Runs ended since the guest was last seen at rest (checkRest), the latest last. */
  private sinceRest: number[] = [];

  constructor(private readonly opts: VmTargetOptions) {
    this.name = `vm:${opts.kernel.spec}`;
    this.workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kasync-vm-'));
    trackWorkDir(this.workDir);
    this.logDir = opts.logDir ?? this.workDir;
    if (opts.slowdown) {
      this.slowdown = opts.slowdown;
      this.calibrated = true;
    }
  }

  /** The running VM, booting one if needed. */
  async ensureVm(): Promise<Vm> {
    if (this.vm && !this.vm.exited) return this.vm;
    this.booting ??= this.boot().finally(() => (this.booting = undefined));
    return this.booting;
  }

  /**
   * Boot, and once more if the kernel died on the way up: under TCG a boot very rarely oopses
   * (seen once in ~40 boots of Debian 6.12: "Oops: int3 in sched_clock_cpu"). Each attempt is
   * logged; a kernel that cannot boot twice is reported.
   */
  private async boot(): Promise<Vm> {
    try {
      return await this.bootOnce();
    } catch (e) {
      if (!(e instanceof VmError)) throw e;
      this.opts.log?.(`${e.message}; trying once more (console: ${this.consoleLogs[this.consoleLogs.length - 1]})`);
      return this.bootOnce();
    }
  }

  private async bootOnce(): Promise<Vm> {
    const k = this.opts.kernel;
    const fsType = this.opts.fs ?? 'tmpfs';
    if (!this.initramfs) {
      const plan = k.modulesDir ? await resolveModules(k.modulesDir, [...BASE_MODULES, ...FS_MODULES[fsType]]) : { load: [] };
      this.initramfs = buildInitramfs({ modules: plan.load });
    }
    let disk: DiskSource | undefined = this.opts.disk;
    if (!disk && fsType !== 'tmpfs') {
      disk = path.join(this.workDir, `scratch.${fsType}.img`);
      makeDiskImage(disk, fsType);
    }
    fs.mkdirSync(this.logDir, { recursive: true });
    const consoleLog = path.join(this.logDir, `${k.spec.replace(/[^a-zA-Z0-9.-]/g, '_')}-boot${this.consoleLogs.length + 1}.log`);
    this.consoleLogs.push(consoleLog);
    const vm = new Vm({
      kernel: k,
      initramfs: this.initramfs,
      workDir: this.workDir,
      consoleLog,
      fs: fsType,
      disk,
      extraDisks: this.opts.extraDisks,
      memoryMb: this.opts.memoryMb,
      cpus: this.opts.cpus,
      append: this.opts.append,
      pvh: this.opts.pvh,
      log: this.opts.log,
    });
    this.runNo = 0;
    this.runIds = new Map();
    this.sinceRest = [];
    this.checkedTo = 0;
    try {
      await vm.start();
    } catch (e) {
      await vm.reaped();
      throw e;
    }
    this.vm = vm;
    this.bootTimes.push(vm.bootMs);
    if (!this.calibrated) {
      this.calibrated = true;
      this.slowdown = await this.measureSlowdown(vm);
      this.opts.log?.(`the VM runs ${this.slowdown.toFixed(1)}x slower than the host: timeouts are scaled by that`);
    }
    return vm;
  }

  /**
   * The same two programs here and in the VM, syscall-bound (getpid) and CPU-bound (fill and digest
   * 1 MiB): the larger ratio of their executor-measured spans, best of three each.
   */
  private async measureSlowdown(vm: Vm): Promise<number> {
    const syscalls = new Program({ deadlineMs: 10_000 });
    for (let i = 0; i < 400; i++) syscalls.main.syscall(SYSCALLS.getpid, []);
    const cpu = new Program({ deadlineMs: 10_000 });
    const b = cpu.buf(1 << 20);
    for (let i = 0; i < 4; i++) {
      cpu.main.fillPattern(b, 0, 1 << 20, i + 1);
      cpu.main.digest(b);
    }
    const span = (v: TraceView) => {
      const s = v.trace.steps;
      return Number(s[s.length - 1].t1Ns - s[0].t0Ns);
    };
    const best = async (run: () => Promise<TraceView>) => {
      let min = Infinity;
      for (let i = 0; i < 3; i++) min = Math.min(min, span(await run()));
      return min;
    };
    const local = new LocalTarget();
    try {
      let ratio = 1;
      for (const p of [syscalls, cpu]) {
        const host = await best(() => local.run(p));
        const guest = await best(async () => view((await this.exchange(vm, p.encode(), 10_000))!));
        ratio = Math.max(ratio, guest / Math.max(host, 1));
      }
      return Math.min(100, ratio);
    } finally {
      await local.close();
    }
  }

  private async exchange(vm: Vm, program: Buffer, waitMs: number): Promise<Buffer | null> {
    this.runNo++;
    return vm.runTagged(program, waitMs);
  }

  /**
   * Run `fn` with no other program in flight on this target: others wait until it is done (a
   * finding replayed and shrunk alone, so that what it shows is its own).
   */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.gate.exclusive(fn);
  }

  /** Programs may be run concurrently (each in its own runner in the guest). */
  runWire(program: Buffer, deadlineMs: number, hooks?: RunHooks): Promise<Buffer> {
    return this.gate.run(() => this.runInVm(program, deadlineMs, hooks));
  }

  private async runInVm(program: Buffer, deadlineMs: number, hooks?: RunHooks): Promise<Buffer> {
    const vm = await this.ensureVm();
    const from = vm.consoleEnd;
    const waitMs = (deadlineMs + GRACE_MS) * this.slowdown;
    const no = this.runNo + 1;
    const id = ++this.lastId;
    this.runIds.set(no, id);
    this.runIds.delete(no - RUNS_KEPT);
    this.inFlight.add(id);
    hooks?.onStart?.(id);
    let trace: Buffer | null;
    try {
      trace = await this.exchange(vm, program, waitMs);
    } catch (e) {
      if (!(e instanceof VmError)) throw e;
      // qemu went away under the program: a panic (panic=-1 reboots, -no-reboot exits) or worse
      await vm.reaped();
      this.bystander(vm, no);
      const found = attributeReports(vm.since(from));
      const what = found.length ? `kernel crashed: ${found[0].report.title}` : `VM lost: ${e.message}`;
      // whichever program saw qemu go tells it; the console says whose it may be
      throw this.lost(vm, `${what} (program ${no}; the VM will be rebooted)`, from, found, this.suspectIds(found.flatMap((f) => f.suspects), this.inFlight));
    } finally {
      this.inFlight.delete(id);
      this.ended.push(id);
      if (this.ended.length > RECENT_ENDED) this.ended.shift();
      this.sinceRest.push(id);
      if (this.sinceRest.length > RUNS_KEPT) this.sinceRest.shift();
    }
    if (trace) return trace;
    // no trace in time: a hang. Say what the kernel said, then start over with a fresh VM.
    this.bystander(vm, no);
    const kind = classifyHang(vm.since(from));
    vm.kill();
    await vm.reaped();
    const found = attributeReports(vm.since(from));
    const what = `hang (${kind}): program ${no} gave no trace within ${Math.round(waitMs)} ms; VM killed, the next test gets a fresh one`;
    // its own, most likely; but another program in flight may have wedged what it waited for
    throw this.lost(vm, what, from, found, this.suspectIds([no, ...found.flatMap((f) => f.suspects)], this.inFlight));
  }

  /** The ids of the running VM's run numbers, then `also`, the likeliest first, without repeats. */
  private suspectIds(runs: number[], also: Iterable<number>): number[] {
    const ids = runs.map((n) => this.runIds.get(n)).filter((x): x is number => x !== undefined);
    return [...new Set([...ids, ...also])];
  }

  /** Throws a VmBystanderError if the VM's end was already claimed (by another program or a restart); else claims it. */
  private bystander(vm: Vm, no: number): void {
    if (this.claimed.has(vm)) throw new VmBystanderError(`program ${no} was in flight when the VM was restarted for another reason`, '');
    this.claimed.add(vm);
  }

  /** The error for a VM that is gone; its console reports are told here, not again by checkKernel. */
  private lost(vm: Vm, what: string, from: number, found: AttributedReport[], suspects: number[]): VmError {
    const tail = vm.tail(TAIL_LINES, from);
    const err = new VmError(`${what}\nconsole tail:\n${tail}`, tail);
    err.suspects = suspects;
    if (found.length) err.kernelReport = found.map((r) => r.report.title).join('; ');
    if (this.vm === vm) this.checkedTo = vm.consoleEnd;
    return err;
  }

  async run(p: Program, hooks?: RunHooks): Promise<TraceView> {
    // the agent enforces the program's own deadline: stretch it by the VM's slowdown
    const saved = p.deadlineMs;
    p.deadlineMs = Math.ceil(saved * this.slowdown);
    let bytes: Buffer;
    try {
      bytes = p.encode();
    } finally {
      p.deadlineMs = saved;
    }
    return view(await this.runWire(bytes, p.deadlineMs, hooks));
  }

  async makeScratch(): Promise<string> {
    const vm = await this.ensureVm();
    const dir = await vm.control('mkscratch');
    this.scratchOwner.set(dir, vm);
    return dir;
  }

  async removeScratch(dir: string): Promise<void> {
    const vm = this.scratchOwner.get(dir);
    this.scratchOwner.delete(dir);
    // a scratch dir of a VM that has since gone (crash, hang, report) went with it
    if (!vm || vm !== this.vm || vm.exited) return;
    await vm.control(`rmscratch ${dir}`);
  }

  /** Reports on the console since the last call; a report means a fresh VM for what follows. One call at a time. */
  async checkKernel(): Promise<KernelFinding[]> {
    const turn = this.kernelCheck.then(() => this.checkKernelNow());
    this.kernelCheck = turn.catch(() => undefined);
    return turn;
  }

  private async checkKernelNow(): Promise<KernelFinding[]> {
    const vm = this.vm;
    if (!vm) return [];
    // a report may still be printing: wait until the console has been quiet for a moment
    const until = Date.now() + 2000;
    for (let end = -1; end !== vm.consoleEnd && Date.now() < until; ) {
      end = vm.consoleEnd;
      await new Promise((r) => setTimeout(r, 100));
    }
    const text = vm.since(this.checkedTo);
    this.checkedTo = vm.consoleEnd;
    // the programs in flight now, or lately ended, may be a report's too when its markers are before `text`
    const now = [...this.inFlight, ...this.ended.slice().reverse()];
    const found = attributeReports(text).map(({ run, suspects, report }) => ({
      title: report.title,
      kind: report.kind,
      text: report.text,
      run,
      suspects: this.suspectIds(suspects, now),
    }));
    if (found.length && !vm.exited) await this.stopFor(vm, `kernel report "${found[0].title}"`);
    return found;
  }

  /**
   * What finished programs must have given back (SEMANTICS §1.5: io_destroy and exit take a context's
   * events off fs.aio-nr; an io_uring's io-wq and SQPOLL threads are threads of its process and end
   * with it): once no program is in flight (the section waits for them, and holds new ones back), the
   * guest's fs.aio-nr is 0, no iou-* thread is left, and the agent has no child. Each is polled for a
   * grace first. A leak is a finding whose suspects are the programs run since the last check; the VM
   * is then rebooted, so the next check starts from nothing again.
   */
  async checkRest(): Promise<KernelFinding[]> {
    return this.gate.exclusive(async () => {
      const vm = this.vm;
      if (!vm || vm.exited) return [];
      const until = Date.now() + REST_GRACE_MS * this.slowdown;
      let held: Record<string, number> = {};
      let silent: Error | undefined;
      for (;;) {
        try {
          const reply = await vm.control('rest');
          held = Object.fromEntries([...reply.matchAll(/([\w-]+)=(-?\d+)/g)].map((m) => [m[1], Number(m[2])]));
          silent = undefined;
        } catch (e) {
          // gone meanwhile: that is the finding of the program that saw it go
          if (vm.exited || !(e instanceof VmError)) return [];
          silent = e;
        }
        if ((!silent && ['aio-nr', 'iou', 'children'].every((k) => held[k] === 0)) || Date.now() >= until) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      const suspects = this.sinceRest.reverse();
      this.sinceRest = [];
      const found: KernelFinding[] = [];
      const leak = (title: string, text: string) => found.push({ title, kind: 'leak', text, suspects });
      const grace = `${Math.round(REST_GRACE_MS * this.slowdown)} ms after every program had ended`;
      if (silent) leak('the guest did not answer a check with no program in flight', silent.message.split('\n')[0]);
      else {
        if (held['aio-nr'] !== 0) leak('fs.aio-nr not back to 0 after every AIO context was torn down', `fs.aio-nr ${held['aio-nr']}, ${grace}`);
        if (held.iou !== 0) leak('io_uring threads outlived their process', `${held.iou} iou-* thread(s), ${grace}`);
        if (held.children !== 0) leak('a process outlived its program', `${held.children} child process(es) of the agent, ${grace}`);
      }
      if (found.length) await this.stopFor(vm, `leak "${found[0].title}"`);
      return found;
    });
  }

  /** Power off a VM whose finding is told (a report, a leak): what it ran next cannot be judged; the next program boots a fresh one. */
  private async stopFor(vm: Vm, why: string): Promise<void> {
    this.opts.log?.(`${why}: rebooting the VM`);
    this.claimed.add(vm);
    await vm.stop();
  }

  /** Power the VM off; the next program boots a fresh one (tests that need a fresh kernel). */
  async restart(): Promise<void> {
    await this.booting?.catch(() => undefined);
    const vm = this.vm;
    this.vm = undefined;
    if (vm) this.claimed.add(vm);
    await vm?.stop();
  }

  /**
   * SIGKILL the running VM, if any, and reap it: a power cut, with no guest sync and no shutdown
   * (the crash recorder's crash point). The next program boots a fresh VM.
   */
  async kill(): Promise<void> {
    await this.booting?.catch(() => undefined);
    const vm = this.vm;
    this.vm = undefined;
    if (!vm) return;
    this.claimed.add(vm);
    vm.kill();
    await vm.reaped();
  }

  /** The VM's vCPUs. */
  get cpus(): number {
    return this.opts.cpus ?? 2;
  }

  /** The release the VM booted (after the first boot). */
  get release(): string | undefined {
    return this.vm?.release;
  }

  async close(): Promise<void> {
    await this.restart();
    fs.rmSync(this.workDir, { recursive: true, force: true });
    openWorkDirs.delete(this.workDir);
  }
}
