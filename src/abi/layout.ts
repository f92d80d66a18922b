/**
 * Structure layouts as data: every field's byte offset and size, including union aliases, so that
 * encoders, decoders and the header check share one description.
 *
 * ```ts
 * SQE_LAYOUT.fields.user_data; // { name: 'user_data', offset: 32, size: 8, ... }
 * ```
 */
import type { KernelVersion } from './version';

/** Optional facts about one field. */
export interface FieldOptions {
  /** Two's-complement signed integer. */
  readonly signed?: true;
  /** Array member with this many elements (`size` is the whole array). */
  readonly count?: number;
  /** Nested struct or union; its members are listed as `outer.inner`. */
  readonly aggregate?: true;
  /** Flexible array member: C's `sizeof` is 0; `size` is what the larger entry form gives it. */
  readonly flexible?: true;
  /** First mainline release with the field (absent: as old as the structure). */
  readonly since?: KernelVersion;
  /** `since` is not confirmed by a primary source. */
  readonly unverified?: true;
  /** Name of the same bytes in older headers (`resv2` before `user_addr`). */
  readonly formerly?: string;
  /** Declared signed in some header versions and unsigned in others. */
  readonly signVaries?: true;
  /** One line of context. */
  readonly note?: string;
}

/** How a field is written in a layout: `[offset, size, options]`. */
export type FieldSpec = readonly [offset: number, size: number, options?: FieldOptions];

/** One field of a structure. */
export interface LayoutField<N extends string = string> extends FieldOptions {
  /** C member designator (`user_data`, `sq_off.head`). */
  readonly name: N;
  readonly offset: number;
  readonly size: number;
}

/** Facts about a structure as a whole. */
export interface LayoutMeta {
  /** Short identifier (`io_uring_sqe`). */
  readonly id: string;
  /** C type (`struct io_uring_sqe`), or `null` when no UAPI header declares it. */
  readonly cType: string | null;
  /** Header that declares the C type. */
  readonly header: string | null;
  /** `sizeof` on x86-64. */
  readonly size: number;
  /** First mainline release with the structure. */
  readonly since?: KernelVersion;
}

/** A structure layout: its meta facts plus every field by name. */
export interface Layout<F extends string = string> extends LayoutMeta {
  readonly fields: { readonly [K in F]: LayoutField<K> };
}

/** Build a frozen {@link Layout}. */
export function layout<S extends Record<string, FieldSpec>>(
  meta: LayoutMeta,
  spec: S,
): Layout<Extract<keyof S, string>> {
  const fields: Record<string, LayoutField> = {};
  for (const [name, [offset, size, opts = {}]] of Object.entries(spec)) {
    fields[name] = Object.freeze({ name, offset, size, ...opts });
  }
  return Object.freeze({ ...meta, fields: Object.freeze(fields) }) as Layout<Extract<keyof S, string>>;
}

/** All fields of a layout, in the order they were written. */
export function fieldsOf<F extends string>(l: Layout<F>): LayoutField<F>[] {
  return Object.values(l.fields) as LayoutField<F>[];
}
