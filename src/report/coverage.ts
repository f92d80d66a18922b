/**
 * Which tests exercised each opcode the kernel supports: a supported opcode no test ran is a hole in
 * the suite (issue "probe honesty"), shown by `kasync run --coverage-ops`.
 */
import type { Capabilities } from '../target/caps';
import type { RunResult } from './model';

/** One opcode and the tests that ran it (passed or failed; skipped tests did not exercise it). */
export interface OpCoverage {
  iface: 'uring' | 'aio';
  op: string;
  supported: boolean;
  tests: string[];
}

/** Coverage of every opcode of the interfaces the run touched. */
export function opsCoverage(run: RunResult, caps: Capabilities): OpCoverage[] {
  const ran = run.tests.filter((t) => t.status !== 'skip');
  const out: OpCoverage[] = [];
  const ifaces = new Set(run.tests.flatMap((t) => t.ops.map((o) => o.split('.')[0])));
  const add = (iface: OpCoverage['iface'], ops: { name: string; supported: boolean }[]) => {
    if (!ifaces.has(iface)) return;
    for (const o of ops)
      out.push({ iface, op: o.name, supported: o.supported, tests: ran.filter((t) => t.ops.includes(`${iface}.${o.name}`)).map((t) => t.title) });
  };
  add('uring', caps.uring.ops);
  add('aio', caps.aio.ops);
  return out;
}

/** A table for the terminal: per interface, the supported opcodes with their test counts, then the untested ones. */
export function formatOpsCoverage(cov: OpCoverage[], kernel: string): string {
  const lines: string[] = [];
  for (const iface of ['uring', 'aio'] as const) {
    const sup = cov.filter((c) => c.iface === iface && c.supported);
    if (!sup.length) continue;
    const untested = sup.filter((c) => c.tests.length === 0);
    lines.push(`${iface}: ${sup.length - untested.length} of ${sup.length} opcodes kernel ${kernel} supports were exercised`);
    for (const c of sup) lines.push(`  ${c.op.padEnd(18)} ${String(c.tests.length).padStart(3)} test${c.tests.length === 1 ? '' : 's'}`);
    if (untested.length) lines.push(`  untested: ${untested.map((c) => c.op).join(', ')}`);
  }
  return lines.join('\n');
}
