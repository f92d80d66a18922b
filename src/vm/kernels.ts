/**
 * The kernel catalogue: `debian:6.1`, `debian:6.12`, `debian:6.12-rt` (the newest Debian package apt
 * offers, fetched once into the cache and verified on every use) and a user's own bzImage with its
 * modules. `host` is the running kernel and needs no VM.
 */
import { spawn } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { UsageError } from '../cli/usage';
import { findExecutable } from '../tools';
import { cacheDir, KernelImage } from './types';

/** Options of {@link resolveKernel}. */
export interface ResolveOptions {
  /** For a path kernel: an `INSTALL_MOD_PATH` or a `lib/modules/<release>` directory. */
  modules?: string;
  /** false: use only the cache, never download (default true). */
  fetch?: boolean;
  /** Progress lines ("fetching …", "unpacked to …"). */
  log?: (line: string) => void;
}

/** A Debian package version apt offers. */
export interface PackageOffer {
  package: string;
  version: string;
}

/** Where Debian kernel packages come from: apt on a real host, a fake in tests. */
export interface PackageSource {
  /** Every package/version known whose name matches `pattern`. */
  offers(pattern: RegExp): Promise<PackageOffer[]>;
  /** The SHA256 and size the archive records for `pkg=version`. */
  describe(offer: PackageOffer): Promise<{ sha256: string; size: number }>;
  /** Downloads `pkg=version` into `dir`; resolves to the .deb's path. */
  download(offer: PackageOffer, dir: string): Promise<string>;
}

/** What `kernel.json` in a cache entry records. */
export interface KernelRecord {
  spec: string;
  package: string;
  version: string;
  release: string;
  debSha256: string;
  vmlinuzSha256: string;
  /** Paths relative to the entry directory. */
  vmlinuz: string;
  config?: string;
  modulesDir: string;
  fetchedAt: string;
}

/** One catalogue name, what apt offers for it and whether that is cached. */
export interface CatalogueListing {
  spec: string;
  /** The newest package apt offers, if any. */
  newest?: PackageOffer;
  /** Why there is no `newest` (apt missing, nothing matches). */
  unavailable?: string;
  /** The cache entry of `newest`, when fetched and intact. */
  cached?: { dir: string; release: string };
}

/** A cache entry (valid or not) found on disk. */
export interface CachedKernel {
  dir: string;
  spec?: string;
  package?: string;
  version?: string;
  release?: string;
  /** Why the entry would be discarded and fetched again, if it would. */
  problem?: string;
}

/** What `kasync kernels list` shows. */
export interface KernelListing {
  catalogue: CatalogueListing[];
  /** Cached entries that are not the newest of a catalogue name. */
  others: CachedKernel[];
}

/** The catalogue names, and the Debian binary packages each stands for. */
export const CATALOGUE: Readonly<Record<string, { series: string; flavour: '' | 'rt-' }>> = {
  'debian:6.1': { series: '6.1', flavour: '' },
  'debian:6.12': { series: '6.12', flavour: '' },
  'debian:6.12-rt': { series: '6.12', flavour: 'rt-' },
};

const MINUTE = 60_000;
const DOWNLOAD_TIMEOUT_MS = 10 * MINUTE;
const TOOL_TIMEOUT_MS = 2 * MINUTE;

/** True for the spec that means "the running kernel, no VM". */
export function isHostKernel(spec: string): boolean {
  return spec === 'host';
}

