/** The command line as a user meets it: machine-readable outputs, and one clear line for each mistake. */
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ROOT } from '../src/paths';

const BIN = path.join(ROOT, 'bin', 'kasync.js');

function kasync(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** A user mistake: exit 2, exactly one line on stderr, no stack trace. */
function expectOneLineMistake(r: ReturnType<typeof kasync>, pattern: RegExp) {
  expect(r.code, r.err).to.equal(2);
  const lines = r.err.trim().split('\n');
  expect(lines, r.err).to.have.length(1);
  expect(lines[0]).to.match(pattern);
  expect(r.err).not.to.match(/\n\s+at /);
}

describe('cli', function () {
  this.timeout(180_000);
  let dir: string;
  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kasync-'))));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('probe --json is one document with every opcode and its support', () => {
    const r = kasync('probe', '--json');
    expect(r.code, r.err).to.equal(0);
    const j = JSON.parse(r.out);
    expect(j.kernel).to.equal(os.release());
    expect(j.uring.ops.find((o: { name: string }) => o.name === 'READ')).to.deep.include({ name: 'READ', value: 22, since: '5.6' });
    const aio = Object.fromEntries(j.aio.ops.map((o: { name: string; supported: boolean }) => [o.name, o.supported]));
    expect(aio.NOOP, 'IOCB_CMD_NOOP was never implemented (SEMANTICS §1.2)').to.equal(false);
    expect(aio.PREADX).to.equal(false);
    if (j.aio.available) expect(aio.PREAD, 'PREAD works wherever AIO does').to.equal(true);
    if (j.uring.available) {
      const supported = j.uring.ops.filter((o: { supported: boolean }) => o.supported).length;
      expect(supported, 'probe: every op up to last_op is listed').to.be.at.most(j.uring.lastOp + 1);
      expect(j.uring.ops.find((o: { name: string }) => o.name === 'NOP').supported).to.equal(true);
    }
  });

  it('run --reporter json --output writes the stable document', () => {
    const out = path.join(dir, 'r.json');
    const r = kasync('run', '--reporter', 'json', '--output', out, '--grep', 'NOP');
    expect([0, 1], r.err).to.include(r.code);
    const j = JSON.parse(fs.readFileSync(out, 'utf8'));
    expect(Object.keys(j)).to.include.members(['kernel', 'target', 'totals', 'tests']);
    expect(j.totals.pass + j.totals.fail + j.totals.skip).to.equal(j.tests.length);
    for (const t of j.tests) expect(t).to.include.keys('id', 'status', 'ops', 'reason', 'durationMs');
  });

  it('an unknown reporter is one line and exit 2', () => {
    expectOneLineMistake(kasync('run', '--reporter', 'tap13'), /unknown reporter 'tap13'/);
  });

  it('an unreadable program file is one line and exit 2', () => {
    expectOneLineMistake(kasync('exec', path.join(dir, 'missing.prog')), /cannot read program .*ENOENT/);
  });

  it('a file that is not a program is one line and exit 2', () => {
    const f = path.join(dir, 'junk.prog');
    fs.writeFileSync(f, 'not a program at all, just text');
    expectOneLineMistake(kasync('exec', f), /not a valid kasync program: /);
  });

  it('io_uring disabled by sysctl is one line and exit 2 for the uring suites', function () {
    const knob = '/proc/sys/kernel/io_uring_disabled';
    if (!fs.existsSync(knob)) this.skip(); // kernels before 6.6 have no such sysctl
    const saved = fs.readFileSync(knob, 'utf8').trim();
    try {
      fs.writeFileSync(knob, '2');
    } catch {
      this.skip(); // not writable here (not root): the VM target covers it
    }
    try {
      expectOneLineMistake(kasync('run', '--suite', 'uring'), /io_uring is unavailable here \(io_uring_setup failed with EPERM \(kernel.io_uring_disabled=2\)\)/);
    } finally {
      fs.writeFileSync(knob, saved);
    }
    expect(fs.readFileSync(knob, 'utf8').trim(), 'sysctl restored').to.equal(saved);
  });
});
