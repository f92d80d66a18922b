/**
 * Kernel line coverage from gcov: reading a coverage kernel's `.gcda` files out of the guest's debugfs,
 * turning them into per-line counts with the host's gcov against the build tree, and summarising the
 * counts for io_uring/*.c and fs/aio.c.
 */
import { spawnSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { O } from '../abi';
import { UsageError } from '../cli/usage';
import { Program } from '../program/builder';
import { close, openat, pread, pwrite } from '../program/sys';
import type { StepRef } from '../program/builder';
import type { Target } from '../target/target';
import { view } from '../target/target';
import type { TraceView } from '../program/trace';
import { findExecutable } from '../tools';

/** Where the guest mounts debugfs (vm-images/init.sh) and where gcov lives in it. */
export const GCOV_DEBUGFS = '/sys/kernel/debug/gcov';
/** Writing to it zeroes every counter (Documentation/dev-tools/gcov.rst). */
export const GCOV_RESET = `${GCOV_DEBUGFS}/reset`;

/** One function of a source file. */
export interface FunctionCoverage {
  name: string;
  line: number;
  /** How often it was entered. */
  count: number;
}

/** The counts of one source file: executable line → times run. */
export interface FileCoverage {
  /** Path relative to the source tree (`io_uring/rw.c`), or as gcov gave it when outside. */
  file: string;
  lines: Map<number, number>;
  functions: FunctionCoverage[];
}

/** Lines (and functions) found and hit. */
export interface Totals {
  lines: number;
  hit: number;
  /** Percent, one decimal. */
  pct: number;
  functions: number;
  functionsHit: number;
}

/** The two groups the report is about. */
export type Group = 'io_uring' | 'aio';

/** `io_uring/*.c` → io_uring, `fs/aio.c` → aio, anything else (headers, same-named objects) → undefined. */
export function groupOf(file: string): Group | undefined {
  if (/^io_uring\/[^/]+\.c$/.test(file)) return 'io_uring';
  if (file === 'fs/aio.c') return 'aio';
  return undefined;
}

const pct = (hit: number, n: number) => (n === 0 ? 0 : Math.round((1000 * hit) / n) / 10);

/** Lines and functions found and hit in `files`. */
export function totals(files: Iterable<FileCoverage>): Totals {
  let lines = 0;
  let hit = 0;
  let functions = 0;
  let functionsHit = 0;
  for (const f of files) {
    for (const c of f.lines.values()) {
      lines++;
      if (c > 0) hit++;
    }
    functions += f.functions.length;
    functionsHit += f.functions.filter((x) => x.count > 0).length;
  }
  return { lines, hit, pct: pct(hit, lines), functions, functionsHit };
}

/** Sums the counts of several runs of the same files (the union of what each covered). */
export function mergeCoverage(runs: Iterable<FileCoverage[]>): FileCoverage[] {
  const by = new Map<string, FileCoverage>();
  for (const run of runs)
    for (const f of run) {
      let m = by.get(f.file);
      if (!m) by.set(f.file, (m = { file: f.file, lines: new Map(), functions: [] }));
      for (const [l, c] of f.lines) m.lines.set(l, (m.lines.get(l) ?? 0) + c);
      for (const fn of f.functions) {
        const have = m.functions.find((x) => x.name === fn.name);
        if (have) have.count += fn.count;
        else m.functions.push({ ...fn });
      }
    }
  return [...by.values()].sort((a, b) => (a.file < b.file ? -1 : 1));
}

/** `file` relative to `srcDir` when inside it; `cwd` resolves relative names first. */
function relativeTo(srcDir: string | undefined, file: string, cwd?: string): string {
  if (!srcDir) return file;
  const abs = path.resolve(cwd ?? srcDir, file);
  const rel = path.relative(srcDir, abs);
  return rel.startsWith('..') ? file : rel;
}

/**
 * The files of gcov's JSON output (`gcov --json-format --stdout`: one document per line, one per
 * data file). A file seen in several documents (a header) has its counts summed.
 */
export function parseGcovJson(text: string, srcDir?: string): FileCoverage[] {
  const docs: FileCoverage[][] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let doc: {
      current_working_directory?: string;
      files?: {
        file: string;
        lines: { line_number: number; count: number }[];
        functions: { name: string; start_line: number; execution_count: number }[];
      }[];
    };
    try {
      doc = JSON.parse(line);
    } catch {
      throw new UsageError(`gcov printed something that is not JSON: '${line.slice(0, 80)}'`);
    }
    docs.push(
      (doc.files ?? []).map((f) => {
        const lines = new Map<number, number>();
        for (const l of f.lines) lines.set(l.line_number, Math.max(lines.get(l.line_number) ?? 0, l.count));
        return {
          file: relativeTo(srcDir, f.file, doc.current_working_directory),
          lines,
          functions: f.functions.map((x) => ({ name: x.name, line: x.start_line, count: x.execution_count })),
        };
      }),
    );
  }
  return mergeCoverage(docs);
}