/** Resolves a kernel spec to a bootable image, fetching and caching Debian kernels as needed. */
export async function resolveKernel(spec: string, opts: ResolveOptions = {}): Promise<KernelImage> {
  if (isHostKernel(spec)) throw new UsageError('host is the running kernel: no VM');
  if (spec.startsWith('debian:')) {
    if (opts.modules !== undefined) throw new UsageError(`--modules is for a kernel given as a path, not ${spec}`);
    return resolveDebianKernel(spec, aptSource(opts.log), opts);
  }
  if (spec.startsWith('debian-src:')) {
    if (opts.modules !== undefined) throw new UsageError(`--modules is for a kernel given as a path, not ${spec}`);
    // a kernel `kasync kernels build` made; build.ts imports this module, so it is loaded on use
    const { resolveBuiltKernel } = await import('./build');
    return resolveBuiltKernel(spec);
  }
  if (/^[a-z]+:/.test(spec) && !fs.existsSync(spec))
    throw new UsageError(`unknown kernel '${spec}' (host, ${Object.keys(CATALOGUE).join(', ')}, or a bzImage path)`);
  return resolvePathKernel(spec, opts);
}

// ---------------------------------------------------------------------------------------------------
// Debian version order (deb-version(7)), so that 6.1.0-56 > 6.1.0-9 and 6.12.117 > 6.12.99.

function charOrder(c: string | undefined): number {
  if (c === undefined || (c >= '0' && c <= '9')) return 0;
  if (c === '~') return -1;
  if (/[A-Za-z]/.test(c)) return c.charCodeAt(0);
  return c.charCodeAt(0) + 256;
}

const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';

function compareFragment(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    while ((i < a.length && !isDigit(a[i])) || (j < b.length && !isDigit(b[j]))) {
      const d = charOrder(a[i]) - charOrder(b[j]);
      if (d !== 0) return d;
      i++;
      j++;
    }
    while (a[i] === '0') i++;
    while (b[j] === '0') j++;
    let first = 0;
    while (isDigit(a[i]) && isDigit(b[j])) {
      if (first === 0) first = a.charCodeAt(i) - b.charCodeAt(j);
      i++;
      j++;
    }
    if (isDigit(a[i])) return 1;
    if (isDigit(b[j])) return -1;
    if (first !== 0) return first;
  }
  return 0;
}

/** Orders two Debian versions (or ABI strings) like `dpkg --compare-versions`: negative, 0 or positive. */
export function compareDebianVersions(a: string, b: string): number {
  const split = (v: string) => {
    const colon = v.indexOf(':');
    const epoch = colon > 0 ? Number(v.slice(0, colon)) : 0;
    const rest = colon > 0 ? v.slice(colon + 1) : v;
    const dash = rest.lastIndexOf('-');
    return { epoch, upstream: dash >= 0 ? rest.slice(0, dash) : rest, revision: dash >= 0 ? rest.slice(dash + 1) : '' };
  };
  const x = split(a);
  const y = split(b);
  return Math.sign(
    x.epoch - y.epoch || compareFragment(x.upstream, y.upstream) || compareFragment(x.revision, y.revision),
  );
}

/** The newest offer: highest version, then highest package name (its ABI). */
export function newestOffer(offers: readonly PackageOffer[]): PackageOffer | undefined {
  let best: PackageOffer | undefined;
  for (const o of offers)
    if (!best || (compareDebianVersions(o.version, best.version) || compareDebianVersions(o.package, best.package)) > 0)
      best = o;
  return best;
}

/** Package names a catalogue spec stands for: `linux-image-6.12.117+deb12-amd64-unsigned`, never -cloud. */
export function packagePattern(spec: string): RegExp {
  const entry = CATALOGUE[spec];
  if (!entry) throw new UsageError(`unknown kernel '${spec}' (${Object.keys(CATALOGUE).join(', ')})`);
  const series = entry.series.replace(/\./g, '\\.');
  return new RegExp(`^linux-image-${series}\\.\\d+(-\\d+)?(\\+[a-z0-9.~]+)?-${entry.flavour}amd64-unsigned$`);
}

// ---------------------------------------------------------------------------------------------------
// Child processes: bounded in time, killed on every path.

/** Output and exit code of a tool run by {@link runTool}. */
export interface RunResult {
  stdout: string;
  stderr: string;
  code: number;
}

const TOOL_PACKAGE: Record<string, string> = {
  depmod: 'kmod',
  'dpkg-deb': 'dpkg',
  'apt-get': 'apt',
  'apt-cache': 'apt',
  cp: 'coreutils',
};

