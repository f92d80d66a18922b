/**
 * Every table and layout in one place, for code that walks them all: the header check,
 * reports, and the CLI's `abi` listing.
 */
import * as aio from './aio';
import * as linux from './linux';
import type { Layout } from './layout';
import { type AbiTable, TABLE_META } from './table';
import * as uring from './uring';

function isTable(v: unknown): v is AbiTable {
  return typeof v === 'object' && v !== null && TABLE_META in v;
}

function isLayout(v: unknown): v is Layout {
  return typeof v === 'object' && v !== null && 'fields' in v && 'cType' in v && 'size' in v;
}

const modules: readonly object[] = [uring, aio, linux];

/** Every {@link AbiTable} exported by src/abi, in module order. */
export const ABI_TABLES: readonly AbiTable[] = Object.freeze(modules.flatMap((m) => Object.values(m).filter(isTable)));

/** Every {@link Layout} exported by src/abi, in module order. */
export const ABI_LAYOUTS: readonly Layout[] = Object.freeze(modules.flatMap((m) => Object.values(m).filter(isLayout)));
