import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Browser, Page } from 'playwright-core';
import { UsageError } from '../src/cli/usage';
import { ROOT } from '../src/paths';
import { toJunit, toKtap, totalsOf, type RunResult, type TestResult } from '../src/report';
import {
  buildMatrix,
  exitCodeOfMatrix,
  readMatrixColumns,
  slugOf,
  toMatrixMarkdown,
  writeMatrix,
  type CellStatus,
  type Matrix,
  type MatrixColumn,
} from '../src/report/matrix';
import { STATUS_COLOURS, toMatrixHtml } from '../src/report/matrix-html';

const NASTY = `<script>alert("x")</script> & 'q' | *b* [l](u)`;

function result(over: Partial<TestResult> & Pick<TestResult, 'id' | 'status'>): TestResult {
  const [suite] = over.id.split('.');
  return { title: over.id, suite, ops: [], durationMs: 2, ...over };
}

function runOf(kernel: string, tests: TestResult[]): RunResult {
  return {
    kernel,
    target: 'test',
    startedAt: '2025-01-02T03:04:05.000Z',
    durationMs: 10,
    totals: totalsOf(tests),
    tests,
  };
}

/** A test result that maps to the given cell status (ERROR: an infrastructure failure). */
function withStatus(id: string, status: CellStatus, reason: string): TestResult {
  if (status === 'PASS') return result({ id, status: 'pass' });
  if (status === 'SKIP') return result({ id, status: 'skip', reason });
  return result({ id, status: 'fail', reason: status === 'ERROR' ? `target: ${reason}` : reason });
}

function cellOf(m: Matrix, kernel: string, id: string) {
  const r = m.rows.findIndex((row) => row.id === id);
  const k = m.kernels.findIndex((col) => col.kernel === kernel);
  expect(r, `row ${id}`).to.be.at.least(0);
  expect(k, `kernel ${kernel}`).to.be.at.least(0);
  return m.cells[r][k];
}