/** The tool's path, or a one-line error naming the package to install. */
function findTool(name: string): string {
  const found = findExecutable(name);
  if (found) return found;
  throw new UsageError(
    `${name} not found: install ${TOOL_PACKAGE[name] ?? name} (apt-get install ${TOOL_PACKAGE[name] ?? name})`,
  );
}

/**
 * Runs a tool with a deadline; on timeout it gets SIGTERM, then SIGKILL, and the call rejects even if a
 * grandchild still holds its output pipes open.
 */
export function runTool(tool: string, args: string[], opts: { cwd?: string; timeoutMs: number }): Promise<RunResult> {
  const file = findTool(tool);
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: opts.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LC_ALL: 'C' },
    });
    let stdout = '';
    let stderr = '';
    let settled = false;
    const timers: NodeJS.Timeout[] = [];
    const settle = (f: () => void) => {
      if (settled) return;
      settled = true;
      timers.forEach(clearTimeout);
      f();
    };
    const timedOut = () =>
      settle(() =>
        reject(new UsageError(`${tool} ${args.join(' ')} took longer than ${opts.timeoutMs / 1000} s and was killed`)),
      );
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    timers.push(
      setTimeout(() => {
        child.kill('SIGTERM');
        timers.push(
          setTimeout(() => child.kill('SIGKILL'), 5000),
          setTimeout(timedOut, 6000),
        );
        child.once('exit', timedOut);
      }, opts.timeoutMs),
    );
    child.on('error', (e) => settle(() => reject(new UsageError(`cannot run ${tool}: ${e.message}`))));
    child.on('close', (code, signal) => settle(() => resolve({ stdout, stderr, code: code ?? (signal ? 128 : 1) })));
  });
}

/** The last line worth showing from a tool's stderr (apt's harmless `_apt` sandbox warning is not). */
function lastError(stderr: string): string {
  const meaningful = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/unsandboxed as root|couldn't be accessed by user '_apt'/.test(l));
  return meaningful[meaningful.length - 1] ?? 'no message';
}

/** {@link runTool}, and a non-zero exit is a one-line UsageError with the tool's last meaningful stderr line. */
export async function runOk(tool: string, args: string[], opts: { cwd?: string; timeoutMs: number }): Promise<RunResult> {
  const r = await runTool(tool, args, opts);
  if (r.code !== 0) throw new UsageError(`${tool} ${args.join(' ')} failed (exit ${r.code}): ${lastError(r.stderr)}`);
  return r;
}

/**
 * Move a finished staging directory to its final cache place. False when another kasync process put its
 * own copy there first (the rename finds the place taken): the caller uses that copy.
 */
export function renameIntoPlace(staging: string, final: string): boolean {
  try {
    fs.renameSync(staging, final);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e;
    return false;
  }
}

// ---------------------------------------------------------------------------------------------------
// apt as a package source.

let aptUpdated = false;

/** Parses `apt-cache show` stanzas: package, version, SHA256 and size of each. */
function parseStanzas(out: string): (PackageOffer & { sha256?: string; size: number })[] {
  return out
    .split(/\n\s*\n/)
    .map((st) => ({
      package: /^Package: *(\S+)$/m.exec(st)?.[1] ?? '',
      version: /^Version: *(\S+)$/m.exec(st)?.[1] ?? '',
      sha256: /^SHA256: *([0-9a-f]{64})$/m.exec(st)?.[1],
      size: Number(/^Size: *(\d+)$/m.exec(st)?.[1] ?? NaN),
    }))
    .filter((o) => o.package && o.version);
}

