/**
 * The kernel catalogue: Debian version order, kernels given as paths, the cache's verification and
 * refetch of damaged entries, concurrent fetches, and `kasync kernels list --json`.
 */
import { expect } from 'chai';
import { execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Command } from 'commander';
import { registerKernels } from '../src/cli/kernels';
import { UsageError } from '../src/cli/usage';
import {
  checkEntry,
  compareDebianVersions,
  entryDir,
  isHostKernel,
  kernelsDir,
  newestOffer,
  packagePattern,
  PackageOffer,
  PackageSource,
  readBzImage,
  resolveDebianKernel,
  resolveKernel,
  resolvePathKernel,
  runTool,
  sha256File,
} from '../src/vm/kernels';
import { usageError, withCache } from './util';

/** A minimal x86 boot header: "HdrS" at 0x202 and a kernel_version pointer to `version`. */
function fakeBzImage(file: string, version: string | undefined, size = 0x2000): void {
  const b = Buffer.alloc(size);
  b.write('HdrS', 0x202, 'latin1');
  if (version !== undefined) {
    b.writeUInt16LE(0x600, 0x20e);
    b.write(version + '\0', 0x800, 'latin1');
  }
  fs.writeFileSync(file, b);
}

/** Runs `fn` with $KASYNC_CACHE pointing at `dir`. */
describe('vm/kernels: Debian versions', () => {
  it('orders versions and ABI names numerically, ~ before anything', () => {
    const ascending = [
      '6.1.0-9',
      '6.1.0-10',
      '6.1.0-56',
      '6.1.27-1',
      '6.1.192-2',
      '6.12.99-1',
      '6.12.117-1~deb12u1',
      '6.12.117-1',
      '1:0.1',
    ];
    for (let i = 0; i + 1 < ascending.length; i++) {
      expect(compareDebianVersions(ascending[i], ascending[i + 1]), `${ascending[i]} < ${ascending[i + 1]}`).to.equal(
        -1,
      );
      expect(compareDebianVersions(ascending[i + 1], ascending[i])).to.equal(1);
    }
    expect(compareDebianVersions('6.12.117-1~deb12u1', '6.12.117-1~deb12u1')).to.equal(0);
    expect(compareDebianVersions('1.0', '1.0-0')).to.equal(0);
    expect(compareDebianVersions('1.0a', '1.0+')).to.equal(-1);
  });

  it('agrees with dpkg --compare-versions', function () {
    if (!fs.existsSync('/usr/bin/dpkg')) this.skip(); // the reference is dpkg itself
    const vs = [
      '6.1.0-9',
      '6.1.0-56',
      '6.12.99',
      '6.12.117',
      '6.12.117-1~deb12u1',
      '6.12.117-1',
      '6.12.117+deb12',
      '1.0~rc1',
      '1.0',
      '1.0a',
      '1.0+b1',
      '2:1',
      '1.0.0',
    ];
    // One shell for all pairs: dpkg says lt, eq or gt for each.
    const verdict =
      'if dpkg --compare-versions $a lt $b; then echo -1; ' +
      'elif dpkg --compare-versions $a eq $b; then echo 0; else echo 1; fi';
    const loop = `for a in ${vs.join(' ')}; do for b in ${vs.join(' ')}; do ${verdict}; done; done`;
    const verdicts = execFileSync('sh', ['-c', loop], { encoding: 'utf8', timeout: 60_000 })
      .trim()
      .split('\n')
      .map(Number);
    expect(verdicts).to.have.length(vs.length * vs.length);
    vs.forEach((a, i) =>
      vs.forEach((b, j) => expect(compareDebianVersions(a, b), `${a} vs ${b}`).to.equal(verdicts[i * vs.length + j])),
    );
  });

  it('picks the newest offer and never a cloud flavour', () => {
    const offers: PackageOffer[] = [
      { package: 'linux-image-6.1.0-9-amd64-unsigned', version: '6.1.27-1' },
      { package: 'linux-image-6.1.0-56-amd64-unsigned', version: '6.1.192-2' },
      { package: 'linux-image-6.1.0-10-amd64-unsigned', version: '6.1.38-1' },
    ];
    expect(newestOffer(offers)).to.deep.equal(offers[1]);
    expect(newestOffer([])).to.equal(undefined);
    const p612 = packagePattern('debian:6.12');
    const rt = packagePattern('debian:6.12-rt');
    const p61 = packagePattern('debian:6.1');
    expect(p612.test('linux-image-6.12.117+deb12-amd64-unsigned')).to.equal(true);
    expect(p612.test('linux-image-6.12.117+deb12-cloud-amd64-unsigned')).to.equal(false);
    expect(p612.test('linux-image-6.12.117+deb12-rt-amd64-unsigned')).to.equal(false);
    expect(rt.test('linux-image-6.12.117+deb12-rt-amd64-unsigned')).to.equal(true);
    expect(p61.test('linux-image-6.1.0-56-amd64-unsigned')).to.equal(true);
    expect(p61.test('linux-image-6.12.117+deb12-amd64-unsigned')).to.equal(false);
    expect(p61.test('linux-image-6.1.0-56-cloud-amd64-unsigned')).to.equal(false);
  });

  it('host is no VM; unknown names are one line', async () => {
    expect(isHostKernel('host')).to.equal(true);
    expect(isHostKernel('debian:6.12')).to.equal(false);
    expect(await usageError(resolveKernel('host'))).to.equal('host is the running kernel: no VM');
    expect(await usageError(resolveKernel('debian:5.10'))).to.match(/unknown kernel 'debian:5\.10'/);
    expect(await usageError(resolveKernel('ubuntu:24.04'))).to.match(/unknown kernel 'ubuntu:24\.04'/);
  });
});

