/**
 * Would KCOV feedback pay for the fuzzer? `npm run bench -- kcov [MINUTES (3)] [seeds=1,2] [KERNEL]`
 * runs fuzz stream programs (fuzz/model.ts, built with a KCOV step on every sequence) in one VM of a
 * kasync-built kernel with KCOV (default debian-src:6.12/coverage) for the same time per seed, twice:
 * `gen`, fresh fast-check generation alone, and `feedback`, where a program that reached an edge no
 * earlier one did joins a pool and half the programs are mutants of pool entries (a donor's steps
 * inserted, replacing or spliced in; a step deleted or repeated). Per run: programs, distinct edges
 * and PCs of the traced tasks, those PCs in io_uring/*.c and fs/aio.c functions (src/coverage/kcov.ts),
 * and on a coverage build the gcov lines of io_uring/*.c and fs/aio.c from a reset just before (what
 * every task ran, io-wq and SQPOLL included). The order of the modes is reversed from seed to seed, as
 * the machine's load drifts. No oracle runs: both modes pay the same for it in `kasync fuzz`.
 */
import fc from 'fast-check';
import * as os from 'os';
import { buildStream } from '../fuzz/build';
import { StreamModel, StreamStep, streamArb, supportedOps } from '../fuzz/model';
import { gcnoFiles, gcovCounts, readGcda, resetGcov } from '../src/coverage/gcov';
import { prng } from '../src/program/pattern';
import { asyncText, countAsyncPcs } from '../src/coverage/kcov';
import { groupTotals } from '../src/coverage/report';
import { VmTarget } from '../src/target/vm';
import { buildOfImage } from '../src/vm/build';
import { resolveKernel } from '../src/vm/kernels';

/** KCOV area per task: 256 Ki PCs (2 MiB); a 20-step stream records ~10-40 Ki on 6.12. */
const KCOV_WORDS = 1 << 18;
const MAX_STEPS = 20;

/** A mutant of `parent`: 1-3 edits of its steps, with the handles of parent and donor (build.ts resolves numbers modulo what exists). */
function mutate(parent: StreamModel, donor: StreamModel, rand: () => number): StreamModel {
  const at = (n: number) => Math.floor(rand() * n);
  const steps: StreamStep[] = structuredClone(parent.steps);
  const give = (): StreamStep => structuredClone(donor.steps.length ? donor.steps[at(donor.steps.length)] : { kind: 'pipeWrite' });
  for (let edits = 1 + at(3); edits > 0; edits--) {
    const how = at(5);
    if (how === 0 || !steps.length) steps.splice(at(steps.length + 1), 0, give());
    else if (how === 1) steps[at(steps.length)] = give();
    else if (how === 2 && steps.length > 1) steps.splice(at(steps.length), 1);
    else if (how === 3) steps.splice(at(steps.length), 0, structuredClone(steps[at(steps.length)]));
    else steps.splice(at(steps.length + 1), steps.length, ...structuredClone(donor.steps.slice(at(donor.steps.length + 1))));
  }
  const n = Math.max(parent.rings.length, donor.rings.length);
  const pick = <T>(a: T[] | undefined, b: T[] | undefined, i: number, d: T) => (i < (a?.length ?? 0) ? a![i] : (b?.[i] ?? d));
  const out: StreamModel = {
    rings: Array.from({ length: n }, (_, i) => pick(parent.rings, donor.rings, i, 4)),
    ctxs: Math.max(parent.ctxs, donor.ctxs),
    files: Math.max(parent.files, donor.files),
    steps: steps.slice(0, MAX_STEPS),
  };
  const kinds = Array.from({ length: n }, (_, i) => (i < parent.rings.length ? (parent.kinds?.[i] ?? 0) : (donor.kinds?.[i] ?? 0)));
  if (kinds.some((k) => k !== 0)) out.kinds = kinds;
  if (parent.threads || donor.threads) out.threads = true;
  if (parent.table ?? donor.table) out.table = [...(parent.table ?? donor.table)!];
  return out;
}

