/**
 * `kasync kernels build`: a small VM kernel built from Debian's `linux-source-<series>` package (or a
 * user's tree) with one of the config profiles in vm-images/config/, cached by source version + config
 * hash. The source tree is never written: the build goes to a cache directory through kbuild's `O=`.
 */
import { spawn } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { UsageError } from '../cli/usage';
import { ROOT } from '../paths';
import { findExecutable } from '../tools';
import { aptSource, newestOffer, PackageOffer, PackageSource, readBzImage, renameIntoPlace, runOk, sha256File } from './kernels';
import { cacheDir, KernelImage } from './types';

/** The config profiles: vm-images/config/base.config plus `<profile>.config`. */
export const PROFILES = ['coverage', 'debug'] as const;
/** One of {@link PROFILES}. */
export type Profile = (typeof PROFILES)[number];

/** Where the fragments live. */
export const CONFIG_DIR = path.join(ROOT, 'vm-images', 'config');

/** Debian source series `kasync kernels build` knows: `debian-src:<series>`. */
export const SOURCE_SERIES = ['6.1', '6.12'] as const;

/** Host tools a kernel build needs, and the Debian package of each. */
export const BUILD_TOOLS: Readonly<Record<string, string>> = {
  make: 'make',
  gcc: 'gcc',
  flex: 'flex',
  bison: 'bison',
  bc: 'bc',
  perl: 'perl',
  'dpkg-deb': 'dpkg',
  tar: 'tar',
  xz: 'xz-utils',
};
/** libelf's header, which objtool needs on x86-64. */
export const LIBELF_HEADER = '/usr/include/libelf.h';

/** Bump when the recipe (steps, make variables) changes, so old cache entries are not reused. */
const RECIPE = 1;
const MINUTE = 60_000;
const CONFIG_TIMEOUT_MS = 10 * MINUTE;
const BUILD_TIMEOUT_MS = 6 * 60 * MINUTE;
const UNPACK_TIMEOUT_MS = 20 * MINUTE;

/** What `kasync-build.json` in a build directory records. */
export interface BuildRecord {
  /** `debian-src:6.12/coverage`, or `tree:<dir>/coverage` for a user's tree. */
  spec: string;
  profile: Profile;
  /** Source package and version, or `tree` and the kernel version of a user's tree. */
  package: string;
  version: string;
  /** Absolute path of the source tree. */
  srcDir: string;
  /** `uname -r` of the built kernel. */
  release: string;
  /** The cache key's hash (source identity + fragments + recipe). */
  configHash: string;
  bzImageSha256: string;
  builtAt: string;
  /** Seconds `make bzImage` took. */
  buildSeconds: number;
  /** The cache key of the earlier build this one started from (only what changed was rebuilt). */
  seededFrom?: string;
}

/** A built kernel: the record and where it is. */
export interface BuiltKernel {
  dir: string;
  record: BuildRecord;
  bzImage: string;
}

/** One option of a fragment: `CONFIG_X=y` → { name: 'CONFIG_X', value: 'y' }; `# CONFIG_X is not set` → value 'n'. */
export interface ConfigOption {
  name: string;
  value: string;
}

// ---------------------------------------------------------------------------------------------------
// Fragments.

/** The options of a kconfig fragment, in order (later lines win). */
export function parseFragment(text: string, what = 'fragment'): ConfigOption[] {
  const out: ConfigOption[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line) return;
    const off = /^# (CONFIG_[A-Za-z0-9_]+) is not set$/.exec(line);
    if (off) return out.push({ name: off[1], value: 'n' });
    if (line.startsWith('#')) return;
    const on = /^(CONFIG_[A-Za-z0-9_]+)=(.*)$/.exec(line);
    if (!on) throw new UsageError(`${what}:${i + 1}: not a kconfig line: '${line}'`);
    out.push({ name: on[1], value: on[2] });
  });
  return out;
}

