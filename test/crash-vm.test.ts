/**
 * `kasync crash` end to end on debian:6.12 with ext4: a workload recorded on the NBD disk, its mark,
 * crash states checked in a checker VM; then the same with a lying disk that acknowledges the
 * workload's data write but never logs it, which the checker must report as violations naming the
 * workload and the state. Needs qemu (skips without it); the kernel comes from Debian (cached).
 */
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { crashCampaign } from '../src/crash/check';
import { readRecording } from '../src/crash/logfile';
import { patternBytes } from '../src/program/pattern';
import { resolveKernel } from '../src/vm/kernels';
import { liveVmCount } from '../src/vm/qemu';
import type { KernelImage } from '../src/vm/types';
import { selectWorkloads, URING_EXTEND_SEED } from '../suites/fsync/workloads';

const hasQemu = spawnSync('qemu-system-x86_64', ['--version']).status === 0;
const STATES = 4;

describe('crash states checked in a VM (debian:6.12, ext4)', function () {
  this.timeout(900_000);
  let kernel: KernelImage;
  let out: string;
  const workloads = selectWorkloads(/^uring\.fsync\.extend$/);

  before(async function () {
    if (!hasQemu) this.skip(); // reason: qemu-system-x86_64 is not installed
    kernel = await resolveKernel('debian:6.12');
    out = fs.mkdtempSync(path.join(os.tmpdir(), 'kasync-crash-test-'));
  });
  after(() => {
    if (out) fs.rmSync(out, { recursive: true, force: true });
    expect(liveVmCount(), 'no qemu left running').to.equal(0);
  });

  it('an async fsync on an honest disk survives every crash state at its mark', async () => {
    const r = await crashCampaign({ kernel, fs: 'ext4', workloads, states: STATES, outDir: path.join(out, 'honest') });
    expect(r.release).to.equal(kernel.release);
    const [row] = r.rows;
    expect(row, JSON.stringify(row)).to.deep.include({ workload: 'uring.fsync.extend', marks: 1, violations: 0 });
    expect(row.error).to.equal(undefined);
    expect(row.statesChecked, 'the durable, maximal and random states were all checked').to.equal(STATES);
    expect(r.violations).to.deep.equal([]);
  });

  it('a lying disk that drops the acknowledged data write makes the checker report violations', async () => {
    const needle = patternBytes(URING_EXTEND_SEED, 0, 64);
    const r = await crashCampaign({
      kernel,
      fs: 'ext4',
      workloads,
      states: STATES,
      outDir: path.join(out, 'lying'),
      drop: (_off, data) => data.includes(needle),
    });
    const [row] = r.rows;
    expect(row.marks).to.equal(1);
    expect(row.violations, 'every state lacks the data the fsync made durable').to.equal(row.statesChecked);
    const v = r.violations[0];
    expect(v.workload).to.equal('uring.fsync.extend');
    expect(v.state).to.match(/^uring\.fsync\.extend\/(durable|maximal|random\d+)$/);
    expect(v.problems.join(' ')).to.match(/other data after recovery|size \d+ after recovery/);
    for (const f of ['recording.log', 'recipe.json', 'mark.json', 'state.img', 'workload.bin'])
      expect(fs.existsSync(path.join(v.dir!, f)), f).to.equal(true);
    expect(readRecording(path.join(v.dir!, 'recording.log')).entries.some((e) => e.kind === 'mark')).to.equal(true);
  });
});
