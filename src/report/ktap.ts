import { totalsOf, type RunResult, type TestResult } from './model';
import { bySuite, linesOf } from './util';

// One nesting level is two spaces (Documentation/dev-tools/ktap.rst, "Nested tests").
const INDENT = '  ';

/** A description may not contain '#' (it starts the directive) nor break the line. */
function description(text: string): string {
  return text.replace(/#/g, '_').replace(/[\r\n\t]+/g, ' ');
}

/** Directive and diagnostic data are free text, but must stay on one line. */
function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}

function diagnostics(text: string): string[] {
  return linesOf(text).map((line) => `# ${line}`.trimEnd());
}

function totalsLine(t: RunResult['totals']): string {
  return `# Totals: pass:${t.pass} fail:${t.fail} skip:${t.skip}`;
}

/** Lines for one test: its diagnostics first (the spec puts them directly before the result), then the result. */
function testLines(t: TestResult, n: number): string[] {
  const name = description(t.id);
  if (t.status === 'pass') return [`ok ${n} ${name}`];
  if (t.status === 'skip') return [`ok ${n} ${name} # SKIP${t.reason ? ' ' + oneLine(t.reason) : ''}`];
  const lines: string[] = [];
  if (t.title !== t.id) lines.push(`# ${oneLine(t.title)}`);
  if (t.rule) lines.push(`# rule: ${oneLine(t.rule)}`);
  // A timeout carries its reason in the directive; other failures as the first diagnostic line.
  if (t.reason && !t.timedOut) lines.push(`# ${oneLine(t.reason)}`);
  if (t.detail) lines.push(...diagnostics(t.detail));
  if (t.kernelReport) lines.push('# kernel report:', ...diagnostics(t.kernelReport));
  // a known kernel bug is TAP's TODO: an expected failure, not counted against the run
  const todo = t.knownBug ? ` # TODO known kernel bug: ${oneLine(t.knownBug)}` : '';
  const timeout = t.timedOut ? ` # TIMEOUT ${oneLine(t.reason ?? `after ${t.durationMs} ms`)}` : todo;
  lines.push(`not ok ${n} ${name}${timeout}`);
  return lines;
}

/**
 * The run as KTAP version 1: one nested block per suite (indented two spaces, with its own version line, plan
 * and totals), followed by the suite's own result line; a suite fails if any test fails and is skipped if all
 * are. Test descriptions are the ids with '#' replaced by '_'.
 */
export function toKtap(run: RunResult): string {
  const suites = [...bySuite(run.tests)];
  const out = ['KTAP version 1', `1..${suites.length}`, `# kasync on ${oneLine(run.kernel)} (${oneLine(run.target)})`];
  suites.forEach(([suite, tests], i) => {
    const block = ['KTAP version 1', `# Subtest: ${description(suite)}`, `1..${tests.length}`];
    tests.forEach((t, j) => block.push(...testLines(t, j + 1)));
    block.push(totalsLine(totalsOf(tests)));
    out.push(...block.map((line) => INDENT + line));
    const n = i + 1;
    const name = description(suite);
    // TODO results (known kernel bugs) do not fail their suite
    if (tests.some((t) => t.status === 'fail' && !t.knownBug)) out.push(`not ok ${n} ${name}`);
    else if (tests.every((t) => t.status === 'skip')) out.push(`ok ${n} ${name} # SKIP all tests skipped`);
    else out.push(`ok ${n} ${name}`);
  });
  out.push(totalsLine(run.totals));
  return out.join('\n') + '\n';
}
