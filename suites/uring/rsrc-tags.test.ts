/**
 * Tagged and sparse resource tables: IORING_REGISTER_FILES2 / BUFFERS2 (5.13) with a tag per slot, updated by
 * IORING_REGISTER_FILES_UPDATE2 / BUFFERS_UPDATE, and the CQE (user_data = tag, res 0) the kernel posts when a
 * tagged resource leaves the table, by update or by unregister. Man io_uring_register(2), IORING_FEAT_RSRC_TAGS.
 */
import { expect } from 'chai';
import {
  errno,
  IOSQE,
  REGISTER,
  RSRC,
  RSRC_REGISTER_LAYOUT,
  releasedBy,
  RSRC_UPDATE2_LAYOUT,
  SYSCALLS,
} from '../../src/abi';
import { arg, Buf, Program, Sequence, StepRef } from '../../src/program/builder';
import { setLedgerMode } from '../../src/program/aio';
import { patternBytes } from '../../src/program/pattern';
import { encodeStruct, place } from '../../src/program/struct';
import { scratchFile } from '../../src/program/sys';
import type { TraceView } from '../../src/program/trace';
import { reap, RingHandle } from '../../src/program/uring';
import { fdArray, iovecArray, requireSetup, UringRunner } from '../../src/oracle/uring-files';
import { conformance } from '../../src/suite/conformance';

type Kind = 'FILES' | 'BUFFERS';
const FIXED = IOSQE.FIXED_FILE.value;

/** A u64 array of tags (or 0: no tags). */
function tagArray(s: Sequence, tags: readonly number[]): Buf {
  const b = s.program.buf(8 * Math.max(1, tags.length));
  tags.forEach((t, i) => s.patch(b, 8 * i, 8, t));
  return b;
}

/** IORING_REGISTER_FILES2 / BUFFERS2 with a struct io_uring_rsrc_register; nr_args is its size. */
function register2(
  s: Sequence,
  h: RingHandle,
  kind: Kind,
  r: { nr: number; data?: Buf; tags?: Buf; flags?: number; size?: number },
): StepRef {
  const b = s.program.buf(RSRC_REGISTER_LAYOUT.size);
  place(
    s,
    b,
    0,
    encodeStruct(RSRC_REGISTER_LAYOUT, {
      nr: r.nr,
      flags: r.flags ?? 0,
      data: r.data ? arg.buf(r.data) : 0,
      tags: r.tags ? arg.buf(r.tags) : 0,
    }),
  );
  const op = kind === 'FILES' ? REGISTER.FILES2 : REGISTER.BUFFERS2;
  return s.syscall(SYSCALLS.io_uring_register, [
    arg.ring(h.ring),
    op.value,
    arg.buf(b),
    r.size ?? RSRC_REGISTER_LAYOUT.size,
  ]);
}

/** IORING_REGISTER_FILES_UPDATE2 / BUFFERS_UPDATE with a struct io_uring_rsrc_update2. */
function update2(s: Sequence, h: RingHandle, kind: Kind, offset: number, nr: number, data: Buf, tags?: Buf): StepRef {
  const b = s.program.buf(RSRC_UPDATE2_LAYOUT.size);
  place(
    s,
    b,
    0,
    encodeStruct(RSRC_UPDATE2_LAYOUT, { offset, nr, data: arg.buf(data), tags: tags ? arg.buf(tags) : 0 }),
  );
  const op = kind === 'FILES' ? REGISTER.FILES_UPDATE2 : REGISTER.BUFFERS_UPDATE;
  return s.syscall(SYSCALLS.io_uring_register, [arg.ring(h.ring), op.value, arg.buf(b), RSRC_UPDATE2_LAYOUT.size]);
}

/** IORING_UNREGISTER_FILES / BUFFERS. */
function unregister(s: Sequence, h: RingHandle, kind: Kind): StepRef {
  const op = kind === 'FILES' ? REGISTER.UNREGISTER_FILES : REGISTER.UNREGISTER_BUFFERS;
  return s.syscall(SYSCALLS.io_uring_register, [arg.ring(h.ring), op.value, 0, 0]);
}

