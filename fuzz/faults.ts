/**
 * A fault-injecting Target wrapper: it runs programs on a real target and then lies about the trace
 * the way a broken kernel would (a lost completion, a duplicate, a wrong result, a link chain out of
 * order). It exists to show that the oracle bites; `kasync fuzz --inject-fault KIND` uses it.
 */
import type { Program } from '../src/program/builder';
import type { Cqe, Trace } from '../src/program/trace';
import { TraceView } from '../src/program/trace';
import type { Target } from '../src/target/target';
import { planOf } from './build';

/** The faults the wrapper can inject. */
export const FAULTS = ['drop', 'dup', 'flip', 'reorder'] as const;
/** One of {@link FAULTS}. */
export type FaultKind = (typeof FAULTS)[number];

/** Is this string a fault kind? */
export function isFault(s: string): s is FaultKind {
  return (FAULTS as readonly string[]).includes(s);
}

/** Every CQE of the trace with the array it sits in (so it can be removed, copied or swapped). */
function cqeSlots(t: Trace): { arr: Cqe[]; i: number }[] {
  return t.steps.flatMap((s) => s.cqes.map((_, i) => ({ arr: s.cqes, i })));
}

/** Apply one fault to a decoded trace, in place. Returns false when the trace offers nothing to break. */
export function injectFault(kind: FaultKind, t: Trace, p?: Program): boolean {
  const slots = cqeSlots(t);
  switch (kind) {
    case 'drop': {
      if (slots.length) return (slots[0].arr.splice(slots[0].i, 1), true);
      const s = t.steps.find((x) => x.events.length);
      return s ? (s.events.splice(0, 1), true) : false;
    }
    case 'dup': {
      if (slots.length) return (slots[0].arr.splice(slots[0].i, 0, { ...slots[0].arr[slots[0].i] }), true);
      const s = t.steps.find((x) => x.events.length);
      return s ? (s.events.push({ ...s.events[0] }), true) : false;
    }
    case 'flip': {
      if (slots.length) return ((slots[0].arr[slots[0].i] = { ...slots[0].arr[slots[0].i], res: slots[0].arr[slots[0].i].res ^ 1 }), true);
      const s = t.steps.find((x) => x.events.length);
      return s ? ((s.events[0] = { ...s.events[0], res: s.events[0].res ^ 1n }), true) : false;
    }
    case 'reorder': {
      // swap the CQEs of the first two members of a link chain
      const plan = p && planOf(p);
      if (!plan) return false;
      for (const chain of plan.chains) {
        const uds = chain.filter((id) => plan.uring[id].op !== 'LINK_TIMEOUT').map((id) => plan.uring[id].userData);
        if (uds.length < 2) continue;
        const a = slots.find((x) => x.arr[x.i].userData === BigInt(uds[0]));
        const b = slots.find((x) => x.arr[x.i].userData === BigInt(uds[1]));
        if (!a || !b) continue;
        [a.arr[a.i], b.arr[b.i]] = [b.arr[b.i], a.arr[a.i]];
        return true;
      }
      return false;
    }
  }
}

/** A target whose traces carry the fault. */
export function withFault(t: Target, kind: FaultKind): Target {
  return {
    get name() {
      return `${t.name}+fault:${kind}`;
    },
    get slowdown() {
      return t.slowdown;
    },
    get cpus() {
      return t.cpus;
    },
    async run(p, hooks) {
      const v = await t.run(p, hooks);
      injectFault(kind, v.trace, p);
      return new TraceView(v.trace);
    },
    runWire: (b, ms, hooks) => t.runWire(b, ms, hooks),
    probe: () => t.probe(),
    makeScratch: () => t.makeScratch(),
    removeScratch: (d) => t.removeScratch(d),
    checkKernel: t.checkKernel && (() => t.checkKernel!()),
    checkRest: t.checkRest && (() => t.checkRest!()),
    restart: t.restart && (() => t.restart!()),
    exclusive: t.exclusive && ((fn) => t.exclusive!(fn)),
    close: () => t.close(),
  };
}
