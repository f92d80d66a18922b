/**
 * One qemu VM: a candidate kernel, kasync's initramfs, the serial console captured to a log, and
 * the agent (`kasync-exec --agent`) on a virtio-serial port named kasync.agent. No network device.
 * qemu dies with us on every path: it runs under `setpriv --pdeathsig KILL` in its own process
 * group, and every live VM is killed on process exit.
 */
import { ChildProcess, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import { UsageError } from '../cli/usage';
import { TargetError } from '../target/target';
import { findExecutable } from '../tools';
import { parseReports } from './console';
import type { KernelImage } from './types';
import { bootableKernel, hasKasan } from './vmlinux';

/** The qemu binary (override with $KASYNC_QEMU). */
export const QEMU_BIN = process.env.KASYNC_QEMU || 'qemu-system-x86_64';

/** Which accelerator qemu gets: KVM when /dev/kvm is usable, TCG (software emulation) otherwise. */
export function accelerator(): 'kvm' | 'tcg' {
  try {
    fs.accessSync('/dev/kvm', fs.constants.R_OK | fs.constants.W_OK);
    return 'kvm';
  } catch {
    return 'tcg';
  }
}

/** The filesystem the guest's scratch directory lives on. */
export type ScratchFs = 'tmpfs' | 'ext4' | 'xfs' | 'btrfs';

/**
 * A disk qemu attaches: a raw image file, or an export of an NBD server on a Unix socket
 * (src/crash/nbd.ts). Either way with cache=writeback: writethrough/directsync would make every
 * write FUA and hide missing flushes (research/nbd_experiment.md §3.3).
 */
export type DiskSource = string | { nbdSocket: string; exportName?: string };

/** The -drive argument for `src` as drive `id`. */
export function driveArg(src: DiskSource, id: string): string {
  if (typeof src === 'string') return `file=${src.replace(/,/g, ',,')},format=raw,if=none,id=${id},cache=writeback`;
  const sock = src.nbdSocket.replace(/[^A-Za-z0-9/._-]/g, (c) => encodeURIComponent(c));
  return `file=nbd+unix:///${src.exportName ?? ''}?socket=${sock},format=raw,if=none,id=${id},cache=writeback`;
}

/** How to boot. */
export interface VmOptions {
  kernel: KernelImage;
  initramfs: string;
  /** Directory for the agent socket (the caller removes it). */
  workDir: string;
  /** Where the console goes (default workDir/console.log); appended to. */
  consoleLog?: string;
  fs?: ScratchFs;
  /** A raw disk image or NBD export attached as /dev/vda (the scratch filesystem when fs is not tmpfs). */
  disk?: DiskSource;
  /** More disks, attached after `disk` (/dev/vdb, … when `disk` is given; from /dev/vda otherwise). */
  extraDisks?: DiskSource[];
  memoryMb?: number;
  cpus?: number;
  /** Extra kernel command-line words. */
  append?: string;
  /** Boot the ELF inside the bzImage through its PVH entry (default true; see vmlinux.ts). */
  pvh?: boolean;
  /** Seconds before the kernel reports a hung task (kernel.hung_task_timeout_secs). */
  hungTaskSecs?: number;
  /** How long boot may take until the agent says ready. */
  bootTimeoutMs?: number;
  log?: (line: string) => void;
}

/**
 * How long a boot may take by default. The debug profile's KASAN kernel booted in 56 s under TCG with the host's
 * 2 cores busy, and took over 120 s at a load of 12; a Debian kernel boots in about 3 s.
 */
export function bootTimeoutMs(config?: string): number {
  return hasKasan(config) ? 360_000 : 120_000;
}

/** The VM went away or never came up; `consoleTail` holds the last lines it printed. */
export class VmError extends TargetError {
  /** Titles of the kernel reports that came with it (a crash's panic, a hang's hung-task report). */
  kernelReport?: string;
  /** Runs that may have caused it (VmTarget ids, the likeliest first; see KernelFinding.suspects). */
  suspects?: number[];

  constructor(
    message: string,
    readonly consoleTail: string,
  ) {
    super(message);
  }
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function track(p: ChildProcess): void {
  live.add(p);
  p.once('exit', () => live.delete(p));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', killAllVms);
  }
}

/** SIGKILL every qemu this process started (exit paths and signal handlers call it). */
export function killAllVms(): void {
  for (const p of live) {
    try {
      process.kill(-p.pid!, 'SIGKILL');
    } catch {
      p.kill('SIGKILL');
    }
  }
}

/** How many VMs this process has running. */
export function liveVmCount(): number {
  return live.size;
}

let setprivOk: boolean | undefined;
function hasPdeathsig(): boolean {
  setprivOk ??= spawnSync('setpriv', ['--pdeathsig', 'KILL', 'true'], { timeout: 5000 }).status === 0;
  return setprivOk;
}

const CONSOLE_KEEP = 8 << 20;

/** A running VM and its agent connection. */
export class Vm {
  readonly accel = accelerator();
  readonly consoleLog: string;
  /** Console text received so far (the front is dropped past 8 MiB; `consoleBase` counts what was dropped). */
  console = '';
  consoleBase = 0;
  release = '';
  bootMs = 0;
  private proc?: ChildProcess;
  private sock?: net.Socket;
  private inbox: Buffer = Buffer.alloc(0);
  private waiting?: { resolve: (b: Buffer) => void; reject: (e: Error) => void };
  /** Programs in flight by tag (WIRE.md, "Lanes"). */
  private readonly tagged = new Map<number, { resolve: (b: Buffer) => void; reject: (e: Error) => void }>();
  private nextTag = 1;
  /** Control requests go one at a time. */
  private controlChain: Promise<unknown> = Promise.resolve();
  private exitInfo?: string;
  private stderr = '';
  private readonly logFd: number;

  constructor(readonly opts: VmOptions) {
    this.consoleLog = opts.consoleLog ?? path.join(opts.workDir, 'console.log');
    this.logFd = fs.openSync(this.consoleLog, 'a');
  }

  /** Has qemu exited? */
  get exited(): boolean {
    return this.exitInfo !== undefined;
  }

  /** The last `lines` lines of the console. */
  tail(lines = 60, from = 0): string {
    const start = Math.max(0, from - this.consoleBase);
    return this.console.slice(start).split('\n').slice(-lines).join('\n');
  }

  /** The console text since absolute offset `from`. */
  since(from: number): string {
    return this.console.slice(Math.max(0, from - this.consoleBase));
  }

  /** Absolute offset of the console's end. */
  get consoleEnd(): number {
    return this.consoleBase + this.console.length;
  }

  private args(sock: string): string[] {
    const o = this.opts;
    const append = [
      'console=ttyS0', 'quiet', 'panic=-1', 'rdinit=/init',
      `kasync.fs=${o.fs ?? 'tmpfs'}`, `kasync.hung=${o.hungTaskSecs ?? 20}`,
      // a KASAN kernel under TCG on a busy host ran ACPI's _PRT past its loop timeout: PCI interrupts were not
      // routed and the agent's port never came; the BIOS's PIRQ table routes them without AML
      hasKasan(o.kernel.config) ? 'pci=noacpi' : '', o.append ?? '',
    ].filter(Boolean).join(' ');
    const a = [
      '-accel', this.accel, '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
      '-m', String(o.memoryMb ?? 1024), '-smp', String(o.cpus ?? 2),
      '-kernel', o.pvh === false ? o.kernel.vmlinuz : bootableKernel(o.kernel.vmlinuz, o.log, o.kernel.config), '-initrd', o.initramfs, '-append', append,
      '-chardev', 'stdio,id=con,signal=off', '-serial', 'chardev:con',
      '-chardev', `socket,id=agent,path=${sock},server=on,wait=off`,
      '-device', 'virtio-serial-pci', '-device', 'virtserialport,chardev=agent,name=kasync.agent',
    ];
    [...(o.disk ? [o.disk] : []), ...(o.extraDisks ?? [])].forEach((d, i) =>
      a.push('-drive', driveArg(d, `d${i}`), '-device', `virtio-blk-pci,drive=d${i}`),
    );
    return a;
  }

  /** Boot until the agent says ready. */
  async start(): Promise<void> {
    const o = this.opts;
    for (const f of [o.kernel.vmlinuz, o.initramfs]) if (!fs.existsSync(f)) throw new UsageError(`${f} does not exist`);
    const qemu = findExecutable(QEMU_BIN);
    if (!qemu) throw new UsageError(`${QEMU_BIN} not found: apt-get install qemu-system-x86 (or set KASYNC_QEMU)`);
    const sock = path.join(o.workDir, 'agent.sock');
    fs.rmSync(sock, { force: true });
    const t0 = Date.now();
    const [cmd, args] = hasPdeathsig()
      ? ['setpriv', ['--pdeathsig', 'KILL', '--', qemu, ...this.args(sock)]]
      : [qemu, this.args(sock)];
    o.log?.(`booting ${o.kernel.spec} (${o.kernel.release}) under ${this.accel === 'kvm' ? 'KVM' : 'TCG (no /dev/kvm: software emulation)'}`);
    const proc = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    this.proc = proc;
    track(proc);
    proc.stdout!.on('data', (d: Buffer) => this.onConsole(d));
    proc.stderr!.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-4096)));
    const exited = new Promise<void>((resolve) => {
      proc.once('error', (e) => {
        this.exitInfo = `${QEMU_BIN} could not start: ${e.message}`;
        resolve();
      });
      proc.once('exit', (code, sig) => {
        const err = this.stderr.trim().split('\n').filter(Boolean).pop();
        this.exitInfo ??= `qemu exited (${sig ?? `status ${code}`})${err ? `: ${err}` : ''}`;
        this.sock?.destroy();
        resolve();
      });
    });
    exited.then(() => {
      const err = new VmError(`VM lost: ${this.exitInfo}`, this.tail());
      this.waiting?.reject(err);
      for (const w of this.tagged.values()) w.reject(err);
      this.tagged.clear();
    });

    const bootMs = o.bootTimeoutMs ?? bootTimeoutMs(o.kernel.config);
    const bootDeadline = t0 + bootMs;
    // qemu's 'exit' can come before the last of its console output has been read (a panic's lines):
    // take the console once its pipe has closed (or after a moment), then the kernel's own words
    const consoleClosed = new Promise<void>((resolve) => proc.stdout!.once('close', resolve));
    const failBoot = async (why: string) => {
      this.kill();
      await Promise.race([consoleClosed, sleep(2000)]);
      return new VmError(`kernel ${o.kernel.spec} did not boot: ${bootFailure(this.console, why)}`, this.tail());
    };
    // qemu makes the socket server soon after it starts; connect once it is there
    while (!this.sock) {
      if (this.exited) throw await failBoot(this.exitInfo!);
      if (Date.now() > bootDeadline) throw await failBoot('qemu never opened the agent socket');
      if (fs.existsSync(sock)) {
        this.sock = await new Promise<net.Socket | undefined>((resolve) => {
          const s = net.connect(sock);
          s.once('connect', () => resolve(s));
          s.once('error', () => resolve(undefined));
        });
      }
      if (!this.sock) await sleep(20);
    }
    this.sock.on('data', (d: Buffer) => this.onAgent(d));
    this.sock.on('error', () => undefined); // qemu's exit reports it
    let timer: NodeJS.Timeout | undefined;
    const ready = await Promise.race([
      this.nextFrame(),
      exited.then(() => undefined),
      new Promise<null>((r) => (timer = setTimeout(() => r(null), Math.max(0, bootDeadline - Date.now())))),
    ])
      .catch(() => undefined)
      .finally(() => clearTimeout(timer));
    if (ready === null) throw await failBoot(`no agent after ${bootMs} ms`);
    if (!ready) throw await failBoot(this.exitInfo ?? 'the agent connection closed');
    const text = ready.toString('utf8', 4);
    if (ready.toString('latin1', 0, 4) !== 'KASR' || !text.startsWith('ready ')) throw await failBoot(`unexpected first frame '${text.slice(0, 60)}'`);
    this.release = text.slice(6).trim();
    this.bootMs = Date.now() - t0;
    o.log?.(`agent ready on ${this.release} after ${(this.bootMs / 1000).toFixed(1)} s`);
    // failed module loads or mounts leave the VM without what the run needs
    const fail = /KASYNC-INIT FAIL (.*)/.exec(this.console);
    if (fail) throw await failBoot(fail[1].trim());
  }

  private onConsole(d: Buffer): void {
    fs.writeSync(this.logFd, d);
    this.console += d.toString('utf8').replace(/\r/g, '');
    if (this.console.length > CONSOLE_KEEP) {
      const cut = this.console.length - CONSOLE_KEEP / 2;
      this.console = this.console.slice(cut);
      this.consoleBase += cut;
    }
  }

  private onAgent(d: Buffer): void {
    this.inbox = this.inbox.length ? Buffer.concat([this.inbox, d]) : d;
    while (this.inbox.length >= 4) {
      const n = this.inbox.readUInt32LE(0);
      if (this.inbox.length < 4 + n) break;
      const frame = Buffer.from(this.inbox.subarray(4, 4 + n));
      this.inbox = this.inbox.subarray(4 + n);
      if (n >= 8 && frame.toString('latin1', 0, 4) === 'KASL') {
        // a tagged program's trace; one whose waiter timed out is dropped
        const tag = frame.readUInt32LE(4);
        this.tagged.get(tag)?.resolve(frame.subarray(8));
        this.tagged.delete(tag);
        continue;
      }
      const w = this.waiting;
      this.waiting = undefined;
      w?.resolve(frame);
    }
  }

  private nextFrame(): Promise<Buffer> {
    return new Promise((resolve, reject) => (this.waiting = { resolve, reject }));
  }

  /** Send one frame and wait for the answer; rejects with a VmError when qemu exits, resolves null after timeoutMs. */
  async request(frame: Buffer, timeoutMs: number): Promise<Buffer | null> {
    if (this.exited || !this.sock) throw new VmError(`VM lost: ${this.exitInfo ?? 'not started'}`, this.tail());
    if (this.waiting) throw new TargetError('one request at a time');
    const answer = this.nextFrame();
    this.sock.write(framed(frame));
    return withTimeout(answer, timeoutMs, () => (this.waiting = undefined));
  }

  /**
   * Run a program as one of several in flight (a tagged frame, WIRE.md "Lanes"): its trace, or null
   * after timeoutMs; rejects with a VmError when qemu exits.
   */
  async runTagged(program: Buffer, timeoutMs: number): Promise<Buffer | null> {
    if (this.exited || !this.sock) throw new VmError(`VM lost: ${this.exitInfo ?? 'not started'}`, this.tail());
    const tag = this.nextTag;
    this.nextTag = (this.nextTag + 1) >>> 0 || 1;
    const answer = new Promise<Buffer>((resolve, reject) => this.tagged.set(tag, { resolve, reject }));
    const head = Buffer.alloc(8);
    head.write('KASL', 0, 'latin1');
    head.writeUInt32LE(tag, 4);
    this.sock.write(framed(Buffer.concat([head, program])));
    return withTimeout(answer, timeoutMs, () => this.tagged.delete(tag));
  }

  /** A control command (WIRE.md, "Control frames"): the agent's "ok …" text, or a TargetError. One at a time. */
  async control(cmd: string, timeoutMs = 10_000): Promise<string> {
    const turn = this.controlChain.then(() => this.request(Buffer.from('KASC' + cmd), timeoutMs));
    this.controlChain = turn.catch(() => undefined);
    const r = await turn;
    if (!r) throw new VmError(`agent did not answer '${cmd}' within ${timeoutMs} ms`, this.tail());
    const text = r.toString('utf8', 4);
    if (r.toString('latin1', 0, 4) !== 'KASR' || !text.startsWith('ok')) throw new TargetError(`agent: ${cmd}: ${text}`);
    return text.slice(2).trim();
  }

  /** Power off (no sync) and reap qemu; kill it if it does not go within timeoutMs. */
  async stop(timeoutMs = 10_000): Promise<void> {
    const proc = this.proc;
    if (!proc) return this.closeLog();
    if (!this.exited && this.sock && !this.waiting) {
      this.sock.write(framed(Buffer.from('KASCpoweroff')));
    }
    const gone = new Promise<void>((resolve) => (this.exited ? resolve() : proc.once('exit', () => resolve())));
    const t = setTimeout(() => this.kill(), timeoutMs);
    await gone;
    clearTimeout(t);
    this.closeLog();
  }

  /** SIGKILL qemu now (its exit is awaited by stop()). */
  kill(): void {
    const p = this.proc;
    if (!p || this.exited) return;
    try {
      process.kill(-p.pid!, 'SIGKILL');
    } catch {
      p.kill('SIGKILL');
    }
  }

  /** Wait for qemu to be gone (after kill()). */
  async reaped(timeoutMs = 10_000): Promise<void> {
    const p = this.proc;
    if (!p || this.exited) return this.closeLog();
    await Promise.race([new Promise((r) => p.once('exit', r)), sleep(timeoutMs)]);
    this.closeLog();
  }

  private logClosed = false;
  private closeLog(): void {
    if (this.logClosed) return;
    this.logClosed = true;
    fs.closeSync(this.logFd);
  }
}

