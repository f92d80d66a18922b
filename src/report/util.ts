import type { TestResult } from './model';

/** Tests grouped by suite, suites in order of first appearance. */
export function bySuite(tests: TestResult[]): Map<string, TestResult[]> {
  const suites = new Map<string, TestResult[]>();
  for (const t of tests) {
    const group = suites.get(t.suite);
    if (group) group.push(t);
    else suites.set(t.suite, [t]);
  }
  return suites;
}

/** Splits multi-line text into lines, accepting `\n`, `\r\n` and `\r`; drops trailing empty lines. */
export function linesOf(text: string): string[] {
  const lines = text.split(/\r\n|\r|\n/);
  while (lines.length > 0 && lines[lines.length - 1].trim() === '') lines.pop();
  return lines;
}

/** Milliseconds as seconds with millisecond precision, e.g. `'1.250'`. */
export function seconds(ms: number): string {
  return (ms / 1000).toFixed(3);
}