/** Debian packages through apt-cache and apt-get; runs `apt-get update` once if apt knows nothing. */
export function aptSource(log?: (line: string) => void): PackageSource {
  const known = new Map<string, { sha256?: string; size: number }>();
  // One `apt-cache show <regex>` gives every version with its checksum (apt-cache can take seconds per call).
  const lookup = async (pattern: RegExp): Promise<PackageOffer[]> => {
    const regex = pattern.source.replace(/\\d/g, '[0-9]');
    const r = await runTool('apt-cache', ['show', regex], { timeoutMs: TOOL_TIMEOUT_MS });
    if (r.code !== 0 && !/No packages found|Unable to locate/.test(r.stderr))
      throw new UsageError(`apt-cache show failed (exit ${r.code}): ${lastError(r.stderr)}`);
    const offers: PackageOffer[] = [];
    for (const o of parseStanzas(r.stdout)) {
      if (!pattern.test(o.package) || offers.some((x) => x.package === o.package && x.version === o.version)) continue;
      offers.push({ package: o.package, version: o.version });
      known.set(`${o.package}=${o.version}`, o);
    }
    return offers;
  };
  return {
    async offers(pattern) {
      let found = await lookup(pattern);
      if (found.length === 0 && !aptUpdated) {
        aptUpdated = true;
        log?.('apt knows no matching kernel package: running apt-get update');
        const r = await runTool('apt-get', ['update'], { timeoutMs: DOWNLOAD_TIMEOUT_MS });
        if (r.code !== 0) throw new UsageError(`apt-get update failed (exit ${r.code}): ${lastError(r.stderr)}`);
        found = await lookup(pattern);
      }
      return found;
    },
    async describe(offer) {
      let meta = known.get(`${offer.package}=${offer.version}`);
      if (!meta?.sha256) {
        const out = (
          await runOk('apt-cache', ['show', `${offer.package}=${offer.version}`], { timeoutMs: TOOL_TIMEOUT_MS })
        ).stdout;
        meta = parseStanzas(out).find((o) => o.package === offer.package && o.version === offer.version);
      }
      if (!meta?.sha256) throw new UsageError(`apt-cache show ${offer.package}=${offer.version} records no SHA256`);
      return { sha256: meta.sha256, size: meta.size };
    },
    async download(offer, dir) {
      await runOk('apt-get', ['download', `${offer.package}=${offer.version}`], {
        cwd: dir,
        timeoutMs: DOWNLOAD_TIMEOUT_MS,
      });
      const debs = fs.readdirSync(dir).filter((f) => f.startsWith(offer.package + '_') && f.endsWith('.deb'));
      if (debs.length !== 1)
        throw new UsageError(`apt-get download ${offer.package} left ${debs.length} .deb files in ${dir}`);
      return path.join(dir, debs[0]);
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// The cache.

/** `cacheDir()/kernels`, where each fetched package is one directory. */
export function kernelsDir(): string {
  return path.join(cacheDir(), 'kernels');
}

/** The cache entry of one package version. */
export function entryDir(offer: PackageOffer): string {
  return path.join(kernelsDir(), `${offer.package}_${offer.version.replace(/:/g, '%3a')}`);
}

/** Hex SHA256 of a file, streamed. */
export function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = crypto.createHash('sha256');
    fs.createReadStream(file)
      .on('error', reject)
      .on('data', (d) => h.update(d))
      .on('end', () => resolve(h.digest('hex')));
  });
}

const RECORD_STRINGS = [
  'spec',
  'package',
  'version',
  'release',
  'debSha256',
  'vmlinuzSha256',
  'vmlinuz',
  'modulesDir',
  'fetchedAt',
] as const;

