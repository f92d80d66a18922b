/**
 * Exactly one outcome, always (SEMANTICS §3.9–3.11): every cancellable io_uring request kind × every cancel method
 * that applies. Each case checks both sides: the target completes exactly once (-ECANCELED, -EINTR when it was
 * running in io-wq, or its own result had it won), and the cancel's own answer (0, -ENOENT, -EALREADY, a count, a
 * link timeout's -ETIME) agrees with what the target did. Pairs that do not apply are listed with their reason by
 * the first test (in the report's notes), never dropped silently.
 */
import { expect } from 'chai';
import { cancelCase, KIND_INFO, KINDS, METHOD_INFO, METHODS, notApplicable } from '../../../src/oracle/cancel';
import { conformance } from '../../../src/suite/conformance';

conformance(
  'cancel matrix: every kind x method pair runs or is omitted with a reason',
  { ops: ['uring.ASYNC_CANCEL'], rule: 'SEMANTICS §3.9' },
  async ({ note }) => {
    let run = 0;
    for (const k of KINDS)
      for (const m of METHODS) {
        const why = notApplicable(k, m);
        if (why) note(`omitted: ${KIND_INFO[k].title} x ${METHOD_INFO[m].title}: ${why}`);
        else run++;
      }
    note(`${run} of ${KINDS.length * METHODS.length} pairs run`);
    expect(run, 'most pairs apply').to.be.above((KINDS.length * METHODS.length) / 2);
  },
);

for (const kind of KINDS)
  for (const method of METHODS) {
    if (notApplicable(kind, method)) continue;
    const k = KIND_INFO[kind];
    const m = METHOD_INFO[method];
    const fork = method === 'task-exit' || method === 'exec' || kind === 'waitid';
    conformance(
      `cancel: ${k.title} by ${m.title}: one completion, agreeing with the cancel's result`,
      {
        ops: [`uring.${k.op}`, ...m.ops, ...(kind === 'chain' ? ['uring.NOP'] : [])],
        rule: m.rule,
        timeoutMs: fork ? 40_000 : 30_000,
      },
      async ({ target, caps, skip, note }) => {
        const c = cancelCase(kind, method);
        const v = await target.run(c.p);
        const missing = c.check(v, caps, note);
        if (missing) skip(missing);
      },
    );
  }
