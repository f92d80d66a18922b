/**
 * Named constants as data: one shape for opcodes, flag bits and plain constants, so that tests,
 * fuzzers and the header check all walk the same tables.
 *
 * ```ts
 * export const SETUP = bits('IORING_SETUP_', IO_URING_H, { IOPOLL: [1 << 0, '5.1'], ... });
 * SETUP.IOPOLL.value; // 1
 * SETUP.IOPOLL.since; // '5.1'
 * ```
 */
import type { KernelVersion } from './version';

/** Key under which every table keeps its {@link TableMeta}; symbol-keyed so it never shows up among the entries. */
export const TABLE_META: unique symbol = Symbol('kasync.abi.table');

/** What a table holds: single-bit flags, distinct enumeration values, or constants without structure. */
export type TableKind = 'bits' | 'enum' | 'const';

/** Facts about a table as a whole. */
export interface TableMeta {
  /** Stable, unique identifier; by default the C prefix without its trailing underscore (`IORING_SETUP`). */
  readonly id: string;
  /** C prefix that turns an entry name into its C identifier. */
  readonly prefix: string;
  /** Header that defines the C identifiers, as `#include` spells it. */
  readonly header: string;
  readonly kind: TableKind;
}

/** Optional facts about one entry. */
export interface EntryOptions {
  /** C identifier when it is not `prefix + name` (`IORING_LINK_TIMEOUT_UPDATE`). */
  readonly cName?: string;
  /** `since` (or whether it was merged at all) is not confirmed by a primary source. */
  readonly unverified?: true;
  /** A multi-bit mask inside a `bits` table. */
  readonly mask?: true;
  /** A kernel-internal value that no UAPI header defines (`IORING_MAX_ENTRIES`). */
  readonly internal?: true;
  /** One line of context. */
  readonly note?: string;
}

/** How an entry is written in a table: a bare value, or `[value, since, options]`. */
export type EntrySpec = number | readonly [value: number, since?: KernelVersion | null, options?: EntryOptions];

/** One named value. */
export interface AbiEntry<N extends string = string> {
  /** Name without the C prefix (`IOPOLL`). */
  readonly name: N;
  /** Full C identifier (`IORING_SETUP_IOPOLL`). */
  readonly cName: string;
  readonly value: number;
  /** First mainline release that has it; `null` when not recorded (old enough) or never merged. */
  readonly since: KernelVersion | null;
  readonly unverified: boolean;
  readonly mask: boolean;
  readonly internal: boolean;
  readonly note?: string;
}

/** A table: its entries by name, plus its {@link TableMeta} under {@link TABLE_META}. */
export type AbiTable<K extends string = string> = { readonly [P in K]: AbiEntry<P> } & {
  readonly [TABLE_META]: TableMeta;
};

/** Default table id: the prefix without trailing underscores. */
function idOf(prefix: string): string {
  return prefix.replace(/_+$/, '');
}

function define<S extends Record<string, EntrySpec>>(
  kind: TableKind,
  prefix: string,
  header: string,
  spec: S,
  id: string,
): AbiTable<Extract<keyof S, string>> {
  const table: Record<string | symbol, unknown> = {};
  for (const [name, s] of Object.entries(spec)) {
    const [value, since = null, opts = {}] = typeof s === 'number' ? [s] : s;
    const entry: AbiEntry = {
      name,
      cName: opts.cName ?? prefix + name,
      value,
      since,
      unverified: opts.unverified === true,
      mask: opts.mask === true,
      internal: opts.internal === true,
      ...(opts.note === undefined ? {} : { note: opts.note }),
    };
    table[name] = Object.freeze(entry);
  }
  const meta: TableMeta = { id, prefix, header, kind };
  Object.defineProperty(table, TABLE_META, { value: Object.freeze(meta), enumerable: false });
  return Object.freeze(table) as AbiTable<Extract<keyof S, string>>;
}

/** A table of single-bit flags (entries marked `mask` may span several bits). */
export function bits<S extends Record<string, EntrySpec>>(prefix: string, header: string, spec: S, id = idOf(prefix)) {
  return define('bits', prefix, header, spec, id);
}

/** A table of enumeration values (opcodes, commands): every value distinct. */
export function enumeration<S extends Record<string, EntrySpec>>(
  prefix: string,
  header: string,
  spec: S,
  id = idOf(prefix),
) {
  return define('enum', prefix, header, spec, id);
}

/** A table of constants with no structure between them. */
export function constants<S extends Record<string, EntrySpec>>(
  prefix: string,
  header: string,
  spec: S,
  id = idOf(prefix),
) {
  return define('const', prefix, header, spec, id);
}

/** The table's {@link TableMeta}. */
export function tableMeta(table: AbiTable): TableMeta {
  return table[TABLE_META];
}

/** All entries of a table, in the order they were written. */
export function entriesOf<K extends string>(table: AbiTable<K>): AbiEntry<K>[] {
  return Object.values(table) as AbiEntry<K>[];
}

/** The entry with this name, for names that arrive as plain strings (CLI, wire, reports). */
export function entryByName<K extends string>(table: AbiTable<K>, name: string): AbiEntry<K> | undefined {
  return Object.prototype.hasOwnProperty.call(table, name) ? (table as Record<string, AbiEntry<K>>)[name] : undefined;
}

/** The first entry with this value (masks and aliases after single values). */
export function entryByValue<K extends string>(table: AbiTable<K>, value: number): AbiEntry<K> | undefined {
  const all = entriesOf(table).filter((e) => e.value === value);
  return all.find((e) => !e.mask) ?? all[0];
}

/** OR of flag values; safe for bit 31 (`1 << 31` is negative in JavaScript). */
export function orBits(...flags: ReadonlyArray<AbiEntry | number>): number {
  let acc = 0n;
  for (const f of flags) acc |= BigInt(typeof f === 'number' ? f : f.value);
  return Number(acc);
}

/** Is every bit of `flag` set in `value`? */
export function hasBits(value: number, flag: AbiEntry | number): boolean {
  const f = BigInt(typeof flag === 'number' ? flag : flag.value);
  return (BigInt(value) & f) === f;
}

/**
 * Names of the single-bit entries set in `value`, plus `0x…` for bits no entry names
 * (`decodeBits(CQE_F, 3)` → `['BUFFER', 'MORE']`).
 */
export function decodeBits<K extends string>(table: AbiTable<K>, value: number): Array<K | `0x${string}`> {
  let rest = BigInt(value);
  const out: Array<K | `0x${string}`> = [];
  for (const e of entriesOf(table)) {
    const v = BigInt(e.value);
    if (e.mask || v === 0n || (rest & v) !== v) continue;
    out.push(e.name);
    rest &= ~v;
  }
  if (rest !== 0n) out.push(`0x${rest.toString(16)}`);
  return out;
}