/** The entry's record if it is whole and its vmlinuz and modules are intact; else the reason it is not. */
export async function checkEntry(dir: string): Promise<{ record: KernelRecord } | { problem: string }> {
  let record: KernelRecord;
  try {
    record = JSON.parse(fs.readFileSync(path.join(dir, 'kernel.json'), 'utf8')) as KernelRecord;
  } catch (e) {
    return { problem: `kernel.json unreadable (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` };
  }
  for (const k of RECORD_STRINGS) if (typeof record?.[k] !== 'string') return { problem: `kernel.json lacks ${k}` };
  const inside = (rel: string) => !path.isAbsolute(rel) && !rel.split('/').includes('..');
  if (!inside(record.vmlinuz) || !inside(record.modulesDir)) return { problem: 'kernel.json points outside its entry' };
  const vmlinuz = path.join(dir, record.vmlinuz);
  let sha: string;
  try {
    sha = await sha256File(vmlinuz);
  } catch (e) {
    return { problem: `${record.vmlinuz} unreadable (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` };
  }
  if (sha !== record.vmlinuzSha256)
    return {
      problem: `${record.vmlinuz} has sha256 ${sha.slice(0, 12)}…, recorded ${record.vmlinuzSha256.slice(0, 12)}…`,
    };
  for (const f of ['modules.dep', 'modules.alias', 'modules.softdep', 'modules.builtin'])
    if (!fs.existsSync(path.join(dir, record.modulesDir, f)))
      return { problem: `${record.modulesDir}/${f} is missing` };
  return { record };
}

function imageOf(spec: string, dir: string, r: KernelRecord): KernelImage {
  return {
    spec,
    release: r.release,
    vmlinuz: path.join(dir, r.vmlinuz),
    modulesDir: path.join(dir, r.modulesDir),
    config: r.config ? path.join(dir, r.config) : undefined,
  };
}

