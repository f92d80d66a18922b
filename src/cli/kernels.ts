/** `kasync kernels list | fetch`: what the catalogue offers, what is cached, and fetching ahead of a run. */
import type { Command } from 'commander';
import { listKernels, KernelListing, resolveKernel } from '../vm/kernels';
import { buildKernel, Profile, PROFILES } from '../vm/build';
import { UsageError } from './usage';

/** The human form of `kernels list`. */
export function formatKernelListing(l: KernelListing): string {
  const rows = l.catalogue.map((c) => [
    c.spec,
    c.newest ? `${c.newest.package} ${c.newest.version}` : `(${c.unavailable ?? 'unavailable'})`,
    c.cached ? `cached ${c.cached.dir}` : c.newest ? 'not cached' : '',
  ]);
  const width = (i: number) => Math.max(...rows.map((r) => r[i].length));
  const out = rows.map((r) => `${r[0].padEnd(width(0))}  ${r[1].padEnd(width(1))}  ${r[2]}`.trimEnd());
  if (l.others.length > 0) {
    out.push('', 'also cached:');
    for (const o of l.others)
      out.push(
        o.problem
          ? `  ${o.dir}  (damaged: ${o.problem}; will be refetched)`
          : `  ${o.spec} ${o.package} ${o.version}  ${o.dir}`,
      );
  }
  return out.join('\n') + '\n';
}

/** Adds `kernels list [--json]` and `kernels fetch <spec…>` to the program. */
export function registerKernels(program: Command): void {
  const kernels = program.command('kernels').description('the kernel catalogue: list it, fetch kernels into the cache');

  kernels
    .command('list')
    .description('catalogue names, the newest package apt offers for each, and what is cached')
    .option('--json', 'one JSON document')
    .action(async (o: { json?: boolean }) => {
      const listing = await listKernels();
      process.stdout.write(o.json ? JSON.stringify(listing) + '\n' : formatKernelListing(listing));
    });

  kernels
    .command('fetch')
    .description('fetch (or verify the cached copy of) each kernel; prints where it is and its release')
    .argument('<spec...>', 'debian:6.1, debian:6.12, debian:6.12-rt, or a bzImage path')
    .option('--modules <dir>', 'for a bzImage path: its INSTALL_MOD_PATH or lib/modules/<release> directory')
    .action(async (specs: string[], o: { modules?: string }) => {
      for (const spec of specs) {
        const k = await resolveKernel(spec, { modules: o.modules, log: (line) => process.stderr.write(`${line}\n`) });
        process.stdout.write(`${spec}  ${k.release}  ${k.vmlinuz}${k.modulesDir ? `  ${k.modulesDir}` : ''}\n`);
      }
    });

  kernels
    .command('build')
    .description('build a small VM kernel from Debian\'s linux-source package (or --kernel-tree) with a config profile')
    .argument('<source>', 'debian-src:6.12 or debian-src:6.1 (ignored with --kernel-tree)')
    .requiredOption('--profile <name>', PROFILES.join(' | '))
    .option('--kernel-tree <dir>', 'build this kernel source tree instead (it is not written: the build uses O=)')
    .option('--jobs <n>', 'make -j (default: the number of CPUs)')
    .action(async (source: string, o: { profile: string; kernelTree?: string; jobs?: string }) => {
      if (!(PROFILES as readonly string[]).includes(o.profile))
        throw new UsageError(`unknown profile '${o.profile}' (${PROFILES.join(', ')})`);
      const jobs = o.jobs === undefined ? undefined : Number(o.jobs);
      if (jobs !== undefined && !(Number.isInteger(jobs) && jobs > 0))
        throw new UsageError(`--jobs '${o.jobs}' is not a positive integer`);
      const b = await buildKernel({
        spec: source,
        profile: o.profile as Profile,
        kernelTree: o.kernelTree,
        jobs,
        log: (line) => process.stderr.write(`${line}\n`),
      });
      process.stdout.write(`${b.record.spec}  ${b.record.release}  ${b.bzImage}${b.cached ? '  (cached)' : ''}\n`);
    });
}
