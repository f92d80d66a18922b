import type { RunResult, TestResult } from './model';
import { linesOf } from './util';

type Paint = (text: string) => string;

function painter(colour: boolean): { red: Paint; dim: Paint } {
  const sgr = (code: number): Paint => (colour ? (text) => `\x1b[${code}m${text}\x1b[0m` : (text) => text);
  return { red: sgr(31), dim: sgr(2) };
}

// Terminal control bytes from a test or a kernel splat must not reach the terminal; show them instead.
function printable(text: string): string {
  return text.replace(/[\x00-\x08\x0b-\x1f\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function failure(t: TestResult, n: number, paint: ReturnType<typeof painter>): string[] {
  const pad = ' '.repeat(`  ${n}) `.length);
  const line = (text: string, colour: Paint = (x) => x): string => colour(`${pad}${printable(text)}`.trimEnd());
  const indented = (text: string): string[] => linesOf(text).map((l) => line(`  ${l}`, paint.dim));
  const reason = t.reason ?? (t.timedOut ? `timed out after ${t.durationMs} ms` : 'failed');
  const lines = [paint.red(`  ${n}) ${printable(t.title)}`)];
  if (t.id !== t.title) lines.push(line(t.id));
  if (t.rule) lines.push(line(`rule: ${t.rule}`));
  if (t.knownBug) lines.push(line(`known kernel bug: ${t.knownBug}`));
  lines.push(line(t.timedOut && t.reason ? `timed out: ${reason}` : reason, paint.red));
  if (t.detail) lines.push(...indented(t.detail));
  if (t.kernelReport) lines.push(line('kernel report:'), ...indented(t.kernelReport));
  return lines;
}

/**
 * The human end-of-run summary: every failing test (title, id, rule, reason, then detail and any kernel report
 * indented; control characters made visible), the notes tests reported, then the line
 * `N passed, N failed, N skipped`, alone and never coloured because CI parses it. ANSI colour only if `colour`.
 */
export function toSpecSummary(run: RunResult, colour = false): string {
  const paint = painter(colour);
  const failing = run.tests.filter((t) => t.status === 'fail');
  const out: string[] = [];
  if (failing.length > 0) {
    out.push(`${failing.length} failing:`, '');
    failing.forEach((t, i) => out.push(...failure(t, i + 1, paint), ''));
  }
  // measurements tests reported (a race test's iterations and duration), whatever their status
  const noted = run.tests.filter((t) => t.notes?.length);
  if (noted.length > 0) {
    out.push('notes:');
    for (const t of noted) out.push(...t.notes!.map((n) => `  ${printable(t.title)}: ${printable(n)}`));
    out.push('');
  }
  const { pass, fail, skip } = run.totals;
  const known = failing.filter((t) => t.knownBug).length;
  out.push(`${pass} passed, ${fail} failed${known ? ` (${known} by known kernel bugs)` : ''}, ${skip} skipped`);
  return out.join('\n') + '\n';
}
