/**
 * The read and write checks shared by AIO (PREAD/PWRITE/PREADV/PWRITEV) and io_uring
 * (READ/WRITE/READV/WRITEV): the same fixture and the same expectations, only the submission differs.
 */
import { expect } from 'chai';
import { errno, O, RWF, SYSCALLS, UIO } from '../abi';
import { arg, Buf, Fd, Program, Sequence } from '../program/builder';
import { patternBytes } from '../program/pattern';
import * as path from 'path';
import { openat, pread, pwrite } from '../program/sys';
import { conformance, TestContext } from '../suite/conformance';
import { differential, iovecs, ResultOf, viaAio, viaUring } from './differential';

/** Three segments out of buffer order: [offset in the buffer, length]. */
const SEGMENTS = [
  [1024, 100],
  [0, 200],
  [2048, 300],
] as const;

/** How one interface submits a read or write op: a buffer (or iovec array) and a length (or iovec count). */
interface Iface {
  name: 'aio' | 'uring';
  rule: string;
  ops: { read: string; write: string; readv: string; writev: string };
  /** `rwFlags`: RWF_* in aio_rw_flags / the SQE's rw_flags; `bufOff`: where in `b` the data starts. */
  submit(s: Sequence, op: string, fd: Fd, b: Buf, len: number, off: number, rwFlags?: number, bufOff?: number): ResultOf;
  /** Seed base, distinct per interface so a mixed-up buffer cannot pass. */
  seed: number;
}

const IFACES: Record<'aio' | 'uring', Iface> = {
  aio: {
    name: 'aio',
    rule: 'SEMANTICS §1.2',
    ops: { read: 'PREAD', write: 'PWRITE', readv: 'PREADV', writev: 'PWRITEV' },
    seed: 0x0a10,
    submit: (s, op, fd, b, len, off, rwFlags = 0, bufOff = 0) =>
      viaAio(s, { opcode: op as 'PREAD', fd, aio_buf: arg.buf(b, bufOff), aio_nbytes: len, aio_offset: off, aio_rw_flags: rwFlags }),
  },
  uring: {
    name: 'uring',
    rule: 'SEMANTICS §3.2',
    ops: { read: 'READ', write: 'WRITE', readv: 'READV', writev: 'WRITEV' },
    seed: 0x0b10,
    submit: (s, op, fd, b, len, off, rwFlags = 0, bufOff = 0) =>
      viaUring(s, { opcode: op as 'READ', fd, addr: arg.buf(b, bufOff), len, off, rw_flags: rwFlags }),
  },
};

/** `<iface>.<read op> matches pread on a short file`. */
export function readMatchesPreadOnShortFile(which: 'aio' | 'uring'): void {
  const i = IFACES[which];
  const seed = i.seed;
  const op = i.ops.read;
  conformance(`${i.name}.${op} matches pread on a short file`, { ops: [`${i.name}.${op}`], rule: i.rule }, async ({ target, scratch }) => {
    // 1000-byte file, 4096 asked for at 600: 400 bytes are there
    const twin = await differential(target, scratch, {
      content: [{ seed, off: 0, len: 1000 }],
      buf: { size: 4096 },
      sync: (s, x) => pread(s, x.fd, x.buf, 4096, 600),
      async: (s, x) => i.submit(s, op, x.fd, x.buf, 4096, 600),
    });
    expect(twin.async.result, `a read past EOF returns the bytes available (${i.rule})`).to.equal(400);
    expect(twin.bytes.async.buf.subarray(0, 400).equals(patternBytes(seed, 600, 400)), 'the 400 bytes at 600 land in the buffer').to.equal(true);
    expect(twin.async, `same result, buffer and file as pread(2) (${i.rule})`).to.deep.equal(twin.sync);
  });
}

