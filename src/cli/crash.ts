/**
 * `kasync crash`: fsync durability per filesystem. For each --fs, the workloads of suites/fsync run
 * on a VM of --kernel whose scratch disk is kasync's recording NBD server; at each sync point a mark
 * is logged; after the crash, --states crash states per mark are checked in fresh VMs of the same
 * kernel. Prints the filesystem × workload × interface table; violations are saved under --output.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Command } from 'commander';
import { CRASH_FS, CrashFs, crashCampaign, emptyRows, FSCK } from '../crash/check';
import { CrashReport, crashExitCode, crashJson, formatCrash } from '../report/crash';
import { selectWorkloads } from '../../suites/fsync/workloads';
import { TargetError } from '../target/target';
import { findExecutable } from '../tools';
import { isHostKernel, resolveKernel } from '../vm/kernels';
import { UsageError } from './usage';

/** The options as commander gives them. */
export interface CrashOpts {
  kernel?: string;
  fs: string;
  states: string;
  seed: string;
  workload?: string;
  json?: boolean;
  output: string;
  perBoot: string;
}

const MKFS: Record<CrashFs, [string, string]> = {
  ext4: ['mkfs.ext4', 'e2fsprogs'],
  xfs: ['mkfs.xfs', 'xfsprogs'],
  btrfs: ['mkfs.btrfs', 'btrfs-progs'],
};

function intOption(name: string, v: string, min: number, max: number): number {
  const n = /^\d+$/.test(v.trim()) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max)
    throw new UsageError(`${name} '${v}' must be an integer from ${min} to ${max}`);
  return n;
}

/** Check the options before anything boots: every mistake is one UsageError. */
export function parseCrashOpts(o: CrashOpts) {
  if (!o.kernel)
    throw new UsageError(
      'crash needs --kernel (debian:6.1, debian:6.12 or a bzImage path): the crash is a VM power cut',
    );
  if (isHostKernel(o.kernel))
    throw new UsageError('crash cannot run on the host kernel: give --kernel debian:6.12 or another VM kernel');
  const fsList = o.fs
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (!fsList.length) throw new UsageError('--fs is empty');
  for (const f of fsList)
    if (!(CRASH_FS as readonly string[]).includes(f))
      throw new UsageError(`unknown --fs '${f}' (${CRASH_FS.join(', ')})`);
  const states = intOption('--states', o.states, 1, 10_000);
  const seed = intOption('--seed', o.seed, 0, 0xffffffff);
  const perBoot = intOption('--per-boot', o.perBoot, 1, 24);
  let re: RegExp | undefined;
  try {
    re = o.workload ? new RegExp(o.workload) : undefined;
  } catch {
    throw new UsageError(`--workload '${o.workload}' is not a regular expression`);
  }
  const workloads = selectWorkloads(re);
  if (!workloads.length)
    throw new UsageError(
      `--workload '${o.workload}' matches no workload (${selectWorkloads()
        .map((w) => w.name)
        .join(', ')})`,
    );
  for (const f of fsList as CrashFs[]) {
    for (const [bin, pkg] of [MKFS[f], [FSCK[f][0], MKFS[f][1]]])
      if (!findExecutable(bin))
        throw new UsageError(`${bin} is missing (needed for --fs ${f}): apt-get install ${pkg}`);
  }
  return { kernel: o.kernel, fs: fsList as CrashFs[], states, seed, perBoot, workloads };
}

/** Add `crash` to the CLI. */
export function registerCrash(program: Command): void {
  program
    .command('crash')
    .description('fsync durability: record workloads on a logging disk, crash, and check crash states per filesystem')
    .option('-k, --kernel <spec>', 'the VM kernel: debian:6.1, debian:6.12, debian:6.12-rt or a bzImage path')
    .option('--fs <list>', `filesystems, comma-separated: ${CRASH_FS.join(', ')}`, 'ext4')
    .option('--states <n>', 'crash states checked per mark', '20')
    .option('--seed <n>', 'seed of the random crash states', '1')
    .option('--workload <regexp>', 'only workloads whose name matches')
    .option('--per-boot <n>', 'crash states per checker VM boot (1-24)', '20')
    .option('--json', 'end with one JSON line {"kernel","marks","statesChecked","violations","rows"}')
    .option(
      '-o, --output <dir>',
      'violations (log, state image, recipe, program) and console logs go here',
      'crash-out',
    )
    .action(async (o: CrashOpts) => {
      const a = parseCrashOpts(o);
      const out = path.resolve(o.output);
      try {
        fs.mkdirSync(out, { recursive: true });
      } catch (e) {
        throw new UsageError(`cannot create ${out}: ${(e as Error).message}`);
      }
      const log = (s: string) => process.stderr.write(`kasync: ${s}\n`);
      const kernel = await resolveKernel(a.kernel, { log: (l) => process.stderr.write(l + '\n') });
      const report: CrashReport = { kernel: a.kernel, rows: [], violations: [] };
      for (const f of a.fs) {
        log(`${f}: recording ${a.workloads.length} workloads on ${a.kernel}`);
        try {
          const r = await crashCampaign({
            kernel,
            fs: f,
            workloads: a.workloads,
            states: a.states,
            seed: a.seed,
            perBoot: a.perBoot,
            outDir: out,
            log,
          });
          report.release ??= r.release;
          report.rows.push(...r.rows);
          report.violations.push(...r.violations);
        } catch (e) {
          if (!(e instanceof TargetError) || e instanceof UsageError) throw e;
          // a VM that would not boot or died under the checker: this filesystem's rows say so, the others still run
          const why = (e as Error).message.split('\n')[0];
          log(`${f}: ${why}`);
          report.rows.push(...emptyRows(f, a.workloads, why));
        }
      }
      const text = formatCrash(report);
      fs.writeFileSync(path.join(out, 'crash.md'), text + '\n');
      fs.writeFileSync(path.join(out, 'crash.json'), JSON.stringify(crashJson(report), null, 2) + '\n');
      process.stdout.write(o.json ? `${text}\n${JSON.stringify(crashJson(report))}\n` : `${text}\n`);
      process.exitCode = crashExitCode(report);
    });
}
