/**
 * `kasync matrix`: the same suites on several kernels (the host and VMs), one kernel × test table
 * written as Markdown, an HTML grid, and JUnit + KTAP per kernel; `matrix merge` joins shards.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Command } from 'commander';
import { buildMatrix, exitCodeOfMatrix, MatrixColumn, readMatrixColumns, slugOf, writeMatrix } from '../report/matrix';
import type { TestResult } from '../report/model';
import { runSuites, suiteNames } from '../suite/runner';
import type { Target } from '../target/target';
import { VmTarget } from '../target/vm';
import { makeTarget } from './targets';
import { UsageError } from './usage';

/** `--shard i/n` → { index, count }. */
export function parseShard(s: string): { index: number; count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(s);
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index < 1 || index > count) throw new UsageError(`--shard '${s}' must be i/n with 1 <= i <= n`);
  return { index, count };
}

interface MatrixOpts {
  kernels: string;
  suite?: string;
  shard?: string;
  output: string;
  grep?: string;
}

async function runKernel(spec: string, o: MatrixOpts, out: string, log: (s: string) => void): Promise<MatrixColumn> {
  const slug = slugOf(spec);
  const logDir = path.join(out, 'logs', slug);
  let target: Target;
  try {
    target = await makeTarget({ target: 'local', kernel: spec, logDir }, (l) => log(`${spec}: ${l}`));
  } catch (e) {
    if (e instanceof UsageError) throw e;
    return { kernel: spec, error: `target: ${(e as Error).message.split('\n')[0]}` };
  }
  const rel = (f: string) => path.relative(out, f);
  const consoles = () => (target instanceof VmTarget ? target.consoleLogs.filter((f) => fs.existsSync(f)) : []);
  try {
    const run = await runSuites({
      target,
      suites: o.suite?.split(',').map((s) => s.trim()),
      shard: o.shard ? parseShard(o.shard) : undefined,
      grep: o.grep ? new RegExp(o.grep) : undefined,
      onTest: (t: TestResult, done, total) => {
        const known = t.knownBug ? ` (known kernel bug: ${t.knownBug})` : '';
        log(`${spec} [${done}/${total}] ${t.status} ${t.title}${known}${t.status === 'pass' ? '' : ` — ${t.reason}`}`);
      },
    });
    // each failure's whole story (message, diff, console tail) in a file its cell links to
    const logs: Record<string, string> = {};
    for (const t of run.tests.filter((x) => x.status === 'fail')) {
      fs.mkdirSync(logDir, { recursive: true });
      const f = path.join(logDir, `${t.id}.log`);
      fs.writeFileSync(f, [t.title, t.rule ? `rule: ${t.rule}` : '', t.knownBug ? `known kernel bug: ${t.knownBug}` : '', t.kernelReport ? `kernel report: ${t.kernelReport}` : '', '', t.detail ?? t.reason ?? ''].join('\n'));
      logs[t.id] = rel(f);
    }
    const logsNow = consoles();
    return { kernel: spec, release: run.kernel, run, logs, consoleLog: logsNow.length ? rel(logsNow[0]) : undefined };
  } catch (e) {
    const logsNow = consoles();
    return { kernel: spec, error: `target: ${(e as Error).message.split('\n')[0]}`, consoleLog: logsNow.length ? rel(logsNow[logsNow.length - 1]) : undefined };
  } finally {
    await target.close();
  }
}

/** Add `matrix` and `matrix merge` to the CLI. */
export function registerMatrix(program: Command): void {
  const matrix = program
    .command('matrix')
    .description('run the suites on several kernels and write a kernel x test table (Markdown, HTML, JUnit, KTAP)')
    .option('-k, --kernels <list>', 'comma-separated: host, debian:6.1, debian:6.12, debian:6.12-rt, bzImage paths', 'host')
    .option('-s, --suite <names>', 'only these suites, comma-separated')
    .option('-g, --grep <regexp>', 'only tests whose title matches')
    .option('--shard <i/n>', 'only shard i of n (tests are split by a hash of their id, the same on every kernel)')
    .option('-o, --output <dir>', 'where the reports go', 'matrix-out')
    .action(async (o: MatrixOpts) => {
      const kernels = o.kernels.split(',').map((k) => k.trim()).filter(Boolean);
      if (!kernels.length) throw new UsageError('--kernels is empty');
      if (o.shard) parseShard(o.shard);
      if (o.grep) {
        try {
          new RegExp(o.grep);
        } catch {
          throw new UsageError(`--grep '${o.grep}' is not a regular expression`);
        }
      }
      const present = suiteNames();
      for (const s of o.suite?.split(',').map((x) => x.trim()) ?? [])
        if (!present.includes(s)) throw new UsageError(`unknown suite '${s}' (${present.join(', ')})`);
      const out = path.resolve(o.output);
      fs.mkdirSync(out, { recursive: true });
      const log = (s: string) => process.stderr.write(`kasync: ${s}\n`);
      const columns: MatrixColumn[] = [];
      for (const k of kernels) {
        const c = await runKernel(k, o, out, log);
        if (c.error) log(`${k}: ${c.error}`);
        columns.push(c);
      }
      const m = buildMatrix(columns);
      for (const f of writeMatrix(m, out)) process.stdout.write(`${f}\n`);
      m.kernels.forEach((k, c) => {
        const known = m.cells.filter((row) => row[c]?.knownBug).length;
        const failed = `${k.totals.FAIL} failed${known ? ` (${known} by known kernel bugs)` : ''}`;
        log(`${k.kernel}: ${k.totals.PASS} passed, ${failed}, ${k.totals.ERROR} errors, ${k.totals.SKIP} skipped`);
      });
      process.exitCode = exitCodeOfMatrix(m);
    });

  matrix
    .command('merge')
    .description('merge the matrix.json of several shard directories into one matrix')
    .argument('<dirs...>', 'shard output directories (each with matrix.json)')
    .option('-o, --output <dir>', 'where the merged reports go', 'matrix-merged')
    .action((dirs: string[], o: { output: string }) => {
      const out = path.resolve(o.output);
      const columns = dirs.flatMap((d) => readMatrixColumns(path.join(d, 'matrix.json'), out));
      const m = buildMatrix(columns);
      for (const f of writeMatrix(m, out)) process.stdout.write(`${f}\n`);
      process.exitCode = exitCodeOfMatrix(m);
    });
}