describe('matrix: buildMatrix', () => {
  it('merges shards of one kernel, worst status first (FAIL > ERROR > PASS > SKIP)', () => {
    const order: CellStatus[] = ['FAIL', 'ERROR', 'PASS', 'SKIP'];
    const pairs = order.flatMap((a) => order.map((b) => [a, b] as const));
    const shard = (side: 0 | 1) =>
      runOf(
        '6.1.0',
        pairs.map(([a, b], i) =>
          withStatus(`uring.p${i}`, side === 0 ? a : b, `${side === 0 ? a : b} on shard ${side}`),
        ),
      );
    const m = buildMatrix([
      { kernel: 'debian:6.1', run: shard(0) },
      { kernel: 'debian:6.1', run: shard(1) },
    ]);
    expect(m.kernels.map((k) => k.kernel)).to.deep.equal(['debian:6.1']);
    pairs.forEach(([a, b], i) => {
      const want = order[Math.min(order.indexOf(a), order.indexOf(b))];
      const cell = cellOf(m, 'debian:6.1', `uring.p${i}`)!;
      expect(cell.status, `${a} + ${b}`).to.equal(want);
      // The reason of every shard that had the winning status is kept (PASS has none).
      if (want !== 'PASS') {
        if (a === want) expect(cell.reason).to.include(`${a} on shard 0`);
        if (b === want) expect(cell.reason).to.include(`${b} on shard 1`);
        if (a !== want) expect(cell.reason ?? '').not.to.include('shard 0');
      }
    });
    const total = (s: CellStatus) => m.kernels[0].totals[s];
    expect(total('FAIL') + total('ERROR') + total('PASS') + total('SKIP')).to.equal(pairs.length);
    expect(total('FAIL')).to.equal(7); // any pair containing FAIL: 4 + 4 - 1
  });

  it('gives ERROR in every row to a kernel that could not run, linking its console log', () => {
    const m = buildMatrix([
      { kernel: 'host', run: runOf('6.6.0', [withStatus('uring.a', 'PASS', ''), withStatus('aio.b', 'SKIP', 'no')]) },
      { kernel: 'debian:6.12', error: 'boot failed: no init', consoleLog: 'logs/debian_6.12/console.log' },
    ]);
    for (const id of ['uring.a', 'aio.b']) {
      expect(cellOf(m, 'debian:6.12', id)).to.deep.equal({
        status: 'ERROR',
        reason: 'boot failed: no init',
        link: 'logs/debian_6.12/console.log',
      });
    }
    const k = m.kernels[1];
    expect(k.error).to.equal('boot failed: no init');
    expect(k.totals).to.include({ ERROR: 2, PASS: 0, absent: 0 });
    // JUnit and KTAP still show the kernel red: every row is an infrastructure failure.
    expect(k.run.tests.map((t) => [t.id, t.status, t.reason])).to.deep.equal([
      ['aio.b', 'fail', 'target: boot failed: no init'],
      ['uring.a', 'fail', 'target: boot failed: no init'],
    ]);
    expect(toJunit(k.run)).to.include('failures="2"');
    expect(exitCodeOfMatrix(m)).to.equal(1);
  });

  it('takes the union of rows over all kernels, sorted by suite then id; missing results are absent', () => {
    const m = buildMatrix([
      { kernel: 'a', run: runOf('1', [withStatus('uring.z', 'PASS', ''), withStatus('aio.m', 'PASS', '')]) },
      { kernel: 'b', run: runOf('2', [withStatus('uring.b', 'PASS', ''), withStatus('aio.m', 'FAIL', 'bad')]) },
    ]);
    expect(m.rows.map((r) => r.id)).to.deep.equal(['aio.m', 'uring.b', 'uring.z']);
    expect(cellOf(m, 'a', 'uring.b')).to.equal(null);
    expect(cellOf(m, 'b', 'uring.z')).to.equal(null);
    expect(cellOf(m, 'b', 'aio.m')).to.deep.equal({ status: 'FAIL', reason: 'bad', link: undefined });
    expect(m.kernels.map((k) => k.totals.absent)).to.deep.equal([1, 1]);
    expect(m.kernels.map((k) => k.run.tests.length)).to.deep.equal([2, 2]);
  });

  it('keeps skip and failure reasons, names timeouts, and takes row facts from the first report', () => {
    const m = buildMatrix([
      {
        kernel: 'host',
        release: '6.6.0-host',
        logs: { 'uring.t': 'logs/t.log' },
        run: runOf('6.6.0', [
          result({ id: 'uring.s', status: 'skip', reason: 'IORING_OP_X needs 6.8', ops: ['uring.X'], rule: 'man' }),
          result({ id: 'uring.t', status: 'fail', timedOut: true, durationMs: 5000 }),
          result({ id: 'uring.f', status: 'fail', reason: 'expected 0 to equal -22', title: 'F title' }),
        ]),
      },
    ]);
    expect(cellOf(m, 'host', 'uring.s')).to.deep.include({ status: 'SKIP', reason: 'IORING_OP_X needs 6.8' });
    expect(cellOf(m, 'host', 'uring.t')).to.deep.equal({
      status: 'FAIL',
      reason: 'timed out after 5000 ms',
      link: 'logs/t.log',
    });
    expect(cellOf(m, 'host', 'uring.f')).to.deep.include({ status: 'FAIL', reason: 'expected 0 to equal -22' });
    expect(m.rows.find((r) => r.id === 'uring.s')).to.deep.include({ ops: ['uring.X'], rule: 'man', suite: 'uring' });
    expect(m.rows.find((r) => r.id === 'uring.f')!.title).to.equal('F title');
    expect(m.kernels[0].release).to.equal('6.6.0-host');
  });

  it('exits 0 only when no cell is FAIL or ERROR and no kernel reported an error', () => {
    const ok = [withStatus('uring.a', 'PASS', ''), withStatus('uring.b', 'SKIP', 'n/a')];
    expect(exitCodeOfMatrix(buildMatrix([{ kernel: 'h', run: runOf('1', ok) }]))).to.equal(0);
    for (const bad of ['FAIL', 'ERROR'] as const) {
      const m = buildMatrix([{ kernel: 'h', run: runOf('1', [...ok, withStatus('uring.c', bad, 'x')]) }]);
      expect(exitCodeOfMatrix(m), bad).to.equal(1);
    }
    // a FAIL by a known bug of that kernel is shown as a FAIL, named, and does not fail the matrix
    const known = { ...withStatus('uring.k', 'FAIL', 'expected 1 to equal 2'), knownBug: 'drain bug (KERNEL-NOTES)' };
    const mk = buildMatrix([{ kernel: 'h', run: runOf('1', [...ok, known]) }]);
    expect(cellOf(mk, 'h', 'uring.k')).to.deep.include({
      status: 'FAIL',
      knownBug: true,
      reason: 'known kernel bug: drain bug (KERNEL-NOTES): expected 1 to equal 2',
    });
    expect(exitCodeOfMatrix(mk)).to.equal(0);
    const both = buildMatrix([{ kernel: 'h', run: runOf('1', [known, withStatus('uring.c', 'FAIL', 'x')]) }]);
    expect(exitCodeOfMatrix(both), 'an unknown failure next to a known one').to.equal(1);
    // A kernel that never booted fails the matrix even when there are no rows at all.
    expect(exitCodeOfMatrix(buildMatrix([{ kernel: 'h', error: 'no image' }]))).to.equal(1);
  });

  it('slugs labels for file names, and keeps them unique', () => {
    expect(slugOf('debian:6.12')).to.equal('debian_6.12');
    expect(slugOf('Host')).to.equal('host');
    const m = buildMatrix([
      { kernel: 'debian:6.1', error: 'x' },
      { kernel: 'debian_6.1', error: 'y' },
    ]);
    expect(m.kernels.map((k) => k.slug)).to.deep.equal(['debian_6.1', 'debian_6.1-2']);
  });
});

