/**
 * src/abi against the headers the C compiler sees, and against itself.
 *
 * The header check generates a C program from the tables: every constant the headers define is
 * printed (macros under `#ifdef`; enumerators only when a scan of the preprocessed headers found
 * them), every layout field as `offsetof`/`sizeof`. An entry the headers lack is skipped when the
 * table dates it after the headers' release (or marks the date unverified), and fails otherwise:
 * that catches misspelt names and dates that are too early. A C compiler is a build requirement,
 * so a missing `cc` fails the suite rather than skipping it.
 */
import { expect } from 'chai';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  ABI_LAYOUTS,
  ABI_TABLES,
  AIO_ABI_H,
  AIO_OPS,
  AIO_RING,
  AIO_RING_LAYOUT,
  ASM_UNISTD_64_H,
  CQE_F,
  CQE_LAYOUT,
  ERRNO_ALIASES,
  ERRNO_H,
  ERRNO_UNASSIGNED,
  FEAT,
  IO_EVENT_LAYOUT,
  IO_URING_H,
  IO_URING_PARAMS_LAYOUT,
  IOCB_LAYOUT,
  KERNEL_VERSION_PATTERN,
  PROBE_LAYOUT,
  PROBE_OP_LAYOUT,
  PROCESS_LEVEL,
  PROCESS_LEVEL_NAMES,
  REGISTER,
  REGISTER_FLAG,
  RWF,
  SETUP,
  SQE_LAYOUT,
  SYSCALLS,
  URING_OP,
  URING_OPS,
  URING_SIZES,
  compareKernelVersions,
  decodeBits,
  entriesOf,
  entryByValue,
  errno,
  errnoName,
  fieldsOf,
  orBits,
  syscallName,
  tableMeta,
  uringOp,
  uringOpByValue,
  versionFromCode,
  type Layout,
  type LayoutField,
} from '../src/abi';

// ---------------------------------------------------------------------------------------------
// What the header check compares
// ---------------------------------------------------------------------------------------------

/** One named value to look up in the headers. */
interface ConstCheck {
  readonly cName: string;
  readonly expected: number;
  readonly since: string | null;
  /** Presence not asserted either way (date unverified). */
  readonly optional: boolean;
  /** Must not be defined (never merged). */
  readonly absent?: boolean;
}

/** A group of values that one `it` checks, named after its table. */
interface ConstGroup {
  readonly id: string;
  readonly header: string;
  readonly checks: readonly ConstCheck[];
}

function groupsFromTables(): ConstGroup[] {
  const groups: ConstGroup[] = ABI_TABLES.map((t) => ({
    id: tableMeta(t).id,
    header: tableMeta(t).header,
    checks: entriesOf(t)
      .filter((e) => !e.internal)
      .map((e) => ({ cName: e.cName, expected: e.value, since: e.since, optional: e.unverified })),
  }));
  groups.push({
    id: 'IOCB_CMD',
    header: AIO_ABI_H,
    checks: AIO_OPS.filter((o) => o.cName !== null).map((o) => ({
      cName: o.cName as string,
      expected: o.value,
      since: null,
      optional: false,
      absent: !o.uapi,
    })),
  });
  const plain = (id: string, header: string, rec: Readonly<Record<string, number>>, cPrefix = ''): ConstGroup => ({
    id,
    header,
    checks: Object.entries(rec).map(([n, v]) => ({ cName: cPrefix + n, expected: v, since: null, optional: false })),
  });
  groups.push(plain('errno', ERRNO_H, errno), plain('errno aliases', ERRNO_H, ERRNO_ALIASES));
  groups.push(plain('SYSCALLS', ASM_UNISTD_64_H, SYSCALLS, '__NR_'));
  groups.push(plain('PROCESS_LEVEL', ASM_UNISTD_64_H, PROCESS_LEVEL_NAMES, '__NR_'));
  return groups;
}

const GROUPS = groupsFromTables();
const HEADER_LAYOUTS = ABI_LAYOUTS.filter((l) => l.cType !== null);

