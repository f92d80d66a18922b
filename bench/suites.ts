/**
 * `npm run bench -- suites [names…]`: wall time of whole conformance-suite runs on the host's local
 * target (default: aio and posix-aio, whose goal is under 20 s together on this machine), best of 3.
 */
import { runSuites, suiteNames } from '../src/suite/runner';
import { LocalTarget } from '../src/target/local';

const RUNS = 3;

/** The benchmark. */
export async function benchSuites(log: (s: string) => void, names = ['aio', 'posix-aio']): Promise<Record<string, number>> {
  const present = suiteNames();
  const suites = names.filter((n) => present.includes(n));
  for (const n of names) if (!present.includes(n)) log(`suite ${n} is not built here: left out`);
  const target = new LocalTarget();
  const figures: Record<string, number> = {};
  try {
    await target.probe(); // once, outside the timing: every run of kasync pays it once too
    let total = Infinity;
    for (let i = 0; i < RUNS; i++) {
      const t0 = Date.now();
      const per: Record<string, number> = {};
      let tests = 0;
      for (const s of suites) {
        const t1 = Date.now();
        const run = await runSuites({ target, suites: [s] });
        per[s] = (Date.now() - t1) / 1000;
        tests += run.tests.length;
        if (run.totals.fail) log(`${s}: ${run.totals.fail} failed (timing still reported)`);
      }
      const secs = (Date.now() - t0) / 1000;
      log(`run ${i + 1}: ${tests} tests in ${secs.toFixed(1)} s (${suites.map((s) => `${s} ${per[s].toFixed(1)} s`).join(', ')})`);
      if (secs < total) {
        total = secs;
        for (const s of suites) figures[`${s.replace(/-/g, '_')}_s`] = per[s];
        figures.tests = tests;
      }
    }
    figures.total_s = total;
    figures.goal_s = 20;
    log(`best of ${RUNS}: ${total.toFixed(1)} s for ${suites.join(' + ')} (goal: under 20 s)`);
  } finally {
    await target.close();
  }
  return figures;
}
