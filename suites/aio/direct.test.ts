/**
 * PREAD and PWRITE on an O_DIRECT fd against pread(2) and pwrite(2) on one: aligned I/O moves the bytes,
 * and misaligned buffer, offset or length get the same answer as the synchronous call, whether the
 * filesystem refuses it (-EINVAL on a block filesystem) or not (SEMANTICS §1.5, §1.6). Needs a scratch
 * filesystem that opens O_DIRECT: a block filesystem (`--fs ext4` in a VM) or tmpfs from 6.6 on.
 */
import { expect } from 'chai';
import { errno, O } from '../../src/abi';
import { arg } from '../../src/program/builder';
import { patternBytes } from '../../src/program/pattern';
import { pread, pwrite } from '../../src/program/sys';
import { differential, viaAio } from '../../src/oracle/differential';
import { conformance } from '../../src/suite/conformance';
import { needDirectIo } from '../../src/oracle/rw-twins';

const SEED = 0x0a70;

describe('aio O_DIRECT', function () {
  // [what, buffer offset, file offset, length]: the first is aligned, each other breaks one alignment
  const CASES = [
    ['aligned', 0, 4096, 4096],
    ['a misaligned buffer', 1, 4096, 4096],
    ['a misaligned offset', 0, 4097, 4096],
    ['a misaligned length', 0, 4096, 4095],
  ] as const;

  for (const [kind, twin] of [
    ['PREAD', 'pread'],
    ['PWRITE', 'pwrite'],
  ] as const) {
    conformance(
      `aio.${kind} on an O_DIRECT fd matches ${twin} on one, aligned and misaligned`,
      { ops: [`aio.${kind}`], rule: 'SEMANTICS §1.6' },
      async (ctx) => {
        const { target, scratch } = ctx;
        await needDirectIo(ctx);
        for (const [what, bufOff, off, len] of CASES) {
          const t = await differential(target, scratch, {
            content: [{ seed: SEED, off: 0, len: 16384 }],
            buf: { size: 8192, fill: kind === 'PREAD' ? 0xa5 : { seed: SEED + 1 } },
            open: O.DIRECT.value,
            sync: (s, x) => (kind === 'PREAD' ? pread : pwrite)(s, x.fd, x.buf, len, off, bufOff),
            async: (s, x) =>
              viaAio(s, { opcode: kind, fd: x.fd, aio_buf: arg.buf(x.buf, bufOff), aio_nbytes: len, aio_offset: off }),
          });
          if (what === 'aligned') {
            expect(t.async.result, `aligned O_DIRECT ${kind} moves all 4096 bytes (SEMANTICS §1.6)`).to.equal(4096);
            const moved =
              kind === 'PREAD' ? t.bytes.async.buf.subarray(0, 4096) : t.bytes.async.file.subarray(4096, 8192);
            const want = kind === 'PREAD' ? patternBytes(SEED, 4096, 4096) : patternBytes(SEED + 1, 0, 4096);
            expect(moved.equals(want), `the ${kind} moved the right bytes`).to.equal(true);
          } else {
            // -EINVAL where the filesystem needs alignment (ext4: measured on 6.1, 6.12, 6.18), done where not (tmpfs)
            expect([-errno.EINVAL, len], `${kind} with ${what}: -EINVAL or done (SEMANTICS §1.5)`).to.include(
              t.async.result,
            );
          }
          expect(
            t.async,
            `${kind} with ${what}: same result, buffer and file as ${twin}(2) on an O_DIRECT fd`,
          ).to.deep.equal(t.sync);
        }
      },
    );
  }
});
