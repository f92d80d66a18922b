/**
 * The completion ledger: every request a program submitted completes exactly once, and nothing
 * completes that was not submitted (SEMANTICS §1.8: "every iocb io_submit accepted produces exactly
 * one io_event"). The conformance harness applies it to every program a test runs.
 */
import { AssertionError } from 'chai';
import { aioSubmitsOf, ledgerModeOf } from '../program/aio';
import type { Program } from '../program/builder';
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

/** Throw an assertion naming the rule when the ledger does not balance. */
export function assertAioLedger(p: Program, v: TraceView): void {
  const problems = aioLedgerProblems(p, v);
  if (problems.length)
    throw new AssertionError(`completion ledger (SEMANTICS §1.8, each accepted iocb completes exactly once): ${problems.join('; ')}`);
}

/** The target a test body gets: the same target, with the ledger checked after every program. */
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