/**
 * The tag CQEs a step caused: wait up to 5 s for `n` of them (the kernel may post them from a worker once the
 * last reference to the old resource is gone), then take anything else already there. Sorted `[tag, res]`.
 */
function tagCqes(s: Sequence, h: RingHandle, n: number): (v: TraceView) => [string, number][] {
  const reaps = [reap(s, h, n, 16, 5000), reap(s, h, 0, 16, 0)];
  return (v) =>
    reaps
      .flatMap((r) => v.step(r).cqes)
      .map((c): [string, number] => [`0x${c.userData.toString(16)}`, c.res])
      .sort((a, b) => a[0].localeCompare(b[0]));
}

/**
 * Whether unregistering the whole table posts the tags of what is still in it. Man io_uring_register(2) says a
 * tag is posted when its resource is unregistered; up to 6.12 the kernel drops them on a whole-table unregister
 * (only updates post), since the 6.13 resource-node rework it posts them (measured: none on 6.1 and 6.12, all on
 * 6.18; docs/KERNEL-NOTES.md).
 */
const tagsOnUnregister = (kernel: string) => releasedBy('6.13', kernel);
const unregisterTags = (kernel: string, what: string) =>
  tagsOnUnregister(kernel)
    ? `unregistering posts the tags of the ${what} still in the table`
    : `before 6.13 unregistering the table posts no tag CQE for the ${what} in it`;

conformance(
  'uring.register FILES2 with tags posts a tag CQE when FILES_UPDATE2 replaces a tagged file, and on unregister since 6.13',
  { ops: ['uring.register'], rule: 'man 2 io_uring_register (IORING_REGISTER_FILES2, tags)' },
  async ({ target, scratch, caps }) => {
    const p = new Program();
    // tag CQEs carry the application's tags, not an SQE's user_data: every CQE is checked below instead
    setLedgerMode(p, 'off');
    const s = p.main;
    const files = ['a', 'b'].map((n) => scratchFile(s, scratch, n));
    const [a, b] = files.map((f) => f.fd);
    const u = new UringRunner(s);
    const h = u.h;
    const reg = register2(s, h, 'FILES', { nr: 3, data: fdArray(s, [a, b, -1]), tags: tagArray(s, [0x7a01, 0, 0]) });
    const afterReg = tagCqes(s, h, 0);
    const upd = update2(s, h, 'FILES', 0, 1, fdArray(s, [b]), tagArray(s, [0x7a02]));
    const afterUpd = tagCqes(s, h, 1);
    // slot 1 held b untagged: replacing it posts nothing
    const updUntagged = update2(s, h, 'FILES', 1, 1, fdArray(s, [a]), tagArray(s, [0x7a03]));
    const afterUntagged = tagCqes(s, h, 0);
    const tagOnEmpty = update2(s, h, 'FILES', 2, 1, fdArray(s, [-1]), tagArray(s, [0x7a04]));
    const unreg = unregister(s, h, 'FILES');
    const afterUnreg = tagCqes(s, h, tagsOnUnregister(caps.kernel) ? 2 : 0);
    const unregAgain = unregister(s, h, 'FILES');
    const v = await target.run(p);
    requireSetup(
      v,
      files.map((f, i) => ({ what: `open of file ${i}`, step: f.step })),
    );
    expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
    expect(v.ret(reg), 'IORING_REGISTER_FILES2 of 3 slots with tags').to.equal(0);
    expect(afterReg(v), 'registering posts no tag CQE').to.deep.equal([]);
    expect(v.ret(upd), 'FILES_UPDATE2 of 1 slot returns 1').to.equal(1);
    expect(afterUpd(v), 'the replaced file tagged 0x7a01 comes back as a CQE with res 0').to.deep.equal([
      ['0x7a01', 0],
    ]);
    expect(v.ret(updUntagged), 'FILES_UPDATE2 of the untagged slot 1').to.equal(1);
    expect(afterUntagged(v), 'an untagged file leaving the table posts nothing').to.deep.equal([]);
    expect(v.ret(tagOnEmpty), 'a tag for an empty slot (fd -1): -EINVAL').to.equal(-errno.EINVAL);
    expect(v.ret(unreg), 'IORING_UNREGISTER_FILES').to.equal(0);
    expect(afterUnreg(v), unregisterTags(caps.kernel, 'files')).to.deep.equal(
      tagsOnUnregister(caps.kernel)
        ? [
            ['0x7a02', 0],
            ['0x7a03', 0],
          ]
        : [],
    );
    expect(v.ret(unregAgain), 'IORING_UNREGISTER_FILES with no table: -ENXIO').to.equal(-errno.ENXIO);
  },
);

