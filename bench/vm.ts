/**
 * `npm run bench -- vm [debian:6.12 …]`: boot-to-agent-ready time and the round trip of a 20-step
 * program through the agent, per kernel, with the same program on the host's `child` target (also
 * a fresh runner process per program) as the baseline of the same run.
 * Goals on this 2-core TCG machine: agent ready in under 5 s, a 20-step round trip under 20 ms.
 */
import { SYSCALLS } from '../src/abi';
import { Program } from '../src/program/builder';
import { ChildTarget } from '../src/target/child';
import type { Target } from '../src/target/target';
import { VmTarget } from '../src/target/vm';
import { resolveKernel } from '../src/vm/kernels';

const BOOTS = 3;
const ROUND_TRIPS = 200;

function twentySteps(): Program {
  const p = new Program({ deadlineMs: 10_000 });
  for (let i = 0; i < 20; i++) p.main.syscall(SYSCALLS.getpid, []);
  return p;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function roundTrips(t: Target, bytes: Buffer): Promise<number> {
  for (let i = 0; i < 10; i++) await t.runWire(bytes, 10_000); // warm up
  const times: number[] = [];
  for (let i = 0; i < ROUND_TRIPS; i++) {
    const t0 = process.hrtime.bigint();
    await t.runWire(bytes, 10_000);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return median(times);
}

/** The benchmark. */
export async function benchVm(log: (s: string) => void, kernels = ['debian:6.12']): Promise<Record<string, number>> {
  const figures: Record<string, number> = {};
  const bytes = twentySteps().encode();
  const child = new ChildTarget();
  try {
    figures.host_child_rtt_ms = await roundTrips(child, bytes);
  } finally {
    await child.close();
  }
  log(`host child target: 20-step program round trip ${figures.host_child_rtt_ms.toFixed(2)} ms (median of ${ROUND_TRIPS})`);
  for (const spec of kernels) {
    const kernel = await resolveKernel(spec, { log });
    const key = spec.replace(/[^a-z0-9]+/gi, '_');
    const boots: number[] = [];
    for (let i = 0; i < BOOTS; i++) {
      const t = new VmTarget({ kernel, slowdown: 1 });
      try {
        const vm = await t.ensureVm();
        boots.push(vm.bootMs);
        if (i === 0) {
          figures[`${key}_rtt_ms`] = await roundTrips(t, bytes);
          const hellos: number[] = [];
          for (let j = 0; j < ROUND_TRIPS; j++) {
            const t0 = process.hrtime.bigint();
            await vm.control('hello');
            hellos.push(Number(process.hrtime.bigint() - t0) / 1e6);
          }
          figures[`${key}_control_rtt_ms`] = median(hellos);
        }
      } finally {
        await t.close();
      }
    }
    // the same kernel booted the classic way: firmware, real-mode setup, self-decompression
    const classic = new VmTarget({ kernel, slowdown: 1, pvh: false });
    try {
      figures[`${key}_bzimage_boot_ms`] = (await classic.ensureVm()).bootMs;
    } finally {
      await classic.close();
    }
    figures[`${key}_boot_ms_median`] = median(boots);
    figures[`${key}_boot_ms_min`] = Math.min(...boots);
    figures[`${key}_rtt_ratio_vs_host`] = figures[`${key}_rtt_ms`] / figures.host_child_rtt_ms;
    log(
      `${spec}: agent ready in ${boots.map((b) => (b / 1000).toFixed(1)).join(', ')} s (goal < 5 s; ` +
        `${(figures[`${key}_bzimage_boot_ms`] / 1000).toFixed(1)} s booting the bzImage instead of the PVH entry); ` +
        `20-step round trip ${figures[`${key}_rtt_ms`].toFixed(2)} ms (goal < 20 ms, ${figures[`${key}_rtt_ratio_vs_host`].toFixed(1)}x the host's), ` +
        `control frame ${figures[`${key}_control_rtt_ms`].toFixed(2)} ms`,
    );
  }
  return figures;
}
