import { expect } from 'chai';
import * as fc from 'fast-check';
import * as fs from 'fs';
import * as path from 'path';
import { attributeReports, classifyHang, parseReports, ReportKind } from '../src/vm/console';
import { bootFailure } from '../src/vm/qemu';

/** fixtures/ sits at the repository root; tests run from dist/test/. */
const FIXTURES = path.resolve(__dirname, '..', '..', 'fixtures', 'console');

function fixture(name: string): string {
  return fs.readFileSync(path.join(FIXTURES, name), 'utf8');
}

interface Expected {
  kind: ReportKind;
  title: string;
  /** The program (KASYNC-RUN n) the report belongs to; undefined before the first (boot). */
  run: number | undefined;
}

/** Titles written by hand after reading each captured log (see vm-images/splat/README.md for how they were made). */
const REAL: Record<string, Expected[]> = {
  'warn.txt': [{ kind: 'WARNING', title: 'WARNING in splat_warn', run: 2 }],
  'kernel-bug.txt': [{ kind: 'kernel BUG', title: 'kernel BUG in splat_bug', run: 2 }],
  'null-deref-oops.txt': [
    { kind: 'BUG', title: 'BUG: unable to handle kernel NULL pointer dereference in splat_null', run: 2 },
  ],
  'null-deref-oops-panic.txt': [
    { kind: 'BUG', title: 'BUG: unable to handle kernel NULL pointer dereference in splat_null', run: 2 },
  ],
  'gpf.txt': [{ kind: 'general protection fault', title: 'general protection fault in splat_gpf', run: 2 }],
  'softlockup.txt': [{ kind: 'soft lockup', title: 'BUG: soft lockup in splat_softlockup', run: 2 }],
  'softlockup-with-rcu-stall.txt': [
    { kind: 'rcu stall', title: 'INFO: rcu detected stall in splat_softlockup', run: 2 },
    { kind: 'soft lockup', title: 'BUG: soft lockup in splat_softlockup', run: 2 },
  ],
  'rcu-stall.txt': [{ kind: 'rcu stall', title: 'INFO: rcu detected stall in splat_rcustall', run: 2 }],
  // splat_hung tail-calls schedule_timeout, so the first non-scheduler frame is the module's init function.
  'hung-task.txt': [{ kind: 'hung task', title: 'INFO: task hung in kasync_splat_init', run: 2 }],
  // Sleeping with preemption off: the scheduler's complaint, then do_one_initcall's preempt-count check.
  'scheduling-while-atomic.txt': [
    { kind: 'BUG', title: 'BUG: scheduling while atomic in splat_atomicsleep', run: 2 },
    { kind: 'WARNING', title: 'WARNING in do_one_initcall', run: 2 },
  ],
  // Since 5.x sysrq-c calls panic() directly: no Oops precedes it.
  'sysrq-crash.txt': [{ kind: 'panic', title: 'kernel panic: sysrq triggered crash', run: 2 }],
  'boot-clean.txt': [],
};

/** Debian 6.1 has no CONFIG_KFENCE; only 6.12 has that capture. */
const ONLY_612: Record<string, Expected[]> = {
  'kfence-uaf.txt': [{ kind: 'KFENCE', title: 'KFENCE: use-after-free read in splat_kfence', run: 2 }],
};

/**
 * Real captures from kasync's debug kernel (`kasync kernels build debian-src:6.12 --profile debug`), provoked
 * through LKDTM's provoke-crash/DIRECT by a kasync program (vm-images/splat/README.md). The TCG boot on a
 * loaded host printed soft lockups before the first program: reports of no program.
 */