conformance(
  'uring.register BUFFERS2 with tags posts a tag CQE when BUFFERS_UPDATE replaces a tagged buffer, and on unregister since 6.13',
  { ops: ['uring.register'], rule: 'man 2 io_uring_register (IORING_REGISTER_BUFFERS2, tags)' },
  async ({ target, caps }) => {
    const p = new Program();
    setLedgerMode(p, 'off'); // tag CQEs: every CQE is checked below
    const s = p.main;
    const bufs = [p.buf(4096, 4096), p.buf(4096, 4096), p.buf(4096, 4096)];
    const u = new UringRunner(s);
    const h = u.h;
    const iov = (i: number[]) =>
      iovecArray(
        s,
        i.map((k) => [bufs[k], 0, 4096] as const),
      );
    const reg = register2(s, h, 'BUFFERS', { nr: 2, data: iov([0, 1]), tags: tagArray(s, [0x7b01, 0x7b02]) });
    const afterReg = tagCqes(s, h, 0);
    const upd = update2(s, h, 'BUFFERS', 1, 1, iov([2]), tagArray(s, [0x7b03]));
    const afterUpd = tagCqes(s, h, 1);
    // a tag on a NULL iovec (an empty slot) is refused, as for files
    const nullIov = p.buf(16);
    const tagOnEmpty = update2(s, h, 'BUFFERS', 0, 1, nullIov, tagArray(s, [0x7b04]));
    const pastEnd = update2(s, h, 'BUFFERS', 2, 1, iov([0]));
    const unreg = unregister(s, h, 'BUFFERS');
    const afterUnreg = tagCqes(s, h, tagsOnUnregister(caps.kernel) ? 2 : 0);
    const v = await target.run(p);
    expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
    expect(v.ret(reg), 'IORING_REGISTER_BUFFERS2 of 2 buffers with tags').to.equal(0);
    expect(afterReg(v), 'registering posts no tag CQE').to.deep.equal([]);
    expect(v.ret(upd), 'BUFFERS_UPDATE of slot 1 returns 1').to.equal(1);
    expect(afterUpd(v), 'the replaced buffer tagged 0x7b02 comes back as a CQE with res 0').to.deep.equal([
      ['0x7b02', 0],
    ]);
    expect(v.ret(tagOnEmpty), 'a tag for an empty (NULL) buffer: -EINVAL').to.equal(-errno.EINVAL);
    expect(v.ret(pastEnd), 'BUFFERS_UPDATE at offset 2 of a 2-slot table: -EINVAL').to.equal(-errno.EINVAL);
    expect(v.ret(unreg), 'IORING_UNREGISTER_BUFFERS').to.equal(0);
    expect(afterUnreg(v), unregisterTags(caps.kernel, 'buffers')).to.deep.equal(
      tagsOnUnregister(caps.kernel)
        ? [
            ['0x7b01', 0],
            ['0x7b03', 0],
          ]
        : [],
    );
  },
);