/** Removes a directory: renamed aside first, so no other process ever sees it half-deleted. */
function discard(dir: string): void {
  const aside = `${path.dirname(dir)}/.trash-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
  try {
    fs.renameSync(dir, aside);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  fs.rmSync(aside, { recursive: true, force: true });
}

/** Staging and trash directories left by processes that died. */
function sweepLeftovers(root: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(root);
  } catch {
    return;
  }
  for (const n of names) {
    const m = /^\.(?:staging|trash)-(\d+)-[0-9a-zA-Z]+$/.exec(n);
    if (!m) continue;
    const pid = Number(m[1]);
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch (e) {
      alive = (e as NodeJS.ErrnoException).code === 'EPERM';
    }
    if (!alive) fs.rmSync(path.join(root, n), { recursive: true, force: true });
  }
}

/** The one directory inside `dir`, or a UsageError describing what is there. */
function onlySubdir(dir: string, what: string): string {
  const subs = fs.existsSync(dir)
    ? fs.readdirSync(dir).filter((n) => fs.statSync(path.join(dir, n)).isDirectory())
    : [];
  if (subs.length !== 1)
    throw new UsageError(`${what}: expected one release under ${dir}, found ${subs.length} (${subs.join(', ')})`);
  return subs[0];
}

/** Downloads, verifies and unpacks one package into a private staging dir, then renames it into place. */
async function fetchEntry(
  spec: string,
  offer: PackageOffer,
  source: PackageSource,
  log: (l: string) => void,
): Promise<string> {
  const root = kernelsDir();
  fs.mkdirSync(root, { recursive: true });
  sweepLeftovers(root);
  const final = entryDir(offer);
  const staging = fs.mkdtempSync(path.join(root, `.staging-${process.pid}-`));
  try {
    const { sha256, size } = await source.describe(offer);
    const download = path.join(staging, '.download');
    let deb = '';
    let debSha = '';
    for (let attempt = 1; ; attempt++) {
      fs.rmSync(download, { recursive: true, force: true });
      fs.mkdirSync(download);
      const mb = Number.isFinite(size) ? ` (${Math.round(size / 1e6)} MB)` : '';
      log(`fetching ${offer.package} ${offer.version}${mb}…`);
      deb = await source.download(offer, download);
      debSha = await sha256File(deb);
      if (debSha === sha256) break;
      const got = fs.statSync(deb).size;
      const why =
        `${path.basename(deb)} is corrupt: sha256 ${debSha.slice(0, 12)}… (${got} bytes), ` +
        `the archive says ${sha256.slice(0, 12)}… (${size} bytes)`;
      if (attempt >= 2) throw new UsageError(why);
      log(`${why}; fetching again`);
    }
    await runOk('dpkg-deb', ['-x', deb, staging], { timeoutMs: TOOL_TIMEOUT_MS });
    fs.rmSync(download, { recursive: true, force: true });
    const release = onlySubdir(path.join(staging, 'lib', 'modules'), offer.package);
    const vmlinuz = `boot/vmlinuz-${release}`;
    if (!fs.existsSync(path.join(staging, vmlinuz))) throw new UsageError(`${offer.package} has no ${vmlinuz}`);
    const headerRelease = readBzImage(path.join(staging, vmlinuz)).release;
    if (headerRelease !== release)
      throw new UsageError(`${offer.package}: ${vmlinuz} says it is ${headerRelease}, its modules are ${release}`);
    const modulesDir = `lib/modules/${release}`;
    await runOk('depmod', ['-b', staging, release], { timeoutMs: TOOL_TIMEOUT_MS });
    const config = fs.existsSync(path.join(staging, `boot/config-${release}`)) ? `boot/config-${release}` : undefined;
    const record: KernelRecord = {
      spec,
      package: offer.package,
      version: offer.version,
      release,
      debSha256: debSha,
      vmlinuzSha256: await sha256File(path.join(staging, vmlinuz)),
      vmlinuz,
      config,
      modulesDir,
      fetchedAt: new Date().toISOString(),
    };
    fs.writeFileSync(path.join(staging, 'kernel.json'), JSON.stringify(record, null, 2) + '\n');
    if (renameIntoPlace(staging, final)) log(`unpacked to ${final}`);
    else log(`another kasync fetched ${offer.package} first; using its copy`);
    return final;
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}

/** The newest intact cache entry fetched for `spec`, if any. */
async function newestCached(spec: string, pattern: RegExp): Promise<{ dir: string; record: KernelRecord } | undefined> {
  let best: { dir: string; record: KernelRecord } | undefined;
  let names: string[] = [];
  try {
    names = fs.readdirSync(kernelsDir()).filter((n) => !n.startsWith('.'));
  } catch {
    return undefined;
  }
  for (const n of names) {
    const dir = path.join(kernelsDir(), n);
    const check = await checkEntry(dir);
    if (!('record' in check) || check.record.spec !== spec || !pattern.test(check.record.package)) continue;
    if (!best || newestOffer([best.record, check.record]) === check.record) best = { dir, record: check.record };
  }
  return best;
}

/** A catalogue kernel from `source`: the newest offer, from the cache when intact, else fetched. */
export async function resolveDebianKernel(
  spec: string,
  source: PackageSource,
  opts: ResolveOptions = {},
): Promise<KernelImage> {
  const log = opts.log ?? (() => undefined);
  const pattern = packagePattern(spec);
  let offer: PackageOffer | undefined;
  try {
    offer = newestOffer(await source.offers(pattern));
    if (!offer)
      throw new UsageError(`no Debian package for ${spec} (apt knows no ${pattern.source.replace(/\\/g, '')})`);
  } catch (e) {
    // Offline, or apt gone: an intact cached kernel of this name still serves.
    const cached = e instanceof UsageError ? await newestCached(spec, pattern) : undefined;
    if (!cached) throw e;
    log(`${(e as Error).message}; using the cached ${cached.record.package} ${cached.record.version}`);
    return imageOf(spec, cached.dir, cached.record);
  }
  const dir = entryDir(offer);
  // What a fetch (ours or another process's) renamed into place is checked like any cached entry.
  for (let round = 0; ; round++) {
    if (fs.existsSync(dir)) {
      const check = await checkEntry(dir);
      if ('record' in check) {
        if (check.record.package !== offer.package || check.record.version !== offer.version)
          log(`${dir} records ${check.record.package} ${check.record.version}; discarding it`);
        else return imageOf(spec, dir, check.record);
      } else log(`cached ${path.basename(dir)} is damaged (${check.problem}); discarding it`);
      discard(dir);
    }
    if (round === 2) break;
    if (opts.fetch === false)
      throw new UsageError(
        `${spec} (${offer.package} ${offer.version}) is not cached: run kasync kernels fetch ${spec}`,
      );
    await fetchEntry(spec, offer, source, log);
  }
  throw new UsageError(`${dir} keeps failing verification after fetching; remove it and retry`);
}

/** The catalogue with what apt offers and what is cached, plus other cached entries. */
export async function listKernels(source: PackageSource = aptSource()): Promise<KernelListing> {
  const catalogue: CatalogueListing[] = [];
  const claimed = new Set<string>();
  for (const spec of Object.keys(CATALOGUE)) {
    let newest: PackageOffer | undefined;
    let unavailable: string | undefined;
    try {
      newest = newestOffer(await source.offers(packagePattern(spec)));
      if (!newest) unavailable = 'apt knows no matching package';
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      unavailable = e.message;
    }
    const listing: CatalogueListing = { spec, newest, unavailable };
    if (newest) {
      const dir = entryDir(newest);
      claimed.add(dir);
      if (fs.existsSync(dir)) {
        const check = await checkEntry(dir);
        if ('record' in check) listing.cached = { dir, release: check.record.release };
      }
    }
    catalogue.push(listing);
  }
  const others: CachedKernel[] = [];
  let names: string[] = [];
  try {
    names = fs
      .readdirSync(kernelsDir())
      .filter((n) => !n.startsWith('.'))
      .sort();
  } catch {
    // no cache yet
  }
  for (const n of names) {
    const dir = path.join(kernelsDir(), n);
    if (claimed.has(dir)) continue;
    const check = await checkEntry(dir);
    if ('record' in check) {
      const r = check.record;
      others.push({ dir, spec: r.spec, package: r.package, version: r.version, release: r.release });
    } else others.push({ dir, problem: check.problem });
  }
  return { catalogue, others };
}

// ---------------------------------------------------------------------------------------------------
// A kernel given as a path.

/** What the x86 boot header of a bzImage says. */
export interface BzImageInfo {
  /** First word of the kernel version string, e.g. `6.12.1`; undefined if the header has none. */
  release?: string;
  /** The whole version string, e.g. `6.12.1 (user@host) #1 SMP …`. */
  version?: string;
}

