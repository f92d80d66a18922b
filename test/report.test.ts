import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ROOT } from '../src/paths';
import { runSuites } from '../src/suite/runner';
import { LocalTarget } from '../src/target/local';
import {
  REPORTERS,
  exitCodeOf,
  isReporterName,
  reporterNames,
  toJson,
  toJunit,
  toKtap,
  toSpecSummary,
  totalsOf,
  type RunResult,
  type TestResult,
} from '../src/report';

const NASTY = `a <b> & "c" 'd' \x01 e`;

function result(over: Partial<TestResult> & Pick<TestResult, 'id' | 'status'>): TestResult {
  const [suite] = over.id.split('.');
  return { title: over.id, suite, ops: [], durationMs: 3, ...over };
}

function runOf(tests: TestResult[]): RunResult {
  return {
    kernel: '6.12.0-kasync',
    target: 'vm:debian:6.12',
    startedAt: '2025-01-02T03:04:05.000Z',
    durationMs: 1234,
    totals: totalsOf(tests),
    tests,
  };
}

const TESTS: TestResult[] = [
  result({
    id: 'uring.read.short-file',
    title: 'uring.READ matches pread on a short file',
    status: 'pass',
    ops: ['uring.READ'],
  }),
  result({
    id: 'uring.cancel.userdata',
    title: 'uring.ASYNC_CANCEL completes the cancelled request with -ECANCELED',
    status: 'fail',
    ops: ['uring.ASYNC_CANCEL'],
    rule: 'SEMANTICS §3.9',
    reason: 'expected -125 to equal 0',
    detail: 'AssertionError: cancelled request completes\n  + expected - actual\n\n  -0\n  +-125\n',
    kernelReport: 'BUG: KASAN: slab-use-after-free in io_cancel\nCall Trace:',
  }),
  result({ id: 'uring.timeout.hang', status: 'fail', timedOut: true, reason: 'after 5000 ms', durationMs: 5000 }),
  result({ id: 'aio.fsync.durable', status: 'skip', reason: 'IOCB_CMD_FSYNC not supported on this filesystem' }),
  result({ id: 'aio.poll#2.ready', title: NASTY, status: 'fail', reason: NASTY, detail: NASTY }),
  result({ id: 'posix.read.basic', status: 'skip', reason: 'no librt' }),
  result({ id: 'posix.write.basic', status: 'skip' }),
];
const RUN = runOf(TESTS);

