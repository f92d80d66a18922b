/** Verdict of one test. A timeout is a `'fail'` with {@link TestResult.timedOut} set. */
export type Status = 'pass' | 'fail' | 'skip';

/** The outcome of one conformance test, as every reporter sees it. */
export interface TestResult {
  /** `'<suite>.<name>'`, e.g. `'uring.read.matches-pread-on-a-short-file'`. */
  id: string;
  /** Human title, e.g. `'uring.READ matches pread on a short file'`. */
  title: string;
  /** `'aio' | 'uring' | ...` */
  suite: string;
  status: Status;
  /** Operations exercised, e.g. `['uring.READ']`. */
  ops: string[];
  /** Where the rule comes from: `'SEMANTICS §3.2'`, a man page or a kernel commit. */
  rule?: string;
  /** Skip reason or failure message (first line). */
  reason?: string;
  /** Failure detail (assertion diff, stack); may be multi-line. */
  detail?: string;
  /** A timeout is a failure: status `'fail'`, `timedOut` true. */
  timedOut?: boolean;
  /** A failure on a kernel with a known, documented bug the test finds (`conformance` meta `knownBug`): what it is. */
  knownBug?: string;
  /** A kernel splat attributed to this test (VM runs). */
  kernelReport?: string;
  /** Measurements the test reported (a race test's iteration count and duration), one line each. */
  notes?: string[];
  durationMs: number;
}

/** One run of the suite against one target. `totals` must equal `totalsOf(tests)`. */
export interface RunResult {
  /** `uname -r` of the kernel under test. */
  kernel: string;
  /** `'local' | 'child' | 'vm:debian:6.12' ...` */
  target: string;
  /** ISO 8601 start time. */
  startedAt: string;
  durationMs: number;
  totals: { pass: number; fail: number; skip: number };
  tests: TestResult[];
}

/** Counts tests by status. */
export function totalsOf(tests: TestResult[]): RunResult['totals'] {
  const totals = { pass: 0, fail: 0, skip: 0 };
  for (const t of tests) totals[t.status]++;
  return totals;
}

/**
 * Process exit code for a run: 1 if any test failed (timeouts included) other than by a known kernel bug of the
 * kernel under test ({@link TestResult.knownBug}), else 0. Skips never fail a run.
 */
export function exitCodeOf(run: RunResult): 0 | 1 {
  return run.tests.some((t) => t.status === 'fail' && !t.knownBug) ? 1 : 0;
}
