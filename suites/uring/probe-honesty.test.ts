/**
 * Probe honesty: an opcode IORING_REGISTER_PROBE calls unsupported is refused when submitted — its
 * CQE carries -EINVAL (past IORING_OP_LAST, SEMANTICS §3.5 item 1) or -EOPNOTSUPP (compiled out,
 * §3.6) — and does nothing: no file appears, nothing is written. (That every supported opcode is
 * exercised is `kasync run --coverage-ops`' job.)
 */
import { expect } from 'chai';
import { errno } from '../../src/abi';
import { arg, Program } from '../../src/program/builder';
import { scratchFile, readSmallFile } from '../../src/program/sys';
import { reap, setupRing, sqe, submit } from '../../src/program/uring';
import { conformance } from '../../src/suite/conformance';

/** Every opcode value up to the table's end, plus a few past it (255 is never an opcode). */
const PAST = [64, 100, 200, 255];

conformance(
  'uring opcodes the probe calls unsupported complete with -EINVAL or -EOPNOTSUPP and do nothing',
  { ops: ['uring.setup', 'uring.enter'], rule: 'SEMANTICS §3.5, §3.6' },
  async ({ target, caps, scratch }) => {
    const unsupported = [...new Set([...caps.uring.ops.filter((o) => !o.supported).map((o) => o.value), ...PAST])]
      .filter((v) => !caps.uring.ops.some((o) => o.value === v && o.supported))
      .sort((a, b) => a - b);
    const p = new Program();
    const s = p.main;
    // a file the refused SQEs could touch if they did anything: fd, buffer and offset all valid
    const { fd } = scratchFile(s, scratch, 'untouched');
    const b = p.buf(4096);
    s.fillByte(b, 0, 4096, 0x5a);
    const h = setupRing(s, { entries: 8 });
    const rounds = unsupported.map((op, i) => {
      const sub = submit(s, h, [sqe({ opcode: op, fd, addr: arg.buf(b), len: 4096, off: 0, user_data: 0x1000 + i })]);
      return { op, sub, cqes: reap(s, h, 1, 2) };
    });
    const size = readSmallFile(s, `${scratch}/untouched`, 16);
    const v = await target.run(p);
    expect(v.ret(h.setup), 'io_uring_setup').to.be.at.least(0);
    const wrong: string[] = [];
    for (const r of rounds) {
      const c = v.step(r.cqes).cqes;
      if (v.ret(r.sub.enter) !== 1) wrong.push(`opcode ${r.op}: io_uring_enter returned ${v.ret(r.sub.enter)}, not 1 (the SQE is consumed)`);
      else if (c.length !== 1 || (c[0].res !== -errno.EINVAL && c[0].res !== -errno.EOPNOTSUPP))
        wrong.push(`opcode ${r.op}: CQE ${JSON.stringify(c.map((q) => q.res))}, want [-EINVAL] or [-EOPNOTSUPP]`);
    }
    expect(wrong, `unsupported opcodes ${unsupported.join(', ')} are refused (SEMANTICS §3.5)`).to.deep.equal([]);
    expect(v.ret(size.read), 'the file they named is still empty: no side effect').to.equal(0);
  },
);