const DEBUG_612: Record<string, Expected[]> = {
  'kasan-slab-uaf.txt': [
    { kind: 'soft lockup', title: 'BUG: soft lockup', run: undefined },
    { kind: 'KASAN', title: 'KASAN: slab-use-after-free Write in lkdtm_WRITE_AFTER_FREE', run: 8 },
  ],
  // SPINLOCKUP returns to user space holding a spinlock: lockdep, then might_sleep in close(), then the exit
  'lockdep-held-lock.txt': [
    { kind: 'lockdep', title: 'WARNING: lock held when returning to user space in lkdtm_do_action', run: 8 },
    { kind: 'BUG', title: 'BUG: sleeping function called from invalid context in __fput', run: 8 },
    { kind: 'BUG', title: 'BUG: scheduling while atomic in do_task_dead', run: 8 },
  ],
};

/** Hand-written stand-ins until the debug kernel (KASAN, UBSAN, lockdep, DEBUG_ATOMIC_SLEEP) gives real captures. */
const SYNTHETIC: Record<string, Expected[]> = {
  'synthetic-kasan.txt': [
    { kind: 'KASAN', title: 'KASAN: slab-use-after-free Read in io_req_task_work_add', run: 7 },
    { kind: 'KASAN', title: 'KASAN: use-after-free Read in io_poll_remove_entries', run: 8 },
  ],
  'synthetic-ubsan.txt': [{ kind: 'UBSAN', title: 'UBSAN: shift-out-of-bounds in io_rw_init_file', run: 3 }],
  'synthetic-lockdep.txt': [
    { kind: 'lockdep', title: 'possible deadlock in io_uring_del_tctx_node', run: 11 },
    { kind: 'lockdep', title: 'inconsistent lock state in io_req_complete_post', run: 12 },
  ],
  'synthetic-sleeping-function.txt': [
    { kind: 'BUG', title: 'BUG: sleeping function called from invalid context in io_timeout_cancel', run: 2 },
  ],
};

function allCases(): Array<[string, Expected[]]> {
  const cases: Array<[string, Expected[]]> = [];
  for (const kernel of ['6.1', '6.12']) {
    for (const [what, expected] of Object.entries(REAL)) cases.push([`${kernel}-${what}`, expected]);
  }
  for (const [what, expected] of Object.entries(ONLY_612)) cases.push([`6.12-${what}`, expected]);
  for (const [what, expected] of Object.entries(DEBUG_612)) cases.push([`debug-6.12-${what}`, expected]);
  return cases.concat(Object.entries(SYNTHETIC));
}

