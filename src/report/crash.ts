/**
 * The `kasync crash` report: a filesystem × workload × interface table with marks, crash states
 * checked and violations, and the one-line JSON summary `--json` ends with.
 */
import type { CrashRow, CrashViolation } from '../crash/check';

/** Everything one `kasync crash` run found. */
export interface CrashReport {
  /** The kernel as the user named it (debian:6.12) and as it booted. */
  kernel: string;
  release?: string;
  rows: CrashRow[];
  violations: CrashViolation[];
}

/** The `--json` summary: `{"kernel":…,"marks":n,"statesChecked":n,"violations":n,"rows":[…]}`. */
export function crashJson(r: CrashReport): Record<string, unknown> {
  const sum = (k: 'marks' | 'statesChecked' | 'violations') => r.rows.reduce((n, x) => n + x[k], 0);
  return {
    kernel: r.kernel,
    release: r.release,
    marks: sum('marks'),
    statesChecked: sum('statesChecked'),
    violations: sum('violations'),
    rows: r.rows,
    violationDirs: r.violations.map((v) => v.dir).filter(Boolean),
  };
}

/** Exit status: 1 when a state broke its mark or a workload could not do its part, else 0. */
export function crashExitCode(r: CrashReport): number {
  return r.rows.some((x) => x.violations > 0 || x.error) ? 1 : 0;
}

/** The table as Markdown, then one line per violation. */
export function formatCrash(r: CrashReport): string {
  const head = ['fs', 'workload', 'iface', 'promise', 'marks', 'states checked', 'violations', 'note'];
  const rows = r.rows.map((x) => [
    x.fs,
    x.workload,
    x.iface,
    x.datasync ? 'data+size' : 'data+metadata',
    String(x.marks),
    String(x.statesChecked),
    String(x.violations),
    x.skipped ? `skipped: ${x.skipped}` : x.error ? `ERROR: ${x.error}` : '',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  const out = [
    `kernel ${r.kernel}${r.release ? ` (${r.release})` : ''}`,
    '',
    line(head),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...rows.map(line),
  ];
  const j = crashJson(r);
  out.push('', `${j.marks} marks, ${j.statesChecked} crash states checked, ${j.violations} violations`);
  for (const v of r.violations)
    out.push(
      `VIOLATION ${v.fs} ${v.workload} (${v.iface}) state ${v.state}: ${v.problems.join('; ')}${v.dir ? ` [${v.dir}]` : ''}`,
    );
  return out.join('\n');
}
