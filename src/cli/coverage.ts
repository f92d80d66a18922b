/**
 * `kasync coverage --kernel <coverage build>`: runs suites in a VM of a kernel built with
 * `kasync kernels build … --profile coverage`, resetting gcov before each suite and reading the counters
 * after it, and reports line coverage of io_uring/*.c and fs/aio.c per file and per suite; with
 * `--per-test`, also per test (counters read and reset after every test).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import type { Command } from 'commander';
import {
  FileCoverage,
  GCOV_RESET,
  gcnoFiles,
  gcovCounts,
  mergeCoverage,
  readGcda,
  resetGcov,
  toLcov,
} from '../coverage/gcov';
import { byTestJson, formatPerTest, hitLines, perTestFigures, TestCoverage } from '../coverage/pertest';
import { CoverageReport, formatReport, summaryJson } from '../coverage/report';
import { runSuites, suiteNames } from '../suite/runner';
import { VmTarget } from '../target/vm';
import { findExecutable } from '../tools';
import { buildOfImage } from '../vm/build';
import { resolveKernel } from '../vm/kernels';
import type { ScratchFs } from '../vm/qemu';
import { grepOption, UsageError } from './usage';

interface CoverageOpts {
  kernel: string;
  suite?: string;
  grep?: string;
  json?: boolean;
  output?: string;
  fs?: string;
  logDir?: string;
  perTest?: boolean;
}

/** Adds `coverage` to the program. */
export function registerCoverage(program: Command): void {
  program
    .command('coverage')
    .description(
      'kernel line coverage of io_uring/*.c and fs/aio.c by each suite (each test with --per-test), on a coverage build (kasync kernels build … --profile coverage)',
    )
    .requiredOption(
      '-k, --kernel <spec>',
      'a coverage build: debian-src:6.12/coverage, or the bzImage path kernels build printed',
    )
    .option('-s, --suite <names>', 'only these suites, comma-separated (default: all)')
    .option('-g, --grep <regexp>', 'only tests whose title matches')
    .option('--per-test', 'also per test: lines each reached and those no other test reaches (gcov read and reset after every test)')
    .option('--json', 'print the JSON summary as the last line')
    .option('--output <dir>', 'write lcov tracefiles per suite, summary.json and (with genhtml) an HTML report here')
    .option('--fs <type>', "the VM's scratch filesystem: tmpfs, ext4, xfs, btrfs")
    .option('--log-dir <dir>', 'keep the console logs here')
    .action(async (o: CoverageOpts) => {
      const grep = grepOption(o.grep);
      const present = suiteNames();
      if (present.length === 0)
        throw new UsageError('no compiled suites under dist/suites: run npm ci (or npm run build)');
      const suites = o.suite ? o.suite.split(',').map((s) => s.trim()) : present;
      for (const s of suites)
        if (!present.includes(s)) throw new UsageError(`unknown suite '${s}' (${present.join(', ')})`);
      if (o.fs && !['tmpfs', 'ext4', 'xfs', 'btrfs'].includes(o.fs))
        throw new UsageError(`unknown --fs '${o.fs}' (tmpfs, ext4, xfs, btrfs)`);
      if (!findExecutable('gcov')) throw new UsageError('gcov not found: apt-get install gcc (gcov comes with it)');
      const say = (l: string) => process.stderr.write(`kasync: ${l}\n`);
      const kernel = await resolveKernel(o.kernel, { fetch: false, log: say });
      const build = await buildOfImage(kernel.vmlinuz);
      if (!build)
        throw new UsageError(
          `${o.kernel} is not a kernel kasync built: run kasync kernels build debian-src:6.12 --profile coverage`,
        );
      if (build.record.profile !== 'coverage')
        throw new UsageError(`${o.kernel} is a ${build.record.profile} build, not a coverage one (--profile coverage)`);
      const gcnos = gcnoFiles(build.dir);
      if (gcnos.length === 0)
        throw new UsageError(`${build.dir} has no io_uring/*.gcno or fs/aio.gcno: not built with gcov`);
      if (o.output) fs.mkdirSync(o.output, { recursive: true });

      const target = new VmTarget({ kernel, fs: o.fs as ScratchFs | undefined, logDir: o.logDir, log: say });
      // gcov's results by file and data: after a reset most files read back unchanged
      const cache = new Map<string, FileCoverage[]>();
      const sizes = new Map<string, number>();
      // with reset, the counters are zeroed after they are read: by the reading program once every size is known
      const counts = async (reset = false): Promise<FileCoverage[]> => {
        const together = reset && gcnos.every((g) => sizes.has(g));
        const resetFile = together ? GCOV_RESET : undefined;
        const gcda = await readGcda(target, build.dir, gcnos, { sizes, reset: resetFile });
        if (reset && !together) await resetGcov(target);
        return gcovCounts(build.dir, build.record.srcDir, gcda, cache);
      };
      const tests: TestCoverage[] = [];
      let collectMs = 0;
      const report: CoverageReport = { kernel: o.kernel, release: kernel.release, boot: [], suites: [], all: [] };
      try {
        // what booting and the probe cover is counted apart, so each suite starts from zero
        await target.probe();
        report.boot = await counts();
        for (const suite of suites) {
          await resetGcov(target);
          const boots = target.consoleLogs.length;
          say(`suite ${suite}: running (gcov reset${o.perTest ? ' after every test' : ''})`);
          // with --per-test, each test's window runs from the previous test's reset to the end of its
          // afterEach hooks: describe-level before/after hooks count for the next test, nothing is lost
          let tested: FileCoverage[] = []; // the sum of the tests' windows so far
          let bootsBefore = boots;
          const afterTest = async (id: string, r?: { title: string; status: TestCoverage['status'] }) => {
            const status = r?.status ?? 'unknown';
            const t: TestCoverage = { id, suite, title: r?.title ?? id, status, hit: new Map() };
            const t0 = Date.now();
            try {
              const files = await counts(true);
              tested = mergeCoverage([tested, files]);
              t.hit = hitLines(files);
            } catch (e) {
              t.error = (e as Error).message.split('\n')[0];
            }
            if (target.consoleLogs.length !== bootsBefore) t.rebooted = true;
            bootsBefore = target.consoleLogs.length;
            tests.push(t);
            collectMs += Date.now() - t0;
          };
          const run = await runSuites({
            target,
            suites: [suite],
            grep,
            afterTest: o.perTest ? afterTest : undefined,
            onTest: (t, d, n) => {
              if (t.status === 'fail') say(`[${d}/${n}] FAIL ${t.title} — ${t.reason}`);
            },
          });
          const reboots = target.consoleLogs.length - boots;
          const files = mergeCoverage([tested, await counts()]);
          report.suites.push({ suite, files, tests: run.totals, reboots });
          say(`suite ${suite}: ${run.totals.pass} pass, ${run.totals.fail} fail, ${run.totals.skip} skip`);
        }
      } finally {
        await target.close();
      }
      if (tests.length)
        say(`per test: gcov read, counted and reset in ${Math.round(collectMs / tests.length)} ms a test (${tests.length} tests)`);
      report.all = mergeCoverage([report.boot, ...report.suites.map((s) => s.files)]);
      const summary = summaryJson(report);
      const figures = o.perTest ? perTestFigures(tests, report.boot) : undefined;
      if (figures) summary.byTest = byTestJson(figures);
      if (o.output) writeOutputs(o.output, report, build.record.srcDir, summary, say);
      process.stdout.write(formatReport(report));
      if (figures) process.stdout.write('\n' + formatPerTest(figures));
      if (o.json) process.stdout.write(JSON.stringify(summary) + '\n');
    });
}