describe('console: kernel report parser', () => {
  it('has a test case for every fixture and a fixture for every test case', () => {
    const files = fs.readdirSync(FIXTURES).filter((f) => f.endsWith('.txt'));
    expect(files.sort()).to.deep.equal(allCases().map(([name]) => name).sort());
  });

  for (const [name, expected] of allCases()) {
    it(`${name}: ${expected.length ? expected.map((e) => e.title).join(' + ') : 'no reports'}`, () => {
      const got = attributeReports(fixture(name));
      expect(got.map(({ run, report }) => ({ kind: report.kind, title: report.title, run }))).to.deep.equal(expected);
    });
  }

  it('real captures are serial-console text with CRs, and CR-free text gives the same reports', () => {
    const text = fixture('6.12-warn.txt');
    expect(text).to.include('\r\n');
    const strip = (t: string) => parseReports(t).map((r) => [r.kind, r.title, r.start, r.end]);
    expect(strip(text.replace(/\r/g, ''))).to.deep.equal(strip(text));
  });

  it('a report spans its own lines: header to end of trace, not the shell noise after it', () => {
    const text = fixture('6.12-warn.txt');
    const [report] = parseReports(text);
    const lines = text.replace(/\r/g, '').split('\n');
    expect(lines[report.start]).to.match(/cut here/);
    expect(lines[report.end - 1]).to.match(/end trace/);
    expect(report.text).to.include('RIP: 0010:splat_warn');
    expect(report.text).not.to.include('kasync_splat: warn done');
    expect(report.text.split('\n')).to.have.length(report.end - report.start);
  });

  it('a boot that fails is titled by its panic, with the reports before it named after it', () => {
    // a WARNING on the way up (a rare oops under TCG), then the panic that ended the boot
    const text = fixture('6.12-warn.txt') + '[   10.000001] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)\n';
    const why = bootFailure(text, 'qemu exited (status 0)');
    expect(why).to.match(/^kernel panic: VFS: Unable to mount root fs on unknown-block\(0,0\) \(qemu exited \(status 0\); before it: WARNING in /);
    expect(bootFailure('no reports here\n', 'no agent after 10 ms'), 'no report: our own words').to.equal('no agent after 10 ms');
  });

  it('an Oops and the panic it causes are one report, containing both', () => {
    for (const kernel of ['6.1', '6.12']) {
      const reports = parseReports(fixture(`${kernel}-null-deref-oops-panic.txt`));
      expect(reports).to.have.length(1);
      expect(reports[0].text).to.match(/Oops: /);
      expect(reports[0].text).to.include('Kernel panic - not syncing: Fatal exception');
    }
  });

  it('a hung task re-reported every check (3 times in the capture) is one report', () => {
    for (const kernel of ['6.1', '6.12']) {
      const text = fixture(`${kernel}-hung-task.txt`);
      expect(text.match(/INFO: task insmod:\d+ blocked/g)).to.have.length(3);
      const reports = parseReports(text);
      expect(reports).to.have.length(1);
      expect(reports[0].text.match(/INFO: task insmod:\d+ blocked/g)).to.have.length(3);
    }
  });

  it('the same report in two runs stays two reports', () => {
    const warn = fixture('6.12-warn.txt');
    const twice = warn + warn.replace(/KASYNC-RUN (\d)/g, (_m, n: string) => `KASYNC-RUN ${Number(n) + 3}`);
    expect(attributeReports(twice).map(({ run, report }) => [run, report.title])).to.deep.equal([
      [2, 'WARNING in splat_warn'],
      [5, 'WARNING in splat_warn'],
    ]);
  });

  it('names as suspects the programs in flight at a report (the last started first), then the last to end', () => {
    // lanes: runs 1 and 2 in flight when run 2's report is printed; run 3 starts and 1 ends in the middle of its stack
    const lines = fixture('6.12-warn.txt').split('\n');
    const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
    lines.splice(at(/KASYNC-RUN 2/), 0, '[    6.200000] KASYNC-END 9');
    const callTrace = at(/Call Trace:/);
    lines.splice(callTrace + 2, 0, '[    6.261000] KASYNC-RUN 3', '[    6.261001] KASYNC-END 1');
    lines.splice(at(/KASYNC-RUN 3\s*$/) + 1, 0, '[    6.279000] KASYNC-END 2');
    const text = lines.join('\n').replace(/\[\s*6\.278209\] KASYNC-RUN 3/, '[    6.278209] KASYNC-RUN 4');
    const [a] = attributeReports(text);
    expect(a.report.title).to.equal('WARNING in splat_warn');
    expect(a.run).to.equal(2);
    expect(a.suspects, 'in flight (2, 1), then the last ended (9)').to.deep.equal([2, 1, 9]);
    expect(a.report.text, 'markers printed inside the stack do not cut it short').to.match(/end trace/);
    // the same report, printed once run 2 had ended: it comes first of the ended ones
    const after = fixture('6.12-warn.txt').replace(/(\[\s*6\.250937\] -+\[ cut here)/, '[    6.250000] KASYNC-END 2\n$1');
    expect(attributeReports(after)[0].suspects, 'run 1 still in flight, then run 2').to.deep.equal([1, 2]);
  });

  it('attributes to a marker anywhere in a line, and to no run before the first marker', () => {
    const body = fixture('6.12-kernel-bug.txt').replace(/KASYNC-RUN \d+/g, 'no marker');
    expect(attributeReports(body).map((a) => a.run)).to.deep.equal([undefined]);
    const prefixed = body.replace('kasync_splat: what=bug', 'kasync-exec[77]: KASYNC-RUN 41 (pid 77)');
    expect(attributeReports(prefixed).map((a) => a.run)).to.deep.equal([41]);
  });

  describe('classifyHang', () => {
    const tail = (name: string) => fixture(name).split('\n').slice(-160).join('\n');
    const cases: Array<[string, string]> = [
      ['6.1-hung-task.txt', 'hung task'],
      ['6.12-hung-task.txt', 'hung task'],
      ['6.1-rcu-stall.txt', 'rcu stall'],
      ['6.12-rcu-stall.txt', 'rcu stall'],
      ['6.1-softlockup.txt', 'soft lockup'],
      ['6.12-softlockup.txt', 'soft lockup'],
      ['6.12-softlockup-with-rcu-stall.txt', 'soft lockup'],
      ['6.1-sysrq-crash.txt', 'panic'],
      ['6.12-null-deref-oops-panic.txt', 'panic'],
      ['6.12-boot-clean.txt', 'silent'],
      ['6.1-boot-clean.txt', 'silent'],
    ];
    for (const [name, want] of cases) {
      it(`${name} tail → ${want}`, () => expect(classifyHang(tail(name))).to.equal(want));
    }
    it('empty tail → silent', () => expect(classifyHang('')).to.equal('silent'));
  });

  describe('robustness', () => {
    function checkShape(text: string): void {
      const lineCount = text.replace(/\r/g, '').split('\n').length;
      let previousEnd = 0;
      for (const { report } of attributeReports(text)) {
        expect(report.start).to.be.at.least(previousEnd);
        expect(report.end).to.be.greaterThan(report.start);
        expect(report.end).to.be.at.most(lineCount);
        expect(report.title).to.be.a('string').and.not.equal('');
        previousEnd = report.end;
      }
      expect(['hung task', 'rcu stall', 'soft lockup', 'panic', 'silent']).to.include(classifyHang(text));
    }

    it('random bytes never throw and give well-formed reports', () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 4096 }), (bytes) => {
          checkShape(Buffer.from(bytes).toString('latin1'));
          checkShape(Buffer.from(bytes).toString('utf8'));
        }),
        { numRuns: 300 },
      );
    });

    it('shuffled and truncated pieces of real reports never throw', () => {
      const pool = fs
        .readdirSync(FIXTURES)
        .flatMap((f) => fixture(f).split('\n'))
        .filter((l) => l.length > 0);
      fc.assert(
        fc.property(fc.array(fc.nat(pool.length - 1), { maxLength: 300 }), fc.nat(200), (picks, cut) => {
          checkShape(picks.map((i) => pool[i].slice(0, cut)).join('\n'));
        }),
        { numRuns: 200 },
      );
    });

    it('parses several MB of console text quickly and finds every report in it', () => {
      const names = allCases().map(([name]) => name);
      const one = names.map(fixture).join('\n');
      const perCopy = allCases().reduce((n, [, expected]) => n + expected.length, 0);
      const copies = Math.ceil((4 * 1024 * 1024) / one.length);
      const big = Array.from({ length: copies }, () => one).join('\n');
      const t0 = process.hrtime.bigint();
      const reports = parseReports(big);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      expect(reports).to.have.length(perCopy * copies);
      expect(ms, `${(big.length / 1e6).toFixed(1)} MB took ${ms.toFixed(0)} ms`).to.be.below(5000);
    });

    it('a header with nothing after it, or a huge line, is still handled', () => {
      const lone = parseReports('BUG: kernel NULL pointer dereference, address: 0000000000000000');
      expect(lone.map((r) => [r.kind, r.title])).to.deep.equal([
        ['BUG', 'BUG: unable to handle kernel NULL pointer dereference'],
      ]);
      const oops = '[    1.000000] Oops: 0002 [#1] SMP\n[    1.000001] RIP: 0010:io_foo+0x1/0x2\n';
      expect(parseReports(oops).map((r) => [r.kind, r.title])).to.deep.equal([['Oops', 'Oops in io_foo']]);
      expect(parseReports('x'.repeat(2_000_000))).to.deep.equal([]);
      expect(parseReports('')).to.deep.equal([]);
    });
  });
});
