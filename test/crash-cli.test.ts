/** `kasync crash` argument mistakes: one line on stderr, exit 2, nothing booted. */
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as path from 'path';
import { ROOT } from '../src/paths';
import { crashExitCode, crashJson, CrashReport, formatCrash } from '../src/report/crash';

const BIN = path.join(ROOT, 'bin', 'kasync.js');

function crash(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, 'crash', ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('kasync crash arguments', () => {
  const cases: [string[], RegExp][] = [
    [[], /crash needs --kernel/],
    [['--kernel', 'host'], /cannot run on the host kernel/],
    [['--kernel', 'debian:6.12', '--fs', 'ext4,zfs'], /unknown --fs 'zfs' \(ext4, xfs, btrfs\)/],
    [['--kernel', 'debian:6.12', '--fs', ','], /--fs is empty/],
    [['--kernel', 'debian:6.12', '--states', '0'], /--states '0' must be an integer from 1/],
    [['--kernel', 'debian:6.12', '--states', '2x'], /--states '2x' must be an integer/],
    [['--kernel', 'debian:6.12', '--seed', '-1'], /--seed '-1' must be an integer/],
    [['--kernel', 'debian:6.12', '--per-boot', '25'], /--per-boot '25' must be an integer from 1 to 24/],
    [['--kernel', 'debian:6.12', '--workload', '('], /--workload '\(' is not a regular expression/],
    [['--kernel', 'debian:6.12', '--workload', '^nothing$'], /matches no workload \(aio\.fsync\.extend, /],
    [['--kernel', 'debian:6.12', '--bogus'], /unknown option '--bogus'/],
  ];
  for (const [args, pattern] of cases) {
    it(`crash ${args.join(' ') || '(no arguments)'}: one line, exit 2`, () => {
      const r = crash(...args);
      expect(r.code, r.err).to.equal(2);
      const lines = r.err.trim().split('\n');
      expect(lines, r.err).to.have.length(1);
      expect(lines[0]).to.match(pattern);
      expect(r.err).not.to.match(/\n\s+at /);
      expect(r.out).to.equal('');
    });
  }
});

describe('kasync crash report', () => {
  const row = { fs: 'ext4' as const, iface: 'uring', datasync: false, marks: 1, statesChecked: 20, violations: 0 };
  const report: CrashReport = {
    kernel: 'debian:6.12',
    release: '6.12.117+deb12-amd64',
    rows: [
      { ...row, workload: 'uring.fsync.extend' },
      { ...row, workload: 'uring.fsync.link', violations: 2 },
      {
        ...row,
        workload: 'uring.fsync.fallocate',
        marks: 0,
        statesChecked: 0,
        skipped: 'the probe says IORING_OP_FALLOCATE is unsupported',
      },
    ],
    violations: [
      {
        fs: 'ext4',
        workload: 'uring.fsync.link',
        iface: 'uring',
        mark: 'uring.fsync.link',
        state: 'uring.fsync.link/durable',
        problems: ['data has size 0'],
        dir: '/x',
      },
    ],
  };

  it('the JSON summary sums marks, states and violations over the rows', () => {
    const j = crashJson(report);
    expect(j).to.deep.include({ kernel: 'debian:6.12', marks: 2, statesChecked: 40, violations: 2 });
    expect(j.rows).to.have.length(3);
  });

  it('the table has a row per workload and a line per violation; violations exit 1', () => {
    const text = formatCrash(report);
    expect(text).to.match(/\| ext4 \| uring\.fsync\.link +\| uring \| data\+metadata \| 1 +\| 20 +\| 2 /);
    expect(text).to.include('skipped: the probe says IORING_OP_FALLOCATE is unsupported');
    expect(text).to.include(
      'VIOLATION ext4 uring.fsync.link (uring) state uring.fsync.link/durable: data has size 0 [/x]',
    );
    expect(crashExitCode(report)).to.equal(1);
    expect(crashExitCode({ ...report, rows: [report.rows[0], report.rows[2]] })).to.equal(0);
  });
});
