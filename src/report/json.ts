import type { RunResult } from './model';

/**
 * The run as one JSON document: the stable machine-readable surface. Key order is fixed; `reason` is always
 * present (`null` when absent); `title`, `rule`, `timedOut`, `kernelReport` and `notes` appear only when set.
 */
export function toJson(run: RunResult): string {
  const doc = {
    kernel: run.kernel,
    target: run.target,
    startedAt: run.startedAt,
    durationMs: run.durationMs,
    totals: { pass: run.totals.pass, fail: run.totals.fail, skip: run.totals.skip },
    tests: run.tests.map((t) => ({
      id: t.id,
      status: t.status,
      ops: t.ops,
      reason: t.reason ?? null,
      durationMs: t.durationMs,
      // JSON.stringify drops undefined members, so these appear only when present.
      title: t.title,
      rule: t.rule,
      timedOut: t.timedOut,
      kernelReport: t.kernelReport,
      notes: t.notes,
    })),
  };
  return JSON.stringify(doc, null, 2) + '\n';
}