describe('vm/kernels: child processes', function () {
  this.timeout(30_000);
  it('kills a tool that overruns its deadline, even one ignoring SIGTERM, and says so in one line', async () => {
    const started = Date.now();
    const pidFile = path.join(os.tmpdir(), `kasync-runtool-${process.pid}`);
    try {
      const msg = await usageError(
        runTool('sh', ['-c', `echo $$ > ${pidFile}; trap "" TERM; while :; do sleep 0.1; done`], { timeoutMs: 300 }),
      );
      expect(msg).to.match(/^sh -c .* took longer than 0\.3 s and was killed$/);
      expect(Date.now() - started).to.be.within(300, 10_000);
      const pid = Number(fs.readFileSync(pidFile, 'utf8'));
      expect(() => process.kill(pid, 0), 'the shell is gone').to.throw(/ESRCH/);
    } finally {
      fs.rmSync(pidFile, { force: true });
    }
  });

  it('names the package to install when a tool is missing', async () => {
    const msg = await usageError(() => runTool('kasync-no-such-tool', [], { timeoutMs: 1000 }));
    expect(msg).to.equal(
      'kasync-no-such-tool not found: install kasync-no-such-tool (apt-get install kasync-no-such-tool)',
    );
  });
});

describe('vm/kernels: a kernel given as a path', function () {
  this.timeout(120_000);
  let tmp: string;
  before(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kasync-kernels-'))));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('rejects a missing file, a directory and a file without the HdrS header, each in one line', async () => {
    expect(await usageError(resolveKernel(path.join(tmp, 'nope')))).to.match(/does not exist/);
    expect(await usageError(resolveKernel(tmp))).to.match(/is a directory/);
    const junk = path.join(tmp, 'junk');
    fs.writeFileSync(junk, Buffer.alloc(4096, 0x41));
    expect(await usageError(resolveKernel(junk))).to.match(/not an x86 bzImage .*HdrS/);
    const short = path.join(tmp, 'short');
    fs.writeFileSync(short, 'MZ');
    expect(await usageError(resolveKernel(short))).to.match(/not an x86 bzImage/);
  });

  it('reads the release from the boot header', async () => {
    const bz = path.join(tmp, 'bzImage');
    fakeBzImage(bz, '6.99.1-kasync (dev@box) #3 SMP PREEMPT Thu Jan  1 00:00:00 UTC 2026');
    const k = await resolveKernel(bz);
    expect(k).to.deep.equal({ spec: bz, release: '6.99.1-kasync', vmlinuz: bz });
    fakeBzImage(path.join(tmp, 'noversion'), undefined);
    expect(readBzImage(path.join(tmp, 'noversion'))).to.deep.equal({});
    expect(await usageError(resolveKernel(path.join(tmp, 'noversion')))).to.match(/cannot tell its release/);
  });

  it('takes INSTALL_MOD_PATH or lib/modules/<release>, checks the release, never writes there', async () => {
    const bz = path.join(tmp, 'bzImage-mods');
    fakeBzImage(bz, '6.99.2 (dev@box) #1');
    const install = path.join(tmp, 'install');
    const rel = path.join(install, 'lib', 'modules', '6.99.2');
    fs.mkdirSync(path.join(rel, 'kernel', 'fs'), { recursive: true });
    fs.writeFileSync(path.join(rel, 'kernel', 'fs', 'a.ko'), '');
    fs.writeFileSync(path.join(rel, 'modules.order'), 'kernel/fs/a.ko\n');
    fs.writeFileSync(path.join(rel, 'modules.builtin'), 'kernel/fs/ext4/ext4.ko\n');
    const before = fs.readdirSync(rel).sort();
    await withCache(path.join(tmp, 'cache'), async () => {
      const viaInstall = await resolveKernel(bz, { modules: install });
      const viaRelease = await resolveKernel(bz, { modules: rel });
      for (const k of [viaInstall, viaRelease]) {
        expect(k.release).to.equal('6.99.2');
        expect(k.modulesDir!.startsWith(path.join(tmp, 'cache', 'modules') + '/'), k.modulesDir).to.equal(true);
        expect(path.basename(k.modulesDir!)).to.equal('6.99.2');
        expect(fs.readFileSync(path.join(k.modulesDir!, 'modules.dep'), 'utf8')).to.match(/^kernel\/fs\/a\.ko:/m);
      }
      expect(viaRelease.modulesDir).to.equal(viaInstall.modulesDir);
      expect(fs.readdirSync(rel).sort(), 'the user tree is untouched').to.deep.equal(before);

      const other = path.join(tmp, 'other', '6.98.0');
      fs.mkdirSync(other, { recursive: true });
      fs.writeFileSync(path.join(other, 'modules.order'), '');
      expect(await usageError(resolveKernel(bz, { modules: other }))).to.match(
        /for kernel 6\.98\.0, but the bzImage is 6\.99\.2/,
      );
      expect(await usageError(resolveKernel(bz, { modules: path.join(tmp, 'other') }))).to.match(
        /neither an INSTALL_MOD_PATH/,
      );
      expect(await usageError(resolveKernel(bz, { modules: path.join(tmp, 'absent') }))).to.match(/does not exist/);
    });
  });
});