describe('matrix: Markdown and HTML text', () => {
  const m = buildMatrix([
    {
      kernel: 'host',
      release: '6.6.0',
      logs: { 'uring.n': 'logs/host/uring n#1.log' },
      run: runOf('6.6.0', [
        result({ id: 'uring.n', title: NASTY, status: 'fail', reason: NASTY }),
        withStatus('uring.ok', 'PASS', ''),
        withStatus('aio.s', 'SKIP', 'needs a block device'),
      ]),
    },
    { kernel: 'debian:6.12', error: 'boot failed' },
  ]);

  it('writes one Markdown table row per test and one column per kernel, with notes, totals and a legend', () => {
    const md = toMatrixMarkdown(m);
    const lines = md.split('\n');
    const table = lines.slice(lines.findIndex((l) => l.startsWith('| Suite | Test |')));
    const rows = table.slice(
      0,
      table.findIndex((l) => !l.startsWith('|')),
    );
    expect(rows).to.have.length(2 + m.rows.length);
    expect(rows[0]).to.equal('| Suite | Test | host (6.6.0) | debian:6.12 |');
    // Unescaped pipes separate cells: every line of the table has the same number (nasty title included).
    const pipes = (l: string) => l.replace(/\\\|/g, '').split('|').length;
    for (const row of rows) expect(pipes(row), row).to.equal(pipes(rows[0]));
    const nasty = rows.find((l) => l.includes('alert'))!;
    expect(nasty).not.to.include('<script>');
    expect(nasty).to.include('&lt;script&gt;');
    const note = /\[FAIL\]\(logs\/host\/uring%20n%231\.log\) \[(\d+)\]/.exec(nasty);
    expect(note, 'linked cell with a note').not.to.equal(null);
    expect(md).to.include(
      `\n- [${note![1]}] host: &lt;script&gt;alert("x")&lt;/script&gt; &amp; 'q' \\| \\*b\\* \\[l\\](u)\n`,
    );
    expect(md).to.match(/^- \[\d\] debian:6\.12: boot failed$/m);
    expect(md).to.include('| host | 6.6.0 | 1 pass, 1 fail, 0 error, 1 skip |');
    expect(md).to.include('| debian:6.12 | ? | 0 pass, 0 fail, 3 error, 0 skip — error: boot failed |');
    expect(md).to.include('## Legend');
    // The same reason on the same kernel shares one note.
    expect(md.match(/debian:6\.12: boot failed/g)).to.have.length(1);
  });

  it('escapes titles and reasons in the HTML: no markup comes from the data', () => {
    const html = toMatrixHtml(m);
    expect(html.match(/<script/g)).to.have.length(1); // only the page's own script
    expect(html).not.to.include('alert("x")');
    expect(html).to.include('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39;');
    expect(html).to.include('href="logs/host/uring%20n%231.log"');
    expect(html).not.to.match(/(src|href)="https?:/); // self-contained
    // The kernel that could not run says so in its header, with the error as tooltip.
    expect(html).to.include('data-kernel="debian:6.12"><span class="label">debian:6.12</span>');
    expect(html).to.include('<span class="error" title="boot failed">could not run</span>');
  });
});

describe('matrix: files', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kasync-matrix-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const columns: MatrixColumn[] = [
    { kernel: 'host', run: runOf('6.6.0', [withStatus('uring.a', 'PASS', ''), withStatus('uring.b', 'FAIL', 'no')]) },
    {
      kernel: 'debian:6.12',
      release: '6.12.117',
      run: runOf('6.12.117', [withStatus('uring.a', 'SKIP', 'old')]),
      logs: { 'uring.a': 'logs/a.log' },
      consoleLog: 'logs/console.log',
    },
    { kernel: 'debian:6.12', error: 'shard 2 did not boot' },
  ];

  it('writes matrix.md, matrix.html, matrix.json and JUnit and KTAP per kernel', () => {
    const m = buildMatrix(columns);
    const written = writeMatrix(m, path.join(dir, 'out'));
    expect(written.map((f) => path.relative(dir, f)).sort()).to.deep.equal(
      [
        'debian_6.12.junit.xml',
        'debian_6.12.ktap',
        'host.junit.xml',
        'host.ktap',
        'matrix.html',
        'matrix.json',
        'matrix.md',
      ].map((f) => path.join('out', f)),
    );
    for (const k of m.kernels) {
      expect(fs.readFileSync(path.join(dir, 'out', `${k.slug}.junit.xml`), 'utf8')).to.equal(toJunit(k.run));
      expect(fs.readFileSync(path.join(dir, 'out', `${k.slug}.ktap`), 'utf8')).to.equal(toKtap(k.run));
    }
    // The shard that did not boot makes both rows ERROR on debian:6.12 (ERROR beats SKIP).
    const ktap = fs.readFileSync(path.join(dir, 'out', 'debian_6.12.ktap'), 'utf8');
    expect(ktap).to.include('# Totals: pass:0 fail:2 skip:0');
    expect(ktap).to.include('target: shard 2 did not boot');
  });

  it('reads matrix.json back to the same columns, rebasing log paths when asked', () => {
    writeMatrix(buildMatrix(columns), path.join(dir, 'out-1'));
    const file = path.join(dir, 'out-1', 'matrix.json');
    expect(readMatrixColumns(file)).to.deep.equal(columns);
    const rebased = readMatrixColumns(file, path.join(dir, 'merged'));
    expect(rebased[1].logs).to.deep.equal({ 'uring.a': '../out-1/logs/a.log' });
    expect(rebased[1].consoleLog).to.equal('../out-1/logs/console.log');
    expect(buildMatrix(rebased).rows).to.deep.equal(buildMatrix(columns).rows);
  });

  it('rejects a missing or corrupt matrix.json with one clear line', () => {
    const file = path.join(dir, 'matrix.json');
    const good = { format: 'kasync-matrix/1', columns: JSON.parse(JSON.stringify(columns)) };
    const cases: [string, string | undefined, RegExp][] = [
      ['missing', undefined, /cannot read matrix file .*matrix\.json: ENOENT/],
      ['not JSON', '{"format": "kasync-matrix/1", ', /not a kasync matrix file: invalid JSON/],
      [
        'other format',
        JSON.stringify({ format: 'x', columns: [] }),
        /file\.format is "x", expected "kasync-matrix\/1"/,
      ],
      ['no columns', JSON.stringify({ format: 'kasync-matrix/1' }), /file\.columns is missing/],
      [
        'bad status',
        JSON.stringify(good).replace('"status":"fail"', '"status":"FAIL"'),
        /columns\[0\]\.run\.tests\[1\]\.status must be 'pass', 'fail' or 'skip'/,
      ],
      [
        'bad log',
        JSON.stringify(good).replace('"logs/a.log"', '7'),
        /columns\[1\]\.logs\["uring\.a"\] must be a string/,
      ],
      [
        'empty kernel',
        JSON.stringify({ ...good, columns: [{ kernel: '' }] }),
        /columns\[0\]\.kernel must not be empty/,
      ],
    ];
    for (const [what, text, message] of cases) {
      fs.rmSync(file, { force: true });
      if (text !== undefined) fs.writeFileSync(file, text);
      expect(() => readMatrixColumns(file), what).to.throw(UsageError, message);
      try {
        readMatrixColumns(file);
      } catch (e) {
        expect((e as Error).message, what).not.to.include('\n');
      }
    }
  });
});

