/**
 * `kasync coverage`: gcov data parsing (gcov's JSON and lcov tracefiles of one real run, fixtures/gcov),
 * counting with the host's gcov, reading .gcda files and resetting counters through wire programs,
 * the report and its JSON summary; on a cached coverage build, the same against a booted kernel.
 */
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { UsageError } from '../src/cli/usage';
import {
  FileCoverage,
  gcnoFiles,
  gcovCounts,
  groupOf,
  guestGcdaPath,
  mergeCoverage,
  parseGcovJson,
  parseLcov,
  readGcda,
  resetGcov,
  toLcov,
  totals,
} from '../src/coverage/gcov';
import { byTestJson, formatPerTest, hitLines, perTestFigures, TestCoverage } from '../src/coverage/pertest';
import { CoverageReport, formatReport, summaryJson, unrunFunctions } from '../src/coverage/report';
import { runSuites } from '../src/suite/runner';
import { ROOT } from '../src/paths';
import { arg, Program } from '../src/program/builder';
import { SYSCALLS } from '../src/abi';
import { LocalTarget } from '../src/target/local';
import { VmTarget } from '../src/target/vm';
import { findExecutable } from '../src/tools';
import { listBuilds } from '../src/vm/build';

const FIXTURE = path.join(ROOT, 'fixtures', 'gcov');
/** What the fixture's run did (fixtures/gcov/README.md): 14 lines, 9 run; never() not entered. */
const DEMO = { lines: 14, hit: 9, functions: 3, functionsHit: 2 };
const UNRUN_LINES = [8, 10, 11, 12, 21];

function file(name: string, lines: [number, number][], fns: [string, number, number][] = []): FileCoverage {
  return { file: name, lines: new Map(lines), functions: fns.map(([n, l, c]) => ({ name: n, line: l, count: c })) };
}

