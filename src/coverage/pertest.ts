/**
 * Per-test coverage (`kasync coverage --per-test`): the lines of io_uring/*.c and fs/aio.c each test
 * reached, and its unique contribution — the lines no other test and not booting reached, i.e. what
 * the run would lose without it.
 */
import { FileCoverage, Group, groupOf } from './gcov';

/** What one test reached, kept compact: hit lines per file (a run may have hundreds of tests). */
export interface TestCoverage {
  id: string;
  suite: string;
  title: string;
  status: 'pass' | 'fail' | 'skip' | 'unknown';
  /** File → the lines run at least once, ascending. */
  hit: Map<string, number[]>;
  /** The VM was rebooted during the test (a crash or hang): what ran before that is lost. */
  rebooted?: boolean;
  /** Why no counts could be read after it (the VM went away under the reading program). */
  error?: string;
}

/** One test's figures, as the table and the JSON give them. */
export interface TestFigures {
  id: string;
  suite: string;
  title: string;
  status: TestCoverage['status'];
  io_uring: { hit: number; unique: number };
  aio: { hit: number; unique: number };
  /** The unique lines themselves, per file. */
  uniqueLines: Record<string, number[]>;
  rebooted?: boolean;
  error?: string;
}

/** The lines of `files` that ran, per file, for {@link TestCoverage.hit}. */
export function hitLines(files: readonly FileCoverage[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const f of files) {
    const hit = [...f.lines].filter(([, c]) => c > 0).map(([l]) => l);
    if (hit.length) out.set(f.file, hit.sort((a, b) => a - b));
  }
  return out;
}

/**
 * Each test's hit and unique line counts per group. A line is unique to a test when no other test
 * reached it and `boot` (booting and probing the VM, which every run does anyway) did not either.
 */
export function perTestFigures(tests: readonly TestCoverage[], boot: readonly FileCoverage[] = []): TestFigures[] {
  const booted = hitLines(boot);
  // file → line → how many tests reached it
  const reach = new Map<string, Map<number, number>>();
  for (const t of tests)
    for (const [file, lines] of t.hit) {
      let m = reach.get(file);
      if (!m) reach.set(file, (m = new Map()));
      for (const l of lines) m.set(l, (m.get(l) ?? 0) + 1);
    }
  return tests.map((t) => {
    const f: TestFigures = {
      id: t.id,
      suite: t.suite,
      title: t.title,
      status: t.status,
      io_uring: { hit: 0, unique: 0 },
      aio: { hit: 0, unique: 0 },
      uniqueLines: {},
    };
    for (const [file, lines] of t.hit) {
      const g: Group | undefined = groupOf(file);
      if (!g) continue;
      const boot = new Set(booted.get(file) ?? []);
      const unique = lines.filter((l) => reach.get(file)!.get(l) === 1 && !boot.has(l));
      f[g].hit += lines.length;
      f[g].unique += unique.length;
      if (unique.length) f.uniqueLines[file] = unique;
    }
    if (t.rebooted) f.rebooted = true;
    if (t.error) f.error = t.error;
    return f;
  });
}

/** The `byTest` key of the `--json` summary: test id → its figures (a repeated id gets `#2`, `#3`…). */
export function byTestJson(figures: readonly TestFigures[]): Record<string, Omit<TestFigures, 'id'>> {
  const out: Record<string, Omit<TestFigures, 'id'>> = {};
  for (const { id, ...rest } of figures) {
    let key = id;
    for (let n = 2; key in out; n++) key = `${id}#${n}`;
    out[key] = rest;
  }
  return out;
}

const uniqueOf = (f: TestFigures) => f.io_uring.unique + f.aio.unique;
const hitOf = (f: TestFigures) => f.io_uring.hit + f.aio.hit;

/**
 * The per-test table: the `top` tests with the most unique lines, the `top` reaching the fewest lines,
 * and how many tests add nothing no other test reaches.
 */
export function formatPerTest(figures: readonly TestFigures[], top = 10): string {
  const row = (f: TestFigures) =>
    [
      String(uniqueOf(f)).padStart(6),
      String(f.io_uring.hit).padStart(6),
      String(f.aio.hit).padStart(5),
      `  ${f.id}${f.status === 'pass' ? '' : ` (${f.status})`}${f.rebooted ? ' (VM rebooted)' : ''}` +
        (f.error ? ` (no counts: ${f.error})` : ''),
    ].join(' ');
  const head = `${'unique'.padStart(6)} ${'uring'.padStart(6)} ${'aio'.padStart(5)}   test`;
  const byUnique = [...figures].sort((a, b) => uniqueOf(b) - uniqueOf(a) || hitOf(b) - hitOf(a));
  const byHit = [...figures].sort((a, b) => hitOf(a) - hitOf(b) || uniqueOf(a) - uniqueOf(b));
  const none = figures.filter((f) => uniqueOf(f) === 0).length;
  const out = [
    `per test (${figures.length} tests; lines of io_uring/*.c and fs/aio.c; ` +
      'unique: reached by no other test nor at boot)',
    '',
    `most unique lines:`,
    head,
    ...byUnique.slice(0, top).map(row),
    '',
    `fewest lines reached:`,
    head,
    ...byHit.slice(0, top).map(row),
    '',
    `${none} of ${figures.length} tests reach no line that another test does not`,
  ];
  return out.join('\n') + '\n';
}