/** `<iface>.<read op> of a hole reads zeros`. */
export function readOfHoleReadsZeros(which: 'aio' | 'uring'): void {
  const i = IFACES[which];
  const op = i.ops.read;
  conformance(`${i.name}.${op} of a hole reads zeros`, { ops: [`${i.name}.${op}`], rule: i.rule }, async ({ target, scratch }) => {
    // data only at 64 KiB: [0, 64 KiB) is a hole; the buffer starts as 0xa5
    const twin = await differential(target, scratch, {
      content: [{ seed: i.seed, off: 65536, len: 4096 }],
      buf: { size: 4096 },
      sync: (s, x) => pread(s, x.fd, x.buf, 4096, 8192),
      async: (s, x) => i.submit(s, op, x.fd, x.buf, 4096, 8192),
    });
    expect(twin.async.result, `a read inside the file is full length (${i.rule})`).to.equal(4096);
    expect(twin.bytes.async.buf.equals(Buffer.alloc(4096)), 'a hole reads as zeros').to.equal(true);
    expect(twin.async, `same result, buffer and file as pread(2) (${i.rule})`).to.deep.equal(twin.sync);
  });
}

/** `<iface>.<write op> extending a file matches pwrite`. */
export function writeExtendingFileMatchesPwrite(which: 'aio' | 'uring'): void {
  const i = IFACES[which];
  const seed = i.seed + 2;
  const op = i.ops.write;
  conformance(`${i.name}.${op} extending a file matches pwrite`, { ops: [`${i.name}.${op}`], rule: i.rule }, async ({ target, scratch }) => {
    // 1000-byte file; 4096 bytes written at 2000 leave a gap [1000, 2000) and grow the file to 6096
    const twin = await differential(target, scratch, {
      content: [{ seed: i.seed + 1, off: 0, len: 1000 }],
      buf: { size: 4096, fill: { seed, pos: 2000 } },
      sync: (s, x) => pwrite(s, x.fd, x.buf, 4096, 2000),
      async: (s, x) => i.submit(s, op, x.fd, x.buf, 4096, 2000),
    });
    expect(twin.async.result, `the whole write is done (${i.rule})`).to.equal(4096);
    expect(twin.async.size, 'the file grows to the end of the write').to.equal(6096);
    const file = twin.bytes.async.file;
    expect(file.subarray(1000, 2000).equals(Buffer.alloc(1000)), 'the gap before the write reads as zeros').to.equal(true);
    expect(file.subarray(2000).equals(patternBytes(seed, 2000, 4096)), 'the written bytes are in the file').to.equal(true);
    expect(twin.async, `same result, size and bytes as pwrite(2) (${i.rule})`).to.deep.equal(twin.sync);
  });
}

/** `<iface>.<readv op> with 3 iovecs matches preadv`. */
export function vectoredReadMatchesPreadv(which: 'aio' | 'uring'): void {
  const i = IFACES[which];
  const seed = i.seed + 3;
  const op = i.ops.readv;
  conformance(`${i.name}.${op} with 3 iovecs matches preadv`, { ops: [`${i.name}.${op}`], rule: i.rule }, async ({ target, scratch }) => {
    // 450-byte file read from 50: 400 bytes fill the first two iovecs and 100 of the third
    const twin = await differential(target, scratch, {
      content: [{ seed, off: 0, len: 450 }],
      buf: { size: 4096 },
      sync: (s, x) => s.syscall(SYSCALLS.preadv, [arg.fd(x.fd), arg.buf(iovecs(s, x.buf, SEGMENTS)), SEGMENTS.length, 50, 0]),
      async: (s, x) => i.submit(s, op, x.fd, iovecs(s, x.buf, SEGMENTS), SEGMENTS.length, 50),
    });
    expect(twin.async.result, `a vectored read stops at EOF: 400 bytes (${i.rule})`).to.equal(400);
    const b = twin.bytes.async.buf;
    expect(b.subarray(1024, 1124).equals(patternBytes(seed, 50, 100)), 'iovec 0 holds file bytes [50, 150)').to.equal(true);
    expect(b.subarray(0, 200).equals(patternBytes(seed, 150, 200)), 'iovec 1 holds file bytes [150, 350)').to.equal(true);
    expect(b.subarray(2048, 2148).equals(patternBytes(seed, 350, 100)), 'iovec 2 holds file bytes [350, 450)').to.equal(true);
    expect(twin.async, `same result, buffer and file as preadv(2) (${i.rule})`).to.deep.equal(twin.sync);
  });
}