// ---- the page in a real browser ----

const CHROMIUM = '/usr/bin/chromium';
const NO_CHROMIUM = fs.existsSync(CHROMIUM) ? undefined : 'chromium is not installed (apt-get install chromium)';
const KERNELS = ['host', 'debian:6.1', 'debian:6.12'];
const FILLERS = Array.from({ length: 30 }, (_, i) => `uring.nop.n${String(i).padStart(2, '0')}`);

/** Three kernels with every status, two shards for debian:6.1, logs for some cells. */
function browserColumns(): MatrixColumn[] {
  const fillers = FILLERS.map((id) => result({ id, status: 'pass', ops: ['uring.NOP'] }));
  const read = (status: TestResult['status'], reason?: string) =>
    result({ id: 'uring.read.short', title: 'uring.READ matches pread', status, reason, ops: ['uring.READ'] });
  const cancel = (status: TestResult['status'], reason?: string) =>
    result({ id: 'uring.cancel.userdata', status, reason, ops: ['uring.ASYNC_CANCEL'] });
  const fsync = (status: TestResult['status'], reason?: string) =>
    result({ id: 'aio.fsync.durable', status, reason, ops: ['aio.FSYNC'] });
  const nasty = (status: TestResult['status']) =>
    result({
      id: 'aio.poll.ready',
      title: NASTY,
      status,
      reason: status === 'pass' ? undefined : NASTY,
      ops: ['aio.POLL'],
    });
  return [
    {
      kernel: 'host',
      release: '6.6.0-kasync-host',
      run: runOf('6.6.0', [
        read('pass'),
        cancel('pass'),
        fsync('skip', 'no FSYNC on tmpfs'),
        nasty('pass'),
        ...fillers,
      ]),
    },
    {
      kernel: 'debian:6.1',
      release: '6.1.0-56-amd64',
      run: runOf('6.1.0-56-amd64', [read('pass'), cancel('fail', 'expected -125 to equal 0'), ...fillers]),
      logs: { 'uring.cancel.userdata': 'logs/debian_6.1/uring.cancel#1.log' },
      consoleLog: 'logs/debian_6.1/console.log',
    },
    {
      kernel: 'debian:6.1',
      release: '6.1.0-56-amd64',
      run: runOf('6.1.0-56-amd64', [fsync('fail', 'target: executor lost'), nasty('fail'), read('skip', 'repeat')]),
    },
    {
      kernel: 'debian:6.12',
      release: '6.12.117+deb12-amd64',
      run: runOf('6.12.117', [read('fail', 'short read: 0 of 4096'), cancel('pass'), fsync('pass'), ...fillers]),
      logs: { 'uring.read.short': 'logs/debian_6.12/uring.read.short.log' },
    },
  ];
}

