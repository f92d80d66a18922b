/**
 * KCOV PCs → the async code: which of the PCs a KCOV step recorded lie in functions of io_uring/*.c or
 * fs/aio.c. The build tree's objects name the functions (`nm`), System.map places them (the builds have
 * no KASLR, and KCOV takes the KASLR offset off anyway), and a PC belongs to the last symbol at or
 * below it. Static functions share names across objects (`__refcount_add.constprop.0` is in dozens):
 * such a name counts only inside the span of the group's own unique names, as the linker keeps an
 * object's .text together.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { UsageError } from '../cli/usage';
import { findExecutable } from '../tools';
import type { Group } from './gcov';

/** Text symbols of a kernel, sorted, with the group of those defined in the async objects. */
export interface AsyncText {
  /** Low 32 bits of each text symbol's address, ascending. */
  starts: Uint32Array;
  /** The group of the symbol starting at the same index, or undefined. */
  groups: (Group | undefined)[];
}

/** Text symbols (`t`/`T`) of System.map's text: name → low 32 bits of the address. */
export function parseSystemMap(text: string): { addr: number; name: string }[] {
  const out: { addr: number; name: string }[] = [];
  for (const line of text.split('\n')) {
    const [addr, type, name] = line.split(' ');
    if (!name || (type !== 't' && type !== 'T')) continue;
    out.push({ addr: parseInt(addr.slice(-8), 16) >>> 0, name });
  }
  return out.sort((a, b) => a.addr - b.addr);
}

/** Function names `nm` finds defined in the objects. */
export function objectFunctions(objects: readonly string[]): Set<string> {
  const nm = findExecutable('nm');
  if (!nm) throw new UsageError('nm not found: apt-get install binutils');
  const r = spawnSync(nm, ['--defined-only', ...objects], { encoding: 'utf8', maxBuffer: 64 << 20, timeout: 60_000 });
  if (r.status !== 0) throw new UsageError(`nm failed: ${(r.stderr ?? '').trim().split('\n').pop()}`);
  const names = new Set<string>();
  for (const line of r.stdout.split('\n')) {
    const [, type, name] = line.trim().split(/\s+/);
    if (name && (type === 't' || type === 'T')) names.add(name);
  }
  return names;
}

/** The async code of a kernel build tree (System.map, io_uring/*.o, fs/aio.o). */
export function asyncText(buildDir: string): AsyncText {
  const map = path.join(buildDir, 'System.map');
  if (!fs.existsSync(map)) throw new UsageError(`${map} is missing: not a kernel build tree`);
  const uringDir = path.join(buildDir, 'io_uring');
  const uring = fs.existsSync(uringDir)
    ? fs.readdirSync(uringDir).filter((f) => f.endsWith('.o')).map((f) => path.join(uringDir, f))
    : [];
  const aio = path.join(buildDir, 'fs', 'aio.o');
  const uringNames = uring.length ? objectFunctions(uring) : new Set<string>();
  const aioNames = fs.existsSync(aio) ? objectFunctions([aio]) : new Set<string>();
  const syms = parseSystemMap(fs.readFileSync(map, 'utf8'));
  return {
    starts: Uint32Array.from(syms.map((s) => s.addr)),
    groups: placeGroups(syms, { io_uring: uringNames, aio: aioNames }),
  };
}

/** Span of an object's .text around the median of its unique names (.cold and .init.text parts lie far off). */
const SPAN = 1 << 20;

/** The group of each symbol (sorted by address), by name; a name found more than once only within its group's span. */
export function placeGroups(
  syms: readonly { addr: number; name: string }[],
  names: Record<Group, Set<string>>,
): (Group | undefined)[] {
  const count = new Map<string, number>();
  for (const s of syms) count.set(s.name, (count.get(s.name) ?? 0) + 1);
  const span = (set: Set<string>): [number, number] => {
    const unique = syms.filter((s) => set.has(s.name) && count.get(s.name) === 1).map((s) => s.addr);
    if (!unique.length) return [1, 0];
    const mid = unique[unique.length >> 1];
    const near = unique.filter((a) => Math.abs(a - mid) <= SPAN);
    return [near[0], near[near.length - 1]];
  };
  const spans = { io_uring: span(names.io_uring), aio: span(names.aio) };
  return syms.map((s) => {
    for (const g of ['io_uring', 'aio'] as const)
      if (names[g].has(s.name) && (count.get(s.name) === 1 || (s.addr >= spans[g][0] && s.addr <= spans[g][1])))
        return g;
    return undefined;
  });
}

/** The group of the function holding `pc` (low 32 bits), or undefined. */
export function groupOfPc(t: AsyncText, pc: number): Group | undefined {
  let lo = 0;
  let hi = t.starts.length - 1;
  if (hi < 0 || pc < t.starts[0]) return undefined;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (t.starts[mid] <= pc) lo = mid;
    else hi = mid - 1;
  }
  return t.groups[lo];
}

/** How many of `pcs` lie in io_uring/*.c and in fs/aio.c. */
export function countAsyncPcs(t: AsyncText, pcs: Iterable<number>): { io_uring: number; aio: number; all: number } {
  const n = { io_uring: 0, aio: 0, all: 0 };
  for (const pc of pcs) {
    n.all++;
    const g = groupOfPc(t, pc);
    if (g) n[g]++;
  }
  return n;
}
