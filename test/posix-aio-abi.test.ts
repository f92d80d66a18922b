/**
 * src/abi/posix-aio.ts against glibc's headers: `struct aiocb` and `struct sigevent` field by field
 * (offsetof, sizeof, signedness), the `LIO_*`, `AIO_*`, `SIGEV_*` values, `aio_fsync`'s O_SYNC and O_DSYNC,
 * and the real-time signals the executor and the suite use. A generated C program prints what the
 * compiler sees; a missing `cc` fails the test (a C compiler is a build requirement).
 */
import { expect } from 'chai';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  AIO_CANCEL,
  AIO_FSYNC_OP,
  AIOCB_LAYOUT,
  entriesOf,
  fieldsOf,
  LIO_MODE,
  LIO_OP,
  POSIX_AIO_SIGNAL,
  SIGEV,
  SIGEVENT_LAYOUT,
  type Layout,
} from '../src/abi';
import { DEADLINE_SIGNAL } from '../src/program/wire';

/** Members that are not integers (pointers, unions, structs): no signedness to compare. */
const NOT_INTEGER = /(^|\.)(aio_buf|aio_sigevent|sigev_value|sigev_notify_function|sigev_notify_attributes)$/;

function source(layouts: Layout[], consts: [string, number][]): string {
  const lines = [
    '#define _GNU_SOURCE',
    '#include <aio.h>',
    '#include <fcntl.h>',
    '#include <signal.h>',
    '#include <stddef.h>',
    '#include <stdio.h>',
    'int main(void) {',
  ];
  for (const [name] of consts) lines.push(`  printf("C ${name} %lld\\n", (long long)(${name}));`);
  for (const l of layouts) {
    const t = l.cType as string;
    lines.push(`  printf("S ${l.id} %zu\\n", sizeof(${t}));`);
    for (const f of fieldsOf(l)) {
      const sign = NOT_INTEGER.test(f.name) ? '-1' : `(int)((__typeof__(((${t} *)0)->${f.name}))-1 < 0)`;
      lines.push(`  printf("F ${l.id}.${f.name} %zu %zu %d\\n", offsetof(${t}, ${f.name}), sizeof(((${t} *)0)->${f.name}), ${sign});`);
    }
  }
  lines.push('  return 0;', '}', '');
  return lines.join('\n');
}

describe('src/abi/posix-aio matches glibc <aio.h>, <signal.h> and <fcntl.h>', function () {
  this.timeout(60_000);
  const layouts = [AIOCB_LAYOUT, SIGEVENT_LAYOUT] as Layout[];
  const consts: [string, number][] = [
    ...[LIO_OP, LIO_MODE, AIO_CANCEL, SIGEV].flatMap((t) => entriesOf(t).map((e): [string, number] => [e.cName, e.value])),
    ['O_SYNC', AIO_FSYNC_OP.SYNC.value],
    ['O_DSYNC', AIO_FSYNC_OP.DSYNC.value],
    ['SIGRTMIN + 1', POSIX_AIO_SIGNAL],
    ['SIGRTMIN + 6', DEADLINE_SIGNAL],
  ];
  const seen = { consts: new Map<string, number>(), sizes: new Map<string, number>(), fields: new Map<string, number[]>() };

  before(function () {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kasync-posix-aio-abi-'));
    try {
      fs.writeFileSync(path.join(dir, 'check.c'), source(layouts, consts));
      try {
        execFileSync('cc', ['-std=gnu11', '-o', 'check', 'check.c'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
      } catch (err) {
        const e = err as NodeJS.ErrnoException & { stderr?: Buffer };
        if (e.code === 'ENOENT') throw new Error('no `cc` on PATH: the ABI check needs a C compiler (build requirement)');
        throw new Error(`cc failed:\n${e.stderr?.toString() ?? e.message}`);
      }
      for (const line of execFileSync(path.join(dir, 'check'), { encoding: 'utf8' }).split('\n')) {
        const parts = line.split(' ');
        if (parts[0] === 'C') seen.consts.set(parts.slice(1, -1).join(' '), Number(parts.at(-1)));
        else if (parts[0] === 'S') seen.sizes.set(parts[1], Number(parts[2]));
        else if (parts[0] === 'F') seen.fields.set(parts[1], parts.slice(2).map(Number));
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  for (const l of [AIOCB_LAYOUT, SIGEVENT_LAYOUT] as Layout[]) {
    it(`${l.cType}: size ${l.size} and ${fieldsOf(l).length} fields agree with ${l.header}`, function () {
      expect(seen.sizes.get(l.id), `sizeof(${l.cType})`).to.equal(l.size);
      for (const f of fieldsOf(l)) {
        const [offset, size, signed] = seen.fields.get(`${l.id}.${f.name}`) ?? [];
        expect([offset, size], `${l.id}.${f.name}: offset and size`).to.deep.equal([f.offset, f.size]);
        if (signed !== -1) expect(signed === 1, `${l.id}.${f.name}: signed`).to.equal(f.signed === true);
      }
    });
  }

  it('aiocb is 168 bytes, its sigevent at 32, aio_offset at 128 (x86-64 glibc)', function () {
    expect([AIOCB_LAYOUT.size, AIOCB_LAYOUT.fields.aio_sigevent.offset, AIOCB_LAYOUT.fields.aio_offset.offset]).to.deep.equal([168, 32, 128]);
  });

  it('LIO_*, AIO_*, SIGEV_*, O_SYNC, O_DSYNC and the real-time signals agree with the headers', function () {
    const wrong = consts.filter(([n, v]) => seen.consts.get(n) !== v).map(([n, v]) => `${n}: table ${v}, header ${seen.consts.get(n)}`);
    expect(wrong).to.deep.equal([]);
  });
});