conformance(
  'uring.register FILES2 and BUFFERS2 with IORING_RSRC_REGISTER_SPARSE give empty tables to fill by update',
  {
    ops: ['uring.register', 'uring.READ', 'uring.READ_FIXED'],
    rule: 'man 2 io_uring_register (IORING_RSRC_REGISTER_SPARSE)',
  },
  async ({ target, scratch }) => {
    const p = new Program();
    const s = p.main;
    const { fd, step: open } = scratchFile(s, scratch, 'f');
    const data = p.buf(64);
    s.fillPattern(data, 0, 64, 0x7c01);
    const wrote = s.syscall(SYSCALLS.pwrite64, [arg.fd(fd), arg.buf(data), 64, 0]);
    const u = new UringRunner(s);
    const h = u.h;
    const SPARSE = RSRC.REGISTER_SPARSE.value;
    const files = register2(s, h, 'FILES', { nr: 4, flags: SPARSE });
    const buf = p.buf(4096, 4096);
    const bufsReg = register2(s, h, 'BUFFERS', { nr: 4, flags: SPARSE });
    const readEmpty = u.res({ opcode: 'READ', flags: FIXED, fd: 2, addr: arg.buf(buf), len: 64, off: 0 });
    const fixedEmpty = u.res({ opcode: 'READ_FIXED', fd, addr: arg.buf(buf), len: 64, off: 0, buf_index: 2 });
    const updFile = update2(s, h, 'FILES', 2, 1, fdArray(s, [fd]));
    const updBuf = update2(s, h, 'BUFFERS', 2, 1, iovecArray(s, [[buf, 0, 4096]]));
    const readFixedFile = u.res({ opcode: 'READ', flags: FIXED, fd: 2, addr: arg.buf(buf), len: 64, off: 0 });
    const readFixedBoth = u.res({
      opcode: 'READ_FIXED',
      flags: FIXED,
      fd: 2,
      addr: arg.buf(buf, 64),
      len: 64,
      off: 0,
      buf_index: 2,
    });
    const dump = s.dump(buf, 0, 128);
    // errors of the registration itself (man io_uring_register: SPARSE takes no data; nr_args is the struct size)
    const u2 = new UringRunner(s, { entries: 4 });
    const sparseWithData = register2(s, u2.h, 'FILES', { nr: 1, flags: SPARSE, data: fdArray(s, [fd]) });
    const badFlag = register2(s, u2.h, 'FILES', { nr: 1, flags: 2, data: fdArray(s, [fd]) });
    const badSize = register2(s, u2.h, 'FILES', { nr: 1, data: fdArray(s, [fd]), size: 16 });
    const zero = register2(s, u2.h, 'FILES', { nr: 0, data: fdArray(s, [fd]) });
    const again = register2(s, h, 'FILES', { nr: 1, flags: SPARSE });
    const v = await target.run(p);
    requireSetup(v, [
      { what: 'open of the file', step: open },
      { what: 'pwrite of the file', step: wrote, want: 64 },
    ]);
    expect(v.ret(files), 'IORING_REGISTER_FILES2 sparse, 4 slots').to.equal(0);
    expect(v.ret(bufsReg), 'IORING_REGISTER_BUFFERS2 sparse, 4 slots').to.equal(0);
    expect(readEmpty(v), 'FIXED_FILE READ of an empty sparse slot: -EBADF (SEMANTICS §3.4)').to.equal(-errno.EBADF);
    expect(fixedEmpty(v), 'READ_FIXED through an empty sparse buffer slot: -EFAULT').to.equal(-errno.EFAULT);
    expect([v.ret(updFile), v.ret(updBuf)], 'FILES_UPDATE2 and BUFFERS_UPDATE of slot 2').to.deep.equal([1, 1]);
    expect(readFixedFile(v), 'FIXED_FILE READ of the filled slot').to.equal(64);
    expect(readFixedBoth(v), 'READ_FIXED of the filled file and buffer slots').to.equal(64);
    const bytes = v.step(dump).dump!;
    expect(bytes.subarray(0, 64).equals(patternBytes(0x7c01, 0, 64)), 'the first read brought the file bytes').to.equal(
      true,
    );
    expect(bytes.subarray(64, 128).equals(patternBytes(0x7c01, 0, 64)), 'so did the READ_FIXED').to.equal(true);
    expect(v.ret(sparseWithData), 'SPARSE with a data pointer: -EINVAL').to.equal(-errno.EINVAL);
    expect(v.ret(badFlag), 'an undefined flag: -EINVAL').to.equal(-errno.EINVAL);
    expect(v.ret(badSize), 'nr_args not sizeof(struct io_uring_rsrc_register): -EINVAL').to.equal(-errno.EINVAL);
    expect(v.ret(zero), 'nr 0: -EINVAL').to.equal(-errno.EINVAL);
    expect(v.ret(again), 'a second file table: -EBUSY').to.equal(-errno.EBUSY);
  },
);