/** `<iface>.<writev op> with 3 iovecs matches pwritev`. */
export function vectoredWriteMatchesPwritev(which: 'aio' | 'uring'): void {
  const i = IFACES[which];
  const seed = i.seed + 5;
  const op = i.ops.writev;
  conformance(`${i.name}.${op} with 3 iovecs matches pwritev`, { ops: [`${i.name}.${op}`], rule: i.rule }, async ({ target, scratch }) => {
    // 1000-byte file; 600 bytes gathered from three iovecs written at 700 grow it to 1300
    const twin = await differential(target, scratch, {
      content: [{ seed: seed - 1, off: 0, len: 1000 }],
      buf: { size: 4096, fill: { seed } },
      sync: (s, x) => s.syscall(SYSCALLS.pwritev, [arg.fd(x.fd), arg.buf(iovecs(s, x.buf, SEGMENTS)), SEGMENTS.length, 700, 0]),
      async: (s, x) => i.submit(s, op, x.fd, iovecs(s, x.buf, SEGMENTS), SEGMENTS.length, 700),
    });
    expect(twin.async.result, `all three iovecs are written (${i.rule})`).to.equal(600);
    expect(twin.async.size, 'the file grows to the end of the write').to.equal(1300);
    const gathered = Buffer.concat(SEGMENTS.map(([off, len]) => patternBytes(seed, off, len)));
    expect(twin.bytes.async.file.subarray(700).equals(gathered), 'the file holds the iovecs in iovec order').to.equal(true);
    expect(twin.async, `same result, size and bytes as pwritev(2) (${i.rule})`).to.deep.equal(twin.sync);
  });
}

/** pwritev2(fd, [buf, len], 1, off, flags): the synchronous twin of a write carrying RWF_* flags. */
function pwritev2(s: Sequence, fd: Fd, b: Buf, len: number, off: number, flags: number) {
  return s.syscall(SYSCALLS.pwritev2, [arg.fd(fd), arg.buf(iovecs(s, b, [[0, len]])), 1, off, 0, flags]);
}

/** `<iface>.<read op> at and past EOF returns 0 like pread`. */
export function readAtEofReturnsZero(which: 'aio' | 'uring'): void {
  const i = IFACES[which];
  const op = i.ops.read;
  conformance(
    `${i.name}.${op} at and past EOF returns 0 like pread`,
    { ops: [`${i.name}.${op}`], rule: i.rule },
    async ({ target, scratch }) => {
      // 1000-byte file, read at its end and far past it: nothing to read, the buffer stays 0xa5
      for (const off of [1000, 1 << 20]) {
        const twin = await differential(target, scratch, {
          content: [{ seed: i.seed + 6, off: 0, len: 1000 }],
          buf: { size: 4096 },
          sync: (s, x) => pread(s, x.fd, x.buf, 4096, off),
          async: (s, x) => i.submit(s, op, x.fd, x.buf, 4096, off),
        });
        expect(twin.async.result, `a read at ${off}, at or past EOF, returns 0 (${i.rule})`).to.equal(0);
        expect(
          twin.bytes.async.buf.equals(Buffer.alloc(4096, 0xa5)),
          `the read at ${off} leaves the buffer alone`,
        ).to.equal(true);
        expect(twin.async, `same result, buffer and file as pread(2) at ${off} (${i.rule})`).to.deep.equal(twin.sync);
      }
    },
  );
}

