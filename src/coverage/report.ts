/** The coverage report: per file and per suite, a JSON summary, and what is least covered. */
import { FileCoverage, Group, groupOf, totals, Totals } from './gcov';

/** What one suite covered, counted from a gcov reset just before it to just after it. */
export interface SuiteCoverage {
  suite: string;
  files: FileCoverage[];
  tests: { pass: number; fail: number; skip: number };
  /** Times the VM was rebooted during the suite (a crash or hang): counts before a reboot are lost. */
  reboots: number;
}

/** A whole `kasync coverage` run. */
export interface CoverageReport {
  /** The kernel as named (`debian-src:6.12/coverage`) and its release. */
  kernel: string;
  release: string;
  /** What booting and probing the VM covered (before the first reset). */
  boot: FileCoverage[];
  suites: SuiteCoverage[];
  /** The union of boot and every suite. */
  all: FileCoverage[];
}

/** `{lines, hit, pct}` as the JSON summary gives it. */
export interface LineTotals {
  lines: number;
  hit: number;
  pct: number;
}

const lineTotals = (t: Totals): LineTotals => ({ lines: t.lines, hit: t.hit, pct: t.pct });

/** Totals of one group (io_uring/*.c or fs/aio.c) of a file set. */
export function groupTotals(files: readonly FileCoverage[], group: Group): Totals {
  return totals(files.filter((f) => groupOf(f.file) === group));
}

/** The `--json` document: `{"kernel", "io_uring", "aio", "bySuite", "files"}`. */
export function summaryJson(r: CoverageReport): Record<string, unknown> {
  const bySuite: Record<string, unknown> = {};
  for (const s of r.suites)
    bySuite[s.suite] = {
      io_uring: lineTotals(groupTotals(s.files, 'io_uring')),
      aio: lineTotals(groupTotals(s.files, 'aio')),
      tests: s.tests,
      reboots: s.reboots,
    };
  const files: Record<string, LineTotals & { functions: number; functionsHit: number }> = {};
  for (const f of r.all) files[f.file] = totals([f]);
  return {
    kernel: r.kernel,
    release: r.release,
    io_uring: lineTotals(groupTotals(r.all, 'io_uring')),
    aio: lineTotals(groupTotals(r.all, 'aio')),
    boot: { io_uring: lineTotals(groupTotals(r.boot, 'io_uring')), aio: lineTotals(groupTotals(r.boot, 'aio')) },
    bySuite,
    files,
  };
}

/** Functions never entered in `file`, in source order. */
export function unrunFunctions(file: FileCoverage): string[] {
  return file.functions
    .filter((f) => f.count === 0)
    .sort((a, b) => a.line - b.line)
    .map((f) => f.name);
}

/** The human report: a table of files × (boot, each suite, all), then the least covered files and their unrun functions. */
export function formatReport(r: CoverageReport, least = 5): string {
  const cols = ['boot', ...r.suites.map((s) => s.suite), 'all'];
  const sets = [r.boot, ...r.suites.map((s) => s.files), r.all];
  const cell = (files: readonly FileCoverage[], name: string) => {
    const f = files.find((x) => x.file === name);
    return f ? `${totals([f]).pct.toFixed(1)}%` : '-';
  };
  const names = r.all.map((f) => f.file);
  const w0 = Math.max(12, ...names.map((n) => n.length));
  const widths = cols.map((c) => Math.max(7, c.length));
  const row = (first: string, rest: string[]) =>
    [first.padEnd(w0), ...rest.map((x, i) => x.padStart(widths[i]))].join('  ');
  const out = [`kernel line coverage on ${r.kernel} (${r.release})`, '', row('file', cols) + '  lines'];
  for (const n of names)
    out.push(
      row(
        n,
        sets.map((s) => cell(s, n)),
      ) + `  ${totals(r.all.filter((f) => f.file === n)).lines}`.padStart(7),
    );
  for (const g of ['io_uring', 'aio'] as const) {
    const t = groupTotals(r.all, g);
    out.push(
      row(
        g === 'io_uring' ? 'io_uring/*.c' : 'fs/aio.c',
        sets.map((s) => `${groupTotals(s, g).pct.toFixed(1)}%`),
      ) + `  ${t.lines}`.padStart(7),
    );
  }
  for (const g of ['io_uring', 'aio'] as const) {
    const t = groupTotals(r.all, g);
    out.push(
      '',
      `${g === 'io_uring' ? 'io_uring/*.c' : 'fs/aio.c'}: ${t.hit} of ${t.lines} lines (${t.pct}%), ${t.functionsHit} of ${t.functions} functions`,
    );
  }
  const uring = r.all.filter((f) => groupOf(f.file) === 'io_uring').sort((a, b) => totals([a]).pct - totals([b]).pct);
  if (uring.length) {
    out.push('', 'least covered io_uring files, with the functions no test entered:');
    for (const f of uring.slice(0, least)) {
      const t = totals([f]);
      const fns = unrunFunctions(f);
      out.push(
        `  ${f.file} ${t.pct}% (${t.hit}/${t.lines}): ${fns.length ? fns.join(', ') : 'every function entered'}`,
      );
    }
  }
  for (const s of r.suites) {
    const extra = s.reboots ? `; the VM rebooted ${s.reboots}x during it, so counts before that are lost` : '';
    out.push(`suite ${s.suite}: ${s.tests.pass} pass, ${s.tests.fail} fail, ${s.tests.skip} skip${extra}`);
  }
  return out.join('\n') + '\n';
}
