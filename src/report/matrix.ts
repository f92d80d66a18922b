import * as fs from 'fs';
import * as path from 'path';
import { UsageError } from '../cli/usage';
import { toJunit } from './junit';
import { toKtap } from './ktap';
import { linkHref, toMatrixHtml } from './matrix-html';
import { totalsOf, type RunResult, type Status, type TestResult } from './model';

/** What one kernel (or one shard or repeat of it) produced, as the matrix runner hands it over. */
export interface MatrixColumn {
  /** The kernel as the user named it: `'host'`, `'debian:6.1'`, `'debian:6.12'`. */
  kernel: string;
  /** `uname -r` of that kernel, when known. */
  release?: string;
  /** The run; absent when the kernel could not be run at all. */
  run?: RunResult;
  /** Why the kernel could not be run (or was cut short): boot failure, no image, ... */
  error?: string;
  /** Test id → log file for that cell (console tail, failure detail), relative to the output directory. */
  logs?: Record<string, string>;
  /** The kernel's whole console log, relative to the output directory. */
  consoleLog?: string;
}

/** A cell's verdict. KernelCI's order of precedence when several results meet: FAIL > ERROR > PASS > SKIP. */
export type CellStatus = 'FAIL' | 'ERROR' | 'PASS' | 'SKIP';

/** Cell statuses from worst to best; a merge keeps the first one present. */
export const CELL_STATUSES: readonly CellStatus[] = Object.freeze(['FAIL', 'ERROR', 'PASS', 'SKIP'] as const);

/** One test of the matrix (a row), described by the first column that reported it. */
export interface MatrixRow {
  id: string;
  suite: string;
  title: string;
  ops: string[];
  rule?: string;
}

/** The verdict of one test on one kernel. */
export interface MatrixCell {
  status: CellStatus;
  /** Skip reason, failure message or the kernel's error; several distinct ones joined by `'; '`. */
  reason?: string;
  /** Log file for the cell, relative to the output directory. */
  link?: string;
  /** A FAIL by a known, documented bug of that kernel (the test's `knownBug`): not counted in the exit code. */
  knownBug?: boolean;
}

/** One kernel of the matrix (all input columns with that label merged). */
export interface MatrixKernel {
  kernel: string;
  /** File-name form of the label (`debian_6.12`), unique within the matrix. */
  slug: string;
  release?: string;
  /** Errors of the merged columns, distinct ones joined by `'; '`. */
  error?: string;
  consoleLog?: string;
  /** Cells by status; `absent` counts rows this kernel has no result for. */
  totals: Record<CellStatus, number> & { absent: number };
  /** One result per test (the worst), what JUnit and KTAP render; synthesised failures for ERROR rows. */
  run: RunResult;
}

/** The kernel × test matrix. `cells[r][k]` is row `r` on kernel `k`, `null` when that kernel has no result. */
export interface Matrix {
  rows: MatrixRow[];
  kernels: MatrixKernel[];
  cells: (MatrixCell | null)[][];
  /** The input, kept so that `matrix.json` can be merged again. */
  columns: MatrixColumn[];
}

/** What one column says about one test, before columns with the same label are merged. */
interface Verdict {
  status: CellStatus;
  reason?: string;
  link?: string;
  result?: TestResult;
}

const RANK: Record<CellStatus, number> = { FAIL: 0, ERROR: 1, PASS: 2, SKIP: 3 };

/** Failures caused by the test machinery rather than the kernel are reported with this prefix. */
const INFRA_PREFIX = 'target:';

function failureReason(t: TestResult): string {
  return t.reason ?? (t.timedOut ? `timed out after ${t.durationMs} ms` : 'failed');
}

function verdictOf(t: TestResult, column: MatrixColumn): Verdict {
  const link = column.logs?.[t.id];
  if (t.status === 'pass') return { status: 'PASS', link, result: t };
  if (t.status === 'skip') return { status: 'SKIP', reason: t.reason, link, result: t };
  const reason = t.knownBug ? `known kernel bug: ${t.knownBug}: ${failureReason(t)}` : failureReason(t);
  return { status: reason.startsWith(INFRA_PREFIX) ? 'ERROR' : 'FAIL', reason, link, result: t };
}