/** `<iface>.<read, write, readv, writev> of zero bytes return 0 like their twins`. */
export function zeroLengthMatchesTwins(which: 'aio' | 'uring'): void {
  const i = IFACES[which];
  const { read, write, readv, writev } = i.ops;
  const ops = [read, write, readv, writev].map((o) => `${i.name}.${o}`);
  conformance(
    `${i.name}.${read}, ${write}, ${readv} and ${writev} of zero bytes return 0 like their twins`,
    { ops, rule: i.rule },
    async ({ target, scratch }) => {
      // at 2000, past the 1000-byte EOF: a zero-length write must not extend the file either
      const off = 2000;
      const cases = [
        { op: read, sync: (s: Sequence, fd: Fd, b: Buf) => pread(s, fd, b, 0, off) },
        { op: write, sync: (s: Sequence, fd: Fd, b: Buf) => pwrite(s, fd, b, 0, off) },
        {
          op: readv,
          sync: (s: Sequence, fd: Fd, b: Buf) => s.syscall(SYSCALLS.preadv, [arg.fd(fd), arg.buf(b), 0, off, 0]),
        },
        {
          op: writev,
          sync: (s: Sequence, fd: Fd, b: Buf) => s.syscall(SYSCALLS.pwritev, [arg.fd(fd), arg.buf(b), 0, off, 0]),
        },
      ];
      for (const c of cases) {
        const twin = await differential(target, scratch, {
          content: [{ seed: i.seed + 7, off: 0, len: 1000 }],
          buf: { size: 4096, fill: { seed: i.seed + 8 } },
          sync: (s, x) => c.sync(s, x.fd, x.buf),
          async: (s, x) => i.submit(s, c.op, x.fd, x.buf, 0, off),
        });
        expect(twin.async.result, `${c.op} of zero bytes returns 0 (${i.rule})`).to.equal(0);
        expect(twin.async.size, `${c.op} of zero bytes leaves the file at 1000 bytes`).to.equal(1000);
        expect(twin.async, `${c.op} of zero bytes: same result, buffer and file as its twin (${i.rule})`).to.deep.equal(
          twin.sync,
        );
      }
    },
  );
}

/** `<iface>.<write op> on an O_APPEND fd lands at EOF like pwrite`. */
export function writeOnAppendFdMatchesPwrite(which: 'aio' | 'uring'): void {
  const i = IFACES[which];
  const seed = i.seed + 9;
  const op = i.ops.write;
  conformance(
    `${i.name}.${op} on an O_APPEND fd lands at EOF like pwrite`,
    { ops: [`${i.name}.${op}`], rule: 'man 2 pwrite' },
    async ({ target, scratch }) => {
      // man 2 pwrite, BUGS: on Linux, O_APPEND makes pwrite append whatever the offset; offset 100 is ignored
      const twin = await differential(target, scratch, {
        content: [{ seed: seed - 1, off: 0, len: 1000 }],
        buf: { size: 4096, fill: { seed, pos: 1000 } },
        open: O.APPEND.value,
        sync: (s, x) => pwrite(s, x.fd, x.buf, 4096, 100),
        async: (s, x) => i.submit(s, op, x.fd, x.buf, 4096, 100),
      });
      expect(twin.async.result, `the whole write is done (${i.rule})`).to.equal(4096);
      expect(twin.async.size, 'the write went to EOF: the file grows to 5096').to.equal(5096);
      const file = twin.bytes.async.file;
      expect(
        file.subarray(0, 1000).equals(patternBytes(seed - 1, 0, 1000)),
        'the bytes before EOF are untouched',
      ).to.equal(true);
      expect(
        file.subarray(1000).equals(patternBytes(seed, 1000, 4096)),
        'the written bytes follow the old EOF',
      ).to.equal(true);
      expect(twin.async, `same result, size and bytes as pwrite(2) on the O_APPEND fd (man 2 pwrite)`).to.deep.equal(
        twin.sync,
      );
    },
  );
}

