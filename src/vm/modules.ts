/**
 * Which kernel modules an initramfs must insmod, and in what order. Reads the text files depmod writes
 * (`modules.dep`, `modules.softdep`, `modules.alias`) and the kernel's own `modules.builtin`, because
 * nothing in kasync's initramfs runs modprobe or answers `request_module`.
 */
import * as fs from 'fs';
import * as path from 'path';
import { UsageError } from '../cli/usage';

/** What to load for a set of wanted modules. */
export interface ModulePlan {
  /** Absolute paths of `.ko` / `.ko.xz` / `.ko.zst` files in load order, dependencies first, no duplicates. */
  load: string[];
  /** Wanted names (normalised: `_` for `-`) that are built into the kernel, so need nothing. */
  builtin: string[];
}

/** Modules every kasync VM needs: the PCI transport, the agent's virtio-serial port and the test disk. */
export const BASE_MODULES: readonly string[] = ['virtio_pci', 'virtio_console', 'virtio_blk'];

/** Modules for each filesystem a test disk may carry; their dependencies come from the resolver. */
export const FS_MODULES: Readonly<Record<'tmpfs' | 'ext4' | 'xfs' | 'btrfs', readonly string[]>> = {
  tmpfs: [],
  ext4: ['ext4'],
  xfs: ['xfs'],
  btrfs: ['btrfs'],
};

/** `virtio-pci`, `virtio_pci.ko.xz` and `kernel/drivers/virtio/virtio_pci.ko` all name `virtio_pci`. */
export function moduleName(fileOrName: string): string {
  return path
    .basename(fileOrName)
    .replace(/\.ko(\.(xz|zst|gz))?$/, '')
    .replace(/-/g, '_');
}

interface ModuleIndex {
  release: string;
  /** name → path relative to the modules dir. */
  paths: Map<string, string>;
  /** name → its hard dependencies (names), as modules.dep lists them. */
  deps: Map<string, string[]>;
  builtin: Set<string>;
  pre: Map<string, string[]>;
  post: Map<string, string[]>;
  /** alias (exact or glob) → module names, loadable ones. */
  aliases: { pattern: string; regex?: RegExp; module: string }[];
  /** Aliases of built-in modules (from modules.builtin.modinfo). */
  builtinAliases: Map<string, string[]>;
}

function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