const FAKE: PackageOffer = { package: 'linux-image-6.12.999+kasync-amd64-unsigned', version: '6.12.999-1~test1' };
const FAKE_RELEASE = '6.12.999+kasync-amd64';

/** Builds a small kernel .deb laid out like Debian's: boot/vmlinuz-*, boot/config-*, lib/modules/<release>/. */
function buildFakeDeb(dir: string): string {
  const root = path.join(dir, 'pkgroot');
  const mods = path.join(root, 'lib', 'modules', FAKE_RELEASE);
  fs.mkdirSync(path.join(root, 'DEBIAN'), { recursive: true });
  fs.mkdirSync(path.join(root, 'boot'), { recursive: true });
  fs.mkdirSync(path.join(mods, 'kernel', 'fs', 'jbd2'), { recursive: true });
  fs.writeFileSync(
    path.join(root, 'DEBIAN', 'control'),
    `Package: ${FAKE.package}\nVersion: ${FAKE.version}\nArchitecture: amd64\n` +
      'Maintainer: kasync tests <t@example.org>\nDescription: fake kernel\n',
  );
  fakeBzImage(path.join(root, 'boot', `vmlinuz-${FAKE_RELEASE}`), `${FAKE_RELEASE} (t@example.org) #1 SMP`, 64 * 1024);
  fs.writeFileSync(path.join(root, 'boot', `config-${FAKE_RELEASE}`), 'CONFIG_EXT4_FS=m\n');
  fs.writeFileSync(path.join(mods, 'kernel', 'fs', 'jbd2', 'jbd2.ko'), '');
  fs.writeFileSync(path.join(mods, 'modules.order'), 'kernel/fs/jbd2/jbd2.ko\n');
  fs.writeFileSync(path.join(mods, 'modules.builtin'), 'kernel/drivers/virtio/virtio_pci.ko\n');
  const deb = path.join(dir, 'fake.deb');
  execFileSync('dpkg-deb', ['-Zgzip', '--root-owner-group', '-b', root, deb], { stdio: 'ignore', timeout: 60_000 });
  return deb;
}