describe('coverage/gcov: parsing gcov data', () => {
  it("reads gcov's JSON: lines, counts and functions, paths relative to the source tree", () => {
    const files = parseGcovJson(fs.readFileSync(path.join(FIXTURE, 'demo.gcov.json'), 'utf8'), '/src');
    expect(files.map((f) => f.file)).to.deep.equal(['io_uring/demo.c']);
    const t = totals(files);
    expect(t).to.include(DEMO);
    expect(t.pct).to.equal(64.3);
    const demo = files[0];
    expect(demo.lines.get(18)).to.equal(4); // the loop condition: 3 iterations + the exit
    expect([...demo.lines].filter(([, c]) => c === 0).map(([l]) => l)).to.deep.equal(UNRUN_LINES);
    expect(unrunFunctions(demo)).to.deep.equal(['never']);
  });

  it("reads lcov's tracefile of the same run to the same counts", () => {
    const json = parseGcovJson(fs.readFileSync(path.join(FIXTURE, 'demo.gcov.json'), 'utf8'), '/src');
    const info = parseLcov(fs.readFileSync(path.join(FIXTURE, 'demo.info'), 'utf8'), '/src');
    expect(info.map((f) => f.file)).to.deep.equal(['io_uring/demo.c']);
    expect([...info[0].lines]).to.deep.equal([...json[0].lines]);
    expect(info[0].functions).to.deep.equal(json[0].functions);
  });

  it('writes tracefiles that lcov-format readers (ours, and lcov itself when present) read back', function () {
    const json = parseGcovJson(fs.readFileSync(path.join(FIXTURE, 'demo.gcov.json'), 'utf8'), '/src');
    const text = toLcov(json, '/src', 'uring');
    expect(text).to.include('SF:/src/io_uring/demo.c\n').and.include('LF:14\nLH:9\n').and.include('TN:uring\n');
    const back = parseLcov(text, '/src');
    expect([...back[0].lines]).to.deep.equal([...json[0].lines]);
    const lcov = findExecutable('lcov');
    if (!lcov) {
      this.test!.title += ' (lcov part skipped: lcov not installed)';
      return;
    }
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kasync-lcov-'));
    try {
      fs.writeFileSync(path.join(tmp, 'a.info'), text);
      const r = spawnSync(lcov, ['--summary', path.join(tmp, 'a.info')], { encoding: 'utf8', timeout: 60_000 });
      expect(r.stdout + r.stderr).to.match(/lines\.+: 64\.3% \(9 of 14 lines\)/);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('sums runs: a line run by either run is covered, counts add up', () => {
    const a = file(
      'io_uring/x.c',
      [
        [1, 1],
        [2, 0],
        [3, 0],
      ],
      [
        ['f', 1, 1],
        ['g', 3, 0],
      ],
    );
    const b = file(
      'io_uring/x.c',
      [
        [1, 2],
        [2, 0],
        [3, 5],
      ],
      [
        ['f', 1, 0],
        ['g', 3, 1],
      ],
    );
    const m = mergeCoverage([[a], [b], [file('fs/aio.c', [[7, 1]])]]);
    expect(m.map((f) => f.file)).to.deep.equal(['fs/aio.c', 'io_uring/x.c']);
    expect([...m[1].lines]).to.deep.equal([
      [1, 3],
      [2, 0],
      [3, 5],
    ]);
    expect(totals([m[1]])).to.include({ lines: 3, hit: 2, functions: 2, functionsHit: 2 });
  });

  it('counts only io_uring/*.c and fs/aio.c', () => {
    expect(groupOf('io_uring/rw.c')).to.equal('io_uring');
    expect(groupOf('fs/aio.c')).to.equal('aio');
    for (const f of ['io_uring/io_uring.h', 'fs/sync.c', 'include/linux/fs.h', 'io_uring/sub/x.c'])
      expect(groupOf(f), f).to.equal(undefined);
  });
});

describe('coverage/gcov: gcov and the wire programs', function () {
  this.timeout(60_000);
  let tmp: string;
  beforeEach(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kasync-cov-'))));
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it("counts a build tree's notes with the host's gcov, zero where no data came back", function () {
    const gcov = findExecutable('gcov');
    const version = gcov ? spawnSync(gcov, ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0] : '';
    // the fixture's notes file is gcc 12.2's format: another gcov cannot read it
    if (!/\b12\.2\.\d/.test(version)) {
      this.test!.title += ` (skipped: needs gcov 12.2, have ${version || 'none'})`;
      this.skip();
    }
    const build = path.join(tmp, 'build');
    fs.mkdirSync(path.join(build, 'io_uring'), { recursive: true });
    fs.copyFileSync(path.join(FIXTURE, 'io_uring', 'demo.gcno'), path.join(build, 'io_uring', 'demo.gcno'));
    expect(gcnoFiles(build)).to.deep.equal(['io_uring/demo.gcno']);
    const gcda = new Map([['io_uring/demo.gcno', fs.readFileSync(path.join(FIXTURE, 'io_uring', 'demo.gcda'))]]);
    const files = gcovCounts(build, '/src', gcda);
    const expected = parseGcovJson(fs.readFileSync(path.join(FIXTURE, 'demo.gcov.json'), 'utf8'), '/src');
    expect(files.map((f) => f.file)).to.deep.equal(['io_uring/demo.c']);
    expect([...files[0].lines]).to.deep.equal([...expected[0].lines]);
    const none = gcovCounts(build, '/src', new Map());
    expect(totals(none)).to.include({ lines: DEMO.lines, hit: 0 });
    // with a cache, the same data is not given to gcov again: its result comes back as kept
    const cache = new Map<string, FileCoverage[]>();
    const first = gcovCounts(build, '/src', gcda, cache);
    expect(cache.size).to.equal(1);
    fs.rmSync(path.join(build, 'io_uring', 'demo.gcno')); // gcov could not run now
    fs.writeFileSync(path.join(build, 'io_uring', 'demo.gcno'), '');
    const again = gcovCounts(build, '/src', gcda, cache);
    expect([...again[0].lines]).to.deep.equal([...first[0].lines]);
    expect([...first[0].lines]).to.deep.equal([...expected[0].lines]);
  });

  it('reads .gcda files of any size through wire programs (debugfs says size 0: chunked reads to a bound, retry larger)', async () => {
    const build = path.join(tmp, 'build');
    const root = path.join(tmp, 'debugfs-gcov');
    fs.mkdirSync(path.join(build, 'io_uring'), { recursive: true });
    fs.mkdirSync(path.join(build, 'fs'), { recursive: true });
    fs.writeFileSync(path.join(build, 'io_uring', 'big.gcno'), Buffer.alloc(100));
    fs.writeFileSync(path.join(build, 'io_uring', 'gone.gcno'), Buffer.alloc(100));
    fs.writeFileSync(path.join(build, 'fs', 'aio.gcno'), Buffer.alloc(100));
    const big = Buffer.from(Array.from({ length: 3000 }, (_, i) => i & 0xff));
    const small = Buffer.from('gcda');
    fs.mkdirSync(path.dirname(guestGcdaPath(build, 'io_uring/big.gcno', root)), { recursive: true });
    fs.mkdirSync(path.dirname(guestGcdaPath(build, 'fs/aio.gcno', root)), { recursive: true });
    fs.writeFileSync(guestGcdaPath(build, 'io_uring/big.gcno', root), big);
    fs.writeFileSync(guestGcdaPath(build, 'fs/aio.gcno', root), small);
    const target = new LocalTarget();
    try {
      // small buffers and reads, so the fixture's files take several rounds and chunks
      const tiny = { root, minBuffer: 256, chunk: 256 };
      const got = await readGcda(target, build, gcnoFiles(build), tiny);
      expect([...got.keys()].sort()).to.deep.equal(['fs/aio.gcno', 'io_uring/big.gcno']);
      expect(got.get('io_uring/big.gcno')!.equals(big)).to.equal(true);
      expect(got.get('fs/aio.gcno')!.equals(small)).to.equal(true);
      // sizes known from a read: exact bounds, and the reset can ride on the reading program
      const sizes = new Map<string, number>();
      await readGcda(target, build, gcnoFiles(build), { ...tiny, sizes });
      expect([...sizes].sort()).to.deep.equal([
        ['fs/aio.gcno', small.length],
        ['io_uring/big.gcno', big.length],
      ]);
      const resetFile = path.join(tmp, 'reset-together');
      fs.writeFileSync(resetFile, '');
      const two = ['fs/aio.gcno', 'io_uring/big.gcno'];
      const again = await readGcda(target, build, two, { ...tiny, sizes, reset: resetFile });
      expect(again.get('io_uring/big.gcno')!.equals(big)).to.equal(true);
      expect(fs.readFileSync(resetFile, 'utf8')).to.equal('1');
      // a file past its known size would need a second read, after the reset: an error, not wrong counts
      fs.writeFileSync(guestGcdaPath(build, 'fs/aio.gcno', root), Buffer.alloc(600, 1));
      let grown: unknown;
      await readGcda(target, build, ['fs/aio.gcno'], { ...tiny, sizes, reset: resetFile }).catch((e) => (grown = e));
      expect((grown as Error).message).to.match(/fs\/aio.gcno: its .gcda grew past the size read before/);
      // reset: the write reaches the file; a kernel without gcov is a one-line error
      const reset = path.join(tmp, 'reset');
      fs.writeFileSync(reset, '');
      await resetGcov(target, reset);
      expect(fs.readFileSync(reset, 'utf8')).to.equal('1');
      let err: unknown;
      await resetGcov(target, path.join(tmp, 'no-gcov', 'reset')).catch((e) => (err = e));
      expect(err).to.be.instanceOf(UsageError);
      expect((err as Error).message).to.match(/no-gcov\/reset: errno 2: the kernel has no gcov data/);
    } finally {
      await target.close();
    }
  });
});

describe('coverage/report', () => {
  const suite = (name: string, files: FileCoverage[], reboots = 0) => ({
    suite: name,
    files,
    tests: { pass: 3, fail: 1, skip: 2 },
    reboots,
  });
  const report = (): CoverageReport => {
    const boot = [
      file(
        'fs/aio.c',
        [
          [1, 1],
          [2, 0],
          [3, 0],
          [4, 0],
        ],
        [
          ['aio_setup', 1, 1],
          ['io_submit_one', 2, 0],
        ],
      ),
    ];
    const uring = [
      file(
        'io_uring/rw.c',
        [
          [1, 5],
          [2, 5],
          [3, 0],
          [4, 1],
        ],
        [
          ['io_read', 1, 5],
          ['io_rw_fail', 3, 0],
        ],
      ),
      file(
        'io_uring/napi.c',
        [
          [1, 0],
          [2, 0],
          [3, 1],
          [4, 0],
        ],
        [
          ['io_napi_add', 1, 0],
          ['io_napi_init', 3, 1],
        ],
      ),
    ];
    const aio = [
      file(
        'fs/aio.c',
        [
          [1, 0],
          [2, 3],
          [3, 1],
          [4, 0],
        ],
        [
          ['aio_setup', 1, 0],
          ['io_submit_one', 2, 3],
        ],
      ),
    ];
    const suites = [suite('uring', uring), suite('aio', aio, 1)];
    return {
      kernel: 'debian-src:6.12/coverage',
      release: '6.12.117',
      boot,
      suites,
      all: mergeCoverage([boot, uring, aio]),
    };
  };

  it('summarises io_uring and aio overall and per suite, in the JSON the issue asks for', () => {
    const j = summaryJson(report()) as Record<string, any>;
    expect(j.kernel).to.equal('debian-src:6.12/coverage');
    expect(j.io_uring).to.deep.equal({ lines: 8, hit: 4, pct: 50 });
    expect(j.aio).to.deep.equal({ lines: 4, hit: 3, pct: 75 });
    expect(j.bySuite.uring.io_uring).to.deep.equal({ lines: 8, hit: 4, pct: 50 });
    expect(j.bySuite.uring.aio).to.deep.equal({ lines: 0, hit: 0, pct: 0 });
    expect(j.bySuite.aio.aio).to.deep.equal({ lines: 4, hit: 2, pct: 50 });
    expect(j.bySuite.aio.reboots).to.equal(1);
    expect(j.files['io_uring/napi.c']).to.include({ lines: 4, hit: 1, pct: 25 });
    expect(JSON.parse(JSON.stringify(j))).to.deep.equal(j);
  });

  it('shows a table per file and suite, then the least covered files with their unrun functions', () => {
    const text = formatReport(report());
    const lines = text.split('\n');
    const napi = lines.find((l) => l.startsWith('io_uring/napi.c'))!;
    expect(napi.split(/\s+/)).to.deep.equal(['io_uring/napi.c', '-', '25.0%', '-', '25.0%', '4']);
    expect(text).to.include('io_uring/*.c: 4 of 8 lines (50%), 2 of 4 functions');
    expect(text).to.include('fs/aio.c: 3 of 4 lines (75%), 2 of 2 functions');
    const least = lines.indexOf('least covered io_uring files, with the functions no test entered:');
    expect(lines[least + 1]).to.equal('  io_uring/napi.c 25% (1/4): io_napi_add');
    expect(lines[least + 2]).to.equal('  io_uring/rw.c 75% (3/4): io_rw_fail');
    expect(text).to.include('suite aio: 3 pass, 1 fail, 2 skip; the VM rebooted 1x during it');
  });
});

describe('coverage/pertest: per-test figures (fixtures/gcov/per-test)', () => {
  const read = (name: string) => parseLcov(fs.readFileSync(path.join(FIXTURE, 'per-test', `${name}.info`), 'utf8'), '/src');
  const test = (name: string, status: TestCoverage['status'] = 'pass'): TestCoverage => ({
    id: `${name.split('-')[0]}.${name}`,
    suite: name.split('-')[0],
    title: name,
    status,
    hit: hitLines(read(name)),
  });
  const figures = () => perTestFigures([test('uring-a'), test('uring-b'), test('aio-a', 'fail')], read('boot'));

  it('keeps only the lines run, per file', () => {
    const hit = hitLines(read('uring-b'));
    expect([...hit]).to.deep.equal([
      ['include/linux/fs.h', [5]],
      ['io_uring/nop.c', [1]],
      ['io_uring/rw.c', [20, 22]],
    ]);
  });

  it('counts the lines each test reached and those no other test nor booting reached', () => {
    const [a, b, c] = figures();
    expect(a).to.deep.include({ io_uring: { hit: 4, unique: 2 }, aio: { hit: 0, unique: 0 } });
    expect(a.uniqueLines).to.deep.equal({ 'io_uring/nop.c': [2], 'io_uring/rw.c': [21] });
    // fs.h is outside io_uring/*.c and fs/aio.c: not counted
    expect(b).to.deep.include({ io_uring: { hit: 3, unique: 1 }, aio: { hit: 0, unique: 0 } });
    expect(b.uniqueLines).to.deep.equal({ 'io_uring/rw.c': [22] });
    // fs/aio.c:10 ran at boot too: reached by this test alone, yet not its contribution
    expect(c).to.deep.include({ io_uring: { hit: 1, unique: 0 }, aio: { hit: 3, unique: 2 }, status: 'fail' });
    expect(c.uniqueLines).to.deep.equal({ 'fs/aio.c': [12, 13] });
    // the union of the tests is what merging their counts gives
    const all = mergeCoverage(['uring-a', 'uring-b', 'aio-a'].map(read));
    const union = [...hitLines(all)].filter(([f]) => groupOf(f)).reduce((n, [, l]) => n + l.length, 0);
    expect(union).to.equal(4 + 1 + 3); // nop 1, 2; rw 20, 21, 22; aio 10, 12, 13
  });

  it('puts every test in the JSON by id, a repeated id numbered', () => {
    const f = figures();
    const j = byTestJson([...f, { ...f[0] }]);
    expect(Object.keys(j)).to.deep.equal(['uring.uring-a', 'uring.uring-b', 'aio.aio-a', 'uring.uring-a#2']);
    expect(j['aio.aio-a']).to.deep.include({ suite: 'aio', status: 'fail', aio: { hit: 3, unique: 2 } });
    expect(JSON.parse(JSON.stringify(j))).to.deep.equal(j);
  });

  it('tables the tests with the most unique lines and those reaching the fewest', () => {
    const text = formatPerTest(figures(), 2);
    const lines = text.split('\n');
    const most = lines.indexOf('most unique lines:');
    expect(lines[most + 2].split(/\s+/).filter(Boolean)).to.deep.equal(['2', '4', '0', 'uring.uring-a']);
    expect(lines[most + 3].split(/\s+/).filter(Boolean)).to.deep.equal(['2', '1', '3', 'aio.aio-a', '(fail)']);
    const fewest = lines.indexOf('fewest lines reached:');
    expect(lines[fewest + 2].split(/\s+/).filter(Boolean)[3]).to.equal('uring.uring-b');
    expect(text).to.include('0 of 3 tests reach no line that another test does not');
  });

  it("the suite runner calls afterTest after each test that ran, with the test's result", async function () {
    this.timeout(60_000);
    const local = new LocalTarget();
    const seen: { id: string; status?: string }[] = [];
    try {
      const run = await runSuites({
        target: local,
        suites: ['aio'],
        grep: /^aio\.(PREAD matches pread on a short file|PWRITEV with 3 iovecs matches pwritev)/,
        afterTest: async (id, r) => {
          await new Promise((res) => setImmediate(res)); // awaited: the next test waits for it
          seen.push({ id, status: r?.status });
        },
      });
      expect(run.tests.length).to.equal(2);
      expect(seen).to.deep.equal(run.tests.map((t) => ({ id: t.id, status: t.status })));
    } finally {
      await local.close();
    }
  });
});

describe('coverage: on a cached coverage build (VM)', function () {
  this.timeout(10 * 60_000);

  it("after a reset, an io_uring_setup in the VM shows up in io_uring.c's counts", async function () {
    const build = (await listBuilds()).find(
      (b) => b.record.profile === 'coverage' && b.record.spec.startsWith('debian-src:'),
    );
    if (!build || !findExecutable('qemu-system-x86_64') || !findExecutable('gcov')) {
      this.test!.title +=
        ' (skipped: needs a coverage build in the cache — kasync kernels build debian-src:6.12 --profile coverage — qemu and gcov)';
      return this.skip();
    }
    const target = new VmTarget({
      kernel: { spec: build.record.spec, release: build.record.release, vmlinuz: build.bzImage },
      slowdown: 10,
    });
    try {
      const gcnos = gcnoFiles(build.dir);
      await resetGcov(target);
      const idle = gcovCounts(build.dir, build.record.srcDir, await readGcda(target, build.dir, gcnos));
      const p = new Program({ deadlineMs: 20_000 });
      // io_uring_setup(4, &params): only io_uring.c's setup path runs; nothing else in the VM touches io_uring now
      p.main.syscall(SYSCALLS.io_uring_setup, [4, arg.buf(p.buf(120))]);
      await target.run(p);
      const after = gcovCounts(build.dir, build.record.srcDir, await readGcda(target, build.dir, gcnos));
      const setupLines = (fs: FileCoverage[]) => totals(fs.filter((f) => f.file === 'io_uring/io_uring.c')).hit;
      expect(setupLines(after)).to.be.greaterThan(setupLines(idle));
      expect(totals(after.filter((f) => f.file === 'io_uring/io_uring.c')).lines).to.be.greaterThan(500);
    } finally {
      await target.close();
    }
  });
});