/** Enumerations whose full membership the check compares, named by their first member. */
const ENUM_ANCHORS = ['IORING_OP_NOP', 'IORING_REGISTER_BUFFERS', 'IOCB_CMD_PREAD'];

// ---------------------------------------------------------------------------------------------
// Reading the headers
// ---------------------------------------------------------------------------------------------

const isUapi = (h: string) => h.startsWith('<linux/') || h.startsWith('<asm/');

/** A translation unit: one set of headers that can be included together. */
interface Unit {
  readonly name: 'uapi' | 'libc';
  readonly prelude: string;
  readonly headers: readonly string[];
}

function units(): Unit[] {
  const all = [...GROUPS.map((g) => g.header), ...HEADER_LAYOUTS.map((l) => l.header as string)];
  const uapi = [...new Set(['<linux/version.h>', ...all.filter(isUapi)])].sort();
  const libc = [...new Set(all.filter((h) => !isUapi(h)))].sort();
  return [
    // Kernel UAPI headers alone: glibc's <fcntl.h> would clash with <linux/fcntl.h>.
    { name: 'uapi', prelude: '', headers: uapi },
    { name: 'libc', prelude: '#define _GNU_SOURCE\n', headers: libc },
  ];
}

/** What a scan of one unit's headers found. */
interface Scan {
  readonly enumerators: ReadonlySet<string>;
  /** Members of each enum, in order. */
  readonly enums: readonly string[][];
  /** Preprocessed text, for struct bodies. */
  readonly text: string;
}

function cc(args: string[], cwd: string): string {
  try {
    return execFileSync('cc', args, { cwd, encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') {
      throw new Error('no `cc` on PATH: the ABI header check needs a C compiler (build requirement)');
    }
    throw new Error(`cc ${args.join(' ')} failed:\n${e.stderr ?? e.message}`);
  }
}

function includes(u: Unit): string {
  return u.prelude + u.headers.map((h) => `#include ${h}\n`).join('');
}

function scan(u: Unit, dir: string): Scan {
  const file = path.join(dir, `scan-${u.name}.c`);
  fs.writeFileSync(file, includes(u));
  const text = cc(['-E', '-P', file], dir);
  const enums = [...text.matchAll(/\benum\b[^{};]*\{([^}]*)\}/g)].map((body) =>
    body[1].split(',').flatMap((item) => /^\s*([A-Za-z_]\w*)/.exec(item)?.[1] ?? []),
  );
  return { enumerators: new Set(enums.flat()), enums, text };
}

/** Body of `struct tag { … }` in preprocessed text. */
function structBody(text: string, tag: string): string | undefined {
  const m = new RegExp(`\\bstruct\\s+${tag}\\s*\\{`).exec(text);
  if (!m) return undefined;
  let depth = 1;
  let i = m.index + m[0].length;
  const start = i;
  for (; i < text.length && depth > 0; i++) {
    if (text[i] === '{') depth++;
    else if (text[i] === '}') depth--;
  }
  return text.slice(start, i - 1);
}

/** Does the body declare `member` (directly or in an anonymous union/struct)? */
function declares(body: string, member: string): boolean {
  const array = '(\\[[^\\]]*\\])?';
  const attribute = '(__attribute__\\s*\\(\\(.*?\\)\\)\\s*)?';
  return new RegExp(`(?<![\\w.>])${member}\\s*${array}\\s*${attribute}[;,]`).test(body);
}

/** Is `a.b.c` a member path of `struct tag` in these headers? */
function hasField(text: string, tag: string, fieldPath: string): boolean {
  let body = structBody(text, tag);
  const parts = fieldPath.split('.');
  for (let i = 0; i < parts.length; i++) {
    if (body === undefined || !declares(body, parts[i])) return false;
    if (i < parts.length - 1) {
      const inner = new RegExp(`struct\\s+(\\w+)\\s+${parts[i]}\\s*;`).exec(body);
      body = inner ? structBody(text, inner[1]) : undefined;
    }
  }
  return true;
}

const tagOf = (l: Layout) => (l.cType as string).replace(/^struct\s+/, '');
const isScalar = (f: LayoutField) => !f.count && !f.aggregate && !f.flexible;