/** The records of an lcov tracefile (SF, FN, FNDA, DA); several records of one file are summed. */
export function parseLcov(text: string, srcDir?: string): FileCoverage[] {
  const records: FileCoverage[] = [];
  let cur: FileCoverage | undefined;
  let fnLine = new Map<string, number>();
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    const [key, rest = ''] = line.split(/:(.*)/s);
    if (key === 'SF') {
      cur = { file: relativeTo(srcDir, rest), lines: new Map(), functions: [] };
      fnLine = new Map();
      records.push(cur);
    } else if (key === 'end_of_record') cur = undefined;
    else if (cur && key === 'DA') {
      const [l, c] = rest.split(',').map(Number);
      if (!Number.isInteger(l) || !Number.isFinite(c))
        throw new UsageError(`tracefile line ${i + 1}: bad DA '${rest}'`);
      cur.lines.set(l, (cur.lines.get(l) ?? 0) + c);
    } else if (cur && key === 'FN') {
      const [l, name] = rest.split(/,(.*)/s);
      fnLine.set(name, Number(l));
    } else if (cur && key === 'FNDA') {
      const [c, name] = rest.split(/,(.*)/s);
      cur.functions.push({ name, line: fnLine.get(name) ?? 0, count: Number(c) });
    }
  });
  return mergeCoverage([records]);
}