/**
 * Reads the boot header of a bzImage: the "HdrS" magic at 0x202, and the `kernel_version` field at
 * 0x20e, which points (+0x200) to a NUL-terminated version string. UsageError if it is not a bzImage.
 */
export function readBzImage(file: string): BzImageInfo {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    throw new UsageError(`kernel ${file} does not exist`);
  }
  if (st.isDirectory()) throw new UsageError(`kernel ${file} is a directory, not a bzImage`);
  const fd = fs.openSync(file, 'r');
  try {
    const head = Buffer.alloc(0x210);
    const n = fs.readSync(fd, head, 0, head.length, 0);
    if (n < head.length || head.toString('latin1', 0x202, 0x206) !== 'HdrS')
      throw new UsageError(`kernel ${file} is not an x86 bzImage (no "HdrS" boot header at 0x202)`);
    const ptr = head.readUInt16LE(0x20e);
    if (ptr === 0) return {};
    const text = Buffer.alloc(256);
    const m = fs.readSync(fd, text, 0, text.length, ptr + 0x200);
    const end = text.subarray(0, m).indexOf(0);
    const version = text.toString('latin1', 0, end < 0 ? m : end).trim();
    const release = version.split(/\s+/)[0];
    return release && /^[0-9][\x21-\x7e]*$/.test(release) ? { release, version } : {};
  } finally {
    fs.closeSync(fd);
  }
}

