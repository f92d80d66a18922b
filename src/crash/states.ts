/**
 * Crash states of a recording at a mark (dm-log-writes / CrashMonkey ideas, NBD semantics): what the
 * disk may hold if the power went at some point after the guest reaped an fsync completion.
 *
 * A crash point `t` is a log position at or after the mark. At `t`, an entry is durable when a FLUSH
 * logged before `t` came after it (NBD: a FLUSH covers every write replied to before it), or when it
 * carries FUA (a write, zero or trim); every other entry logged before `t` is volatile: it may or may not be on the
 * disk, whole or torn (some of its 4 KiB blocks: nothing makes a multi-block write atomic). A crash
 * state is durable(t) plus a subset of volatile(t), applied in log order, so a later write to a
 * sector wins over an earlier one only when both are in the state.
 *
 * The crash window of a mark ends at the next mark of the same file (after which the file may
 * legally change) or at the end of the log (the recording is cut at the guest's crash point).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import { prng } from '../program/pattern';
import type { LogEntry, Mark, Recording } from './log';

/** One crash state: its recipe (which logged entries are on the disk). */
export interface CrashState {
  /** `<mark id>/<kind><n>`: unique within a recording. */
  id: string;
  mark: Mark;
  /** durable: crash at the mark, nothing volatile; maximal: every entry up to the window's end; random: seeded. */
  kind: 'durable' | 'maximal' | 'random';
  /** Log index the crash happens at (entries with index < crashAt were replied before the crash). */
  crashAt: number;
  /** Indices of the entries on the disk, ascending (applied in this order). */
  applied: number[];
  /** Volatile entries at the crash point that the state left out (what makes it differ from maximal). */
  dropped: number[];
  /** Volatile writes that reached the disk in part: entry index → the TORN_BLOCK-sized blocks that did. */
  torn: Record<number, number[]>;
}

/** Log index of the mark with this id; throws when absent. */
export function markIndex(entries: readonly LogEntry[], id: string): number {
  const i = entries.findIndex((e) => e.kind === 'mark' && e.mark.id === id);
  if (i < 0) throw new Error(`mark '${id}' is not in the log`);
  return i;
}

/** Every mark of a recording, in log order. */
export function marksOf(rec: Recording): Mark[] {
  return rec.entries.flatMap((e) => (e.kind === 'mark' ? [e.mark] : []));
}

const changesDisk = (e: LogEntry) => e.kind === 'write' || e.kind === 'zero' || e.kind === 'trim';

/**
 * Split the entries before log index `crashAt` into durable and volatile (indices, ascending): durable
 * are the disk-changing entries logged before the last FLUSH before `crashAt`, and FUA ones.
 */
export function durableSplit(entries: readonly LogEntry[], crashAt: number): { durable: number[]; volatile: number[] } {
  let lastFlush = -1;
  for (let i = 0; i < crashAt; i++) if (entries[i].kind === 'flush') lastFlush = i;
  const durable: number[] = [];
  const volatile: number[] = [];
  for (let i = 0; i < crashAt; i++) {
    const e = entries[i];
    if (!changesDisk(e)) continue;
    if (i < lastFlush || (e as { fua?: boolean }).fua === true) durable.push(i);
    else volatile.push(i);
  }
  return { durable, volatile };
}

/** Where the crash window of the mark at index `at` ends (exclusive): the next mark of its file, or the log's end. */
export function windowEnd(entries: readonly LogEntry[], at: number): number {
  const m = entries[at];
  if (m.kind !== 'mark') throw new Error(`log entry ${at} is not a mark`);
  for (let i = at + 1; i < entries.length; i++) {
    const e = entries[i];
    if (e.kind === 'mark' && e.mark.file === m.mark.file) return i;
  }
  return entries.length;
}

/** FNV-1a 32 of a string: mixes the mark id into the seed, so marks get different subsets. */
function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** A volatile write may reach the disk in part: it is torn at this granularity (a filesystem block). */
export const TORN_BLOCK = 4096;

/** 4 KiB blocks an entry covers (1 for a flush or mark). */
function blocksOf(e: LogEntry): number {
  const len = e.kind === 'write' ? e.data.length : e.kind === 'zero' || e.kind === 'trim' ? e.length : 0;
  return Math.max(1, Math.ceil(len / TORN_BLOCK));
}

/** What a random state does with one volatile entry. */
type Choice = 'drop' | 'keep' | number[];

function stateAt(
  entries: readonly LogEntry[],
  mark: Mark,
  id: string,
  kind: CrashState['kind'],
  crashAt: number,
  choose: (i: number) => Choice,
): CrashState {
  const { durable, volatile } = durableSplit(entries, crashAt);
  const torn: Record<number, number[]> = {};
  const kept: number[] = [];
  const dropped: number[] = [];
  for (const i of volatile) {
    const c = choose(i);
    if (c === 'drop' || (Array.isArray(c) && !c.length)) dropped.push(i);
    else {
      kept.push(i);
      if (Array.isArray(c) && c.length < blocksOf(entries[i])) torn[i] = c;
    }
  }
  const applied = [...durable, ...kept].sort((a, b) => a - b);
  return { id, mark, kind, crashAt, applied, dropped, torn };
}