/** `<iface>.<write op> with RWF_<flag> matches pwritev2 with RWF_<flag>` (APPEND lands at EOF; the others only change durability). */
export function writeWithRwfMatchesPwritev2(which: 'aio' | 'uring', flag: 'HIPRI' | 'DSYNC' | 'SYNC' | 'APPEND'): void {
  const i = IFACES[which];
  const seed = i.seed + 10 + RWF[flag].value;
  const op = i.ops.write;
  const rule = which === 'aio' ? 'SEMANTICS §1.4' : 'SEMANTICS §3.2';
  conformance(
    `${i.name}.${op} with RWF_${flag} matches pwritev2 with RWF_${flag}`,
    { ops: [`${i.name}.${op}`], rule },
    async ({ target, scratch }) => {
      // 1000-byte file, 4096 bytes at 100; with RWF_APPEND the offset is ignored and the bytes land at 1000
      const at = flag === 'APPEND' ? 1000 : 100;
      const f = RWF[flag].value;
      const twin = await differential(target, scratch, {
        content: [{ seed: seed - 1, off: 0, len: 1000 }],
        buf: { size: 4096, fill: { seed, pos: at } },
        sync: (s, x) => pwritev2(s, x.fd, x.buf, 4096, 100, f),
        async: (s, x) => i.submit(s, op, x.fd, x.buf, 4096, 100, f),
      });
      expect(twin.async.result, `the whole write is done (${rule})`).to.equal(4096);
      expect(twin.async.size, `the bytes land at ${at}`).to.equal(at + 4096);
      expect(
        twin.bytes.async.file.subarray(at).equals(patternBytes(seed, at, 4096)),
        `the written bytes are at ${at}`,
      ).to.equal(true);
      expect(twin.async, `same result, size and bytes as pwritev2(2) with RWF_${flag} (${rule})`).to.deep.equal(
        twin.sync,
      );
    },
  );
}

/** `<iface>.<readv|writev op> takes IOV_MAX iovecs and rejects IOV_MAX + 1 with -EINVAL like its twin`. */
export function vectorOfIovMaxMatchesTwin(which: 'aio' | 'uring', kind: 'readv' | 'writev'): void {
  const i = IFACES[which];
  const op = i.ops[kind];
  const seed = i.seed + (kind === 'readv' ? 20 : 21);
  const max = UIO.MAXIOV.value;
  conformance(
    `${i.name}.${op} takes IOV_MAX (${max}) iovecs and rejects ${max + 1} with -EINVAL like p${kind}`,
    { ops: [`${i.name}.${op}`], rule: 'man 2 readv' },
    async ({ target, scratch }) => {
      for (const n of [max, max + 1]) {
        // n iovecs of 4 bytes each, back to back in buffer order
        const segs = Array.from({ length: n }, (_, k) => [4 * k, 4] as const);
        const nr = kind === 'readv' ? SYSCALLS.preadv : SYSCALLS.pwritev;
        const twin = await differential(target, scratch, {
          content: [{ seed, off: 0, len: 8192 }],
          buf: { size: 8192, fill: kind === 'readv' ? 0xa5 : { seed: seed + 1 } },
          sync: (s, x) => s.syscall(nr, [arg.fd(x.fd), arg.buf(iovecs(s, x.buf, segs)), n, 0, 0]),
          async: (s, x) => i.submit(s, op, x.fd, iovecs(s, x.buf, segs), n, 0),
        });
        if (n === max) {
          expect(twin.async.result, `${n} iovecs of 4 bytes: all ${4 * n} bytes moved (man 2 readv)`).to.equal(4 * n);
          const moved = kind === 'readv' ? twin.bytes.async.buf : twin.bytes.async.file;
          const want = patternBytes(kind === 'readv' ? seed : seed + 1, 0, 4 * n);
          expect(moved.subarray(0, 4 * n).equals(want), 'the iovecs moved the bytes in order').to.equal(true);
        } else {
          expect(twin.async.result, `${n} iovecs, more than UIO_MAXIOV: -EINVAL (man 2 readv)`).to.equal(-errno.EINVAL);
        }
        expect(twin.async, `${n} iovecs: same result, buffer and file as p${kind}(2) (man 2 readv)`).to.deep.equal(
          twin.sync,
        );
      }
    },
  );
}

