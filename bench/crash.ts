/**
 * `npm run bench -- crash [debian:6.12] [ext4]`: crash states checked per minute under TCG (checker
 * boots, mount with recovery, read-back, host fsck), for one workload's mark. Baseline of the same
 * run: the host's part alone (materialize and fsck as many images of a fresh filesystem, no VM), so
 * `vmShare` says how much of the time the checker VMs take.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { crashCampaign, CrashFs, fsckImage } from '../src/crash/check';
import { materialize } from '../src/crash/states';
import { resolveKernel } from '../src/vm/kernels';
import { makeDiskImage } from '../src/vm/qemu';
import { selectWorkloads } from '../suites/fsync/workloads';

const STATES = 20;

/** The benchmark. */
export async function benchCrash(log: (s: string) => void, args: string[]): Promise<Record<string, number>> {
  const [spec = 'debian:6.12', fsType = 'ext4'] = args;
  const kernel = await resolveKernel(spec, { log });
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'kasync-bench-crash-'));
  try {
    const r = await crashCampaign({
      kernel,
      fs: fsType as CrashFs,
      workloads: selectWorkloads(/^uring\.fsync\.extend$/),
      states: STATES,
      outDir: out,
      log,
    });
    const checked = r.rows.reduce((n, x) => n + x.statesChecked, 0);
    // baseline: the same number of images made and fsck'ed on the host alone
    const base = path.join(out, 'base.img');
    makeDiskImage(base, fsType as CrashFs);
    const t0 = Date.now();
    for (let i = 0; i < checked; i++) {
      const img = path.join(out, 'state.img');
      materialize({ size: fs.statSync(base).size, base, entries: [] }, { applied: [] }, img);
      fsckImage(fsType as CrashFs, img);
      fs.rmSync(img);
    }
    const hostMs = Date.now() - t0;
    const perMinute = checked / (r.checkMs / 60_000);
    log(
      `${checked} states of ${spec}/${fsType} checked in ${(r.checkMs / 1000).toFixed(1)} s (recording took ${(r.recordMs / 1000).toFixed(1)} s); host part alone ${(hostMs / 1000).toFixed(1)} s`,
    );
    return {
      statesChecked: checked,
      statesPerMinute: Number(perMinute.toFixed(1)),
      hostOnlyPerMinute: Number((checked / (Math.max(hostMs, 1) / 60_000)).toFixed(1)),
      vmShare: Number((1 - hostMs / r.checkMs).toFixed(2)),
      recordSeconds: Number((r.recordMs / 1000).toFixed(1)),
      violations: r.violations.length,
    };
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}
