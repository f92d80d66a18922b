/** The module resolver: which .ko files an initramfs loads, in what order, from depmod's text files. */
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { UsageError } from '../src/cli/usage';
import { resolveKernel } from '../src/vm/kernels';
import { BASE_MODULES, FS_MODULES, moduleName, resolveModules } from '../src/vm/modules';

interface Tree {
  dep: string[];
  builtin?: string[];
  softdep?: string[];
  alias?: string[];
  /** modules.dep entries whose file is not created. */
  absent?: string[];
}

/** Writes a synthetic lib/modules/<release> tree: depmod's text files plus empty module files. */
function writeTree(root: string, release: string, t: Tree): string {
  const dir = path.join(root, release);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'modules.dep'), t.dep.join('\n') + '\n');
  fs.writeFileSync(path.join(dir, 'modules.builtin'), (t.builtin ?? []).join('\n') + '\n');
  fs.writeFileSync(
    path.join(dir, 'modules.softdep'),
    ['# Soft dependencies extracted from modules themselves.', ...(t.softdep ?? [])].join('\n') + '\n',
  );
  fs.writeFileSync(
    path.join(dir, 'modules.alias'),
    ['# Aliases extracted from modules themselves.', ...(t.alias ?? [])].join('\n') + '\n',
  );
  for (const line of t.dep) {
    const file = line.split(':')[0];
    if (t.absent?.includes(file)) continue;
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), '');
  }
  return dir;
}

const names = (load: string[]) => load.map(moduleName);

async function expectUsageError(p: Promise<unknown>): Promise<UsageError> {
  try {
    await p;
  } catch (e) {
    expect(e).to.be.instanceOf(UsageError);
    expect((e as Error).message).not.to.include('\n');
    return e as UsageError;
  }
  throw new Error('expected a UsageError');
}

describe('vm/modules: resolveModules on synthetic trees', () => {
  let tmp: string;
  before(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kasync-modules-'))));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('loads dependencies before the module, recursively, each once', async () => {
    const dir = writeTree(tmp, '1.0-deps', {
      dep: [
        'kernel/fs/ext4/ext4.ko.xz: kernel/lib/crc16.ko.xz kernel/fs/mbcache.ko.xz kernel/fs/jbd2/jbd2.ko.xz',
        'kernel/lib/crc16.ko.xz:',
        'kernel/fs/mbcache.ko.xz:',
        'kernel/fs/jbd2/jbd2.ko.xz: kernel/fs/mbcache.ko.xz',
        'kernel/drivers/block/virtio_blk.ko.xz: kernel/drivers/virtio/virtio.ko.xz ' +
          'kernel/drivers/virtio/virtio_ring.ko.xz',
        'kernel/drivers/virtio/virtio.ko.xz: kernel/drivers/virtio/virtio_ring.ko.xz',
        'kernel/drivers/virtio/virtio_ring.ko.xz:',
      ],
    });
    const plan = await resolveModules(dir, ['ext4', 'virtio_blk', 'jbd2']);
    const order = names(plan.load);
    expect(order).to.have.members(['crc16', 'mbcache', 'jbd2', 'ext4', 'virtio_ring', 'virtio', 'virtio_blk']);
    expect(order).to.have.length(7);
    const before = (a: string, b: string) =>
      expect(order.indexOf(a), `${a} before ${b} in ${order}`).to.be.lessThan(order.indexOf(b));
    before('mbcache', 'jbd2');
    before('jbd2', 'ext4');
    before('crc16', 'ext4');
    before('virtio_ring', 'virtio');
    before('virtio', 'virtio_blk');
    for (const f of plan.load) expect(path.isAbsolute(f) && fs.existsSync(f), f).to.equal(true);
    expect(plan.builtin).to.deep.equal([]);
  });

  it('needs nothing for a built-in module and reports it as built in', async () => {
    const dir = writeTree(tmp, '1.0-builtin', {
      dep: ['kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio.ko', 'kernel/drivers/virtio/virtio.ko:'],
      builtin: ['kernel/drivers/virtio/virtio_pci.ko', 'kernel/drivers/char/virtio_console.ko'],
    });
    const plan = await resolveModules(dir, ['virtio_pci', 'virtio_console', 'virtio_blk']);
    expect(plan.builtin).to.deep.equal(['virtio_pci', 'virtio_console']);
    expect(names(plan.load)).to.deep.equal(['virtio', 'virtio_blk']);
  });

  it('loads a pre-softdep through modules.alias, preferring *_generic, before the module', async () => {
    const dir = writeTree(tmp, '1.0-softdep', {
      dep: [
        'kernel/fs/jbd2/jbd2.ko.zst:',
        'kernel/arch/x86/crypto/crc32c-intel.ko.zst:',
        'kernel/crypto/crc32c_generic.ko.zst:',
        'kernel/fs/tail.ko.zst:',
      ],
      softdep: ['softdep jbd2 pre: crypto-crc32c post: tail', 'softdep jbd2 pre: no-such-alias'],
      alias: [
        'alias crypto-crc32c crc32c_intel',
        'alias crc32c crc32c_intel',
        'alias crypto-crc32c crc32c_generic',
        'alias crc32c crc32c_generic',
      ],
    });
    const plan = await resolveModules(dir, ['jbd2']);
    expect(names(plan.load)).to.deep.equal(['crc32c_generic', 'jbd2', 'tail']);
  });

  it('takes the first alias target when none is *_generic, and loads nothing when a built-in provides it', async () => {
    const dir = writeTree(tmp, '1.0-alias', {
      dep: [
        'kernel/fs/a.ko:',
        'kernel/fs/b.ko:',
        'kernel/lib/impl_one.ko:',
        'kernel/lib/impl_two.ko:',
        'kernel/lib/hw.ko:',
      ],
      builtin: ['kernel/crypto/sha256_generic.ko'],
      softdep: ['softdep a pre: algo', 'softdep b pre: sha256'],
      alias: ['alias algo impl_two', 'alias algo impl_one', 'alias sha256 sha256_generic', 'alias sha256 hw'],
    });
    expect(names((await resolveModules(dir, ['a'])).load)).to.deep.equal(['impl_two', 'a']);
    expect(names((await resolveModules(dir, ['b'])).load)).to.deep.equal(['b']);
  });

  it('treats - and _ alike in wanted names, dependencies and softdeps', async () => {
    const dir = writeTree(tmp, '1.0-dash', {
      dep: [
        'kernel/drivers/virtio/virtio-pci.ko: kernel/drivers/virtio/virtio_pci_modern_dev.ko',
        'kernel/drivers/virtio/virtio_pci_modern_dev.ko:',
        'kernel/lib/x_y.ko:',
      ],
      softdep: ['softdep virtio_pci pre: x-y'],
      builtin: ['kernel/drivers/char/virtio_console.ko'],
    });
    const plan = await resolveModules(dir, ['virtio-pci', 'virtio_pci', 'virtio-console']);
    expect(names(plan.load)).to.deep.equal(['x_y', 'virtio_pci_modern_dev', 'virtio_pci']);
    expect(plan.builtin).to.deep.equal(['virtio_console']);
  });

  it('ends on cycles in softdeps and dependencies', async () => {
    const dir = writeTree(tmp, '1.0-cycle', {
      dep: ['kernel/a.ko: kernel/b.ko', 'kernel/b.ko: kernel/a.ko', 'kernel/c.ko:'],
      softdep: ['softdep c pre: c post: a', 'softdep a pre: c'],
    });
    const plan = await resolveModules(dir, ['a', 'c']);
    expect(names(plan.load)).to.have.members(['a', 'b', 'c']);
    expect(plan.load).to.have.length(3);
  });

  it('names the module and the release when a wanted module is missing', async () => {
    const dir = writeTree(tmp, '9.9.9-missing', { dep: ['kernel/a.ko:'] });
    const e = await expectUsageError(resolveModules(dir, ['a', 'xfs']));
    expect(e.message)
      .to.match(/xfs/)
      .and.to.match(/9\.9\.9-missing/);
  });

  it('rejects a tree without modules.dep and a module file that depmod listed but is gone', async () => {
    const empty = path.join(tmp, '2.0-nodep');
    fs.mkdirSync(empty);
    expect((await expectUsageError(resolveModules(empty, ['a']))).message).to.match(/modules\.dep/);
    const dir = writeTree(tmp, '2.0-absent', {
      dep: ['kernel/a.ko: kernel/b.ko', 'kernel/b.ko:'],
      absent: ['kernel/b.ko'],
    });
    expect((await expectUsageError(resolveModules(dir, ['a']))).message).to.match(/module b .*missing/);
  });
});