function lines(text: string | undefined): string[] {
  return (text ?? '')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

function globToRegex(glob: string): RegExp {
  let re = '';
  for (const c of glob) re += c === '*' ? '.*' : c === '?' ? '.' : /[\\^$.|+(){}[\]]/.test(c) ? '\\' + c : c;
  return new RegExp(`^${re}$`);
}

function push(map: Map<string, string[]>, key: string, values: string[]): void {
  const have = map.get(key) ?? [];
  map.set(key, have.concat(values));
}

function loadIndex(modulesDir: string): ModuleIndex {
  const release = path.basename(path.resolve(modulesDir));
  const depText = readText(path.join(modulesDir, 'modules.dep'));
  if (depText === undefined)
    throw new UsageError(`${modulesDir} has no modules.dep (run depmod) for kernel ${release}`);
  const index: ModuleIndex = {
    release,
    paths: new Map(),
    deps: new Map(),
    builtin: new Set(lines(readText(path.join(modulesDir, 'modules.builtin'))).map(moduleName)),
    pre: new Map(),
    post: new Map(),
    aliases: [],
    builtinAliases: new Map(),
  };
  for (const line of lines(depText)) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const file = line.slice(0, colon).trim();
    const name = moduleName(file);
    index.paths.set(name, file);
    index.deps.set(
      name,
      line
        .slice(colon + 1)
        .trim()
        .split(/\s+/)
        .filter(Boolean)
        .map(moduleName),
    );
  }
  for (const line of lines(readText(path.join(modulesDir, 'modules.softdep')))) {
    const words = line.split(/\s+/);
    if (words[0] !== 'softdep' || words.length < 3) continue;
    const name = moduleName(words[1]);
    let section: 'pre' | 'post' | undefined;
    for (const w of words.slice(2)) {
      if (w === 'pre:' || w === 'post:') section = w === 'pre:' ? 'pre' : 'post';
      else if (section) push(index[section], name, [w]);
    }
  }
  for (const line of lines(readText(path.join(modulesDir, 'modules.alias')))) {
    const [word, pattern, module] = line.split(/\s+/);
    if (word !== 'alias' || !pattern || !module) continue;
    index.aliases.push({
      pattern,
      regex: /[*?[]/.test(pattern) ? globToRegex(pattern) : undefined,
      module: moduleName(module),
    });
  }
  // modules.builtin.modinfo: NUL-separated `module.key=value`; only the aliases matter here.
  for (const entry of (readText(path.join(modulesDir, 'modules.builtin.modinfo')) ?? '').split('\0')) {
    const m = /^([^.=]+)\.alias=(.+)$/.exec(entry);
    if (m) push(index.builtinAliases, m[2], [moduleName(m[1])]);
  }
  return index;
}

/** Modules an alias names, `*_generic` first (the portable implementation), then in file order. */
function aliasTargets(index: ModuleIndex, alias: string): string[] {
  const found: string[] = [];
  for (const a of index.aliases)
    if ((a.regex ? a.regex.test(alias) : a.pattern === alias) && !found.includes(a.module)) found.push(a.module);
  return [...found.filter((m) => m.endsWith('_generic')), ...found.filter((m) => !m.endsWith('_generic'))];
}

type Resolved = { kind: 'module'; name: string } | { kind: 'builtin' } | { kind: 'unknown' };

/** A module name, or an alias of a loadable or built-in module. */
function resolveName(index: ModuleIndex, raw: string): Resolved {
  const name = moduleName(raw);
  if (index.builtin.has(name)) return { kind: 'builtin' };
  if (index.paths.has(name)) return { kind: 'module', name };
  const targets = aliasTargets(index, raw).filter((t) => index.paths.has(t) || index.builtin.has(t));
  const loadable = targets.find((t) => index.paths.has(t));
  if (targets.some((t) => index.builtin.has(t)) || (index.builtinAliases.get(raw)?.length ?? 0) > 0) {
    // Something built in already provides the alias: the kernel needs nothing more.
    return { kind: 'builtin' };
  }
  return loadable ? { kind: 'module', name: loadable } : { kind: 'unknown' };
}

/**
 * The modules to insmod, dependencies and pre-softdeps first, post-softdeps after, for `wanted`
 * in the tree `modulesDir` (a `lib/modules/<release>` directory on which depmod has run).
 * A wanted name that is neither built in nor present is a UsageError naming it and the release.
 */
export async function resolveModules(modulesDir: string, wanted: readonly string[]): Promise<ModulePlan> {
  const root = path.resolve(modulesDir);
  const index = loadIndex(root);
  const load: string[] = [];
  const done = new Set<string>();
  const visiting = new Set<string>();
  const builtin: string[] = [];

  const visit = (name: string): void => {
    if (done.has(name) || visiting.has(name)) return; // a cycle: the first visit places it
    visiting.add(name);
    for (const soft of index.pre.get(name) ?? []) visitSoft(soft);
    for (const dep of [...(index.deps.get(name) ?? [])].reverse()) {
      // modules.dep is fully expanded; a dependency missing from the index is a broken tree.
      if (!index.paths.has(dep) && !index.builtin.has(dep))
        throw new UsageError(
          `modules.dep of ${index.release} names ${dep} (needed by ${name}) but has no entry for it`,
        );
      if (index.paths.has(dep)) visit(dep);
    }
    visiting.delete(name);
    if (!done.has(name)) {
      done.add(name);
      const file = path.join(root, index.paths.get(name)!);
      if (!fs.existsSync(file)) throw new UsageError(`module ${name} of kernel ${index.release} is missing: ${file}`);
      load.push(file);
    }
    for (const soft of index.post.get(name) ?? []) visitSoft(soft);
  };
  // A softdep that names nothing loadable is optional, as for modprobe.
  const visitSoft = (raw: string): void => {
    const r = resolveName(index, raw);
    if (r.kind === 'module') visit(r.name);
  };

  for (const raw of wanted) {
    const r = resolveName(index, raw);
    if (r.kind === 'unknown')
      throw new UsageError(`module ${raw} is neither built in nor present in kernel ${index.release}`);
    if (r.kind === 'builtin') {
      const name = moduleName(raw);
      if (!builtin.includes(name)) builtin.push(name);
    } else visit(r.name);
  }
  return { load, builtin };
}
