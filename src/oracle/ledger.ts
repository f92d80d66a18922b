/**
 * The completion ledger: every request a program submitted completes exactly once, and nothing
 * completes that was not submitted (SEMANTICS §1.8: "every iocb io_submit accepted produces exactly
 * one io_event"). The conformance harness applies it to every program a test runs.
 */
import { AssertionError } from 'chai';
import { ACCEPT, CQE_F, IOSQE, POLL, RECVSEND, SQE_LAYOUT, TIMEOUT, URING_OP, UringOpName } from '../abi';
import { aioSubmitsOf, ledgerModeOf } from '../program/aio';
import type { Program } from '../program/builder';
import { decodeProgram } from '../program/decode';
import { fixedU64 } from '../program/struct';
import { uringSubmitsOf } from '../program/uring';
import { Op } from '../program/wire';
import type { TraceView } from '../program/trace';
import type { Target } from '../target/target';

const hex = (d: bigint) => `0x${d.toString(16)}`;

/** What is wrong with the program's completions, one line each; empty when the ledger balances. */
export function aioLedgerProblems(p: Program, v: TraceView): string[] {
  const mode = ledgerModeOf(p);
  const submits = aioSubmitsOf(p);
  if (mode === 'off' || submits.length === 0) return [];
  // iocbs accepted: io_submit returns how many of the array it took, from the front; a submit step
  // runs once per process or thread that ran its sequence
  const expected = new Map<bigint, number>();
  let unknown = false;
  for (const s of submits) {
    for (const run of v.trace.steps.filter((x) => x.seq === s.submit.seq && x.step === s.submit.index)) {
      const taken = Math.max(0, Number(run.ret));
      for (const d of s.data.slice(0, taken)) {
        if (d === undefined) unknown = true;
        else expected.set(d, (expected.get(d) ?? 0) + 1);
      }
    }
  }
  const seen = new Map<bigint, number>();
  for (const e of v.allEvents()) seen.set(e.data, (seen.get(e.data) ?? 0) + 1);
  const problems: string[] = [];
  for (const [d, n] of seen) {
    const want = expected.get(d) ?? 0;
    if (want === 0 && !unknown) problems.push(`an io_event with aio_data ${hex(d)}, which no accepted iocb carried`);
    else if (n > want && want > 0) problems.push(`aio_data ${hex(d)} completed ${n} times for ${want} accepted iocb${want > 1 ? 's' : ''}`);
  }
  // a program that died or hit its deadline could not reap everything: its own failure says so
  if (mode === 'exactly-once' && v.trace.status === 'ok')
    for (const [d, want] of expected) {
      const n = seen.get(d) ?? 0;
      if (n < want) problems.push(`aio_data ${hex(d)}: ${want - n} accepted iocb${want - n > 1 ? 's' : ''} never completed (no io_event reaped)`);
    }
  return problems;
}

const SQE_F = SQE_LAYOUT.fields;
const OP = (name: UringOpName) => URING_OP[name].value;

/** Ops that may post many CQEs (IORING_CQE_F_MORE) and need not end while the program runs. */
function isMultishot(b: Buffer): boolean {
  const op = b[SQE_F.opcode.offset];
  const ioprio = b.readUInt16LE(SQE_F.ioprio.offset);
  const len = b.readUInt32LE(SQE_F.len.offset);
  const opFlags = b.readUInt32LE(SQE_F.rw_flags.offset);
  if (op === OP('POLL_ADD')) return (len & POLL.ADD_MULTI.value) !== 0;
  if (op === OP('ACCEPT')) return (ioprio & ACCEPT.MULTISHOT.value) !== 0;
  if (op === OP('RECV') || op === OP('RECVMSG')) return (ioprio & RECVSEND.RECV_MULTISHOT.value) !== 0;
  if (op === OP('TIMEOUT')) return (opFlags & TIMEOUT.MULTISHOT.value) !== 0;
  return op === OP('READ_MULTISHOT');
}

/**
 * The io_uring side (SEMANTICS §3.13): every SQE io_uring_enter consumed ends in exactly one CQE
 * without IORING_CQE_F_MORE (multishot requests and CQE_SKIP_SUCCESS ones at most one), and no CQE
 * carries a user_data that was never queued (a MSG_RING's message CQE carries the sender's `off`).
 */