/** An lcov tracefile of `files` (paths made absolute under `srcDir`, so genhtml finds the sources). */
export function toLcov(files: readonly FileCoverage[], srcDir: string, testName = ''): string {
  const out: string[] = [];
  for (const f of files) {
    out.push(`TN:${testName}`, `SF:${path.resolve(srcDir, f.file)}`);
    for (const fn of f.functions) out.push(`FN:${fn.line},${fn.name}`);
    for (const fn of f.functions) out.push(`FNDA:${fn.count},${fn.name}`);
    out.push(`FNF:${f.functions.length}`, `FNH:${f.functions.filter((x) => x.count > 0).length}`);
    for (const [l, c] of [...f.lines].sort((a, b) => a[0] - b[0])) out.push(`DA:${l},${c}`);
    const t = totals([f]);
    out.push(`LF:${t.lines}`, `LH:${t.hit}`, 'end_of_record');
  }
  return out.join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------------
// The build tree: which objects are instrumented.

/** Paths (relative to the build dir, e.g. `io_uring/rw.gcno`) of the notes files the report reads. */
export function gcnoFiles(buildDir: string): string[] {
  const out: string[] = [];
  const uring = path.join(buildDir, 'io_uring');
  if (fs.existsSync(uring))
    for (const f of fs.readdirSync(uring).sort()) if (f.endsWith('.gcno')) out.push(`io_uring/${f}`);
  if (fs.existsSync(path.join(buildDir, 'fs', 'aio.gcno'))) out.push('fs/aio.gcno');
  return out;
}

/** Where the guest's kernel exposes the data of `<buildDir>/<rel>.gcno`: gcov names it by the object's build path. */
export function guestGcdaPath(buildDir: string, gcno: string, root = GCOV_DEBUGFS): string {
  return path.posix.join(root, buildDir, gcno.replace(/\.gcno$/, '.gcda'));
}

/**
 * Line counts of the async files from one set of `.gcda` contents (keyed like {@link gcnoFiles};
 * a missing one counts as never run), by the host's gcov against the build tree's notes files.
 * With `cache` (per-test coverage), a file whose data was seen before is not given to gcov again:
 * after a reset most files come back unchanged (all zero), and gcov costs ~20 ms a file.
 */
export function gcovCounts(
  buildDir: string,
  srcDir: string,
  gcda: ReadonlyMap<string, Buffer>,
  cache?: Map<string, FileCoverage[]>,
): FileCoverage[] {
  const gcov = findExecutable('gcov');
  if (!gcov) throw new UsageError('gcov not found: apt-get install gcc (gcov comes with it)');
  const keyOf = (rel: string) => {
    const data = gcda.get(rel);
    return `${rel}\0${data ? createHash('sha1').update(data).digest('hex') : '-'}`;
  };
  const runs: FileCoverage[][] = [];
  const todo: string[] = [];
  for (const rel of gcnoFiles(buildDir)) {
    const hit = cache?.get(keyOf(rel));
    if (hit) runs.push(hit);
    else todo.push(rel);
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kasync-gcov-'));
  try {
    const byDir = new Map<string, string[]>();
    for (const rel of todo) {
      const dir = path.join(tmp, path.dirname(rel));
      fs.mkdirSync(dir, { recursive: true });
      fs.copyFileSync(path.join(buildDir, rel), path.join(tmp, rel));
      const data = gcda.get(rel);
      if (data) fs.writeFileSync(path.join(tmp, rel.replace(/\.gcno$/, '.gcda')), data);
      const list = byDir.get(dir) ?? [];
      list.push(path.basename(rel, '.gcno') + '.c');
      byDir.set(dir, list);
    }
    const fresh: FileCoverage[][] = [];
    for (const [dir, sources] of byDir) {
      const r = spawnSync(gcov, ['--json-format', '--stdout', '-o', dir, ...sources], {
        cwd: tmp,
        encoding: 'utf8',
        maxBuffer: 256 << 20,
        timeout: 5 * 60_000,
      });
      if (r.status !== 0)
        throw new UsageError(
          `gcov failed (${r.error?.message ?? `exit ${r.status}`}): ${(r.stderr ?? '').trim().split('\n').pop()}`,
        );
      fresh.push(parseGcovJson(r.stdout, srcDir).filter((f) => groupOf(f.file)));
    }
    // each object is its own source file (io_uring/rw.gcno → io_uring/rw.c): that is what the cache keeps
    if (cache)
      for (const rel of todo) {
        const c = rel.replace(/\.gcno$/, '.c');
        cache.set(keyOf(rel), fresh.flat().filter((f) => f.file === c));
      }
    return mergeCoverage([...runs, ...fresh]).filter((f) => groupOf(f.file));
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------
// The guest side, through wire programs (native/WIRE.md): no agent command is needed.

/** Zeroes the guest kernel's gcov counters; a UsageError when it has none. */
export async function resetGcov(target: Target, file = GCOV_RESET): Promise<void> {
  const p = new Program({ deadlineMs: 10_000 });
  const check = addReset(p, file);
  check(view(await target.runWire(p.encode(), p.deadlineMs)));
}

/** Steps writing `file` (gcov's reset) at the end of `p`; the function returned checks them in the trace. */
function addReset(p: Program, file: string): (v: TraceView) => void {
  const { fd, step: open } = openat(p.main, file, O.WRONLY.value | O.CLOEXEC.value);
  const one = p.cstr('1');
  const write = pwrite(p.main, fd, one, 1, 0);
  close(p.main, fd);
  return (v) => {
    const o = v.step(open);
    if (o.ret < 0n)
      throw new UsageError(`${file}: errno ${o.errno}: the kernel has no gcov data (not a coverage build?)`);
    const w = v.step(write);
    if (w.ret !== 1n) throw new UsageError(`writing ${file} failed: errno ${w.errno}`);
  };
}

/**
 * Reads the `.gcda` files of the given notes files out of the guest. debugfs reports their size as 0,
 * and a read returns at most one page (gcov's seq_file shows a file a page per record), so each file
 * is read as `chunk`-sized preads at every offset up to a bound from its notes file's size: full chunks,
 * then one short (or empty) one, then empty ones. A file that fills its bound is read again with a
 * larger one. `root` is where gcov is in the guest (tests point it elsewhere). `sizes` remembers each file's
 * size for the next read: a `.gcda` keeps its size (its counters are fixed by the build), and every pread
 * past the end of a seq_file costs the guest a walk of the whole file, so the exact bound makes a read
 * several times cheaper (`kasync coverage --per-test` reads after every test). With `reset` (gcov's reset
 * file) and every size known, the same program zeroes the counters after reading them: one round trip less.
 */
export async function readGcda(
  target: Target,
  buildDir: string,
  gcnos: readonly string[],
  o: { root?: string; minBuffer?: number; chunk?: number; sizes?: Map<string, number>; reset?: string } = {},
): Promise<Map<string, Buffer>> {
  const { root = GCOV_DEBUGFS, minBuffer = 16 << 10, chunk = 4096, sizes, reset } = o;
  const out = new Map<string, Buffer>();
  const bound = (n: number) => Math.ceil(Math.max(minBuffer, n) / chunk) * chunk;
  // a known size: its full chunks and one short or empty read to see the end
  const known = (n: number) => (Math.floor(n / chunk) + 1) * chunk;
  let pending = gcnos.map((rel) => {
    const size = sizes?.get(rel);
    return { rel, max: size !== undefined ? known(size) : bound(fs.statSync(path.join(buildDir, rel)).size + chunk) };
  });
  // a file that does not fit its known size would need a second read, after the reset: an error then
  const resetting = reset !== undefined && pending.every((f) => sizes?.has(f.rel));
  if (reset !== undefined && !resetting) throw new Error('readGcda: reset needs every size known');
  for (let round = 0; pending.length && round < 4; round++) {
    if (round > 0 && resetting)
      throw new UsageError(`${pending[0].rel}: its .gcda grew past the size read before, and the counters were reset`);
    const p = new Program({ deadlineMs: 60_000 });
    const refs: { rel: string; max: number; open: StepRef; reads: StepRef[]; dump: StepRef }[] = [];
    for (const f of pending) {
      const { fd, step: open } = openat(p.main, guestGcdaPath(buildDir, f.rel, root), O.RDONLY.value | O.CLOEXEC.value);
      const b = p.buf(f.max);
      const reads: StepRef[] = [];
      for (let off = 0; off < f.max; off += chunk) reads.push(pread(p.main, fd, b, chunk, off, off));
      refs.push({ ...f, open, reads, dump: p.main.dump(b) });
      close(p.main, fd);
    }
    const checkReset = resetting && round === 0 ? addReset(p, reset) : undefined;
    const v = view(await target.runWire(p.encode(), p.deadlineMs));
    checkReset?.(v);
    pending = [];
    for (const r of refs) {
      // an object whose code never ran since the reset may have no counters to show: counted as zero
      if (v.step(r.open).ret < 0n) continue;
      const file = guestGcdaPath(buildDir, r.rel, root);
      const got = r.reads.map((s) => v.step(s));
      const failed = got.find((s) => s.ret < 0n);
      if (failed) throw new UsageError(`reading ${file} in the guest failed: errno ${failed.errno}`);
      const n = got.map((s) => Number(s.ret));
      const end = n.findIndex((x) => x < chunk);
      if (end < 0) {
        pending.push({ rel: r.rel, max: r.max * 4 });
        continue;
      }
      if (n.slice(end + 1).some((x) => x !== 0))
        throw new UsageError(`reading ${file} in the guest: a short read of ${n[end]} bytes was not its end`);
      out.set(r.rel, Buffer.from(v.step(r.dump).dump!.subarray(0, end * chunk + n[end])));
      sizes?.set(r.rel, end * chunk + n[end]);
    }
  }
  if (pending.length) throw new UsageError(`${pending[0].rel}: its .gcda is larger than ${pending[0].max} bytes`);
  return out;
}