/** lcov tracefiles (boot, each suite, all), summary.json, and genhtml's pages when genhtml is there. */
function writeOutputs(
  dir: string,
  r: CoverageReport,
  srcDir: string,
  summary: unknown,
  say: (l: string) => void,
): void {
  const write = (name: string, text: string) => fs.writeFileSync(path.join(dir, name), text);
  write('boot.info', toLcov(r.boot, srcDir, 'boot'));
  for (const s of r.suites) write(`${s.suite}.info`, toLcov(s.files, srcDir, s.suite.replace(/[^A-Za-z0-9_]/g, '_')));
  write('all.info', toLcov(r.all, srcDir, 'all'));
  write('summary.json', JSON.stringify(summary, null, 2) + '\n');
  const genhtml = findExecutable('genhtml');
  if (!genhtml) return say(`genhtml not found (apt-get install lcov): no HTML; tracefiles in ${dir}`);
  const html = path.join(dir, 'html');
  const g = spawnSync(
    genhtml,
    ['--quiet', '--prefix', srcDir, '--output-directory', html, path.join(dir, 'all.info')],
    {
      encoding: 'utf8',
      timeout: 5 * 60_000,
    },
  );
  if (g.status === 0) say(`HTML report: ${path.join(html, 'index.html')}`);
  else say(`genhtml failed (${g.error?.message ?? `exit ${g.status}`}): ${(g.stderr ?? '').trim().split('\n').pop()}`);
}