/** `<dir>/lib/modules/<release>` of an INSTALL_MOD_PATH, or `dir` itself if it is a release dir. */
function findModulesDir(dir: string, release: string | undefined): string {
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch {
    throw new UsageError(`--modules ${dir} does not exist`);
  }
  if (!st.isDirectory()) throw new UsageError(`--modules ${dir} is not a directory`);
  const libModules = path.join(dir, 'lib', 'modules');
  if (fs.existsSync(libModules)) {
    const have = fs.readdirSync(libModules).filter((n) => fs.statSync(path.join(libModules, n)).isDirectory());
    const pick = release ?? (have.length === 1 ? have[0] : undefined);
    if (!pick || !have.includes(pick))
      throw new UsageError(
        `--modules ${dir} has no lib/modules/${release ?? '<release>'} (it has: ${have.join(', ') || 'nothing'})`,
      );
    return path.join(libModules, pick);
  }
  const looksLikeRelease = ['modules.order', 'modules.builtin', 'modules.dep', 'kernel'].some((f) =>
    fs.existsSync(path.join(dir, f)),
  );
  if (!looksLikeRelease)
    throw new UsageError(
      `--modules ${dir} is neither an INSTALL_MOD_PATH (with lib/modules/<release>) ` +
        'nor a lib/modules/<release> directory',
    );
  const name = path.basename(fs.realpathSync(dir));
  if (release && name !== release)
    throw new UsageError(`--modules ${dir} is for kernel ${name}, but the bzImage is ${release}`);
  return dir;
}

/** A cheap fingerprint of a modules tree: every file's path, size and mtime. */
function treeFingerprint(dir: string): string {
  const h = crypto.createHash('sha256').update(fs.realpathSync(dir));
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const st = fs.lstatSync(p);
        h.update(`${path.relative(dir, p)}\0${st.size}\0${st.mtimeMs}\n`);
      }
    }
  };
  walk(dir);
  return h.digest('hex').slice(0, 16);
}

/** A copy of a user's modules tree with depmod's files, under the cache; the user's tree is never written. */
async function depmodCopy(modulesDir: string, release: string, log: (l: string) => void): Promise<string> {
  const root = path.join(cacheDir(), 'modules');
  const final = path.join(root, `${release}-${treeFingerprint(modulesDir)}`);
  const inFinal = path.join(final, 'lib', 'modules', release);
  if (fs.existsSync(path.join(inFinal, 'modules.dep'))) return inFinal;
  fs.mkdirSync(root, { recursive: true });
  sweepLeftovers(root);
  const staging = fs.mkdtempSync(path.join(root, `.staging-${process.pid}-`));
  try {
    const target = path.join(staging, 'lib', 'modules', release);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    // Hard links are cheap, and safe: depmod replaces its output files by rename, it never writes in place.
    const linked = await runTool('cp', ['-al', fs.realpathSync(modulesDir), target], { timeoutMs: TOOL_TIMEOUT_MS });
    if (linked.code !== 0) {
      fs.rmSync(target, { recursive: true, force: true });
      await runOk('cp', ['-a', fs.realpathSync(modulesDir), target], { timeoutMs: TOOL_TIMEOUT_MS });
    }
    for (const f of fs.readdirSync(target))
      if (/^modules\.(?!order$|builtin$|builtin\.modinfo$)/.test(f)) fs.rmSync(path.join(target, f));
    log(`running depmod on a copy of ${modulesDir}`);
    await runOk('depmod', ['-b', staging, release], { timeoutMs: TOOL_TIMEOUT_MS });
    renameIntoPlace(staging, final);
    return inFinal;
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}

/** A user's bzImage, with its modules tree if given (depmod'ed into the cache when it lacks modules.dep). */
export async function resolvePathKernel(spec: string, opts: ResolveOptions = {}): Promise<KernelImage> {
  const log = opts.log ?? (() => undefined);
  const vmlinuz = path.resolve(spec);
  const info = readBzImage(vmlinuz);
  if (opts.modules === undefined) {
    if (!info.release)
      throw new UsageError(`kernel ${spec} has no version string in its boot header: cannot tell its release`);
    return { spec, release: info.release, vmlinuz };
  }
  let modulesDir = path.resolve(findModulesDir(opts.modules, info.release));
  const release = info.release ?? path.basename(modulesDir);
  if (!fs.existsSync(path.join(modulesDir, 'modules.dep'))) modulesDir = await depmodCopy(modulesDir, release, log);
  return { spec, release, vmlinuz, modulesDir };
}