/** Run the benchmark; returns its figures. */
export async function benchKcov(log: (s: string) => void, args: string[] = []): Promise<Record<string, number>> {
  const minutes = Number(args.find((a) => /^\d+(\.\d+)?$/.test(a)) ?? 3);
  const seeds = (args.find((a) => /^seeds=\d+(,\d+)*$/.test(a))?.slice(6) ?? '1,2').split(',').map(Number);
  const spec = args.find((a) => a.includes(':')) ?? 'debian-src:6.12/coverage';
  const kernel = await resolveKernel(spec, { fetch: false, log });
  const build = await buildOfImage(kernel.vmlinuz);
  if (!build) throw new Error(`${spec} is not a kernel kasync built (kasync kernels build debian-src:6.12 --profile coverage)`);
  const text = asyncText(build.dir);
  const gcnos = build.record.profile === 'coverage' ? gcnoFiles(build.dir) : [];
  const out: Record<string, number> = { minutes, seeds: seeds.length };
  const sums: Record<string, Record<string, number>> = {};
  for (const seed of seeds) {
    for (const mode of seed % 2 ? (['gen', 'feedback'] as const) : (['feedback', 'gen'] as const)) {
      const target = new VmTarget({ kernel, log: (l) => log(`  ${l}`) });
      try {
        const arb = streamArb(supportedOps(await target.probe()), { maxSteps: MAX_STEPS });
        if (gcnos.length) await resetGcov(target);
        let scratch = await target.makeScratch();
        const edges = new Set<number>();
        const pcs = new Set<number>();
        const pool: StreamModel[] = [];
        const rand = prng(seed);
        const curve: number[] = [];
        const t0 = Date.now();
        let runs = 0;
        let lost = 0;
        for (let batch = 0; Date.now() - t0 < minutes * 60_000; batch++) {
          const fresh = fc.sample(arb, { seed: seed * 100_003 + batch, numRuns: 16 });
          const models = mode === 'feedback' && pool.length ? fresh.map((m, i) => (i % 2 ? m : mutate(pool[Math.floor(rand() * pool.length)], m, rand))) : fresh;
          for (const m of models) {
            const built = buildStream(m, { dir: scratch, slowdown: target.slowdown, kcov: { words: KCOV_WORDS } });
            try {
              const v = await target.run(built.program);
              let added = 0;
              for (const s of v.trace.steps) {
                for (const pc of s.kcov?.pcs ?? []) pcs.add(pc);
                for (const e of s.kcov?.edges ?? [])
                  if (!edges.has(e)) {
                    edges.add(e);
                    added++;
                  }
              }
              if (added) pool.push(m);
            } catch {
              lost++; // a hang or a lost VM: the target reboots for the next program
              scratch = await target.makeScratch();
            }
            runs++;
          }
          const n = countAsyncPcs(text, pcs);
          if (Date.now() - t0 >= (curve.length + 1) * 30_000) curve.push(n.io_uring + n.aio);
        }
        const n = countAsyncPcs(text, pcs);
        const fig: Record<string, number> = { runs, edges: edges.size, pcs: pcs.size, uring_pcs: n.io_uring, aio_pcs: n.aio, new_edge_programs: pool.length, lost };
        if (gcnos.length) {
          const files = gcovCounts(build.dir, build.record.srcDir, await readGcda(target, build.dir, gcnos));
          fig.uring_lines = groupTotals(files, 'io_uring').hit;
          fig.aio_lines = groupTotals(files, 'aio').hit;
        }
        log(
          `seed ${seed} ${mode}: ${runs} programs, ${fig.edges} edges, ${fig.pcs} PCs, ${n.io_uring} in io_uring and ${n.aio} in aio functions` +
            (gcnos.length ? `; gcov lines ${fig.uring_lines} io_uring + ${fig.aio_lines} aio` : '') +
            `; io_uring+aio PCs every 30 s: ${curve.join(' ')}; ${pool.length} programs reached a new edge`,
        );
        for (const [k, v] of Object.entries(fig)) {
          out[`${mode}_${k}_seed${seed}`] = v;
          (sums[mode] ??= {})[k] = (sums[mode][k] ?? 0) + v;
        }
      } finally {
        await target.close();
      }
    }
  }
  for (const [mode, fig] of Object.entries(sums))
    for (const [k, v] of Object.entries(fig)) out[`${mode}_${k}_mean`] = Math.round((v / seeds.length) * 10) / 10;
  out.load_average_1m = Math.round(os.loadavg()[0] * 10) / 10;
  return out;
}