function framed(b: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32LE(b.length);
  return Buffer.concat([head, b]);
}

/**
 * Why a boot failed, in the kernel's own words when the console has them: "kernel panic: No working init found…
 * (qemu exited …)". The panic is why it stopped; other reports on the way (a rare oops under TCG) come after it.
 */
export function bootFailure(console: string, why: string): string {
  const reports = parseReports(console);
  const main = reports.find((r) => r.kind === 'panic') ?? reports[0];
  if (!main) return why;
  const others = reports.filter((r) => r !== main).map((r) => r.title);
  return `${main.title} (${why}${others.length ? `; before it: ${others.join('; ')}` : ''})`;
}

/** The answer, or null after ms; `done` runs either way (the waiter is forgotten). */
async function withTimeout(answer: Promise<Buffer>, ms: number, done: () => void): Promise<Buffer | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), ms)));
  try {
    return await Promise.race([answer, timeout]);
  } finally {
    clearTimeout(timer);
    done();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Make a raw disk image of `size` bytes with filesystem `fs` (mkfs on the host). */
export function makeDiskImage(file: string, fsType: Exclude<ScratchFs, 'tmpfs'>, sizeMb = 512): void {
  fs.writeFileSync(file, '');
  fs.truncateSync(file, sizeMb << 20);
  const mkfs: Record<typeof fsType, [string, string[], string]> = {
    ext4: ['mkfs.ext4', ['-F', '-q', '-E', 'lazy_itable_init=0,lazy_journal_init=0', file], 'e2fsprogs'],
    xfs: ['mkfs.xfs', ['-f', '-q', file], 'xfsprogs'],
    btrfs: ['mkfs.btrfs', ['-f', '-q', file], 'btrfs-progs'],
  };
  const [bin, args, pkg] = mkfs[fsType];
  const r = spawnSync(bin, args, { timeout: 60_000, encoding: 'utf8' });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') throw new UsageError(`${bin} is missing: apt-get install ${pkg}`);
  if (r.status !== 0) throw new UsageError(`${bin} failed: ${(r.stderr || r.error?.message || '').trim().split('\n')[0]}`);
}