describe('report model', () => {
  it('totalsOf counts each status', () => {
    expect(totalsOf(TESTS)).to.deep.equal({ pass: 1, fail: 3, skip: 3 });
    expect(totalsOf([])).to.deep.equal({ pass: 0, fail: 0, skip: 0 });
  });

  it('exitCodeOf is 1 only when a test failed; skips never fail a run', () => {
    expect(exitCodeOf(RUN)).to.equal(1);
    expect(exitCodeOf(runOf(TESTS.filter((t) => t.status !== 'fail')))).to.equal(0);
    expect(exitCodeOf(runOf([]))).to.equal(0);
    expect(exitCodeOf(runOf([result({ id: 'a.t', status: 'fail', timedOut: true })]))).to.equal(1);
  });

  it("a test naming several known bugs gets the one whose releases match the kernel; a pass there is noted", async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kasync-suites-'));
    const target = new LocalTarget();
    try {
      fs.mkdirSync(path.join(root, 'kb'));
      const conf = JSON.stringify(path.join(ROOT, 'dist', 'src', 'suite', 'conformance'));
      fs.writeFileSync(
        path.join(root, 'kb', 'kb.test.js'),
        `const { conformance } = require(${conf});
const other = { releases: /^0\\.0\\./, what: 'a bug of no kernel' };
const here = { releases: /./, what: 'a bug of every kernel' };
conformance('kb.fails', { ops: [], rule: 'test', knownBug: [other, here] }, async () => { throw new Error('wrong'); });
conformance('kb.passes', { ops: [], rule: 'test', knownBug: [other, here] }, async () => {});
conformance('kb.unmatched', { ops: [], rule: 'test', knownBug: [other] }, async () => { throw new Error('wrong'); });`,
      );
      const run = await runSuites({ target, root });
      const by = new Map(run.tests.map((t) => [t.id, t]));
      expect(by.get('kb.fails')!.knownBug).to.equal('a bug of every kernel');
      expect(by.get('kb.passes')!.status).to.equal('pass');
      expect(JSON.stringify(by.get('kb.passes')), 'a pass where the bug is known is noted').to.contain('known kernel bug not seen');
      expect([by.get('kb.unmatched')!.status, by.get('kb.unmatched')!.knownBug], 'no matching release: a plain failure').to.deep.equal(['fail', undefined]);
    } finally {
      await target.close();
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it('a failure by a known kernel bug is reported as one and does not fail the run; any other failure does', () => {
    const known = result({ id: 'uring.k', status: 'fail', reason: 'expected 1 to equal 2', knownBug: 'drain bug' });
    expect(exitCodeOf(runOf([known, result({ id: 'uring.p', status: 'pass' })]))).to.equal(0);
    expect(exitCodeOf(runOf([known, result({ id: 'uring.f', status: 'fail', reason: 'x' })]))).to.equal(1);
    const summary = toSpecSummary(runOf([known]));
    expect(summary).to.include('known kernel bug: drain bug');
    expect(summary.trimEnd().split('\n').pop()).to.equal('0 passed, 1 failed (1 by known kernel bugs), 0 skipped');
    const ktap = toKtap(runOf([known]));
    expect(ktap).to.match(/^ {2}not ok 1 uring\.k # TODO known kernel bug: drain bug$/m);
    expect(ktap, 'a suite whose only failures are TODO is ok').to.match(/^ok 1 uring$/m);
  });

  it('REPORTERS maps every name to a reporter', () => {
    expect([...reporterNames].sort()).to.deep.equal(Object.keys(REPORTERS).sort());
    for (const name of reporterNames) expect(REPORTERS[name](RUN)).to.be.a('string').and.not.equal('');
    expect(isReporterName('ktap')).to.equal(true);
    expect(isReporterName('toString')).to.equal(false);
  });
});

describe('toJson', () => {
  const doc = JSON.parse(toJson(RUN));

  it('round-trips the run with the documented keys in order', () => {
    expect(Object.keys(doc)).to.deep.equal(['kernel', 'target', 'startedAt', 'durationMs', 'totals', 'tests']);
    expect(doc).to.deep.include({ kernel: RUN.kernel, target: RUN.target, startedAt: RUN.startedAt, durationMs: 1234 });
    expect(Object.keys(doc.totals)).to.deep.equal(['pass', 'fail', 'skip']);
    expect(doc.totals).to.deep.equal(RUN.totals);
    expect(doc.tests.map((t: { id: string }) => t.id)).to.deep.equal(TESTS.map((t) => t.id));
  });

  it('always has id, status, ops, reason, durationMs; the optional keys only when present', () => {
    expect(Object.keys(doc.tests[0])).to.deep.equal(['id', 'status', 'ops', 'reason', 'durationMs', 'title']);
    expect(doc.tests[0].reason).to.equal(null);
    expect(doc.tests[1]).to.deep.equal({
      id: 'uring.cancel.userdata',
      status: 'fail',
      ops: ['uring.ASYNC_CANCEL'],
      reason: 'expected -125 to equal 0',
      durationMs: 3,
      title: TESTS[1].title,
      rule: 'SEMANTICS §3.9',
      kernelReport: TESTS[1].kernelReport,
    });
    const keys = ['id', 'status', 'ops', 'reason', 'durationMs', 'title', 'rule', 'kernelReport'];
    expect(Object.keys(doc.tests[1])).to.deep.equal(keys);
    expect(doc.tests[2].timedOut).to.equal(true);
    expect(doc.tests[4].reason).to.equal(NASTY);
  });
});

describe('toKtap', () => {
  const lines = toKtap(RUN).trimEnd().split('\n');
  const top = lines.filter((l) => !l.startsWith(' '));
  const block = (suite: string): string[] => {
    const start = lines.indexOf(`  # Subtest: ${suite}`) - 1;
    const end = lines.findIndex((l, i) => i > start && !l.startsWith('  '));
    return lines.slice(start, end).map((l) => l.slice(2));
  };

  it('starts with the version line and plans one subtest per suite', () => {
    expect(lines[0]).to.equal('KTAP version 1');
    expect(lines[1]).to.equal('1..3');
    expect(top.filter((l) => /^(not )?ok \d+ /.test(l))).to.deep.equal([
      'not ok 1 uring',
      'not ok 2 aio',
      'ok 3 posix # SKIP all tests skipped',
    ]);
    expect(top[top.length - 1]).to.equal('# Totals: pass:1 fail:3 skip:3');
  });

  it('nests each suite two spaces deep with its own version line, plan, numbering and totals', () => {
    const uring = block('uring');
    expect(uring[0]).to.equal('KTAP version 1');
    expect(uring[2]).to.equal('1..3');
    const results = uring.filter((l) => /^(not )?ok /.test(l));
    expect(results.map((l) => l.match(/^(?:not )?ok (\d+)/)![1])).to.deep.equal(['1', '2', '3']);
    expect(results[0]).to.equal('ok 1 uring.read.short-file');
    expect(results[1]).to.equal('not ok 2 uring.cancel.userdata');
    expect(uring[uring.length - 1]).to.equal('# Totals: pass:1 fail:2 skip:0');
    for (const l of uring) expect(l, 'no deeper nesting').not.to.match(/^\s/);
  });

  it('marks timeouts and skips with directives', () => {
    expect(block('uring')).to.include('not ok 3 uring.timeout.hang # TIMEOUT after 5000 ms');
    expect(block('aio')).to.include('ok 1 aio.fsync.durable # SKIP IOCB_CMD_FSYNC not supported on this filesystem');
    expect(block('posix')).to.include.members([
      'ok 1 posix.read.basic # SKIP no librt',
      'ok 2 posix.write.basic # SKIP',
    ]);
  });

  it('puts every line of a failure detail in a diagnostic line before the result', () => {
    const uring = block('uring');
    const result = uring.indexOf('not ok 2 uring.cancel.userdata');
    const before = uring.slice(uring.indexOf('ok 1 uring.read.short-file') + 1, result);
    expect(before.every((l) => l === '#' || l.startsWith('# '))).to.equal(true);
    expect(before).to.include.members([
      '# rule: SEMANTICS §3.9',
      '# expected -125 to equal 0',
      '# AssertionError: cancelled request completes',
      '#   + expected - actual',
      '#   +-125',
      '# BUG: KASAN: slab-use-after-free in io_cancel',
    ]);
  });

  it('keeps test descriptions free of #', () => {
    expect(block('aio')).to.include('not ok 2 aio.poll_2.ready');
    for (const l of lines.filter((x) => /^\s*(not )?ok /.test(x))) {
      expect(l.replace(/ # (SKIP|TIMEOUT).*$/, '')).not.to.include('#');
    }
  });

  it('plans 1..0 for an empty run', () => {
    expect(toKtap(runOf([])).split('\n')).to.deep.equal([
      'KTAP version 1',
      '1..0',
      '# kasync on 6.12.0-kasync (vm:debian:6.12)',
      '# Totals: pass:0 fail:0 skip:0',
      '',
    ]);
  });
});

/** A minimal XML 1.0 reader for the subset toJunit writes: throws on anything malformed. */
interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

function unescape(s: string): string {
  if (/&(?!(amp|lt|gt|quot|apos|#\d+);)/.test(s)) throw new Error(`bare & in ${JSON.stringify(s)}`);
  const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
  return s.replace(/&(#?\w+);/g, (_, e: string) =>
    e[0] === '#' ? String.fromCodePoint(Number(e.slice(1))) : named[e],
  );
}

function parseXml(xml: string): XmlElement {
  if (/[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u.test(xml)) throw new Error('character XML 1.0 forbids');
  const root: XmlElement = { name: '#document', attrs: {}, children: [], text: '' };
  const stack = [root];
  const token = /<\?xml[^?]*\?>|<\/([\w-]+)\s*>|<([\w-]+)((?:\s+[\w-]+="[^"<]*")*)\s*(\/?)>|([^<]+)/gy;
  let at = 0;
  for (let m = token.exec(xml); m; m = token.exec(xml)) {
    at = token.lastIndex;
    const [, close, open, attrText, selfClose, text] = m;
    const top = stack[stack.length - 1];
    if (close) {
      if (close !== top.name) throw new Error(`</${close}> closes <${top.name}>`);
      stack.pop();
    } else if (open) {
      const el: XmlElement = { name: open, attrs: {}, children: [], text: '' };
      for (const [, k, v] of attrText.matchAll(/([\w-]+)="([^"]*)"/g)) {
        if (k in el.attrs) throw new Error(`duplicate attribute ${k}`);
        el.attrs[k] = unescape(v);
      }
      top.children.push(el);
      if (!selfClose) stack.push(el);
    } else if (text !== undefined) {
      if (text.includes('>')) throw new Error('unescaped > in text');
      top.text += unescape(text);
    }
  }
  if (at !== xml.length) throw new Error(`cannot parse at ${at}: ${xml.slice(at, at + 40)}`);
  if (stack.length !== 1) throw new Error(`unclosed <${stack[stack.length - 1].name}>`);
  if (root.children.length !== 1) throw new Error('not exactly one root element');
  return root.children[0];
}

describe('toJunit', () => {
  const xml = toJunit(RUN);
  const doc = parseXml(xml);
  const suite = (name: string): XmlElement => doc.children.find((s) => s.attrs.name === name)!;
  const cases = (name: string): XmlElement[] => suite(name).children.filter((c) => c.name === 'testcase');

  it('the checker rejects malformed XML', () => {
    expect(() => parseXml('<a><b></a></b>')).to.throw();
    expect(() => parseXml('<a x="1 & 2"/>')).to.throw();
    expect(() => parseXml('<a>\x01</a>')).to.throw();
    expect(() => parseXml('<a>')).to.throw();
  });

  it('is well-formed, with the declaration first and one testsuite per suite', () => {
    expect(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n')).to.equal(true);
    expect(doc.name).to.equal('testsuites');
    expect(doc.attrs).to.include({ tests: '7', failures: '3', skipped: '3', time: '1.234' });
    expect(doc.children.map((s) => s.attrs.name)).to.deep.equal(['uring', 'aio', 'posix']);
  });

  it('counts tests, failures and skips per suite', () => {
    expect(suite('uring').attrs).to.include({ tests: '3', failures: '2', skipped: '0', time: '5.006' });
    expect(suite('aio').attrs).to.include({ tests: '2', failures: '1', skipped: '1' });
    expect(suite('posix').attrs).to.include({ tests: '2', failures: '0', skipped: '2' });
    for (const s of doc.children) {
      const cs = cases(s.attrs.name);
      expect(cs.length).to.equal(Number(s.attrs.tests));
      expect(cs.filter((c) => c.children.some((x) => x.name === 'failure')).length).to.equal(Number(s.attrs.failures));
      expect(cs.filter((c) => c.children.some((x) => x.name === 'skipped')).length).to.equal(Number(s.attrs.skipped));
    }
  });

  it('carries kernel and target as suite properties', () => {
    const props = suite('aio').children.find((c) => c.name === 'properties')!.children;
    expect(props.map((p) => p.attrs)).to.deep.equal([
      { name: 'kernel', value: '6.12.0-kasync' },
      { name: 'target', value: 'vm:debian:6.12' },
    ]);
  });

  it('names test cases by title, with failure and skip details', () => {
    const [pass, fail, timeout] = cases('uring');
    expect(pass.attrs).to.deep.equal({ classname: 'kasync.uring', name: TESTS[0].title, time: '0.003' });
    expect(pass.children).to.deep.equal([]);
    const failure = fail.children.find((c) => c.name === 'failure')!;
    expect(failure.attrs.message).to.equal('expected -125 to equal 0');
    expect(failure.text).to.include(TESTS[1].detail!.trimEnd()).and.include('rule: SEMANTICS §3.9');
    expect(fail.children.find((c) => c.name === 'system-err')!.text).to.equal(TESTS[1].kernelReport);
    expect(timeout.children[0].attrs).to.deep.equal({ message: 'after 5000 ms', type: 'timeout' });
    expect(cases('aio')[0].children[0]).to.deep.include({ name: 'skipped', attrs: { message: TESTS[3].reason } });
    expect(cases('posix')[1].children[0]).to.deep.include({ name: 'skipped', attrs: {} });
  });

  it('escapes <&"\'> and makes forbidden control characters visible', () => {
    const nasty = cases('aio')[1];
    const visible = NASTY.replace('\x01', '\\u0001');
    expect(nasty.attrs.name).to.equal(visible);
    expect(nasty.children[0].attrs.message).to.equal(visible);
    expect(nasty.children[0].text).to.equal(visible);
    expect(xml).to.include('name="a &lt;b&gt; &amp; &quot;c&quot; &apos;d&apos; \\u0001 e"');
  });

  it('makes a lone surrogate and U+FFFE visible too, but keeps astral characters', () => {
    const x = parseXml(toJunit(runOf([result({ id: 'a.t', status: 'skip', reason: '\uD800 \uFFFE \u{1F600}' })])));
    expect(x.children[0].children[1].children[0].attrs.message).to.equal('\\uD800 \\uFFFE \u{1F600}');
  });

  it('keeps line breaks in attributes as references', () => {
    const x = parseXml(toJunit(runOf([result({ id: 'a.t', status: 'fail', reason: 'one\ntwo\tthree' })])));
    expect(x.children[0].children[1].children[0].attrs.message).to.equal('one\ntwo\tthree');
  });
});

describe('toSpecSummary', () => {
  const SUMMARY = /^\d+ passed, \d+ failed, \d+ skipped$/;

  it('ends with the summary line CI parses', () => {
    const lines = toSpecSummary(RUN).trimEnd().split('\n');
    expect(lines[lines.length - 1]).to.match(SUMMARY).and.equal('1 passed, 3 failed, 3 skipped');
    expect(lines.filter((l) => SUMMARY.test(l))).to.have.length(1);
  });

  it('is only the summary line when nothing failed', () => {
    expect(toSpecSummary(runOf(TESTS.filter((t) => t.status !== 'fail')))).to.equal('1 passed, 0 failed, 3 skipped\n');
  });

  it('shows each failing test with its title, rule, reason and indented detail', () => {
    const text = toSpecSummary(RUN);
    expect(text).to.include('  1) uring.ASYNC_CANCEL completes the cancelled request with -ECANCELED\n');
    expect(text).to.include('     rule: SEMANTICS §3.9\n     expected -125 to equal 0\n');
    expect(text).to.include('\n       AssertionError: cancelled request completes\n');
    expect(text).to.include('BUG: KASAN: slab-use-after-free in io_cancel');
    expect(text).to.include('timed out: after 5000 ms');
    expect(text).not.to.include('aio.fsync.durable');
  });

  it('never passes control characters through to the terminal', () => {
    const text = toSpecSummary(runOf([result({ id: 'a.t', status: 'fail', reason: 'bad \x1b[2J', detail: '\x07' })]));
    expect(text).not.to.match(/[\x00-\x08\x0b-\x1f\x7f]/);
    expect(text).to.include('bad \\u001b[2J');
  });

  it("lists the notes tests reported (a race test's count and time) before the summary line; JSON keeps them", () => {
    const noted = runOf([result({ id: 'a.race', status: 'pass', notes: ['2400 iterations in 900 ms'] })]);
    const lines = toSpecSummary(noted).trimEnd().split('\n');
    expect(lines).to.deep.equal(['notes:', '  a.race: 2400 iterations in 900 ms', '', '1 passed, 0 failed, 0 skipped']);
    expect(JSON.parse(toJson(noted)).tests[0].notes).to.deep.equal(['2400 iterations in 900 ms']);
  });

  it('uses ANSI colour only when asked, never on the summary line', () => {
    expect(toSpecSummary(RUN)).not.to.include('\x1b[');
    const coloured = toSpecSummary(RUN, true);
    expect(coloured).to.include('\x1b[31m');
    expect(coloured.trimEnd().split('\n').pop()).to.match(SUMMARY);
  });
});