/** The field name the headers use: its own, or its former name. */
function headerName(text: string, l: Layout, f: LayoutField): string | undefined {
  if (hasField(text, tagOf(l), f.name)) return f.name;
  if (f.formerly && hasField(text, tagOf(l), f.formerly)) return f.formerly;
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// The generated program and its output
// ---------------------------------------------------------------------------------------------

function program(u: Unit, s: Scan, groups: readonly ConstGroup[], layouts: readonly Layout[]): string {
  const lines: string[] = [
    includes(u),
    '#include <stddef.h>',
    '#include <stdio.h>',
    '#define C(n, v) printf("C %s %lld\\n", n, (long long)(v))',
    '#define F(l, n, o, s, g) printf("F %s %s %zu %zu %d\\n", l, n, (size_t)(o), (size_t)(s), g)',
    'int main(void) {',
  ];
  const names = new Set<string>(groups.flatMap((g) => g.checks.map((c) => c.cName)));
  for (const e of s.enums.filter((members) => ENUM_ANCHORS.some((a) => members.includes(a))).flat()) names.add(e);
  for (const n of names) {
    if (s.enumerators.has(n)) lines.push(`  C("${n}", ${n});`);
    else lines.push(`#ifdef ${n}`, `  C("${n}", ${n});`, '#endif');
  }
  if (u.name === 'uapi') lines.push('  C("LINUX_VERSION_CODE", LINUX_VERSION_CODE);');
  for (const l of layouts) {
    const t = l.cType as string;
    // a structure newer than the headers cannot be measured: the layout test skips it by its release
    if (structBody(s.text, tagOf(l)) === undefined) continue;
    lines.push(`  printf("S %s %zu\\n", "${l.id}", sizeof(${t}));`);
    for (const f of fieldsOf(l)) {
      const n = headerName(s.text, l, f);
      if (n === undefined) continue;
      const size = f.flexible ? '0' : `sizeof(((${t} *)0)->${n})`;
      const sign = isScalar(f) ? `(int)((__typeof__(((${t} *)0)->${n}))-1 < 0)` : '-1';
      lines.push(`  F("${l.id}", "${f.name}", offsetof(${t}, ${n}), ${size}, ${sign});`);
    }
  }
  lines.push('  return 0;', '}', '');
  return lines.join('\n');
}

/** What the headers say. */
interface HeaderFacts {
  version: string;
  readonly consts: Map<string, number>;
  readonly sizes: Map<string, number>;
  readonly fields: Map<string, { offset: number; size: number; signed: number }>;
  /** Members of each enum the headers declare. */
  readonly enums: string[][];
}

function readHeaders(dir: string): HeaderFacts {
  const facts: HeaderFacts = { version: '', consts: new Map(), sizes: new Map(), fields: new Map(), enums: [] };
  for (const u of units()) {
    const s = scan(u, dir);
    facts.enums.push(...s.enums);
    const groups = GROUPS.filter((g) => isUapi(g.header) === (u.name === 'uapi'));
    const layouts = HEADER_LAYOUTS.filter((l) => isUapi(l.header as string) === (u.name === 'uapi'));
    const src = path.join(dir, `check-${u.name}.c`);
    const exe = path.join(dir, `check-${u.name}`);
    fs.writeFileSync(src, program(u, s, groups, layouts));
    cc(['-std=gnu11', '-w', '-o', exe, src], dir);
    const out = execFileSync(exe, { encoding: 'utf8' });
    for (const line of out.split('\n')) {
      const [kind, a, b, c, d, e] = line.split(' ');
      if (kind === 'C') facts.consts.set(a, Number(b));
      else if (kind === 'S') facts.sizes.set(a, Number(b));
      else if (kind === 'F') facts.fields.set(`${a}.${b}`, { offset: Number(c), size: Number(d), signed: Number(e) });
    }
  }
  facts.version = versionFromCode(facts.consts.get('LINUX_VERSION_CODE') ?? 0);
  return facts;
}

/** May the headers lack something first released in `since`? */
function mayBeMissing(since: string | null | undefined, optional: boolean, version: string): boolean {
  return optional || (since != null && compareKernelVersions(since, version) > 0);
}

const hex = (v: number) => (Math.abs(v) >= 256 ? `0x${v.toString(16)}` : String(v));

// ---------------------------------------------------------------------------------------------
// The header check
// ---------------------------------------------------------------------------------------------

describe('src/abi matches the installed UAPI and libc headers', function () {
  let dir = '';
  let facts: HeaderFacts;
  const tally = { constants: 0, fields: 0, sizes: 0, skipped: [] as string[] };

  before(function () {
    this.timeout(120_000);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kasync-abi-'));
    facts = readHeaders(dir);
  });

  /** Members and values of the header enum that contains `anchor`. */
  const enumOf = (anchor: string): Array<[string, number]> =>
    (facts.enums.find((members) => members.includes(anchor)) ?? []).map((n) => [n, facts.consts.get(n) as number]);

  after(function () {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    if (facts) {
      const s = tally.skipped;
      // One line for the log: how much was compared, what the headers are too old to have.
      const some = s.length ? ` (${s.slice(0, 8).join(', ')}${s.length > 8 ? ', …' : ''})` : '';
      console.log(
        `      abi: headers ${facts.version}: ${tally.constants} constants, ${tally.fields} fields, ` +
          `${tally.sizes} sizes compared; ${s.length} entries newer than the headers skipped${some}`,
      );
    }
  });

  for (const g of GROUPS.filter((x) => x.checks.length > 0)) {
    const n = g.checks.length;
    it(`${g.id}: ${n} value${n === 1 ? '' : 's'} agree${n === 1 ? 's' : ''} with ${g.header}`, function () {
      const problems: string[] = [];
      for (const c of g.checks) {
        const got = facts.consts.get(c.cName);
        if (c.absent) {
          if (got !== undefined) problems.push(`${c.cName}: defined as ${got}, but the table says it was never merged`);
          continue;
        }
        if (got === undefined) {
          if (mayBeMissing(c.since, c.optional, facts.version)) tally.skipped.push(c.cName);
          else problems.push(`${c.cName}: not in headers ${facts.version}, table says since ${c.since ?? 'always'}`);
          continue;
        }
        tally.constants++;
        if (got !== c.expected) problems.push(`${c.cName}: table ${hex(c.expected)}, header ${hex(got)}`);
      }
      expect(problems, `${g.id}: entries that disagree with ${g.header}`).to.deep.equal([]);
    });
  }

  for (const l of HEADER_LAYOUTS) {
    it(`${l.cType}: size and ${fieldsOf(l).length} fields agree with ${l.header}`, function () {
      const problems: string[] = [];
      const size = facts.sizes.get(l.id);
      if (size === undefined && mayBeMissing(l.since, false, facts.version)) {
        tally.skipped.push(l.id);
        return;
      }
      tally.sizes++;
      if (size !== l.size) problems.push(`sizeof(${l.cType}): table ${l.size}, header ${size}`);
      for (const f of fieldsOf(l)) {
        const got = facts.fields.get(`${l.id}.${f.name}`);
        if (!got) {
          if (mayBeMissing(f.since, f.unverified === true, facts.version)) tally.skipped.push(`${l.id}.${f.name}`);
          else problems.push(`${l.id}.${f.name}: not declared by headers ${facts.version}`);
          continue;
        }
        tally.fields++;
        const where = `${l.id}.${f.name}`;
        if (got.offset !== f.offset) problems.push(`${where}: offset table ${f.offset}, header ${got.offset}`);
        if (!f.flexible && got.size !== f.size) problems.push(`${where}: size table ${f.size}, header ${got.size}`);
        if (isScalar(f) && !f.signVaries && got.signed !== (f.signed ? 1 : 0)) {
          const sign = (signed: unknown) => (signed ? 'signed' : 'unsigned');
          problems.push(`${where}: table ${sign(f.signed)}, header ${sign(got.signed)}`);
        }
      }
      expect(problems, `${l.id}: fields that disagree with ${l.header}`).to.deep.equal([]);
    });
  }

  it('IORING_OP_*: the header defines exactly the tabled opcodes below its IORING_OP_LAST', function () {
    const last = facts.consts.get('IORING_OP_LAST');
    expect(last, 'IORING_OP_LAST from <linux/io_uring.h>').to.be.a('number');
    const inHeader = enumOf('IORING_OP_NOP').filter(([n]) => n !== 'IORING_OP_LAST');
    const tabled = URING_OPS.filter((o) => o.value < (last as number));
    expect(inHeader.length, `IORING_OP_* defined by headers ${facts.version}`).to.equal(tabled.length);
    expect(last, 'IORING_OP_LAST is one past the highest opcode').to.equal(inHeader.length);
    const wrong = inHeader.filter(([n, v]) => uringOpByValue(v)?.cName !== n).map(([n, v]) => `${n}=${v}`);
    expect(wrong, 'header opcodes whose name and value URING_OPS does not have').to.deep.equal([]);
  });

  it('IORING_REGISTER_*: the header defines exactly the tabled opcodes below its IORING_REGISTER_LAST', function () {
    const last = facts.consts.get('IORING_REGISTER_LAST');
    expect(last, 'IORING_REGISTER_LAST from <linux/io_uring.h>').to.be.a('number');
    const flags = new Set(entriesOf(REGISTER_FLAG).map((e) => e.cName));
    const all = enumOf('IORING_REGISTER_BUFFERS').filter(
      ([n, v]) => n !== 'IORING_REGISTER_LAST' && !flags.has(n) && v < (last as number),
    );
    const tabled = entriesOf(REGISTER).filter((e) => e.value < (last as number));
    expect(all.length, `register opcodes below IORING_REGISTER_LAST (${last})`).to.equal(tabled.length);
    const wrong = all.filter(([n, v]) => entryByValue(REGISTER, v)?.cName !== n).map(([n, v]) => `${n}=${v}`);
    expect(wrong, 'header register opcodes REGISTER does not have').to.deep.equal([]);
  });

  it('IOCB_CMD_*: the header defines exactly the AIO ops marked uapi', function () {
    const inHeader = enumOf('IOCB_CMD_PREAD').map(([n, v]) => `${n}=${v}`);
    const uapi = AIO_OPS.filter((o) => o.uapi).map((o) => `${o.cName}=${o.value}`);
    expect(inHeader.sort(), 'IOCB_CMD_* in <linux/aio_abi.h>').to.deep.equal(uapi.sort());
  });

  it('the sizes everything else rests on: iocb 64, io_event 32, SQE 64, CQE 16, io_uring_params 120', function () {
    const want: Array<[Layout, number]> = [
      [IOCB_LAYOUT, 64],
      [IO_EVENT_LAYOUT, 32],
      [SQE_LAYOUT, 64],
      [CQE_LAYOUT, 16],
      [IO_URING_PARAMS_LAYOUT, 120],
    ];
    for (const [l, n] of want) {
      expect(l.size, `${l.cType} in src/abi`).to.equal(n);
      expect(facts.sizes.get(l.id), `sizeof(${l.cType}) in the headers`).to.equal(n);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// The tables on their own
// ---------------------------------------------------------------------------------------------

const isBit = (v: number) => v > 0 && Number.isInteger(Math.log2(v));

describe('src/abi tables are well-formed', function () {
  it('URING_OPS: 65 opcodes, values 0..64 in order, unique names, WAITID since 6.7', function () {
    expect(URING_OPS.map((o) => o.value)).to.deep.equal([...Array(65).keys()]);
    expect(new Set(URING_OPS.map((o) => o.name)).size, 'unique names').to.equal(65);
    expect(URING_OPS[0].name).to.equal('NOP');
    expect(URING_OPS[64].name).to.equal('URING_CMD128');
    expect(uringOp('READ')).to.include({ name: 'READ', value: 22, since: '5.6', cName: 'IORING_OP_READ' });
    expect(URING_OP.WAITID.since, 'SEMANTICS §5: 6.7, not the man page 6.5').to.equal('6.7');
    expect(uringOpByValue(65), 'no opcode 65').to.equal(undefined);
  });

  it('every since string is a kernel version', function () {
    const bad: string[] = [];
    for (const t of ABI_TABLES) {
      for (const e of entriesOf(t)) if (e.since && !KERNEL_VERSION_PATTERN.test(e.since)) bad.push(e.cName);
    }
    for (const l of ABI_LAYOUTS) {
      if (l.since && !KERNEL_VERSION_PATTERN.test(l.since)) bad.push(l.id);
      for (const f of fieldsOf(l)) if (f.since && !KERNEL_VERSION_PATTERN.test(f.since)) bad.push(`${l.id}.${f.name}`);
    }
    for (const o of AIO_OPS) if (o.since && !KERNEL_VERSION_PATTERN.test(o.since)) bad.push(o.name);
    expect(bad).to.deep.equal([]);
  });

  it('io_uring, AIO and RWF entries all carry a release (or say it is unverified)', function () {
    const dated = ABI_TABLES.filter((t) => t === RWF || [IO_URING_H, AIO_ABI_H].includes(tableMeta(t).header));
    const undated = dated.flatMap((t) => entriesOf(t)).filter((e) => e.since === null && !e.unverified && !e.internal);
    expect(undated.map((e) => e.cName)).to.deep.equal([]);
  });

  it('flag tables hold single bits (masks aside); enumerations hold distinct values', function () {
    const bad: string[] = [];
    for (const t of ABI_TABLES) {
      const m = tableMeta(t);
      const es = entriesOf(t);
      if (m.kind === 'bits') {
        for (const e of es) if (!e.mask && !isBit(e.value)) bad.push(`${e.cName}=${hex(e.value)} is not one bit`);
      }
      if (m.kind === 'bits' || m.kind === 'enum') {
        const seen = new Map<number, string>();
        for (const e of es.filter((x) => !x.mask)) {
          if (seen.has(e.value)) bad.push(`${e.cName} repeats ${seen.get(e.value)}`);
          seen.set(e.value, e.cName);
        }
      }
    }
    expect(bad).to.deep.equal([]);
  });

  it('table ids and C names are unique across src/abi', function () {
    const ids = ABI_TABLES.map((t) => tableMeta(t).id);
    expect(ids.filter((x, i) => ids.indexOf(x) !== i), 'duplicate table ids').to.deep.equal([]);
    const names = ABI_TABLES.flatMap((t) => entriesOf(t).map((e) => e.cName));
    expect(names.filter((x, i) => names.indexOf(x) !== i), 'duplicate C names').to.deep.equal([]);
  });

  it('setup flags are bits 0..20, feature bits 0..17, CQE F_32 is bit 15', function () {
    expect(entriesOf(SETUP).map((e) => e.value)).to.deep.equal([...Array(21).keys()].map((b) => 2 ** b));
    expect(entriesOf(FEAT).map((e) => e.value)).to.deep.equal([...Array(18).keys()].map((b) => 2 ** b));
    expect(CQE_F.F_32.value).to.equal(1 << 15);
    expect(REGISTER.PROBE.value).to.equal(8);
    expect(REGISTER.BPF_FILTER.value).to.equal(37);
    expect(REGISTER_FLAG.USE_REGISTERED_RING.value, 'bit 31, positive').to.equal(0x80000000);
  });

  it('layout fields lie inside their structure, sub-fields inside their aggregate', function () {
    const bad: string[] = [];
    const ids = ABI_LAYOUTS.map((l) => l.id);
    expect(new Set(ids).size, 'unique layout ids').to.equal(ids.length);
    for (const l of ABI_LAYOUTS) {
      for (const f of fieldsOf(l)) {
        const end = f.offset + (f.flexible ? 0 : f.size);
        if (f.size <= 0 || end > l.size) bad.push(`${l.id}.${f.name} ends at ${f.offset + f.size}, past ${l.size}`);
        if (f.count && f.size % f.count !== 0) bad.push(`${l.id}.${f.name}: ${f.size} bytes in ${f.count} elements`);
        const dot = f.name.lastIndexOf('.');
        if (dot > 0) {
          const outer = (l.fields as Record<string, LayoutField>)[f.name.slice(0, dot)];
          if (!outer?.aggregate || f.offset < outer.offset || f.offset + f.size > outer.offset + outer.size) {
            bad.push(`${l.id}.${f.name} outside its aggregate`);
          }
        }
      }
    }
    expect(bad).to.deep.equal([]);
    const opFlags = fieldsOf(SQE_LAYOUT).filter((f) => f.offset === 28);
    expect(opFlags.filter((f) => f.size !== 4).map((f) => f.name), 'op-flags union members not 32-bit').to.deep.equal([
      'poll_events',
    ]);
    const sizes = { SQE: 64, SQE128: 128, CQE: 16, CQE32: 32, PARAMS: 120, PROBE: 16, PROBE_OP: 8 };
    expect(URING_SIZES).to.deep.equal(sizes);
    expect([PROBE_LAYOUT.size, PROBE_OP_LAYOUT.size, AIO_RING_LAYOUT.size]).to.deep.equal([16, 8, 32]);
  });

  it('AIO_OPS: 0..13; LaHaise 9, 10, 12, 13 unmerged; 4 and 6 never implemented; 11 unused', function () {
    expect(AIO_OPS.map((o) => o.value)).to.deep.equal([...Array(14).keys()]);
    const state = (s: string) => AIO_OPS.filter((o) => o.state === s).map((o) => o.value);
    expect(state('works')).to.deep.equal([0, 1, 2, 3, 5, 7, 8]);
    expect(state('never-implemented')).to.deep.equal([4, 6]);
    expect(state('unmerged')).to.deep.equal([9, 10, 12, 13]);
    expect(state('unused')).to.deep.equal([11]);
    for (const o of AIO_OPS) {
      expect(o.since !== null, `${o.name}: works ⇔ has a release`).to.equal(o.state === 'works');
    }
    expect(AIO_RING.MAGIC.value).to.equal(0xa10a10a1);
  });

  it('errno: 1..133 without gaps except 41 and 58; errnoName takes either sign', function () {
    const values = Object.values(errno).sort((a, b) => a - b);
    const want = [...Array(133).keys()].map((i) => i + 1).filter((n) => !ERRNO_UNASSIGNED.includes(n));
    expect(values).to.deep.equal(want);
    expect(errnoName(22)).to.equal('EINVAL');
    expect(errnoName(-125)).to.equal('ECANCELED');
    expect(errnoName(512), 'ERESTARTSYS is kernel-internal').to.equal(undefined);
  });

  it('SYSCALLS: unique numbers; PROCESS_LEVEL is exactly the refused list', function () {
    const nrs = Object.values(SYSCALLS);
    expect(new Set(nrs).size, 'unique numbers').to.equal(nrs.length);
    expect(syscallName(425)).to.equal('io_uring_setup');
    // The list the native executor refuses, written out independently of src/abi.
    const refused = [56, 57, 58, 59, 60, 62, 101, 105, 106, 113, 114, 116, 117, 119, 122, 123, 126, 131, 157, 158];
    refused.push(160, 161, 80, 81, 200, 218, 231, 234, 272, 302, 308, 317, 322, 435, 13, 14, 15, 9, 10, 11, 12, 25);
    expect([...PROCESS_LEVEL].sort((a, b) => a - b)).to.deep.equal(refused.sort((a, b) => a - b));
    expect(PROCESS_LEVEL_NAMES.clone3).to.equal(435);
  });

  it('helpers: bit 31 survives orBits, decodeBits names bits and leftovers', function () {
    expect(orBits(REGISTER_FLAG.USE_REGISTERED_RING, REGISTER.PROBE)).to.equal(0x80000008);
    expect(decodeBits(CQE_F, CQE_F.BUFFER.value | CQE_F.MORE.value | 0x100)).to.deep.equal(['BUFFER', 'MORE', '0x100']);
    const iopoll: number = SETUP.IOPOLL.value;
    expect([iopoll, SETUP.IOPOLL.since]).to.deep.equal([1, '5.1']);
    // @ts-expect-error an unknown flag name does not compile
    expect(SETUP.NOT_A_FLAG).to.equal(undefined);
  });
});
