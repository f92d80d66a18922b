/**
 * No must-reject system call is reachable through any adapter (SEMANTICS §4.1): fixed tables express
 * none (and io_uring's every opcode is classified), a by-number interface refuses each attempt
 * without side effects, and the never-merged AIO ops are refused on stock kernels leaving the
 * directory tree as it was (SEMANTICS §2.2).
 */
import { expect } from 'chai';
import { errno } from '../../../src/abi';
import { classOf } from '../../../src/abi/whitelist';
import { aioAdapter, aioThreadAdapter, AIO_THREAD_OPS } from '../../../src/adapter/aio';
import { checkMustRejectRefused, checkNoMustRejectExpressible, checkRefusedWithoutEffect } from '../../../src/adapter/checks';
import { genericAdapter } from '../../../src/adapter/generic';
import { URING_OP_TWINS, uringAdapter } from '../../../src/adapter/uring';
import { aioSupports } from '../../../src/target/caps';
import { conformance } from '../../../src/suite/conformance';

for (const a of [uringAdapter, aioAdapter, aioThreadAdapter])
  conformance(
    `whitelist.${a.name}: no opcode runs a must-reject system call, every mapped one is async-safe`,
    { ops: [], rule: `${a.rule}; SEMANTICS §4.1` },
    async () => checkNoMustRejectExpressible(a),
  );

conformance(
  'whitelist.uring: every opcode the kernel supports is classified, and each twin is async-safe',
  { ops: ['uring.setup'], rule: 'SEMANTICS §3.2, §4.1' },
  async ({ caps }) => {
    const known = new Map(Object.entries(URING_OP_TWINS));
    const unclassified = caps.uring.ops.filter((o) => o.supported && !known.has(o.name)).map((o) => `${o.name} (${o.value})`);
    expect(unclassified, `opcodes of kernel ${caps.kernel} with no whitelist classification (SEMANTICS §4.1)`).to.deep.equal([]);
    const unsafe = [...known]
      .filter(([, t]) => 'syscall' in t && classOf(t.syscall).class !== 'async-safe')
      .map(([op, t]) => `${op} → ${'syscall' in t ? t.syscall : ''}`);
    expect(unsafe, 'an opcode runs a system call that is not async-safe (SEMANTICS §4.1)').to.deep.equal([]);
  },
);

const generic = genericAdapter();

conformance(
  `whitelist.${generic.name}: every must-reject system call is refused without side effects`,
  { ops: [...generic.ops], rule: 'SEMANTICS §4.1' },
  async ({ target }) => checkMustRejectRefused(target, generic),
);

conformance(
  `whitelist.${generic.name}: refused path requests leave the tree unchanged`,
  { ops: [...generic.ops], rule: 'SEMANTICS §4.1' },
  async ({ target, scratch, skip }) => {
    if (generic.name !== 'generic') skip('a candidate encoding is set: its path requests are expected to run (twin tests)');
    await checkRefusedWithoutEffect(target, scratch, generic);
  },
);

conformance(
  'whitelist.aio-thread: OPENAT, UNLINKAT, READAHEAD and RENAMEAT are refused with -EINVAL and change nothing on a stock kernel',
  { ops: ['aio.setup'], rule: 'SEMANTICS §2.2, §2.3, §1.5' },
  async ({ target, caps, scratch, skip }) => {
    const carried = Object.values(AIO_THREAD_OPS).filter((op) => aioSupports(caps, op));
    if (carried.length) skip(`probe: kernel ${caps.kernel} carries the thread-based IOCB_CMD_${carried.join(', ')}`);
    await checkRefusedWithoutEffect(target, scratch, aioThreadAdapter, -errno.EINVAL);
  },
);