/** A package source serving the fake .deb; `damage` lists what each download does to it. */
class FakeSource implements PackageSource {
  downloads = 0;
  constructor(
    private deb: string,
    private sha: string,
    public damage: ('truncate' | 'ok')[] = [],
    private delayMs = 0,
  ) {}
  async offers(pattern: RegExp) {
    return [FAKE, { package: 'linux-image-6.12.9+kasync-amd64-unsigned', version: '6.12.9-1' }].filter((o) =>
      pattern.test(o.package),
    );
  }
  async describe() {
    return { sha256: this.sha, size: fs.statSync(this.deb).size };
  }
  async download(offer: PackageOffer, dir: string) {
    const how = this.damage[this.downloads++] ?? 'ok';
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    const out = path.join(dir, `${offer.package}_${offer.version}_amd64.deb`);
    const bytes = fs.readFileSync(this.deb);
    fs.writeFileSync(out, how === 'truncate' ? bytes.subarray(0, bytes.length >> 1) : bytes);
    return out;
  }
}

describe('vm/kernels: the cache', function () {
  this.timeout(120_000);
  let tmp: string;
  let deb: string;
  let sha: string;
  let cache: string;
  let n = 0;
  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kasync-kcache-'));
    deb = buildFakeDeb(tmp);
    sha = await sha256File(deb);
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  beforeEach(() => (cache = path.join(tmp, `cache${n++}`)));

  const leftovers = () => fs.readdirSync(path.join(cache, 'kernels')).filter((f) => f.startsWith('.'));

  it('fetches the newest offer, verifies, unpacks, runs depmod, records kernel.json and drops the .deb', async () => {
    await withCache(cache, async () => {
      const src = new FakeSource(deb, sha);
      const lines: string[] = [];
      const k = await resolveDebianKernel('debian:6.12', src, { log: (l) => lines.push(l) });
      const dir = entryDir(FAKE);
      expect(dir.startsWith(kernelsDir() + '/')).to.equal(true);
      expect(k).to.deep.equal({
        spec: 'debian:6.12',
        release: FAKE_RELEASE,
        vmlinuz: path.join(dir, 'boot', `vmlinuz-${FAKE_RELEASE}`),
        modulesDir: path.join(dir, 'lib', 'modules', FAKE_RELEASE),
        config: path.join(dir, 'boot', `config-${FAKE_RELEASE}`),
      });
      for (const f of ['modules.dep', 'modules.alias', 'modules.softdep', 'modules.builtin'])
        expect(fs.existsSync(path.join(k.modulesDir!, f)), f).to.equal(true);
      const rec = JSON.parse(fs.readFileSync(path.join(dir, 'kernel.json'), 'utf8'));
      expect(rec).to.include({
        spec: 'debian:6.12',
        package: FAKE.package,
        version: FAKE.version,
        release: FAKE_RELEASE,
        debSha256: sha,
      });
      expect(rec.vmlinuzSha256).to.equal(await sha256File(k.vmlinuz));
      expect(Date.parse(rec.fetchedAt)).to.be.closeTo(Date.now(), 60_000);
      const all = execFileSync('find', [dir, '-name', '*.deb'], { encoding: 'utf8' });
      expect(all, 'the .deb is deleted after unpacking').to.equal('');
      expect(leftovers()).to.deep.equal([]);
      expect(
        lines.some((l) => /^fetching linux-image-6\.12\.999\+kasync-amd64-unsigned 6\.12\.999-1~test1/.test(l)),
        lines.join('|'),
      ).to.equal(true);
      expect(lines.some((l) => l.startsWith('unpacked to '))).to.equal(true);

      const again = await resolveDebianKernel('debian:6.12', src);
      expect(again).to.deep.equal(k);
      expect(src.downloads, 'a good cache entry is reused').to.equal(1);
    });
  });

  const damages: [string, (dir: string) => void, RegExp][] = [
    [
      'a vmlinuz with one byte changed',
      (d) => fs.appendFileSync(path.join(d, 'boot', `vmlinuz-${FAKE_RELEASE}`), 'x'),
      /sha256/,
    ],
    ['a missing vmlinuz', (d) => fs.rmSync(path.join(d, 'boot', `vmlinuz-${FAKE_RELEASE}`)), /unreadable \(ENOENT\)/],
    ['a truncated kernel.json', (d) => fs.truncateSync(path.join(d, 'kernel.json'), 20), /kernel\.json unreadable/],
    [
      'a missing modules.dep',
      (d) => fs.rmSync(path.join(d, 'lib', 'modules', FAKE_RELEASE, 'modules.dep')),
      /modules\.dep is missing/,
    ],
  ];
  for (const [what, damage, reason] of damages)
    it(`detects ${what}, discards the entry and fetches again`, async () => {
      await withCache(cache, async () => {
        const src = new FakeSource(deb, sha);
        const k = await resolveDebianKernel('debian:6.12', src);
        damage(entryDir(FAKE));
        const check = await checkEntry(entryDir(FAKE));
        expect('problem' in check && check.problem).to.match(reason);
        const lines: string[] = [];
        const k2 = await resolveDebianKernel('debian:6.12', src, { log: (l) => lines.push(l) });
        expect(src.downloads).to.equal(2);
        expect(k2).to.deep.equal(k);
        expect(lines.join('\n')).to.match(/is damaged/);
        expect('record' in (await checkEntry(entryDir(FAKE))), 'the refetched entry is intact').to.equal(true);
        expect(leftovers()).to.deep.equal([]);
      });
    });

  it('refetches a .deb truncated by an interrupted download; gives up in one line if it stays corrupt', async () => {
    await withCache(cache, async () => {
      const lines: string[] = [];
      const once = new FakeSource(deb, sha, ['truncate', 'ok']);
      const k = await resolveDebianKernel('debian:6.12', once, { log: (l) => lines.push(l) });
      expect(once.downloads).to.equal(2);
      expect(lines.join('\n')).to.match(/is corrupt: sha256 .*fetching again/);
      expect(fs.existsSync(k.vmlinuz)).to.equal(true);

      fs.rmSync(path.join(cache, 'kernels'), { recursive: true });
      const always = new FakeSource(deb, sha, ['truncate', 'truncate', 'truncate']);
      expect(await usageError(resolveDebianKernel('debian:6.12', always))).to.match(/is corrupt: sha256/);
      expect(always.downloads).to.equal(2);
      expect(fs.existsSync(entryDir(FAKE)), 'nothing corrupt is left in the cache').to.equal(false);
      expect(leftovers()).to.deep.equal([]);
    });
  });

  it('with fetch: false uses only the cache', async () => {
    await withCache(cache, async () => {
      const src = new FakeSource(deb, sha);
      expect(await usageError(resolveDebianKernel('debian:6.12', src, { fetch: false }))).to.match(
        /is not cached: run kasync kernels fetch debian:6\.12/,
      );
      expect(src.downloads).to.equal(0);
    });
  });

  it('names the spec when apt offers nothing, and serves an intact cached kernel when apt fails', async () => {
    await withCache(cache, async () => {
      const none: PackageSource = {
        offers: async () => [],
        describe: async () => ({ sha256: sha, size: 0 }),
        download: async () => '',
      };
      expect(await usageError(resolveDebianKernel('debian:6.12-rt', none))).to.match(
        /no Debian package for debian:6\.12-rt/,
      );
      const offline = new FakeSource(deb, sha);
      offline.offers = async () => {
        throw new UsageError('apt-get update failed (exit 100): cannot reach the archive');
      };
      expect(await usageError(resolveDebianKernel('debian:6.12', offline))).to.match(/cannot reach the archive/);
      const k = await resolveDebianKernel('debian:6.12', new FakeSource(deb, sha));
      const lines: string[] = [];
      expect(await resolveDebianKernel('debian:6.12', offline, { log: (l) => lines.push(l) })).to.deep.equal(k);
      expect(lines.join('\n')).to.match(/cannot reach the archive; using the cached linux-image-6\.12\.999/);
      expect(await usageError(resolveDebianKernel('debian:6.1', offline)), 'a cached 6.12 does not serve 6.1').to.match(
        /cannot reach/,
      );
    });
  });

  it('two fetches of the same kernel at once both succeed and leave one intact entry', async () => {
    await withCache(cache, async () => {
      const a = new FakeSource(deb, sha, [], 300);
      const b = new FakeSource(deb, sha, [], 300);
      const [ka, kb] = await Promise.all([
        resolveDebianKernel('debian:6.12', a),
        resolveDebianKernel('debian:6.12', b),
      ]);
      expect(ka).to.deep.equal(kb);
      expect(a.downloads + b.downloads).to.equal(2);
      expect('record' in (await checkEntry(entryDir(FAKE)))).to.equal(true);
      expect(fs.readdirSync(kernelsDir())).to.deep.equal([path.basename(entryDir(FAKE))]);
    });
  });

  it('two kasync processes fetching at once do not corrupt each other', async () => {
    // Each child serves the fake .deb with its own delay, so their renames race.
    const script = path.join(tmp, 'racer.js');
    fs.writeFileSync(
      script,
      `const k = require(${JSON.stringify(path.join(__dirname, '..', 'src', 'vm', 'kernels.js'))});
const fs = require('fs'), path = require('path');
const [deb, sha, delay, barrier] = process.argv.slice(2);
const offer = ${JSON.stringify(FAKE)};
const src = {
  offers: async () => [offer],
  describe: async () => ({ sha256: sha, size: fs.statSync(deb).size }),
  download: async (o, dir) => {
    // both children reach their download before either finishes one, however loaded the machine is
    fs.writeFileSync(path.join(barrier, String(process.pid)), '');
    const until = Date.now() + 60000;
    while (fs.readdirSync(barrier).length < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, Number(delay)));
    fs.copyFileSync(deb, path.join(dir, 'x.deb'));
    return path.join(dir, 'x.deb');
  },
};
k.resolveDebianKernel('debian:6.12', src, { log: (l) => console.error(l) }).then(
  (img) => console.log(JSON.stringify(img)),
  (e) => { console.error(e.message); process.exit(2); },
);
`,
    );
    const barrier = fs.mkdtempSync(path.join(tmp, 'barrier-'));
    const runChild = (delay: number) =>
      new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
        const c = spawn(process.execPath, [script, deb, sha, String(delay), barrier], {
          env: { ...process.env, KASYNC_CACHE: cache },
        });
        let out = '';
        let err = '';
        c.stdout.on('data', (d) => (out += d));
        c.stderr.on('data', (d) => (err += d));
        const t = setTimeout(() => c.kill('SIGKILL'), 90_000);
        c.on('close', (code) => {
          clearTimeout(t);
          resolve({ code, out, err });
        });
      });
    const results = await Promise.all([runChild(200), runChild(250)]);
    for (const r of results) expect(r.code, r.err).to.equal(0);
    // Both really fetched (so their renames raced), and exactly one found the other's copy in place.
    for (const r of results) expect(r.err).to.match(/^fetching /m);
    expect(results.filter((r) => /another kasync fetched .* first/.test(r.err))).to.have.length(1);
    expect(JSON.parse(results[0].out)).to.deep.equal(JSON.parse(results[1].out));
    await withCache(cache, async () => {
      expect('record' in (await checkEntry(entryDir(FAKE)))).to.equal(true);
      expect(fs.readdirSync(kernelsDir())).to.deep.equal([path.basename(entryDir(FAKE))]);
    });
  });
});