describe('vm/modules: plans for real Debian kernels', function () {
  // The first run downloads ~100 MB per kernel into the shared cache, which later runs and CI reuse.
  this.timeout(20 * 60_000);
  const aptPresent = ['/usr/bin/apt-cache', '/bin/apt-cache'].some((p) => fs.existsSync(p));

  it('6.12: virtio_pci and virtio_console built in; crc32c_generic before jbd2 before ext4', async function () {
    if (!aptPresent) this.skip(); // needs apt (a Debian host) to fetch the kernel
    const k = await resolveKernel('debian:6.12');
    const plan = await resolveModules(k.modulesDir!, [...BASE_MODULES, ...FS_MODULES.ext4]);
    const order = names(plan.load);
    expect(plan.builtin).to.include('virtio_pci');
    expect(order).not.to.include('virtio_pci');
    for (const m of ['crc32c_generic', 'jbd2', 'ext4', 'virtio_blk']) expect(order).to.include(m);
    expect(order.indexOf('crc32c_generic')).to.be.lessThan(order.indexOf('jbd2'));
    expect(order.indexOf('jbd2')).to.be.lessThan(order.indexOf('ext4'));
    for (const f of plan.load) expect(f.startsWith(k.modulesDir! + '/') && fs.existsSync(f), f).to.equal(true);
  });

  it('6.1: virtio_pci is a module loaded after virtio_ring and virtio', async function () {
    if (!aptPresent) this.skip(); // needs apt (a Debian host) to fetch the kernel
    const k = await resolveKernel('debian:6.1');
    const plan = await resolveModules(k.modulesDir!, [...BASE_MODULES, ...FS_MODULES.xfs]);
    const order = names(plan.load);
    for (const m of ['virtio_ring', 'virtio', 'virtio_pci', 'virtio_console', 'virtio_blk', 'xfs'])
      expect(order).to.include(m);
    expect(order.indexOf('virtio_ring')).to.be.lessThan(order.indexOf('virtio'));
    expect(order.indexOf('virtio')).to.be.lessThan(order.indexOf('virtio_pci'));
    expect(plan.builtin).not.to.include('virtio_pci');
  });
});