export function uringLedgerProblems(p: Program, v: TraceView): string[] {
  const mode = ledgerModeOf(p);
  const submits = uringSubmitsOf(p);
  if (mode === 'off' || submits.length === 0) return [];
  const strict = new Map<bigint, number>();
  const loose = new Map<bigint, number>();
  const add = (m: Map<bigint, number>, d: bigint) => m.set(d, (m.get(d) ?? 0) + 1);
  const renamed = new Set<bigint>();
  // SQEs queued some other way than submit() may complete too: then no CQE can be called a stranger
  let knowsAll = decodeProgram(p.encode()).seqs.flat().filter((s) => s.op === Op.URING_QUEUE).length === submits.length;
  for (const s of submits) {
    const runs = v.trace.steps.filter((x) => x.seq === s.queue.seq && x.step === s.queue.index);
    for (const q of runs) {
      const e = v.trace.steps.find((x) => x.seq === s.enter.seq && x.step === s.enter.index && x.proc === q.proc);
      const queued = Math.max(0, Number(q.ret));
      const consumed = Math.min(queued, Math.max(0, Number(e?.ret ?? 0)));
      s.sqes.slice(0, queued).forEach((sqe, i) => {
        const ud = fixedU64(sqe, SQE_F.user_data.offset);
        if (ud === undefined) return void (knowsAll = false);
        const skip = (sqe.bytes[SQE_F.flags.offset] & IOSQE.CQE_SKIP_SUCCESS.value) !== 0;
        // SQEs left in the SQ by a short enter may be consumed by a later one: at most once
        add(i < consumed && !skip && !isMultishot(sqe.bytes) ? strict : loose, ud);
        if (sqe.bytes[SQE_F.opcode.offset] === OP('MSG_RING')) {
          const target = fixedU64(sqe, SQE_F.off.offset);
          if (target === undefined) knowsAll = false;
          else add(loose, target);
        }
        if (sqe.bytes[SQE_F.opcode.offset] === OP('POLL_REMOVE') && sqe.bytes.readUInt32LE(SQE_F.len.offset) & POLL.UPDATE_USER_DATA.value) {
          // a poll update (IORING_POLL_UPDATE_USER_DATA) moves the poll from user_data `addr` to `off`
          const from = fixedU64(sqe, SQE_F.addr.offset);
          const to = fixedU64(sqe, SQE_F.off.offset);
          if (from === undefined || to === undefined) knowsAll = false;
          else {
            add(loose, to);
            renamed.add(from);
          }
        }
      });
    }
  }
  // a moved poll ends under its new user_data (or its old one, if the update came too late)
  for (const ud of renamed) {
    const n = strict.get(ud) ?? 0;
    strict.delete(ud);
    if (n) loose.set(ud, (loose.get(ud) ?? 0) + n);
  }
  const finals = new Map<bigint, number>();
  const problems: string[] = [];
  const strangers = new Set<bigint>();
  for (const c of v.allCqes()) {
    const ud = c.userData;
    if (knowsAll && !strict.has(ud) && !loose.has(ud)) strangers.add(ud);
    if (!(c.flags & CQE_F.MORE.value)) add(finals, ud);
  }
  for (const ud of strangers) problems.push(`a CQE with user_data ${hex(ud)}, which no queued SQE carried`);
  for (const [ud, n] of finals) {
    const most = (strict.get(ud) ?? 0) + (loose.get(ud) ?? 0);
    if (most > 0 && n > most) problems.push(`user_data ${hex(ud)} completed ${n} times (final CQEs) for ${most} SQE${most > 1 ? 's' : ''}`);
  }
  if (mode === 'exactly-once' && v.trace.status === 'ok')
    for (const [ud, want] of strict) {
      const n = finals.get(ud) ?? 0;
      if (n < want) problems.push(`user_data ${hex(ud)}: ${want - n} consumed SQE${want - n > 1 ? 's' : ''} never completed (no final CQE reaped)`);
    }
  return problems;
}

/** Throw an assertion naming the rule when either ledger does not balance. */
export function assertAioLedger(p: Program, v: TraceView): void {
  const aio = aioLedgerProblems(p, v);
  if (aio.length)
    throw new AssertionError(`completion ledger (SEMANTICS §1.8, each accepted iocb completes exactly once): ${aio.join('; ')}`);
  const uring = uringLedgerProblems(p, v);
  if (uring.length)
    throw new AssertionError(`completion ledger (SEMANTICS §3.13, each consumed SQE completes exactly once): ${uring.join('; ')}`);
}

/** The target a test body gets: the same target, with both ledgers checked after every program. */
export function withLedger(t: Target): Target {
  return {
    get name() {
      return t.name;
    },
    get slowdown() {
      return t.slowdown;
    },
    async run(p) {
      const v = await t.run(p);
      assertAioLedger(p, v);
      return v;
    },
    runWire: (b, ms) => t.runWire(b, ms),
    probe: () => t.probe(),
    makeScratch: () => t.makeScratch(),
    removeScratch: (d) => t.removeScratch(d),
    checkKernel: t.checkKernel && (() => t.checkKernel!()),
    restart: t.restart && (() => t.restart!()),
    close: () => t.close(),
  };
}