/**
 * `count` crash states at a mark: the durable state (crash at the mark, no volatile entry), the
 * maximal state (every entry of the window), then random ones — a crash point drawn from the window
 * and each volatile entry kept with probability 1/2 — the same for the same seed. States with the
 * same recipe as an earlier one are not repeated, so fewer than `count` may come back for a tiny log.
 */
export function crashStates(rec: Recording, markId: string, count: number, seed = 1): CrashState[] {
  const entries = rec.entries;
  const at = markIndex(entries, markId);
  const mark = (entries[at] as Extract<LogEntry, { kind: 'mark' }>).mark;
  const end = windowEnd(entries, at);
  const out: CrashState[] = [];
  const seen = new Set<string>();
  const add = (s: CrashState) => {
    const key = `${s.applied.join(',')}|${JSON.stringify(s.torn)}`;
    if (seen.has(key)) return false;
    seen.add(key);
    out.push(s);
    return true;
  };
  if (count >= 1) add(stateAt(entries, mark, `${markId}/durable`, 'durable', at, () => 'drop'));
  if (count >= 2) add(stateAt(entries, mark, `${markId}/maximal`, 'maximal', end, () => 'keep'));
  const rnd = prng((seed ^ hash32(markId)) >>> 0);
  // a volatile entry is left out, kept whole, or (a multi-block one) torn: each block kept or not
  const choose = (i: number): Choice => {
    const r = rnd();
    const n = blocksOf(entries[i]);
    if (r < 0.4) return 'drop';
    if (r < 0.7 || n === 1) return 'keep';
    const blocks: number[] = [];
    for (let b = 0; b < n; b++) if (rnd() < 0.5) blocks.push(b);
    return blocks;
  };
  // a bounded number of draws: a log with few volatile entries has few distinct states
  for (let n = 0, tries = 0; out.length < count && tries < count * 20; tries++) {
    const crashAt = at + Math.floor(rnd() * (end - at + 1));
    if (add(stateAt(entries, mark, `${markId}/random${n}`, 'random', crashAt, choose))) n++;
  }
  return out;
}

/** The recipe as one line of JSON (saved with a violation; `materialize` rebuilds the image from it and the log). */
export function recipeOf(s: CrashState): string {
  return JSON.stringify({
    id: s.id,
    mark: s.mark.id,
    kind: s.kind,
    crashAt: s.crashAt,
    applied: s.applied,
    dropped: s.dropped,
    torn: s.torn,
  });
}

const ZERO_CHUNK = 1 << 20;

/**
 * Write the state as a raw image: a sparse copy of the base (or a sparse zeroed file), then the
 * applied entries in log order; trims are written as zeroes (the NBD spec leaves trimmed data
 * undefined; zeroes make the image the same on every run).
 */
export function materialize(
  rec: Recording,
  state: Pick<CrashState, 'applied'> & { torn?: CrashState['torn'] },
  file: string,
): void {
  fs.rmSync(file, { force: true });
  if (rec.base) {
    // cp keeps holes (and shares blocks where the filesystem can reflink): a 512 MiB image costs its used blocks
    const r = spawnSync('cp', ['--sparse=always', '--reflink=auto', rec.base, file], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    if (r.status !== 0) throw new Error(`cp ${rec.base}: ${(r.stderr || r.error?.message || '').trim()}`);
  } else fs.writeFileSync(file, '');
  if (fs.statSync(file).size !== rec.size) fs.truncateSync(file, rec.size);
  const fd = fs.openSync(file, 'r+');
  try {
    let zeroes: Buffer | undefined;
    const put = (e: LogEntry, from: number, len: number) => {
      if (e.kind === 'write') fs.writeSync(fd, e.data, from, len, e.offset + from);
      else if (e.kind === 'zero' || e.kind === 'trim') {
        zeroes ??= Buffer.alloc(ZERO_CHUNK);
        for (let o = 0; o < len; o += ZERO_CHUNK)
          fs.writeSync(fd, zeroes, 0, Math.min(ZERO_CHUNK, len - o), e.offset + from + o);
      }
    };
    for (const i of state.applied) {
      const e = rec.entries[i];
      const len = e.kind === 'write' ? e.data.length : e.kind === 'zero' || e.kind === 'trim' ? e.length : 0;
      const blocks = state.torn?.[i];
      if (!blocks) put(e, 0, len);
      else for (const b of blocks) put(e, b * TORN_BLOCK, Math.min(TORN_BLOCK, len - b * TORN_BLOCK));
    }
  } finally {
    fs.closeSync(fd);
  }
}