const rgb = (hex: string) => {
  const n = parseInt(hex.slice(1), 16);
  return `rgb(${n >> 16}, ${(n >> 8) & 255}, ${n & 255})`;
};

describe(`matrix: matrix.html in headless Chromium${NO_CHROMIUM ? ` (skipped: ${NO_CHROMIUM})` : ''}`, function () {
  this.timeout(60_000);
  let dir: string | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let matrix: Matrix;
  const consoleErrors: string[] = [];
  const requests: string[] = [];
  const dialogs: string[] = [];

  before(async function () {
    if (NO_CHROMIUM) this.skip();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kasync-matrix-html-'));
    matrix = buildMatrix(browserColumns());
    writeMatrix(matrix, dir);
    for (const log of ['logs/debian_6.1/uring.cancel#1.log', 'logs/debian_6.12/uring.read.short.log']) {
      fs.mkdirSync(path.dirname(path.join(dir, log)), { recursive: true });
      fs.writeFileSync(path.join(dir, log), `log of ${log}\n`);
    }
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      timeout: 30_000,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
    page.setDefaultTimeout(15_000);
    page.on('console', (msg) => msg.type() === 'error' && consoleErrors.push(msg.text()));
    page.on('pageerror', (err) => consoleErrors.push(String(err)));
    page.on('request', (req) => requests.push(req.url()));
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    await page.goto(`file://${path.join(dir, 'matrix.html')}`, { waitUntil: 'load' });
  });

  after(async () => {
    await browser?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('loads without console errors, dialogs or any fetch beyond the page itself', async () => {
    expect(await page.title()).to.equal('kasync kernel × test matrix');
    expect(consoleErrors).to.deep.equal([]);
    expect(dialogs).to.deep.equal([]);
    expect(requests).to.deep.equal([`file://${path.join(dir!, 'matrix.html')}`]);
  });

  it('shows every kernel in the sticky header, with its release, also after scrolling', async () => {
    const heads = page.locator('table#matrix th.kernel');
    expect(await heads.evaluateAll((els) => els.map((el) => el.getAttribute('data-kernel')))).to.deep.equal(KERNELS);
    for (const k of KERNELS) {
      const th = page.locator(`th.kernel[data-kernel="${k}"]`);
      expect(await th.isVisible(), k).to.equal(true);
      const release = matrix.kernels.find((x) => x.kernel === k)!.release!;
      expect(await th.locator('.release').textContent()).to.equal(release);
    }
    const before = (await page.locator('th.kernel[data-kernel="host"]').boundingBox())!;
    await page.locator('#grid').evaluate((el) => el.scrollTo(0, el.scrollHeight));
    const grid = (await page.locator('#grid').boundingBox())!;
    const after = (await page.locator('th.kernel[data-kernel="host"]').boundingBox())!;
    expect(await page.locator('#grid').evaluate((el) => el.scrollTop)).to.be.greaterThan(100); // it did scroll
    expect(after.y).to.be.closeTo(before.y, 1);
    expect(after.y).to.be.at.least(grid.y - 1);
    await page.locator('#grid').evaluate((el) => el.scrollTo(0, 0));
  });

  it('has one cell per row and kernel, each coloured for its status', async () => {
    const rows = await page.locator('#matrix tbody tr').count();
    expect(rows)
      .to.equal(matrix.rows.length)
      .and.equal(FILLERS.length + 4);
    expect(await page.locator('#matrix td.cell').count()).to.equal(rows * KERNELS.length);
    const status = (k: string, id: string) =>
      page.locator(`tr[data-id="${id}"] td.cell[data-kernel="${k}"]`).getAttribute('data-status');
    // Merges computed by hand from browserColumns().
    expect(await status('debian:6.1', 'uring.cancel.userdata')).to.equal('FAIL');
    expect(await status('debian:6.1', 'aio.fsync.durable')).to.equal('ERROR');
    expect(await status('debian:6.1', 'uring.read.short')).to.equal('PASS'); // PASS beats the repeat's SKIP
    expect(await status('host', 'aio.fsync.durable')).to.equal('SKIP');
    expect(await status('debian:6.12', 'aio.poll.ready')).to.equal('NONE');
    const seen = new Set<string>();
    for (const cell of await page.locator('td.cell').all()) {
      const s = (await cell.getAttribute('data-status')) as keyof typeof STATUS_COLOURS;
      seen.add(s);
      const bg = await cell.evaluate((el) => getComputedStyle(el).backgroundColor);
      expect(bg, s).to.equal(rgb(STATUS_COLOURS[s].background));
    }
    expect([...seen].sort()).to.deep.equal(['ERROR', 'FAIL', 'NONE', 'PASS', 'SKIP']);
    // The hues, whatever the exact shades: FAIL red, PASS green, ERROR purple, SKIP grey.
    const [fr, fg, fb] = channels(STATUS_COLOURS.FAIL.background);
    const [pr, pg, pb] = channels(STATUS_COLOURS.PASS.background);
    const [er, eg, eb] = channels(STATUS_COLOURS.ERROR.background);
    const [sr, sg, sb] = channels(STATUS_COLOURS.SKIP.background);
    expect(fr > 2 * fg && fr > 2 * fb, 'FAIL is red').to.equal(true);
    expect(pg > pr && pg > pb, 'PASS is green').to.equal(true);
    expect(er > eg && eb > eg, 'ERROR is purple').to.equal(true);
    expect(sr === sg && sg === sb, 'SKIP is grey').to.equal(true);
  });

  it('shows titles as text and reasons as cell titles', async () => {
    expect(await page.locator('tr[data-id="aio.poll.ready"] .title').textContent()).to.equal(NASTY);
    const title = await page
      .locator('tr[data-id="aio.poll.ready"] td.cell[data-kernel="debian:6.1"]')
      .getAttribute('title');
    expect(title).to.equal(`aio.poll.ready on debian:6.1: FAIL — ${NASTY}`);
    const error = await page
      .locator('tr[data-id="aio.fsync.durable"] td.cell[data-kernel="debian:6.1"]')
      .getAttribute('title');
    expect(error).to.include('target: executor lost');
    const totals = page.locator('tfoot td.total[data-kernel="debian:6.1"]');
    expect(await totals.getAttribute('data-fail')).to.equal('2');
    expect(await totals.getAttribute('data-error')).to.equal('1');
  });

  it('hides rows that do not match the text filter, the interface or the operation', async () => {
    const visible = () =>
      page.locator('#matrix tbody tr:visible').evaluateAll((rs) => rs.map((r) => r.getAttribute('data-id')));
    await page.locator('input#filter').fill('cancel');
    expect(await visible()).to.deep.equal(['uring.cancel.userdata']);
    await page.locator('input#filter').fill('');
    expect(await visible()).to.have.length(matrix.rows.length);
    await page.locator('select#suite').selectOption('aio');
    expect(await visible()).to.deep.equal(['aio.fsync.durable', 'aio.poll.ready']);
    expect(await page.locator('#shown').textContent()).to.equal(`2 of ${matrix.rows.length} tests`);
    await page.locator('select#suite').selectOption('');
    await page.locator('select#op').selectOption('uring.READ');
    expect(await visible()).to.deep.equal(['uring.read.short']);
    await page.locator('select#op').selectOption('uring.NOP');
    expect(await visible()).to.deep.equal(FILLERS);
    await page.locator('select#op').selectOption('');
    expect(await visible()).to.have.length(matrix.rows.length);
  });

  it('links cells to their logs by relative path; saves a screenshot', async () => {
    const link = page.locator('tr[data-id="uring.cancel.userdata"] td.cell[data-kernel="debian:6.1"] a');
    expect(await link.getAttribute('href')).to.equal('logs/debian_6.1/uring.cancel%231.log');
    expect(await page.locator('tr[data-id="uring.cancel.userdata"] td.cell[data-kernel="host"] a').count()).to.equal(0);
    fs.mkdirSync(path.join(ROOT, 'artifacts'), { recursive: true });
    await page.screenshot({ path: path.join(ROOT, 'artifacts', 'matrix.png') });
    await Promise.all([page.waitForURL(/uring\.cancel%231\.log$/), link.click()]);
    expect(await page.locator('body').textContent()).to.equal('log of logs/debian_6.1/uring.cancel#1.log\n');
  });
});

function channels(hex: string): [number, number, number] {
  const n = parseInt(hex.slice(1), 16);
  return [n >> 16, (n >> 8) & 255, n & 255];
}
