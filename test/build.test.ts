/**
 * `kasync kernels build`: config fragments (application, and a required option lost on the way is an
 * error naming it), the cache key, and the whole pipeline against a fake kernel tree (its Makefile
 * knows tinyconfig, olddefconfig and bzImage) shipped as a fake Debian source package.
 */
import { expect } from 'chai';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  applyFragment,
  buildKernel,
  buildKey,
  buildOfImage,
  CONFIG_DIR,
  gcovMakeVars,
  missingBuildTools,
  missingOptions,
  parseFragment,
  profileFragment,
  readConfig,
  resolveBuiltKernel,
} from '../src/vm/build';
import { PackageOffer, PackageSource, resolveKernel, sha256File } from '../src/vm/kernels';
import { usageError, withCache } from './util';

describe('vm/build: config fragments', () => {
  it('parses y, n, strings and numbers, and names the line of anything else', async () => {
    const opts = parseFragment('# comment\nCONFIG_A=y\n# CONFIG_B is not set\n\nCONFIG_C="x y"\nCONFIG_D=0x40\n');
    expect(opts).to.deep.equal([
      { name: 'CONFIG_A', value: 'y' },
      { name: 'CONFIG_B', value: 'n' },
      { name: 'CONFIG_C', value: '"x y"' },
      { name: 'CONFIG_D', value: '0x40' },
    ]);
    expect(await usageError(() => parseFragment('CONFIG_A=y\nIO_URING=y\n', 'x.config'))).to.equal(
      "x.config:2: not a kconfig line: 'IO_URING=y'",
    );
  });

  it('sets each option once, replacing its old line whether it was on or "not set"', () => {
    const before = '#\n# header\n#\nCONFIG_A=n\n# CONFIG_B is not set\nCONFIG_KEEP=y\nCONFIG_OFF=y\n';
    const after = applyFragment(
      before,
      parseFragment('CONFIG_A=y\nCONFIG_B=y\n# CONFIG_OFF is not set\nCONFIG_NEW="s"\n'),
    );
    const cfg = readConfig(after);
    expect(cfg.get('CONFIG_A')).to.equal('y');
    expect(cfg.get('CONFIG_B')).to.equal('y');
    expect(cfg.get('CONFIG_KEEP')).to.equal('y');
    expect(cfg.get('CONFIG_OFF')).to.equal('n');
    expect(cfg.get('CONFIG_NEW')).to.equal('"s"');
    expect(after.match(/CONFIG_A\b/g)).to.have.length(1);
    expect(after.match(/CONFIG_B\b/g)).to.have.length(1);
    expect(after.startsWith('#\n# header\n#\n')).to.equal(true);
  });

  it('names every required option the final config lacks or has another value for', () => {
    const want = parseFragment('CONFIG_A=y\nCONFIG_GONE=y\nCONFIG_S="panic_on_warn=1"\n# CONFIG_X is not set\n');
    expect(missingOptions(want, 'CONFIG_A=y\nCONFIG_GONE=y\nCONFIG_S="panic_on_warn=1"\n')).to.deep.equal([]);
    expect(missingOptions(want, 'CONFIG_A=y\n# CONFIG_GONE is not set\nCONFIG_S=""\nCONFIG_X=y\n')).to.deep.equal([
      'CONFIG_GONE (wanted y, got n)',
      'CONFIG_S (wanted "panic_on_warn=1", got "")',
      'CONFIG_X (wanted n, got y)',
    ]);
    expect(missingOptions(want, 'CONFIG_A=y\nCONFIG_S="panic_on_warn=1"\n')).to.deep.equal([
      'CONFIG_GONE (wanted y, got nothing: no such option here)',
    ]);
  });

  it('vm-images/config: the profiles have what issue 9 asks for', () => {
    const has = (profile: 'coverage' | 'debug', name: string, value = 'y') =>
      expect(
        parseFragment(profileFragment(profile)).some((o) => o.name === `CONFIG_${name}` && o.value === value),
        `${profile}: CONFIG_${name}=${value}`,
      ).to.equal(true);
    for (const p of ['coverage', 'debug'] as const)
      for (const n of [
        '64BIT',
        'SERIAL_8250_CONSOLE',
        'BLK_DEV_INITRD',
        'VIRTIO_PCI',
        'VIRTIO_BLK',
        'VIRTIO_CONSOLE',
        'TMPFS',
        'EXT4_FS',
        'XFS_FS',
        'BTRFS_FS',
        'AIO',
        'IO_URING',
        'NAMESPACES',
        'TIME_NS',
        'NET',
        'UNIX',
        'INET',
        'DEBUG_FS',
        'PVH',
        'KCOV',
      ])
        has(p, n);
    has('coverage', 'GCOV_KERNEL');
    has('coverage', 'GCOV_PROFILE_ALL', 'n');
    for (const n of [
      'KASAN',
      'KASAN_INLINE',
      'PROVE_LOCKING',
      'DEBUG_ATOMIC_SLEEP',
      'DETECT_HUNG_TASK',
      'SOFTLOCKUP_DETECTOR',
    ])
      has('debug', n);
    has('debug', 'CMDLINE', '"panic_on_warn=1"');
  });

  it('rejects an unknown profile in one line', async () => {
    expect(await usageError(() => profileFragment('fast' as 'debug'))).to.equal(
      "unknown profile 'fast' (coverage, debug)",
    );
  });
});

