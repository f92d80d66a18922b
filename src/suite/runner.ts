/**
 * Runs the compiled conformance suites with mocha, programmatically, against one target, and
 * collects a RunResult for the reporters.
 */
import * as fs from 'fs';
import * as path from 'path';
import Mocha from 'mocha';
import { SUITES_DIST } from '../paths';
import { fnv1a32 } from '../program/pattern';
import type { RunResult, TestResult } from '../report/model';
import { totalsOf } from '../report/model';
import type { Target } from '../target/target';
import { NOTES, SKIP_REASONS, TEST_META } from './conformance';
import { setSuiteTarget } from './context';

/** Options of a suite run. */
export interface SuiteRunOptions {
  target: Target;
  /** Only tests whose id or title matches. */
  grep?: RegExp;
  /** Only these suites (directory names under suites/). */
  suites?: string[];
  /** Called after each test (progress display). */
  onTest?: (t: TestResult, done: number, total: number) => void;
  /** Multiply every test timeout (slow targets). */
  slowdown?: number;
  /** Only shard `index` (1-based) of `count`: a test's shard is a hash of its id, the same on every kernel. */
  shard?: { index: number; count: number };
  /** Root of the compiled suites (default dist/suites). */
  root?: string;
  /**
   * Awaited after each test that ran, once its own afterEach hooks are done (root-level afterEach, so
   * it runs last); `result` is what was recorded for it. Must not throw: a failing root hook would stop
   * the rest of the suite (`kasync coverage --per-test` collects gcov counters here).
   */
  afterTest?: (id: string, result: TestResult | undefined) => Promise<void>;
}

/** The compiled suite files, sorted. */
export function suiteFiles(root = SUITES_DIST, suites?: string[]): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.test.js')) out.push(p);
    }
  };
  if (fs.existsSync(root)) walk(root);
  return out.filter((f) => !suites || suites.includes(suiteOf(root, f))).sort();
}

/** Names of the suites present. */
export function suiteNames(root = SUITES_DIST): string[] {
  return [...new Set(suiteFiles(root).map((f) => suiteOf(root, f)))];
}

function suiteOf(root: string, file: string): string {
  return path.relative(root, file).split(path.sep)[0];
}

/** `uring.READ matches pread` → `uring.read-matches-pread`. */
export function testId(suite: string, title: string): string {
  const rest = title.startsWith(suite + '.') ? title.slice(suite.length + 1) : title;
  const slug = rest
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return `${suite}.${slug}`;
}

/** Run the suites; resolves when every test has finished. */
export async function runSuites(opts: SuiteRunOptions): Promise<RunResult> {
  const root = opts.root ?? SUITES_DIST;
  const suiteOfTest = (t: Mocha.Runnable) => (t.file ? suiteOf(root, t.file) : 'unknown');
  const caps = await opts.target.probe();
  setSuiteTarget(opts.target);
  const files = suiteFiles(root, opts.suites);
  const results: TestResult[] = [];
  const recorded = new WeakMap<Mocha.Test, TestResult>();
  const started = Date.now();
  const slowdown = opts.slowdown ?? opts.target.slowdown ?? 1; // known once the probe has run

  class Collector {
    constructor(runner: Mocha.Runner) {
      // with --grep, runner.total counts every test; at 'start' the grep is in place to count the ones that run
      let total = runner.total;
      runner.once('start', () => (total = runner.grepTotal(runner.suite)));
      const record = (t: Mocha.Test, status: TestResult['status'], err?: Error & { code?: string }) => {
        const meta = TEST_META.get(t);
        const suite = suiteOfTest(t);
        const timedOut = status === 'fail' && /Timeout of \d+ms exceeded/.test(err?.message ?? '');
        const r: TestResult = {
          id: testId(suite, t.title),
          title: t.title,
          suite,
          status,
          ops: meta?.ops ?? [],
          rule: meta?.rule,
          reason: status === 'skip' ? (SKIP_REASONS.get(t) ?? 'skipped') : err ? firstLine(err.message) : undefined,
          detail: err && status === 'fail' ? detailOf(err) : undefined,
          durationMs: t.duration ?? 0,
        };
        if (timedOut) r.timedOut = true;
        const notes = NOTES.get(t);
        if (notes) r.notes = notes;
        const known = (err as { knownBug?: unknown } | undefined)?.knownBug;
        if (status === 'fail' && typeof known === 'string') r.knownBug = known;
        const kr = (err as { kernelReport?: unknown } | undefined)?.kernelReport;
        if (typeof kr === 'string') r.kernelReport = kr;
        results.push(r);
        recorded.set(t, r);
        opts.onTest?.(r, results.length, total);
      };
      runner.on('pass', (t) => record(t, 'pass'));
      // a failing hook has no test of its own: it is recorded under the hook's title
      runner.on('fail', (t, err) => record(t as Mocha.Test, 'fail', err));
      runner.on('pending', (t) => record(t, 'skip'));
    }
  }

  const mocha = new Mocha({ reporter: Collector as unknown as Mocha.ReporterConstructor, grep: opts.grep });
  mocha.timeout(30_000 * slowdown);
  // scale each test's own timeout
  mocha.rootHooks({
    beforeEach(this: Mocha.Context) {
      const t = this.currentTest;
      if (t && slowdown !== 1) t.timeout(t.timeout() * slowdown);
    },
    ...(opts.afterTest && {
      async afterEach(this: Mocha.Context) {
        const t = this.currentTest;
        if (!t) return;
        this.timeout(0); // the hook's own waits have deadlines (the target's)
        await opts.afterTest!(testId(suiteOfTest(t), t.title), recorded.get(t));
      },
    }),
  });
  for (const f of files) {
    delete require.cache[require.resolve(f)];
    mocha.addFile(f);
  }
  if (opts.shard) {
    const { index, count } = opts.shard;
    // load now to prune; run() must not load them again (mocha's own API, untyped in @types/mocha)
    const m = mocha as unknown as { loadFiles(): void; lazyLoadFiles(on: boolean): void };
    m.loadFiles();
    m.lazyLoadFiles(true);
    const prune = (s: Mocha.Suite) => {
      s.tests = s.tests.filter((t) => shardOf(testId(suiteOfTest(t), t.title), count) === index);
      s.suites.forEach(prune);
    };
    prune(mocha.suite);
  }
  await new Promise<void>((resolve) => mocha.run(() => resolve()));
  mocha.dispose();
  return {
    kernel: caps.kernel,
    target: opts.target.name,
    startedAt: new Date(started).toISOString(),
    durationMs: Date.now() - started,
    totals: totalsOf(results),
    tests: results,
  };
}

/** The shard (1..count) a test id falls in: FNV-1a of the id, so it never depends on what else runs. */
export function shardOf(id: string, count: number): number {
  return (fnv1a32(Buffer.from(id)) % count) + 1;
}

function firstLine(s: string): string {
  return s.split('\n')[0];
}

function detailOf(err: Error & { actual?: unknown; expected?: unknown; showDiff?: boolean }): string {
  const lines = [err.message];
  if (err.showDiff !== false && ('actual' in err || 'expected' in err))
    lines.push(`expected: ${fmt(err.expected)}`, `actual:   ${fmt(err.actual)}`);
  if (err.stack) lines.push(...err.stack.split('\n').filter((l) => /^\s+at .*(suites|src)\//.test(l)).slice(0, 5));
  return lines.join('\n');
}

function fmt(v: unknown): string {
  return typeof v === 'bigint' ? `${v}n` : JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `${x}n` : x));
}