/** Skip, with the reason, when the scratch filesystem refuses O_DIRECT at open (tmpfs before 6.6). */
export async function needDirectIo({ target, scratch, skip }: TestContext): Promise<void> {
  const p = new Program();
  const flags = O.RDWR.value | O.CREAT.value | O.DIRECT.value | O.CLOEXEC.value;
  const { step } = openat(p.main, path.posix.join(scratch, 'direct-probe'), flags);
  const ret = (await target.run(p)).ret(step);
  if (ret < 0) skip(`the scratch filesystem refuses O_DIRECT (open: ${ret}; tmpfs before 6.6): use a block filesystem (--fs ext4)`);
}

// [what, buffer offset, file offset, length]: the aligned cases first, then each breaks one alignment
const DIRECT_CASES = [
  ['aligned', 0, 4096, 4096],
  ['aligned, across EOF', 0, 12288, 8192],
  ['a misaligned buffer', 1, 4096, 4096],
  ['a misaligned offset', 0, 4097, 4096],
  ['a misaligned length', 0, 4096, 4095],
] as const;

/**
 * `<iface>.<read|write op> on an O_DIRECT fd matches pread|pwrite on one`: aligned I/O moves the bytes, and
 * misaligned buffer, offset or length get the synchronous call's answer (-EINVAL where the filesystem needs
 * alignment, as ext4 does on 6.1, 6.12 and 6.18; done where it does not, as tmpfs). `acrossEof` adds an
 * aligned request across EOF (a short read, an extending write). Needs a scratch filesystem that opens O_DIRECT.
 */
export function directIoMatchesTwins(which: 'aio' | 'uring', seed: number, rule: string, acrossEof: boolean): void {
  const i = IFACES[which];
  const cases = DIRECT_CASES.filter(([what]) => acrossEof || what !== 'aligned, across EOF');
  for (const [kind, twin] of [
    ['read', 'pread'],
    ['write', 'pwrite'],
  ] as const) {
    const op = i.ops[kind];
    const shape = acrossEof ? 'aligned, across EOF and misaligned' : 'aligned and misaligned';
    conformance(
      `${i.name}.${op} on an O_DIRECT fd matches ${twin} on one, ${shape}`,
      { ops: [`${i.name}.${op}`], rule },
      async (ctx) => {
        const { target, scratch } = ctx;
        await needDirectIo(ctx);
        for (const [what, bufOff, off, len] of cases) {
          const t = await differential(target, scratch, {
            content: [{ seed, off: 0, len: 16384 }],
            buf: { size: 12288, fill: kind === 'read' ? 0xa5 : { seed: seed + 1 } },
            open: O.DIRECT.value,
            sync: (s, x) => (kind === 'read' ? pread : pwrite)(s, x.fd, x.buf, len, off, bufOff),
            async: (s, x) => i.submit(s, op, x.fd, x.buf, len, off, 0, bufOff),
          });
          if (what === 'aligned') {
            expect(t.async.result, `aligned O_DIRECT ${op} moves all 4096 bytes (SEMANTICS §1.6)`).to.equal(4096);
            const moved = kind === 'read' ? t.bytes.async.buf.subarray(0, 4096) : t.bytes.async.file.subarray(4096, 8192);
            const want = kind === 'read' ? patternBytes(seed, 4096, 4096) : patternBytes(seed + 1, 0, 4096);
            expect(moved.equals(want), `the ${op} moved the right bytes`).to.equal(true);
          } else if (what === 'aligned, across EOF') {
            // the file is 16 KiB: a read from 12 KiB gets 4 KiB; a write extends the file to 20 KiB
            expect(t.async.result, `${op} across EOF`).to.equal(kind === 'read' ? 4096 : 8192);
          } else {
            expect([-errno.EINVAL, len], `${op} with ${what}: -EINVAL or done (SEMANTICS §1.5)`).to.include(t.async.result);
          }
          expect(t.async, `${op} with ${what}: same result, buffer and file as ${twin}(2) on an O_DIRECT fd`).to.deep.equal(
            t.sync,
          );
        }
      },
    );
  }
}
