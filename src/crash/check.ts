/**
 * Checking crash states: each state image is attached to a checker VM of the same kernel (many per
 * boot, as extra disks), mounted there (journal or log recovery runs), the marked file's size and
 * bytes are read back and umounted; then the host runs the filesystem's own checker read-only on the
 * recovered image. A state violates its mark when it does not mount, the file is missing, its size
 * or data differ from what the guest saw after the sync point, or the checker finds damage.
 *
 * `crashCampaign` is the whole loop for one filesystem: record the workloads on the NBD disk
 * (record.ts), mark each sync point, crash, compute states (states.ts) and check them.
 */
import { spawnSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { AT, O, SEEK, SYSCALLS } from '../abi';
import { arg, Program, StepRef } from '../program/builder';
import { openat } from '../program/sys';
import { TraceView } from '../program/trace';
import { programToC } from '../repro/csource';
import type { Capabilities } from '../target/caps';
import { TargetError, view } from '../target/target';
import { findExecutable } from '../tools';
import { attributeReports } from '../vm/console';
import { buildInitramfs } from '../vm/initramfs';
import { BASE_MODULES, FS_MODULES, resolveModules } from '../vm/modules';
import { Vm, VmError } from '../vm/qemu';
import type { KernelImage } from '../vm/types';
import type { FsyncWorkload } from '../../suites/fsync/workloads';
import type { Mark } from './log';
import { writeRecording } from './logfile';
import type { ExportSpec } from './nbd';
import { recordSession } from './record';
import { CrashState, crashStates, marksOf, materialize, recipeOf } from './states';

/** Filesystems the crash checker knows how to make, mount and check. */
export const CRASH_FS = ['ext4', 'xfs', 'btrfs'] as const;
export type CrashFs = (typeof CRASH_FS)[number];

/** The host checker, read-only (exit 0 = clean): e2fsck(8) -n, xfs_repair(8) -n, btrfs-check(8) --readonly. */
export const FSCK: Record<CrashFs, [string, string[]]> = {
  ext4: ['e2fsck', ['-f', '-n']],
  xfs: ['xfs_repair', ['-n', '-f']],
  btrfs: ['btrfs', ['check', '--readonly']],
};

/** Checker boots of this process: numbers their console logs. */
let checkerBoots = 0;

/** The largest file a check reads back (one DUMP). */
const READ_MAX = 1 << 20;
/** Deadline of one state's program in the guest (TCG: a journal replay can take seconds). */
const STATE_DEADLINE_MS = 120_000;

/** What a state showed. */
export interface StateVerdict {
  state: CrashState;
  image: string;
  /** Why the state breaks its mark's promise (empty: it keeps it). */
  violations: string[];
  /** The marked file as recovered. */
  found?: { size: number; sha256: string };
}

/** How to check. */
export interface CheckerOptions {
  kernel: KernelImage;
  fs: CrashFs;
  /** States per checker boot (default 20; at most 24: PCI slots). */
  perBoot?: number;
  /** Console logs go here. */
  logDir: string;
  log?: (line: string) => void;
}

/** /dev/vda, …, /dev/vdz, /dev/vdaa: the virtio-blk name of the i-th disk. */
export function vdName(i: number): string {
  const letters = (n: number): string =>
    n < 26 ? String.fromCharCode(97 + n) : letters(Math.floor(n / 26) - 1) + letters(n % 26);
  return `/dev/vd${letters(i)}`;
}

/** The guest program of one state: mount, read the marked file's size and bytes, umount. */
function stateProgram(dev: string, mnt: string, fsType: CrashFs, file: string) {
  const p = new Program({ deadlineMs: STATE_DEADLINE_MS });
  const s = p.main;
  s.syscall(SYSCALLS.mkdirat, [AT.FDCWD.value, arg.buf(p.cstr(mnt)), 0o755]);
  const mount = s.syscall(SYSCALLS.mount, [arg.buf(p.cstr(dev)), arg.buf(p.cstr(mnt)), arg.buf(p.cstr(fsType)), 0, 0]);
  const { fd, step: open } = openat(s, path.posix.join(mnt, file), O.RDONLY.value | O.CLOEXEC.value);
  const size = s.syscall(SYSCALLS.lseek, [arg.fd(fd), 0, SEEK.END.value]);
  const b = p.buf(READ_MAX);
  const read = s.syscall(SYSCALLS.pread64, [arg.fd(fd), arg.buf(b), READ_MAX, 0]);
  const dump = s.dump(b);
  s.syscall(SYSCALLS.close, [arg.fd(fd)]);
  const umount = s.syscall(SYSCALLS.umount2, [arg.buf(p.cstr(mnt)), 0]);
  return { p, mount, open, size, read, dump, umount };
}

/** Judge a state's trace against its mark. */
function judge(
  mark: Mark,
  v: TraceView,
  st: ReturnType<typeof stateProgram>,
): Pick<StateVerdict, 'violations' | 'found'> {
  const ret = (r: StepRef) => Number(v.maybe(r)?.ret ?? NaN);
  if (v.trace.status !== 'ok') return { violations: [`check program ${v.trace.status}: ${v.trace.message}`] };
  if (ret(st.mount) !== 0) return { violations: [`does not mount after the crash: mount returned ${ret(st.mount)}`] };
  const violations: string[] = [];
  let found: StateVerdict['found'];
  if (ret(st.open) < 0) violations.push(`${mark.file} is missing after recovery (open returned ${ret(st.open)})`);
  else {
    const size = ret(st.size);
    const n = ret(st.read);
    const data = v.step(st.dump).dump!.subarray(0, Math.max(0, n));
    const sha256 = crypto.createHash('sha256').update(data).digest('hex');
    found = { size, sha256 };
    if (size !== mark.size) violations.push(`${mark.file} has size ${size} after recovery, the mark says ${mark.size}`);
    else if (mark.sha256 && sha256 !== mark.sha256)
      violations.push(
        `${mark.file} has other data after recovery (sha256 ${sha256.slice(0, 16)}…, the mark says ${mark.sha256.slice(0, 16)}…)`,
      );
  }
  if (ret(st.umount) !== 0) violations.push(`umount returned ${ret(st.umount)}`);
  return { violations, found };
}

/** Run the filesystem's checker read-only on an image: undefined when clean, else its verdict. */
export function fsckImage(fsType: CrashFs, image: string): string | undefined {
  const [bin, args] = FSCK[fsType];
  const exe = findExecutable(bin);
  if (!exe) return `${bin} is missing: the image was not checked`;
  const r = spawnSync(exe, [...args, image], { encoding: 'utf8', timeout: 300_000 });
  if (r.error) return `${bin} could not run: ${r.error.message}`;
  if (r.status === 0) return undefined;
  const out = `${r.stdout}\n${r.stderr}`.trim().split('\n').filter(Boolean);
  return `${bin} ${args.join(' ')} exited ${r.status ?? r.signal}: ${out.slice(-6).join(' | ')}`;
}

/**
 * Check states (already materialized as images) in checker VMs of `opts.kernel`, `perBoot` per boot.
 * A kernel that dies or hangs on a state fails that state (with the console's report) and the rest
 * go to a fresh VM.
 */
export async function checkStates(
  items: { state: CrashState; image: string }[],
  opts: CheckerOptions,
): Promise<StateVerdict[]> {
  const k = opts.kernel;
  const plan = k.modulesDir
    ? await resolveModules(k.modulesDir, [...BASE_MODULES, ...FS_MODULES[opts.fs]])
    : { load: [] };
  const initramfs = buildInitramfs({ modules: plan.load });
  const perBoot = Math.max(1, Math.min(24, opts.perBoot ?? 20));
  const verdicts = new Map<CrashState, StateVerdict>();
  const queue = [...items];
  while (queue.length) {
    const batch = queue.splice(0, perBoot);
    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kasync-check-'));
    fs.mkdirSync(opts.logDir, { recursive: true });
    const vm = new Vm({
      kernel: k,
      initramfs,
      workDir,
      consoleLog: path.join(opts.logDir, `check-${opts.fs}-boot${++checkerBoots}.log`),
      fs: 'tmpfs',
      extraDisks: batch.map((b) => b.image),
      log: opts.log,
    });
    try {
      await vm.start();
      for (let i = 0; i < batch.length; i++) {
        const { state, image } = batch[i];
        const st = stateProgram(vdName(i), `/tmp/state${i}`, opts.fs, state.mark.file);
        const from = vm.consoleEnd;
        let raw: Buffer | null;
        try {
          raw = await vm.request(st.p.encode(), STATE_DEADLINE_MS + 30_000);
        } catch (e) {
          if (!(e instanceof VmError)) throw e;
          raw = null;
        }
        if (!raw) {
          // the kernel died or hung on this state: a finding; the rest of the batch gets a fresh VM
          const report = attributeReports(vm.since(from))[0]?.report.title;
          verdicts.set(state, {
            state,
            image,
            violations: [
              `the checker kernel ${vm.exited ? 'died' : 'hung'} on this state${report ? `: ${report}` : ''}`,
            ],
          });
          queue.unshift(...batch.slice(i + 1));
          break;
        }
        verdicts.set(state, { state, image, ...judge(state.mark, view(raw), st) });
      }
    } finally {
      if (vm.exited) await vm.reaped();
      else await vm.stop();
      fs.rmSync(workDir, { recursive: true, force: true });
    }
    // the images are closed now: the host checker sees what the guest's recovery left
    for (const { state } of batch) {
      const v = verdicts.get(state);
      if (!v) continue;
      const bad = fsckImage(opts.fs, v.image);
      if (bad) v.violations.push(bad);
    }
  }
  return items.map(
    ({ state, image }) =>
      verdicts.get(state) ?? { state, image, violations: ['not checked: the checker VM did not boot'] },
  );
}

/** One row of the report: a filesystem × workload × interface. */
export interface CrashRow {
  fs: CrashFs;
  workload: string;
  iface: string;
  datasync: boolean;
  marks: number;
  statesChecked: number;
  violations: number;
  /** Why the workload did not run (the probe says an op is missing). */
  skipped?: string;
  /** The workload itself failed (a step did not do what it needs): no mark, nothing checked. */
  error?: string;
}

/** A row per workload with nothing checked yet (or, with `error`, nothing checked because of it). */
export function emptyRows(fs: CrashFs, workloads: readonly FsyncWorkload[], error?: string): CrashRow[] {
  return workloads.map((w) => ({
    ...{ fs, workload: w.name, iface: w.iface, datasync: w.datasync },
    ...{ marks: 0, statesChecked: 0, violations: 0 },
    ...(error === undefined ? {} : { error }),
  }));
}

/** One state that broke its mark. */
export interface CrashViolation {
  fs: CrashFs;
  workload: string;
  iface: string;
  mark: string;
  state: string;
  problems: string[];
  /** Where it was saved (log, recipe, image, program, C reproducer). */
  dir?: string;
}

/** One filesystem's campaign. */
export interface CampaignOptions {
  kernel: KernelImage;
  fs: CrashFs;
  workloads: readonly FsyncWorkload[];
  /** States per mark (default 20). */
  states?: number;
  seed?: number;
  perBoot?: number;
  /** Violations are saved under `<outDir>/violations/`, console logs under `<outDir>/logs/`. */
  outDir: string;
  /** A lying disk (tests): writes it returns true for are acknowledged but never logged. */
  drop?: ExportSpec['drop'];
  log?: (line: string) => void;
}

/** What a campaign found, and how long its two halves took. */
export interface CampaignResult {
  rows: CrashRow[];
  violations: CrashViolation[];
  release?: string;
  /** Boot, workloads and crash of the recording VM. */
  recordMs: number;
  /** Materializing and checking every state (checker boots and host fsck included). */
  checkMs: number;
}

/** Why a workload cannot run on this kernel, from the probe; undefined when it can. */
export function missingOps(w: FsyncWorkload, caps: Capabilities): string | undefined {
  for (const op of w.needs.uring ?? []) {
    if (!caps.uring.available) return `io_uring unavailable: ${caps.uring.reason}`;
    const o = caps.uring.ops.find((x) => x.name === op);
    if (!o?.supported) return `the probe says IORING_OP_${op} is unsupported`;
  }
  for (const op of w.needs.aio ?? []) {
    if (!caps.aio.available) return `AIO unavailable: ${caps.aio.reason}`;
    const o = caps.aio.ops.find((x) => x.name === op);
    if (!o?.supported) return `the probe says IOCB_CMD_${op} is unsupported`;
  }
  return undefined;
}

const slug = (s: string) => s.replace(/[^A-Za-z0-9._-]+/g, '_');

/**
 * Record every workload on one filesystem, crash, and check `states` crash states at each mark.
 * Rows come back in workload order; a workload that could not run has `skipped` or `error` set.
 */
export async function crashCampaign(o: CampaignOptions): Promise<CampaignResult> {
  const log = o.log ?? (() => undefined);
  const rows = emptyRows(o.fs, o.workloads);
  const programs = new Map<string, Program>();
  const logDir = path.join(o.outDir, 'logs');
  const t0 = Date.now();
  const session = await recordSession({ kernel: o.kernel, fs: o.fs, drop: o.drop, logDir, log });
  let release: string | undefined;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'kasync-crash-'));
  try {
    const caps = await session.target.probe();
    release = caps.kernel;
    const recordOne = async (w: FsyncWorkload, row: CrashRow) => {
      const dir = await session.target.makeScratch();
      const run = w.build(dir);
      const v = await session.target.run(run.program);
      const problems = run.problems(v);
      const size = Number(v.maybe(run.size)?.ret ?? -1);
      if (!problems.length && size !== w.size)
        problems.push(`read back ${size} bytes after the sync point, the workload wrote ${w.size}`);
      if (problems.length) {
        row.error = problems.join('; ');
        log(`${o.fs} ${w.name}: ${row.error}`);
        return;
      }
      const data = v.step(run.dump).dump!.subarray(0, Math.min(size, READ_MAX));
      // the trace came back after the guest reaped the sync point's completion: the mark goes after its FLUSH
      const mark: Mark = {
        id: w.name,
        file: path.posix.relative('/scratch', path.posix.join(dir, w.file)),
        size,
        sha256: crypto.createHash('sha256').update(data).digest('hex'),
        workload: w.name,
        iface: w.iface,
        datasync: w.datasync,
      };
      session.disk.mark(mark);
      programs.set(w.name, run.program);
      row.marks = 1;
      const after = w.after(dir);
      const afterProblems = after.problems(await session.target.run(after.program));
      // the mark stands (it was logged before these ran), but a failed step is reported, not ignored
      if (afterProblems.length) {
        row.error = `after the mark: ${afterProblems.join('; ')}`;
        log(`${o.fs} ${w.name}: ${row.error}`);
      }
    };
    let lost: string | undefined;
    for (const [i, w] of o.workloads.entries()) {
      const row = rows[i];
      row.skipped = missingOps(w, caps);
      if (row.skipped) continue;
      if (lost) {
        row.error = `not run: ${lost}`;
        continue;
      }
      try {
        await recordOne(w, row);
      } catch (e) {
        if (!(e instanceof TargetError)) throw e;
        // a rebooted VM would mount (and recover) the recorded filesystem: stop here, check the marks so far
        lost = `the recording VM was lost under ${w.name}`;
        row.error = (e as Error).message.split('\n')[0];
        log(`${o.fs} ${w.name}: ${row.error}`);
      }
    }
    const rec = await session.crash();
    const t1 = Date.now();
    log(`${o.fs}: recorded ${rec.entries.length} log entries, ${marksOf(rec).length} marks`);
    const items: { state: CrashState; image: string }[] = [];
    for (const m of marksOf(rec)) {
      for (const [n, state] of crashStates(rec, m.id, o.states ?? 20, o.seed ?? 1).entries())
        items.push({ state, image: path.join(work, `${slug(m.id)}-${n}.img`) });
    }
    // materialize per checker boot, so at most one boot's images are on disk at a time
    const perBoot = Math.max(1, Math.min(24, o.perBoot ?? 20));
    const violations: CrashViolation[] = [];
    for (let i = 0; i < items.length; i += perBoot) {
      const batch = items.slice(i, i + perBoot);
      for (const it of batch) materialize(rec, it.state, it.image);
      const verdicts = await checkStates(batch, { kernel: o.kernel, fs: o.fs, perBoot, logDir, log });
      for (const v of verdicts) {
        const row = rows.find((r) => r.workload === v.state.mark.workload)!;
        row.statesChecked++;
        if (v.violations.length) {
          row.violations++;
          const dir = path.join(o.outDir, 'violations', slug(`${o.fs}-${v.state.id}`));
          saveViolation(dir, rec, v, programs.get(v.state.mark.workload));
          violations.push({
            fs: o.fs,
            workload: v.state.mark.workload,
            iface: v.state.mark.iface,
            mark: v.state.mark.id,
            state: v.state.id,
            problems: v.violations,
            dir,
          });
          log(`${o.fs} VIOLATION ${v.state.id}: ${v.violations.join('; ')}`);
        }
        fs.rmSync(v.image, { force: true });
      }
      log(
        `${o.fs}: ${Math.min(i + perBoot, items.length)}/${items.length} states checked, ${violations.length} violations`,
      );
    }
    return { rows, violations, release, recordMs: t1 - t0, checkMs: Date.now() - t1 };
  } finally {
    await session.close();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** Save a violation: the log, the state's recipe, its image, the mark, the workload program and its C source. */
function saveViolation(
  dir: string,
  rec: Parameters<typeof writeRecording>[1],
  v: StateVerdict,
  program?: Program,
): void {
  fs.mkdirSync(dir, { recursive: true });
  writeRecording(path.join(dir, 'recording.log'), rec);
  fs.writeFileSync(path.join(dir, 'recipe.json'), recipeOf(v.state) + '\n');
  fs.writeFileSync(path.join(dir, 'mark.json'), JSON.stringify(v.state.mark, null, 2) + '\n');
  fs.writeFileSync(
    path.join(dir, 'problems.txt'),
    v.violations.join('\n') + '\n' + (v.found ? `found: ${JSON.stringify(v.found)}\n` : ''),
  );
  // cp keeps the image sparse, and works across filesystems where rename would not
  spawnSync('cp', ['--sparse=always', v.image, path.join(dir, 'state.img')], { timeout: 120_000 });
  if (program) {
    const wire = program.encode();
    fs.writeFileSync(path.join(dir, 'workload.bin'), wire);
    try {
      fs.writeFileSync(path.join(dir, 'workload.c'), programToC(wire));
    } catch {
      // not every step has a C form; the wire program replays with `kasync exec`
    }
  }
}
