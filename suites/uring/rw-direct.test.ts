/**
 * IORING_OP_READ and IORING_OP_WRITE on an O_DIRECT fd against pread(2) and pwrite(2) on one: aligned I/O
 * moves the bytes, a read across EOF is short like pread's, and misaligned buffer, offset or length get
 * the synchronous call's answer (-EINVAL on a block filesystem). SEMANTICS §3.2, §1.6; man 2 open O_DIRECT.
 * Needs a scratch filesystem that opens O_DIRECT: a block filesystem (`--fs ext4` in a VM) or tmpfs from 6.6.
 */
import { expect } from 'chai';
import { errno, O } from '../../src/abi';
import { arg } from '../../src/program/builder';
import { patternBytes } from '../../src/program/pattern';
import { pread, pwrite } from '../../src/program/sys';
import { differential, viaUring } from '../../src/oracle/differential';
import { conformance } from '../../src/suite/conformance';
import { needDirectIo } from '../../src/oracle/rw-twins';

const SEED = 0x0b70;

// [what, buffer offset, file offset, length]: the first two are aligned, each other breaks one alignment
const CASES = [
  ['aligned', 0, 4096, 4096],
  ['aligned, across EOF', 0, 12288, 8192],
  ['a misaligned buffer', 1, 4096, 4096],
  ['a misaligned offset', 0, 4097, 4096],
  ['a misaligned length', 0, 4096, 4095],
] as const;

for (const [op, twin] of [
  ['READ', 'pread'],
  ['WRITE', 'pwrite'],
] as const) {
  conformance(
    `uring.${op} on an O_DIRECT fd matches ${twin} on one, aligned, across EOF and misaligned`,
    { ops: [`uring.${op}`], rule: 'SEMANTICS §3.2, §1.6; man 2 open O_DIRECT' },
    async (ctx) => {
      const { target, scratch } = ctx;
      await needDirectIo(ctx);
      for (const [what, bufOff, off, len] of CASES) {
        const t = await differential(target, scratch, {
          content: [{ seed: SEED, off: 0, len: 16384 }],
          buf: { size: 12288, fill: op === 'READ' ? 0xa5 : { seed: SEED + 1 } },
          open: O.DIRECT.value,
          sync: (s, x) => (op === 'READ' ? pread : pwrite)(s, x.fd, x.buf, len, off, bufOff),
          async: (s, x) => viaUring(s, { opcode: op, fd: x.fd, addr: arg.buf(x.buf, bufOff), len, off }),
        });
        if (what === 'aligned') {
          expect(t.async.result, `aligned O_DIRECT ${op} moves all 4096 bytes`).to.equal(4096);
          const moved = op === 'READ' ? t.bytes.async.buf.subarray(0, 4096) : t.bytes.async.file.subarray(4096, 8192);
          const want = op === 'READ' ? patternBytes(SEED, 4096, 4096) : patternBytes(SEED + 1, 0, 4096);
          expect(moved.equals(want), `the ${op} moved the right bytes`).to.equal(true);
        } else if (what === 'aligned, across EOF') {
          // the file is 16 KiB: a read from 12 KiB gets 4 KiB; a write extends the file to 20 KiB
          expect(t.async.result, `${op} across EOF`).to.equal(op === 'READ' ? 4096 : 8192);
        } else {
          // -EINVAL where the filesystem needs alignment (ext4), done where not (tmpfs)
          expect([-errno.EINVAL, len], `${op} with ${what}: -EINVAL or done`).to.include(t.async.result);
        }
        expect(t.async, `${op} ${what}: same result, buffer and file as ${twin}(2) on an O_DIRECT fd`).to.deep.equal(
          t.sync,
        );
      }
    },
  );
}
