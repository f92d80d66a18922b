import { totalsOf, type RunResult, type TestResult } from './model';
import { bySuite, seconds } from './util';

// Characters XML 1.0 cannot carry at all, not even as character references (lone surrogates included).
const FORBIDDEN = /[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

/** Replaces what XML 1.0 forbids with a visible `\uXXXX`, so the report still shows a stray byte was there. */
function xmlSafe(text: string): string {
  return text.replace(FORBIDDEN, (c) => `\\u${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`);
}

/** Escapes character data. `>` too, so that `]]>` cannot occur. */
function xmlText(text: string): string {
  return xmlSafe(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\r/g, '&#13;');
}

/** Escapes an attribute value for double quotes; tab and line breaks as references, as parsers normalise them. */
function xmlAttr(text: string): string {
  return xmlText(text)
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;')
    .replace(/\t/g, '&#9;')
    .replace(/\n/g, '&#10;');
}

function attrs(pairs: Record<string, string | number>): string {
  return Object.entries(pairs)
    .map(([k, v]) => ` ${k}="${xmlAttr(String(v))}"`)
    .join('');
}

function testcase(t: TestResult): string[] {
  const open = `    <testcase${attrs({ classname: `kasync.${t.suite}`, name: t.title, time: seconds(t.durationMs) })}`;
  const body: string[] = [];
  if (t.status === 'fail') {
    const message = t.reason ?? (t.timedOut ? `timed out after ${t.durationMs} ms` : 'failed');
    const text = [t.detail?.trimEnd(), t.rule && `rule: ${t.rule}`].filter(Boolean).join('\n');
    const type = t.timedOut ? 'timeout' : 'failure';
    body.push(`      <failure${attrs({ message, type })}>${xmlText(text)}</failure>`);
  } else if (t.status === 'skip') {
    body.push(`      <skipped${attrs(t.reason === undefined ? {} : { message: t.reason })}/>`);
  }
  if (t.notes?.length) body.push(`      <system-out>${xmlText(t.notes.join('\n'))}</system-out>`);
  if (t.kernelReport) body.push(`      <system-err>${xmlText(t.kernelReport)}</system-err>`);
  return body.length === 0 ? [`${open}/>`] : [`${open}>`, ...body, '    </testcase>'];
}

/**
 * The run as JUnit XML: one `<testsuite>` per kasync suite (with the kernel and target as properties), one
 * `<testcase classname="kasync.<suite>">` per test named by its title. A timeout is a `<failure type="timeout">`;
 * notes go to the test case's `<system-out>`, a kernel report to its `<system-err>`.
 */
export function toJunit(run: RunResult): string {
  const out = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites${attrs({
      name: 'kasync',
      tests: run.tests.length,
      failures: run.totals.fail,
      skipped: run.totals.skip,
      time: seconds(run.durationMs),
      timestamp: run.startedAt,
    })}>`,
  ];
  for (const [suite, tests] of bySuite(run.tests)) {
    const totals = totalsOf(tests);
    const time = seconds(tests.reduce((sum, t) => sum + t.durationMs, 0));
    const head = { name: suite, tests: tests.length, failures: totals.fail, errors: 0, skipped: totals.skip, time };
    out.push(`  <testsuite${attrs({ ...head, timestamp: run.startedAt })}>`);
    out.push('    <properties>');
    out.push(`      <property${attrs({ name: 'kernel', value: run.kernel })}/>`);
    out.push(`      <property${attrs({ name: 'target', value: run.target })}/>`);
    out.push('    </properties>');
    for (const t of tests) out.push(...testcase(t));
    out.push('  </testsuite>');
  }
  out.push('</testsuites>');
  return out.join('\n') + '\n';
}