describe('vm/kernels: real Debian kernels', function () {
  // The first run downloads ~100 MB into the shared cache, which the module tests and CI reuse.
  this.timeout(20 * 60_000);
  const aptPresent = ['/usr/bin/apt-cache', '/bin/apt-cache'].some((p) => fs.existsSync(p));
  let tmp: string;
  before(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kasync-kreal-'))));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('debian:6.12 resolves to an intact entry; its vmlinuz as a path gives the same release', async function () {
    if (!aptPresent) this.skip(); // needs apt (a Debian host) to fetch the kernel
    const k = await resolveKernel('debian:6.12');
    expect(k.release).to.match(/^6\.12\.\d+\+deb\d+-amd64$/);
    expect(path.basename(k.vmlinuz)).to.equal(`vmlinuz-${k.release}`);
    const entry = path.dirname(path.dirname(k.vmlinuz));
    expect('record' in (await checkEntry(entry))).to.equal(true);
    const viaPath = await resolvePathKernel(k.vmlinuz, { modules: entry });
    expect(viaPath.release).to.equal(k.release);
    expect(viaPath.modulesDir, 'modules.dep present: used in place, no copy').to.equal(k.modulesDir);
    expect(readBzImage(k.vmlinuz).version).to.match(/^6\.12\.\d+\+deb\d+-amd64 \(.*\) #1 SMP/);

    // A hard-linked copy of the entry, whose vmlinuz is replaced (not written through the link) by a damaged one.
    const copy = path.join(tmp, 'copy');
    execFileSync('cp', ['-al', entry, copy], { timeout: 120_000 });
    const vmlinuz = path.join(copy, 'boot', path.basename(k.vmlinuz));
    const bytes = fs.readFileSync(vmlinuz);
    fs.rmSync(vmlinuz);
    fs.writeFileSync(vmlinuz, bytes.subarray(0, bytes.length - 4096));
    const check = await checkEntry(copy);
    expect('problem' in check && check.problem).to.match(/sha256/);
    expect('record' in (await checkEntry(entry)), 'the real entry is untouched').to.equal(true);
  });

  it('kasync kernels list --json: the three catalogue names, what apt offers and what is cached', async function () {
    if (!aptPresent) this.skip(); // the listing asks apt what it offers
    const cache = path.join(tmp, 'listcache');
    // One fake entry in the cache, which is no catalogue kernel's newest, so it is listed under others.
    const src = fs.mkdtempSync(path.join(tmp, 'fakedeb-'));
    const deb = buildFakeDeb(src);
    const sha = await sha256File(deb);
    await withCache(cache, () => resolveDebianKernel('debian:6.12', new FakeSource(deb, sha)));
    const out: string[] = [];
    const write = process.stdout.write;
    process.stdout.write = ((s: string) => (out.push(String(s)), true)) as typeof process.stdout.write;
    try {
      await withCache(cache, async () => {
        const program = new Command('kasync').exitOverride();
        registerKernels(program);
        await program.parseAsync(['kernels', 'list', '--json'], { from: 'user' });
      });
    } finally {
      process.stdout.write = write;
    }
    const j = JSON.parse(out.join(''));
    expect(Object.keys(j).sort()).to.deep.equal(['catalogue', 'others']);
    expect(j.catalogue.map((c: { spec: string }) => c.spec)).to.deep.equal([
      'debian:6.1',
      'debian:6.12',
      'debian:6.12-rt',
    ]);
    for (const c of j.catalogue) {
      expect(c.newest, JSON.stringify(c)).to.have.keys('package', 'version');
      expect(packagePattern(c.spec).test(c.newest.package)).to.equal(true);
      expect(c.cached, 'a temporary cache holds no real kernel').to.equal(undefined);
    }
    expect(j.others).to.have.length(1);
    expect(j.others[0]).to.include({
      spec: 'debian:6.12',
      package: FAKE.package,
      version: FAKE.version,
      release: FAKE_RELEASE,
    });
    expect(j.others[0].dir).to.equal(path.join(cache, 'kernels', path.basename(entryDir(FAKE))));
  });

  it('kasync kernels fetch prints the release; a bad path is a UsageError', async function () {
    const bz = path.join(tmp, 'bz');
    fakeBzImage(bz, '6.99.3 (a@b) #1');
    const out: string[] = [];
    const write = process.stdout.write;
    process.stdout.write = ((s: string) => (out.push(String(s)), true)) as typeof process.stdout.write;
    try {
      const program = new Command('kasync').exitOverride();
      registerKernels(program);
      await program.parseAsync(['kernels', 'fetch', bz], { from: 'user' });
      const bad = new Command('kasync').exitOverride();
      registerKernels(bad);
      expect(
        await usageError(bad.parseAsync(['kernels', 'fetch', path.join(tmp, 'missing')], { from: 'user' })),
      ).to.match(/does not exist/);
    } finally {
      process.stdout.write = write;
    }
    expect(out.join('')).to.equal(`${bz}  6.99.3  ${bz}\n`);
  });
});