/** Distinct non-empty texts joined by `'; '`, or undefined when there are none. */
function joinDistinct(texts: (string | undefined)[]): string | undefined {
  const distinct = [...new Set(texts.filter((t): t is string => !!t))];
  return distinct.length === 0 ? undefined : distinct.join('; ');
}

/** Worst status wins; the merged cell keeps the reasons of every verdict with that status and the first link. */
function mergeVerdicts(verdicts: Verdict[]): Verdict | null {
  if (verdicts.length === 0) return null;
  const worst = verdicts.reduce((a, b) => (RANK[b.status] < RANK[a.status] ? b : a));
  const same = verdicts.filter((v) => v.status === worst.status);
  const link = same.find((v) => v.link)?.link;
  const result = same.find((v) => v.result)?.result;
  return { status: worst.status, reason: joinDistinct(same.map((v) => v.reason)), link, result };
}

/** `'debian:6.12'` → `'debian_6.12'`: lower case, anything but `[a-z0-9.-]` as `_`. */
export function slugOf(label: string): string {
  return label.toLowerCase().replace(/[^a-z0-9.-]/g, '_') || '_';
}

function uniqueSlugs(labels: string[]): string[] {
  const used = new Set<string>();
  return labels.map((label) => {
    const base = slugOf(label);
    let slug = base;
    for (let n = 2; used.has(slug); n++) slug = `${base}-${n}`;
    used.add(slug);
    return slug;
  });
}

function rowsOf(columns: MatrixColumn[]): MatrixRow[] {
  const rows = new Map<string, MatrixRow>();
  for (const c of columns) {
    for (const t of c.run?.tests ?? []) {
      if (!rows.has(t.id)) rows.set(t.id, { id: t.id, suite: t.suite, title: t.title, ops: [...t.ops], rule: t.rule });
    }
  }
  const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return [...rows.values()].sort((a, b) => byText(a.suite, b.suite) || byText(a.id, b.id));
}

/** What one column says about every row: its results, or ERROR everywhere when it could not run. */
function columnVerdicts(column: MatrixColumn, rows: MatrixRow[]): Map<string, Verdict> {
  const verdicts = new Map<string, Verdict>();
  if (!column.run) {
    const reason = column.error ?? 'not run';
    for (const row of rows) verdicts.set(row.id, { status: 'ERROR', reason, link: column.consoleLog });
    return verdicts;
  }
  for (const t of column.run.tests) {
    const merged = mergeVerdicts([verdictOf(t, column), ...(verdicts.has(t.id) ? [verdicts.get(t.id)!] : [])]);
    verdicts.set(t.id, merged!);
  }
  return verdicts;
}

/** The result JUnit and KTAP show for a cell: the worst real result, or a synthesised infrastructure failure. */
function resultOf(row: MatrixRow, cell: Verdict): TestResult {
  if (cell.result && (cell.status !== 'ERROR' || cell.result.status === 'fail')) return cell.result;
  const reason = cell.reason?.startsWith(INFRA_PREFIX) ? cell.reason : `${INFRA_PREFIX} ${cell.reason ?? 'not run'}`;
  return {
    id: row.id,
    title: row.title,
    suite: row.suite,
    ops: row.ops,
    rule: row.rule,
    status: 'fail',
    reason,
    durationMs: 0,
  };
}

function mergedRun(label: string, release: string | undefined, runs: RunResult[], tests: TestResult[]): RunResult {
  const starts = runs.map((r) => r.startedAt).sort();
  return {
    kernel: release ?? runs[0]?.kernel ?? label,
    target: runs[0]?.target ?? label,
    startedAt: starts[0] ?? new Date(0).toISOString(),
    durationMs: runs.reduce((sum, r) => sum + r.durationMs, 0),
    totals: totalsOf(tests),
    tests,
  };
}