/** The value each option has in a .config (`n` for `# … is not set`); absent options are missing. */
export function readConfig(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const o of parseFragment(text.replace(/^#(?! CONFIG_\w+ is not set$).*$/gm, ''))) m.set(o.name, o.value);
  return m;
}

/** `.config` text with the fragment's options set (replacing their lines, or appended). */
export function applyFragment(config: string, options: readonly ConfigOption[]): string {
  const want = new Map(options.map((o) => [o.name, o.value]));
  const lineOf = (name: string, value: string) => (value === 'n' ? `# ${name} is not set` : `${name}=${value}`);
  const kept = config.split('\n').filter((l) => {
    const name = /^(?:# )?(CONFIG_[A-Za-z0-9_]+)[= ]/.exec(l)?.[1];
    return !name || !want.has(name);
  });
  while (kept.length && kept[kept.length - 1] === '') kept.pop();
  return [...kept, ...[...want].map(([n, v]) => lineOf(n, v)), ''].join('\n');
}

/** Options of the fragment whose value the final .config does not have: `CONFIG_X (wanted y, got n)`. */
export function missingOptions(options: readonly ConfigOption[], config: string): string[] {
  const have = readConfig(config);
  const want = new Map(options.map((o) => [o.name, o.value]));
  const out: string[] = [];
  for (const [name, value] of want) {
    const got = have.get(name) ?? 'n';
    if (got !== value)
      out.push(`${name} (wanted ${value}, got ${have.has(name) ? got : 'nothing: no such option here'})`);
  }
  return out;
}

/** The fragment text of a profile: base.config then `<profile>.config`. */
export function profileFragment(profile: Profile, dir = CONFIG_DIR): string {
  if (!PROFILES.includes(profile)) throw new UsageError(`unknown profile '${profile}' (${PROFILES.join(', ')})`);
  return ['base', profile].map((n) => fs.readFileSync(path.join(dir, `${n}.config`), 'utf8')).join('\n');
}

/**
 * make variables that turn gcov on for io_uring/*.c and fs/aio.c only, without editing the tree:
 * kbuild reads `GCOV_PROFILE_<stem>.o` per object, and command-line variables reach every sub-make.
 * An object elsewhere with the same stem (fs/sync.o for io_uring/sync.c) is instrumented too; the
 * report only reads io_uring/ and fs/aio.c.
 */
export function gcovMakeVars(srcDir: string, profile: Profile): string[] {
  if (profile !== 'coverage') return [];
  const uring = fs.existsSync(path.join(srcDir, 'io_uring')) ? fs.readdirSync(path.join(srcDir, 'io_uring')) : [];
  const stems = uring.filter((f) => f.endsWith('.c')).map((f) => f.slice(0, -2));
  return [...new Set([...stems, 'aio'])].sort().map((s) => `GCOV_PROFILE_${s}.o=y`);
}

/** The cache key: what was built from (source identity), with what (fragment, make vars) and how (recipe). */
export function buildKey(sourceId: string, fragment: string, makeVars: readonly string[]): string {
  const canon = parseFragment(fragment)
    .map((o) => `${o.name}=${o.value}`)
    .join('\n');
  return crypto
    .createHash('sha256')
    .update(`recipe ${RECIPE}\0${sourceId}\0${canon}\0${makeVars.join(' ')}`)
    .digest('hex')
    .slice(0, 16);
}

// ---------------------------------------------------------------------------------------------------
// Tools and processes.

/** Missing build tools as `tool (apt-get install pkg)`, empty when all are there. */
export function missingBuildTools(): string[] {
  const out = Object.entries(BUILD_TOOLS)
    .filter(([t]) => !findExecutable(t))
    .map(([t, p]) => `${t} (apt-get install ${p})`);
  if (!fs.existsSync(LIBELF_HEADER)) out.push('libelf.h (apt-get install libelf-dev)');
  return out;
}

/**
 * Runs `make` with a deadline, every output line to `logFile`, and each line to `onLine`. Rejects
 * with the last error-looking line on failure.
 */
export function runMake(
  args: string[],
  opts: { cwd: string; logFile: string; timeoutMs: number; onLine?: (l: string) => void },
): Promise<void> {
  const make = findExecutable('make');
  if (!make) throw new UsageError('make not found (apt-get install make)');
  const log = fs.openSync(opts.logFile, 'a');
  fs.writeSync(log, `$ make ${args.join(' ')}\n`);
  return new Promise((resolve, reject) => {
    const child = spawn(make, args, {
      cwd: opts.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      env: { ...process.env, LC_ALL: 'C' },
    });
    const lastErrors: string[] = [];
    let partial = '';
    const onData = (d: Buffer) => {
      fs.writeSync(log, d);
      const lines = (partial + d.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) {
        if (/error|\*\*\*|not found|No such/i.test(l)) lastErrors.push(l.trim());
        if (lastErrors.length > 5) lastErrors.shift();
        opts.onLine?.(l);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    const killGroup = () => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    };
    // a build we started must not outlive us
    process.once('exit', killGroup);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, opts.timeoutMs);
    child.on('error', (e) => reject(new UsageError(`cannot run make: ${e.message}`)));
    child.on('close', (code, sig) => {
      clearTimeout(timer);
      process.removeListener('exit', killGroup);
      fs.closeSync(log);
      if (timedOut)
        reject(
          new UsageError(
            `make ${args[args.length - 1]} took longer than ${opts.timeoutMs / MINUTE} min and was killed (log: ${opts.logFile})`,
          ),
        );
      else if (code === 0) resolve();
      else
        reject(
          new UsageError(
            `make ${args.filter((a) => !a.includes('=')).join(' ')} failed (${sig ?? `exit ${code}`}): ` +
              `${lastErrors[lastErrors.length - 1] ?? 'see the log'} (log: ${opts.logFile})`,
          ),
        );
    });
  });
}

// ---------------------------------------------------------------------------------------------------
// Sources.

/** `sources/` in the cache: one unpacked Debian source package per directory. */
export function sourcesDir(): string {
  return path.join(cacheDir(), 'sources');
}

/** `builds/` in the cache: one kbuild output directory per (source, profile, key). */
export function buildsDir(): string {
  return path.join(cacheDir(), 'builds');
}

/** `debian-src:6.12` → '6.12'; UsageError naming the known ones otherwise. */
export function seriesOf(spec: string): string {
  const m = /^debian-src:(.+)$/.exec(spec);
  if (!m || !(SOURCE_SERIES as readonly string[]).includes(m[1]))
    throw new UsageError(`unknown kernel source '${spec}' (${SOURCE_SERIES.map((s) => `debian-src:${s}`).join(', ')})`);
  return m[1];
}

/** The unpacked tree of a Debian source package (downloaded, verified and unpacked once). */
export async function debianSource(
  series: string,
  source: PackageSource,
  log: (l: string) => void,
): Promise<{ offer: PackageOffer; srcDir: string }> {
  const pkg = `linux-source-${series}`;
  const offer = newestOffer(await source.offers(new RegExp(`^${pkg.replace(/\./g, '\\.')}$`)));
  if (!offer)
    throw new UsageError(`apt knows no ${pkg} package (is deb.debian.org's bookworm-security in sources.list?)`);
  const dir = path.join(sourcesDir(), `${offer.package}_${offer.version.replace(/:/g, '%3a')}`);
  const srcDir = path.join(dir, pkg);
  if (fs.existsSync(path.join(dir, 'source.json'))) return { offer, srcDir };
  fs.mkdirSync(sourcesDir(), { recursive: true });
  const staging = fs.mkdtempSync(path.join(sourcesDir(), `.staging-${process.pid}-`));
  try {
    const { sha256, size } = await source.describe(offer);
    log(`fetching ${offer.package} ${offer.version} (${Math.round(size / 1e6)} MB)…`);
    const deb = await source.download(offer, staging);
    const got = await sha256File(deb);
    if (got !== sha256)
      throw new UsageError(
        `${path.basename(deb)} is corrupt: sha256 ${got.slice(0, 12)}…, the archive says ${sha256.slice(0, 12)}…`,
      );
    const debDir = path.join(staging, 'deb');
    await runOk('dpkg-deb', ['-x', deb, debDir], { timeoutMs: UNPACK_TIMEOUT_MS });
    fs.rmSync(deb);
    const tarball = fs.readdirSync(path.join(debDir, 'usr', 'src')).find((f) => f.startsWith(`${pkg}.tar`));
    if (!tarball) throw new UsageError(`${offer.package} has no usr/src/${pkg}.tar.*`);
    log(`unpacking ${tarball}…`);
    const tarArgs = ['xf', path.join(debDir, 'usr', 'src', tarball), '-C', staging];
    await runOk('tar', tarArgs, { timeoutMs: UNPACK_TIMEOUT_MS });
    fs.rmSync(debDir, { recursive: true, force: true });
    if (!fs.existsSync(path.join(staging, pkg, 'Makefile'))) throw new UsageError(`${tarball} has no ${pkg}/Makefile`);
    fs.writeFileSync(
      path.join(staging, 'source.json'),
      JSON.stringify(
        { package: offer.package, version: offer.version, debSha256: got, unpackedAt: new Date().toISOString() },
        null,
        2,
      ) + '\n',
    );
    if (!renameIntoPlace(staging, dir)) log(`another kasync unpacked ${offer.package} first; using its copy`);
    log(`unpacked to ${srcDir}`);
    return { offer, srcDir };
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------
// Building.

/** Options of {@link buildKernel}. */
export interface BuildOptions {
  /** `debian-src:6.12`, or ignored with `kernelTree`. */
  spec: string;
  profile: Profile;
  /** A user's kernel source tree, used instead of Debian's (never written: the build uses O=). */
  kernelTree?: string;
  /** make -j (default: the number of CPUs). */
  jobs?: number;
  log?: (line: string) => void;
  /** Debian packages (tests pass a fake). */
  source?: PackageSource;
  /** Where the fragments are (tests pass a fixture directory). */
  configDir?: string;
}

/** The build dir's record if it is complete and its bzImage intact. */
export async function checkBuild(dir: string): Promise<BuiltKernel | undefined> {
  let record: BuildRecord;
  try {
    record = JSON.parse(fs.readFileSync(path.join(dir, 'kasync-build.json'), 'utf8')) as BuildRecord;
  } catch {
    return undefined;
  }
  const bzImage = path.join(dir, 'arch', 'x86', 'boot', 'bzImage');
  if (!fs.existsSync(bzImage) || (await sha256File(bzImage)) !== record.bzImageSha256) return undefined;
  return { dir, record, bzImage };
}

/** The kernel version a tree's Makefile says (`make -s kernelversion` without running make). */
export function treeVersion(srcDir: string): string {
  let mk: string;
  try {
    mk = fs.readFileSync(path.join(srcDir, 'Makefile'), 'utf8');
  } catch {
    throw new UsageError(`${srcDir} is not a kernel source tree (no Makefile)`);
  }
  const v = (k: string) => new RegExp(`^${k}\\s*=\\s*(\\S*)`, 'm').exec(mk)?.[1];
  if (v('VERSION') === undefined || v('PATCHLEVEL') === undefined)
    throw new UsageError(`${srcDir} is not a kernel source tree (its Makefile has no VERSION/PATCHLEVEL)`);
  return `${v('VERSION')}.${v('PATCHLEVEL')}.${v('SUBLEVEL') ?? 0}${v('EXTRAVERSION') ?? ''}`;
}

/** Builds (or finds in the cache) a kernel of `profile`; progress lines go to `log`. */
export async function buildKernel(o: BuildOptions): Promise<BuiltKernel & { cached: boolean }> {
  const log = o.log ?? (() => undefined);
  const missing = missingBuildTools();
  if (missing.length) throw new UsageError(`cannot build kernels: missing ${missing.join(', ')}`);
  const fragment = profileFragment(o.profile, o.configDir);
  const options = parseFragment(fragment);
  let srcDir: string;
  let pkg: string;
  let version: string;
  let spec: string;
  let sourceId: string;
  if (o.kernelTree) {
    srcDir = path.resolve(o.kernelTree);
    pkg = 'tree';
    version = treeVersion(srcDir);
    spec = `tree:${srcDir}/${o.profile}`;
    sourceId = `tree ${srcDir}`;
  } else {
    const series = seriesOf(o.spec);
    const src = await debianSource(series, o.source ?? aptSource(log), log);
    srcDir = src.srcDir;
    pkg = src.offer.package;
    version = src.offer.version;
    spec = `debian-src:${series}/${o.profile}`;
    sourceId = `${pkg} ${version}`;
  }
  const makeVars = gcovMakeVars(srcDir, o.profile);
  const key = buildKey(sourceId, fragment, makeVars);
  const name = o.kernelTree ? `tree-${path.basename(srcDir)}` : `${pkg}_${version.replace(/:/g, '%3a')}`;
  const dir = path.join(buildsDir(), `${name}-${o.profile}-${key}`);
  // A user's tree may have changed since: make decides what is stale. A Debian version never changes.
  if (!o.kernelTree) {
    const hit = await checkBuild(dir);
    if (hit) {
      log(`cached: ${hit.bzImage} (${hit.record.release}, built ${hit.record.builtAt})`);
      return { ...hit, cached: true };
    }
  }
  // A new key (a changed fragment) starts from the newest build of the same source and profile: kbuild
  // tracks which objects each option touches, so only those are rebuilt.
  const fresh = !fs.existsSync(path.join(dir, '.config'));
  const seed = fresh ? await seedBuild(name, o.profile, dir) : undefined;
  fs.mkdirSync(dir, { recursive: true });
  if (seed) {
    log(`starting from the ${seed.record.configHash} build of the same source (make rebuilds what the change touches)`);
    await runOk('cp', ['-a', '--reflink=auto', `${seed.dir}/.`, dir], { timeoutMs: UNPACK_TIMEOUT_MS });
    fs.rmSync(path.join(dir, 'kasync-build.log'), { force: true });
  }
  fs.rmSync(path.join(dir, 'kasync-build.json'), { force: true });
  const logFile = path.join(dir, 'kasync-build.log');
  const jobs = o.jobs ?? os.cpus().length;
  const make = (args: string[], timeoutMs: number, onLine?: (l: string) => void) =>
    runMake(['-C', srcDir, `O=${dir}`, ...args], { cwd: dir, logFile, timeoutMs, onLine });

  log(`configuring ${spec} in ${dir} (log: ${logFile})`);
  await make(['tinyconfig'], CONFIG_TIMEOUT_MS);
  // tinyconfig is 32-bit; options under 64BIT only exist once it is on: apply, resolve, apply, resolve
  for (let pass = 0; pass < 2; pass++) {
    const cfg = path.join(dir, '.config');
    fs.writeFileSync(cfg, applyFragment(fs.readFileSync(cfg, 'utf8'), options));
    await make(['olddefconfig'], CONFIG_TIMEOUT_MS);
  }
  const lost = missingOptions(options, fs.readFileSync(path.join(dir, '.config'), 'utf8'));
  if (lost.length) {
    // nothing was built: a directory this run made (perhaps a copy of a whole earlier build) goes again
    if (fresh) fs.rmSync(dir, { recursive: true, force: true });
    throw new UsageError(
      `the ${o.profile} config of ${spec} lost ${lost.length} required option(s): ${lost.join(', ')}`,
    );
  }

  log(`building bzImage with make -j${jobs}${makeVars.length ? ` (gcov on ${makeVars.length} objects)` : ''}…`);
  const t0 = Date.now();
  let compiled = 0;
  let last = '';
  let lastReport = Date.now();
  await make([`-j${jobs}`, ...makeVars, 'bzImage'], BUILD_TIMEOUT_MS, (l) => {
    const m = /^\s+(CC|AS|LD|AR)\s+(\S+)/.exec(l);
    if (!m) return;
    compiled++;
    last = `${m[1]} ${m[2]}`;
    if (Date.now() - lastReport >= 30_000) {
      lastReport = Date.now();
      log(`  ${Math.round((Date.now() - t0) / 1000)} s: ${compiled} steps done, now ${last}`);
    }
  });
  const buildSeconds = Math.round((Date.now() - t0) / 1000);
  const bzImage = path.join(dir, 'arch', 'x86', 'boot', 'bzImage');
  const release = readBzImage(bzImage).release;
  if (!release) throw new UsageError(`${bzImage} has no version string`);
  const record: BuildRecord = {
    spec,
    profile: o.profile,
    package: pkg,
    version,
    srcDir,
    release,
    configHash: key,
    bzImageSha256: await sha256File(bzImage),
    builtAt: new Date().toISOString(),
    buildSeconds,
    ...(seed ? { seededFrom: seed.record.configHash } : {}),
  };
  fs.writeFileSync(path.join(dir, 'kasync-build.json'), JSON.stringify(record, null, 2) + '\n');
  log(`built ${bzImage} (${release}) in ${buildSeconds} s`);
  return { dir, record, bzImage, cached: false };
}

/** The newest complete build named `<name>-<profile>-<other key>`, to start a new key's build from. */
async function seedBuild(name: string, profile: Profile, dir: string): Promise<BuiltKernel | undefined> {
  const prefix = `${name}-${profile}-`;
  const same = (await listBuilds()).filter((b) => path.basename(b.dir).startsWith(prefix) && b.dir !== dir);
  return same.sort((a, b) => b.record.builtAt.localeCompare(a.record.builtAt))[0];
}

// ---------------------------------------------------------------------------------------------------
// The catalogue side: `--kernel debian-src:6.12/coverage`.

/** Every complete build in the cache. */
export async function listBuilds(): Promise<BuiltKernel[]> {
  let names: string[] = [];
  try {
    names = fs.readdirSync(buildsDir()).filter((n) => !n.startsWith('.'));
  } catch {
    return [];
  }
  const out: BuiltKernel[] = [];
  for (const n of names.sort()) {
    const b = await checkBuild(path.join(buildsDir(), n));
    if (b) out.push(b);
  }
  return out;
}

/** The build a bzImage path belongs to (`<build>/arch/x86/boot/bzImage`), if kasync built it. */
export async function buildOfImage(vmlinuz: string): Promise<BuiltKernel | undefined> {
  return checkBuild(path.resolve(vmlinuz, '..', '..', '..', '..'));
}

/** `debian-src:6.12/coverage` → the newest cached build of it, as a bootable image. */
export async function resolveBuiltKernel(spec: string): Promise<KernelImage> {
  const m = /^(debian-src:[^/]+)\/(.+)$/.exec(spec);
  if (!m) throw new UsageError(`'${spec}' names no build: use debian-src:<series>/<profile> (${PROFILES.join(', ')})`);
  seriesOf(m[1]);
  if (!(PROFILES as readonly string[]).includes(m[2]))
    throw new UsageError(`unknown profile '${m[2]}' (${PROFILES.join(', ')})`);
  const builds = (await listBuilds()).filter((b) => b.record.spec === spec);
  if (builds.length === 0)
    throw new UsageError(`${spec} is not built: run kasync kernels build ${m[1]} --profile ${m[2]}`);
  // the newest source version; of one version (fragments changed since), the latest build
  const best = builds.reduce((a, b) =>
    a.record.version === b.record.version
      ? b.record.builtAt > a.record.builtAt
        ? b
        : a
      : newestOffer([a.record, b.record]) === b.record
        ? b
        : a,
  );
  const config = path.join(best.dir, '.config');
  return {
    spec,
    release: best.record.release,
    vmlinuz: best.bzImage,
    config: fs.existsSync(config) ? config : undefined,
  };
}