describe('vm/build: the cache key and gcov make variables', () => {
  const frag = profileFragment('coverage');
  const vars = ['GCOV_PROFILE_aio.o=y'];

  it('is stable, and ignores comments and blank lines', () => {
    const k = buildKey('linux-source-6.12 6.12.117-1~deb12u1', frag, vars);
    expect(k).to.match(/^[0-9a-f]{16}$/);
    expect(buildKey('linux-source-6.12 6.12.117-1~deb12u1', frag, vars)).to.equal(k);
    expect(buildKey('linux-source-6.12 6.12.117-1~deb12u1', `# note\n\n${frag}\n\n`, vars)).to.equal(k);
  });

  it('changes with the source version, any option, and the make variables', () => {
    const k = buildKey('linux-source-6.12 6.12.117-1~deb12u1', frag, vars);
    expect(buildKey('linux-source-6.12 6.12.118-1~deb12u1', frag, vars)).not.to.equal(k);
    expect(buildKey('linux-source-6.12 6.12.117-1~deb12u1', frag + '\nCONFIG_EXTRA=y\n', vars)).not.to.equal(k);
    expect(
      buildKey('linux-source-6.12 6.12.117-1~deb12u1', frag.replace('CONFIG_KCOV=y', '# CONFIG_KCOV is not set'), vars),
    ).not.to.equal(k);
    expect(buildKey('linux-source-6.12 6.12.117-1~deb12u1', frag, [])).not.to.equal(k);
  });

  it('instruments each io_uring/*.c and fs/aio.c for coverage, nothing for debug', () => {
    const tree = fs.mkdtempSync(path.join(os.tmpdir(), 'kasync-tree-'));
    try {
      fs.mkdirSync(path.join(tree, 'io_uring'));
      for (const f of ['rw.c', 'io-wq.c', 'io_uring.h', 'Makefile'])
        fs.writeFileSync(path.join(tree, 'io_uring', f), '');
      expect(gcovMakeVars(tree, 'coverage')).to.deep.equal([
        'GCOV_PROFILE_aio.o=y',
        'GCOV_PROFILE_io-wq.o=y',
        'GCOV_PROFILE_rw.o=y',
      ]);
      expect(gcovMakeVars(tree, 'debug')).to.deep.equal([]);
    } finally {
      fs.rmSync(tree, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------------------------------------------
// The pipeline on a fake tree.

/** A fake kernel tree: kbuild's O= convention, tinyconfig, an olddefconfig that drops what has no "Kconfig", bzImage. */
function fakeTree(dir: string, release: string): void {
  fs.mkdirSync(path.join(dir, 'io_uring'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'io_uring', 'rw.c'), '');
  const b = Buffer.alloc(0x2000);
  b.write('HdrS', 0x202, 'latin1');
  b.writeUInt16LE(0x600, 0x20e);
  b.write(`${release} (t@example.org) #1\0`, 0x800, 'latin1');
  fs.writeFileSync(path.join(dir, 'fake-bzImage'), b);
  // only options listed in fake-Kconfig survive olddefconfig, like Kconfig drops unknown symbols
  fs.writeFileSync(path.join(dir, 'fake-Kconfig'), 'CONFIG_A\nCONFIG_B\nCONFIG_64BIT\n');
  fs.writeFileSync(
    path.join(dir, 'Makefile'),
    [
      'VERSION = 6',
      'PATCHLEVEL = 99',
      'SUBLEVEL = 1',
      'EXTRAVERSION = -fake',
      'tinyconfig:',
      "\tprintf '# CONFIG_64BIT is not set\\nCONFIG_A=y\\n' > $(O)/.config",
      'olddefconfig:',
      '\tgrep -E "^(# )?($$(paste -sd\'|\' $(CURDIR)/fake-Kconfig))[= ]" $(O)/.config > $(O)/.config.new; mv $(O)/.config.new $(O)/.config',
      'bzImage:',
      '\tmkdir -p $(O)/arch/x86/boot',
      '\techo "  CC      io_uring/rw.o"',
      '\techo "$(GCOV_PROFILE_rw.o)" > $(O)/gcov-var',
      '\techo build >> $(O)/builds',
      '\tcp $(CURDIR)/fake-bzImage $(O)/arch/x86/boot/bzImage',
      '',
    ].join('\n'),
  );
}

/** Lists every file under dir (to show a tree was not written). */
function listing(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(`${path.relative(dir, p)} ${fs.statSync(p).size}`);
    }
  };
  walk(dir);
  return out.sort();
}

/** `linux-source-6.12` as a real .deb holding the fake tree as usr/src/linux-source-6.12.tar.xz. */
function fakeSourceDeb(work: string, version: string): { deb: string; source: PackageSource; downloads: () => number } {
  const pkgRoot = path.join(work, 'pkg');
  const tree = path.join(work, 'linux-source-6.12');
  fakeTree(tree, '6.99.1-fake');
  fs.mkdirSync(path.join(pkgRoot, 'DEBIAN'), { recursive: true });
  fs.mkdirSync(path.join(pkgRoot, 'usr', 'src'), { recursive: true });
  fs.writeFileSync(
    path.join(pkgRoot, 'DEBIAN', 'control'),
    `Package: linux-source-6.12\nVersion: ${version}\nArchitecture: all\nMaintainer: t <t@example.org>\nDescription: fake\n`,
  );
  execFileSync(
    'tar',
    ['cJf', path.join(pkgRoot, 'usr', 'src', 'linux-source-6.12.tar.xz'), '-C', work, 'linux-source-6.12'],
    { timeout: 60_000 },
  );
  const deb = path.join(work, 'linux-source-6.12.deb');
  execFileSync('dpkg-deb', ['--build', '--root-owner-group', pkgRoot, deb], { timeout: 60_000, stdio: 'ignore' });
  let downloads = 0;
  const offer: PackageOffer = { package: 'linux-source-6.12', version };
  const source: PackageSource = {
    offers: async (re) => (re.test(offer.package) ? [offer] : []),
    describe: async () => ({ sha256: await sha256File(deb), size: fs.statSync(deb).size }),
    download: async (_o, dir) => {
      downloads++;
      const to = path.join(dir, `linux-source-6.12_${version}_all.deb`);
      fs.copyFileSync(deb, to);
      return to;
    },
  };
  return { deb, source, downloads: () => downloads };
}

describe('vm/build: building a fake tree', function () {
  this.timeout(120_000);
  let tmp: string;
  let configDir: string;
  beforeEach(function () {
    const missing = missingBuildTools();
    if (missing.length) {
      this.test!.title += ` (skipped: missing ${missing.join(', ')})`;
      this.skip();
    }
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kasync-build-'));
    configDir = path.join(tmp, 'config');
    fs.mkdirSync(configDir);
    fs.writeFileSync(path.join(configDir, 'base.config'), 'CONFIG_64BIT=y\nCONFIG_A=y\n');
    fs.writeFileSync(path.join(configDir, 'coverage.config'), 'CONFIG_B=y\n');
    fs.writeFileSync(path.join(configDir, 'debug.config'), 'CONFIG_B=y\nCONFIG_NO_SUCH_OPTION=y\n');
  });
  afterEach(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('a required option the config loses is an error naming it, and no kernel is built', async () => {
    const tree = path.join(tmp, 'tree');
    fakeTree(tree, '6.99.1-fake');
    await withCache(path.join(tmp, 'cache'), async () => {
      const msg = await usageError(
        buildKernel({ spec: 'debian-src:6.12', profile: 'debug', kernelTree: tree, configDir, jobs: 1 }),
      );
      expect(msg).to.match(/lost 1 required option\(s\): CONFIG_NO_SUCH_OPTION \(wanted y, got nothing/);
      // nothing was built, and the directory the attempt made is gone
      expect(fs.readdirSync(path.join(tmp, 'cache', 'builds'))).to.deep.equal([]);
    });
  });

  it('builds a user tree with O= (the tree is not written), passing the gcov variables', async () => {
    const tree = path.join(tmp, 'tree');
    fakeTree(tree, '6.99.1-fake');
    const before = listing(tree);
    await withCache(path.join(tmp, 'cache'), async () => {
      const lines: string[] = [];
      const b = await buildKernel({
        spec: 'x',
        profile: 'coverage',
        kernelTree: tree,
        configDir,
        jobs: 1,
        log: (l) => lines.push(l),
      });
      expect(b.cached).to.equal(false);
      expect(b.record).to.include({
        spec: `tree:${tree}/coverage`,
        profile: 'coverage',
        package: 'tree',
        version: '6.99.1-fake',
        release: '6.99.1-fake',
      });
      expect(fs.readFileSync(path.join(b.dir, 'gcov-var'), 'utf8').trim()).to.equal('y');
      expect(readConfig(fs.readFileSync(path.join(b.dir, '.config'), 'utf8')).get('CONFIG_B')).to.equal('y');
      expect((await buildOfImage(b.bzImage))?.record.spec).to.equal(b.record.spec);
      expect(lines.some((l) => /^built .*bzImage \(6\.99\.1-fake\)/.test(l))).to.equal(true);
    });
    expect(listing(tree)).to.deep.equal(before);
  });

  it('debian-src: downloads, verifies and unpacks once; the second build is a cache hit; --kernel resolves it', async () => {
    const { source, downloads } = fakeSourceDeb(tmp, '6.99.1-1');
    await withCache(path.join(tmp, 'cache'), async () => {
      const first = await buildKernel({ spec: 'debian-src:6.12', profile: 'coverage', source, configDir, jobs: 1 });
      expect(first.cached).to.equal(false);
      expect(first.record).to.include({
        spec: 'debian-src:6.12/coverage',
        package: 'linux-source-6.12',
        version: '6.99.1-1',
      });
      const again = await buildKernel({ spec: 'debian-src:6.12', profile: 'coverage', source, configDir, jobs: 1 });
      expect(again.cached).to.equal(true);
      expect(again.dir).to.equal(first.dir);
      expect(downloads()).to.equal(1);
      expect(fs.readFileSync(path.join(first.dir, 'builds'), 'utf8')).to.equal('build\n');
      const k = await resolveKernel('debian-src:6.12/coverage');
      expect(k).to.include({ release: '6.99.1-fake', vmlinuz: first.bzImage });
      expect(await usageError(resolveBuiltKernel('debian-src:6.12/debug'))).to.equal(
        'debian-src:6.12/debug is not built: run kasync kernels build debian-src:6.12 --profile debug',
      );
      // a damaged image is not a cache hit
      fs.appendFileSync(first.bzImage, 'x');
      const rebuilt = await buildKernel({ spec: 'debian-src:6.12', profile: 'coverage', source, configDir, jobs: 1 });
      expect(rebuilt.cached).to.equal(false);
      expect(fs.readFileSync(path.join(first.dir, 'builds'), 'utf8')).to.equal('build\nbuild\n');
    });
  });

  it('a changed fragment starts from the newest build of the same source and profile, not from scratch', async () => {
    const { source } = fakeSourceDeb(tmp, '6.99.1-1');
    await withCache(path.join(tmp, 'cache'), async () => {
      const first = await buildKernel({ spec: 'debian-src:6.12', profile: 'coverage', source, configDir, jobs: 1 });
      expect(first.record.seededFrom).to.equal(undefined);
      fs.appendFileSync(path.join(configDir, 'coverage.config'), '# CONFIG_A is not set\n');
      const lines: string[] = [];
      const second = await buildKernel({
        spec: 'debian-src:6.12',
        profile: 'coverage',
        source,
        configDir,
        jobs: 1,
        log: (l) => lines.push(l),
      });
      expect(second.dir).to.not.equal(first.dir);
      expect(second.record.seededFrom).to.equal(first.record.configHash);
      expect(lines.some((l) => l.startsWith(`starting from the ${first.record.configHash} build`))).to.equal(true);
      // the fake make appends a line per build: the second dir holds the first build's line and its own
      expect(fs.readFileSync(path.join(second.dir, 'builds'), 'utf8')).to.equal('build\nbuild\n');
      expect(fs.readFileSync(path.join(first.dir, 'builds'), 'utf8')).to.equal('build\n');
      expect(readConfig(fs.readFileSync(path.join(second.dir, '.config'), 'utf8')).get('CONFIG_A')).to.equal('n');
      // another profile never starts from a coverage build
      fs.writeFileSync(path.join(configDir, 'debug.config'), 'CONFIG_B=y\n');
      const debug = await buildKernel({ spec: 'debian-src:6.12', profile: 'debug', source, configDir, jobs: 1 });
      expect(debug.record.seededFrom).to.equal(undefined);
      expect(fs.readFileSync(path.join(debug.dir, 'builds'), 'utf8')).to.equal('build\n');
    });
  });

  it('a corrupt download is refused, and unknown sources and profiles are one-line errors', async () => {
    const { source } = fakeSourceDeb(tmp, '6.99.1-1');
    const bad: PackageSource = { ...source, describe: async () => ({ sha256: '0'.repeat(64), size: 1 }) };
    await withCache(path.join(tmp, 'cache'), async () => {
      expect(
        await usageError(buildKernel({ spec: 'debian-src:6.12', profile: 'coverage', source: bad, configDir })),
      ).to.match(/is corrupt: sha256 [0-9a-f]{12}…, the archive says 000000000000…/);
      expect(
        await usageError(buildKernel({ spec: 'debian-src:5.10', profile: 'coverage', source, configDir })),
      ).to.equal("unknown kernel source 'debian-src:5.10' (debian-src:6.1, debian-src:6.12)");
      expect(await usageError(resolveKernel('debian-src:6.12/fast'))).to.equal(
        "unknown profile 'fast' (coverage, debug)",
      );
    });
  });
});

describe('vm/build: the real fragments', () => {
  it('are where the build reads them', () => {
    for (const f of ['base.config', 'coverage.config', 'debug.config'])
      expect(fs.existsSync(path.join(CONFIG_DIR, f)), f).to.equal(true);
  });
});