/**
 * Builds the kernel × test matrix. Rows are the union of test ids over all columns, sorted by suite then id.
 * Columns with the same kernel label (shards, repeats) become one kernel; in each cell the worst status wins
 * (FAIL > ERROR > PASS > SKIP). A failure whose reason starts with `target:` is an ERROR (the machinery failed,
 * not the kernel), and a column with an `error` and no run is an ERROR in every row.
 */
export function buildMatrix(columns: MatrixColumn[]): Matrix {
  const rows = rowsOf(columns);
  const labels = [...new Set(columns.map((c) => c.kernel))];
  const slugs = uniqueSlugs(labels);
  const cells: (MatrixCell | null)[][] = rows.map(() => []);
  const kernels = labels.map((label, k): MatrixKernel => {
    const group = columns.filter((c) => c.kernel === label);
    const perColumn = group.map((c) => columnVerdicts(c, rows));
    const release = group.find((c) => c.release)?.release ?? group.find((c) => c.run)?.run?.kernel;
    const totals = { FAIL: 0, ERROR: 0, PASS: 0, SKIP: 0, absent: 0 };
    const tests: TestResult[] = [];
    rows.forEach((row, r) => {
      const cell = mergeVerdicts(perColumn.flatMap((v) => (v.has(row.id) ? [v.get(row.id)!] : [])));
      if (!cell) {
        totals.absent++;
        cells[r][k] = null;
        return;
      }
      totals[cell.status]++;
      cells[r][k] = { status: cell.status, reason: cell.reason, link: cell.link };
      if (cell.status === 'FAIL' && cell.result?.knownBug) cells[r][k]!.knownBug = true;
      tests.push(resultOf(row, cell));
    });
    const runs = group.flatMap((c) => (c.run ? [c.run] : []));
    return {
      kernel: label,
      slug: slugs[k],
      release,
      error: joinDistinct(group.map((c) => c.error)),
      consoleLog: group.find((c) => c.consoleLog)?.consoleLog,
      totals,
      run: mergedRun(label, release, runs, tests),
    };
  });
  return { rows, kernels, cells, columns };
}

/**
 * Process exit code for a matrix: 1 if any cell is ERROR or FAIL (other than a FAIL by a known kernel bug of that
 * kernel), or a kernel reported an error; else 0.
 */
export function exitCodeOfMatrix(matrix: Matrix): 0 | 1 {
  const bad = matrix.cells.some((row) =>
    row.some((c) => c !== null && (c.status === 'ERROR' || (c.status === 'FAIL' && !c.knownBug))),
  );
  return bad || matrix.kernels.some((k) => k.error !== undefined) ? 1 : 0;
}

