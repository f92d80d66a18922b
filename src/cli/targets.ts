/**
 * Where programs run, as every command's options name it: the host (`local` in-process, `child`
 * kasync-exec) or, with `--kernel`, a qemu VM of another kernel.
 */
import { Command, Option } from 'commander';
import { ChildTarget } from '../target/child';
import { LocalTarget } from '../target/local';
import type { Target } from '../target/target';
import { VmTarget } from '../target/vm';
import { isHostKernel, resolveKernel } from '../vm/kernels';
import type { ScratchFs } from '../vm/qemu';
import { UsageError } from './usage';

/** Where programs run, as the options name it. */
export interface TargetOpts {
  target: string;
  kernel?: string;
  modules?: string;
  fs?: string;
  logDir?: string;
  append?: string;
}

const SCRATCH_FS = ['tmpfs', 'ext4', 'xfs', 'btrfs'] as const;

/**
 * The target the options ask for. `log` takes the progress lines of a kernel's fetch and of its VM
 * (default: fetch lines as they are, VM lines after "kasync: ", on stderr).
 */
export async function makeTarget(o: TargetOpts, log?: (line: string) => void): Promise<Target> {
  if (o.kernel && !isHostKernel(o.kernel)) {
    if (o.fs && !(SCRATCH_FS as readonly string[]).includes(o.fs)) throw new UsageError(`unknown --fs '${o.fs}' (${SCRATCH_FS.join(', ')})`);
    const kernel = await resolveKernel(o.kernel, { modules: o.modules, log: log ?? ((l) => process.stderr.write(l + '\n')) });
    const vmLog = log ?? ((l: string) => process.stderr.write(`kasync: ${l}\n`));
    return new VmTarget({ kernel, fs: o.fs as ScratchFs | undefined, logDir: o.logDir, append: o.append, log: vmLog });
  }
  if (o.modules) throw new UsageError('--modules goes with --kernel PATH');
  if (o.append) throw new UsageError('--append goes with --kernel');
  if (o.fs && o.fs !== 'tmpfs') throw new UsageError('--fs needs --kernel: on the host, set KASYNC_SCRATCH to a directory on that filesystem');
  if (o.target === 'local') return new LocalTarget();
  if (o.target === 'child') return new ChildTarget();
  throw new UsageError(`unknown target '${o.target}' (local, child)`);
}

export const targetOption = () =>
  new Option('-t, --target <name>', 'where programs run on the host: local (in-process) or child (kasync-exec)').default('local');

/** The options that pick a kernel: `host` (default) or a VM of another one. */
export function kernelOptions(c: Command): Command {
  return c
    .addOption(targetOption())
    .option('-k, --kernel <spec>', 'host, debian:6.1, debian:6.12, debian:6.12-rt or a bzImage path: runs in a qemu VM of it')
    .option('--modules <dir>', "with --kernel PATH: the kernel's modules (INSTALL_MOD_PATH or lib/modules/<release>)")
    .option('--fs <type>', `the VM's scratch filesystem: ${SCRATCH_FS.join(', ')}`)
    .option('--append <words>', "extra words for the VM kernel's command line");
}

/** Run f with the target the options ask for, and release it on every path. */
export async function withTarget<T>(o: TargetOpts, f: (t: Target) => Promise<T>): Promise<T> {
  const t = await makeTarget(o);
  try {
    return await f(t);
  } finally {
    await t.close();
  }
}