/** Markdown-safe inline text: HTML metacharacters as entities, Markdown punctuation escaped, one line. */
function md(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/([\\`*_[\]|#~])/g, '\\$1')
    .replace(/\s*[\r\n]+\s*/g, ' ');
}

function totalsText(t: MatrixKernel['totals']): string {
  return `${t.PASS} pass, ${t.FAIL} fail, ${t.ERROR} error, ${t.SKIP} skip${t.absent ? `, ${t.absent} not run` : ''}`;
}

/**
 * The matrix as Markdown: one row per test and one column per kernel, cells linking to their logs; reasons
 * as numbered notes below (one note per distinct kernel and reason); then per-kernel totals and a legend.
 */
export function toMatrixMarkdown(matrix: Matrix): string {
  const notes = new Map<string, number>();
  const noteLines: string[] = [];
  const noteFor = (kernel: MatrixKernel, reason: string): number => {
    const key = `${kernel.kernel}\0${reason}`;
    if (!notes.has(key)) {
      notes.set(key, notes.size + 1);
      noteLines.push(`- [${notes.size}] ${md(kernel.kernel)}: ${md(reason)}`);
    }
    return notes.get(key)!;
  };
  const head = matrix.kernels.map((k) => `${md(k.kernel)}${k.release ? ` (${md(k.release)})` : ''}`);
  const out = [
    '# kasync kernel × test matrix',
    '',
    `| Suite | Test | ${head.join(' | ')} |`,
    `| --- | --- |${matrix.kernels.map(() => ' :---: |').join('')}`,
  ];
  matrix.rows.forEach((row, r) => {
    const cells = matrix.kernels.map((kernel, k) => {
      const cell = matrix.cells[r][k];
      if (!cell) return '—';
      const text = cell.link ? `[${cell.status}](${linkHref(cell.link)})` : cell.status;
      return cell.reason ? `${text} [${noteFor(kernel, cell.reason)}]` : text;
    });
    out.push(`| ${md(row.suite)} | ${md(row.title)} | ${cells.join(' | ')} |`);
  });
  if (noteLines.length > 0) out.push('', '## Reasons', '', ...noteLines);
  out.push('', '## Totals', '', '| Kernel | Release | Totals | Reports |', '| --- | --- | --- | --- |');
  for (const k of matrix.kernels) {
    const reports = [`[JUnit](${linkHref(`${k.slug}.junit.xml`)})`, `[KTAP](${linkHref(`${k.slug}.ktap`)})`];
    if (k.consoleLog) reports.push(`[console](${linkHref(k.consoleLog)})`);
    const error = k.error ? ` — error: ${md(k.error)}` : '';
    out.push(`| ${md(k.kernel)} | ${md(k.release ?? '?')} | ${totalsText(k.totals)}${error} | ${reports.join(' ')} |`);
  }
  out.push(
    '',
    '## Legend',
    '',
    '- **FAIL**: the kernel broke the rule under test.',
    '- **ERROR**: the test could not be judged (boot failure, lost target, infrastructure).',
    '- **PASS**: the kernel behaved as specified.',
    '- **SKIP**: not applicable on this kernel (the reason says why).',
    '- **—**: no result from this kernel.',
    '- Several results for one cell (shards, repeats) merge worst first: FAIL > ERROR > PASS > SKIP.',
  );
  return out.join('\n') + '\n';
}

/** Marks `matrix.json` as ours, with a version to change when its shape does. */
const JSON_FORMAT = 'kasync-matrix/1';

/** The input columns as JSON, the form `readMatrixColumns` reads back for a later merge. */
export function toMatrixJson(matrix: Matrix): string {
  return JSON.stringify({ format: JSON_FORMAT, columns: matrix.columns }, null, 2) + '\n';
}

/**
 * Writes the matrix into `outDir` (created if missing): `matrix.md`, `matrix.html` (self-contained),
 * `matrix.json` (the input columns, for merging shards) and per kernel `<slug>.junit.xml` and `<slug>.ktap`.
 * Returns the written paths.
 */
export function writeMatrix(matrix: Matrix, outDir: string): string[] {
  fs.mkdirSync(outDir, { recursive: true });
  const files: [string, string][] = [
    ['matrix.md', toMatrixMarkdown(matrix)],
    ['matrix.html', toMatrixHtml(matrix)],
    ['matrix.json', toMatrixJson(matrix)],
  ];
  for (const k of matrix.kernels) {
    files.push([`${k.slug}.junit.xml`, toJunit(k.run)], [`${k.slug}.ktap`, toKtap(k.run)]);
  }
  return files.map(([name, text]) => {
    const file = path.join(outDir, name);
    fs.writeFileSync(file, text);
    return file;
  });
}

// ---- reading matrix.json back ----

type Check = (value: unknown, where: string) => void;

class ShapeError extends Error {}

function fail(where: string, what: string): never {
  throw new ShapeError(`${where} ${what}`);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str: Check = (v, where) => typeof v === 'string' || fail(where, 'must be a string');
const num: Check = (v, where) => (typeof v === 'number' && Number.isFinite(v)) || fail(where, 'must be a number');
const bool: Check = (v, where) => typeof v === 'boolean' || fail(where, 'must be true or false');
const strings: Check = (v, where) => {
  if (!Array.isArray(v)) fail(where, 'must be a list of strings');
  v.forEach((s, i) => str(s, `${where}[${i}]`));
};
const status: Check = (v, where) =>
  (['pass', 'fail', 'skip'] satisfies Status[] as unknown[]).includes(v) ||
  fail(where, "must be 'pass', 'fail' or 'skip'");

/** Checks an object's fields: required ones must be present, optional ones may be absent. */
function fields(v: unknown, where: string, required: Record<string, Check>, optional: Record<string, Check> = {}) {
  if (!isObject(v)) fail(where, 'must be an object');
  for (const [key, check] of Object.entries(required)) {
    if (!(key in v)) fail(`${where}.${key}`, 'is missing');
    check(v[key], `${where}.${key}`);
  }
  for (const [key, check] of Object.entries(optional)) if (v[key] !== undefined) check(v[key], `${where}.${key}`);
}

const testResult: Check = (v, where) =>
  fields(
    v,
    where,
    { id: str, title: str, suite: str, status, ops: strings, durationMs: num },
    { rule: str, reason: str, detail: str, timedOut: bool, kernelReport: str },
  );

const runResult: Check = (v, where) => {
  const totals: Check = (t, w) => fields(t, w, { pass: num, fail: num, skip: num });
  const tests: Check = (t, w) => {
    if (!Array.isArray(t)) fail(w, 'must be a list');
    t.forEach((x, i) => testResult(x, `${w}[${i}]`));
  };
  fields(v, where, { kernel: str, target: str, startedAt: str, durationMs: num, totals, tests });
};

const logs: Check = (v, where) => {
  if (!isObject(v)) fail(where, 'must be an object');
  for (const [id, file] of Object.entries(v)) str(file, `${where}[${JSON.stringify(id)}]`);
};

const column: Check = (v, where) => {
  fields(v, where, { kernel: str }, { release: str, run: runResult, error: str, logs, consoleLog: str });
  if ((v as MatrixColumn).kernel === '') fail(`${where}.kernel`, 'must not be empty');
};

/** Rewrites a column's log paths from relative to `fromDir` to relative to `toDir`. */
function rebase(c: MatrixColumn, fromDir: string, toDir: string): MatrixColumn {
  const move = (p: string) => path.relative(toDir, path.resolve(fromDir, p)).split(path.sep).join('/');
  const out: MatrixColumn = { ...c };
  if (c.logs) out.logs = Object.fromEntries(Object.entries(c.logs).map(([id, p]) => [id, move(p)]));
  if (c.consoleLog) out.consoleLog = move(c.consoleLog);
  return out;
}

/**
 * Reads the columns back from a `matrix.json` written by {@link writeMatrix}, checking its whole shape.
 * Log paths in the file are relative to the file's directory; pass `relativeTo` (the directory the merged
 * matrix will be written to) to have them rewritten relative to that directory instead.
 * Throws a one-line {@link UsageError} for a missing, unreadable or malformed file.
 */
export function readMatrixColumns(file: string, relativeTo?: string): MatrixColumn[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(
      `cannot read matrix file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${file} is not a kasync matrix file: invalid JSON (${(e as Error).message.split('\n')[0]})`);
  }
  try {
    fields(data, 'file', { format: str, columns: (v, w) => Array.isArray(v) || fail(w, 'must be a list') });
    const { format, columns } = data as { format: string; columns: unknown[] };
    if (format !== JSON_FORMAT) fail('file.format', `is ${JSON.stringify(format)}, expected "${JSON_FORMAT}"`);
    columns.forEach((c, i) => column(c, `columns[${i}]`));
  } catch (e) {
    if (e instanceof ShapeError) throw new UsageError(`${file} is not a kasync matrix file: ${e.message}`);
    throw e;
  }
  const columns = (data as { columns: MatrixColumn[] }).columns;
  return relativeTo === undefined ? columns : columns.map((c) => rebase(c, path.dirname(file), relativeTo));
}
