/**
 * fs.aio-nr checks (SEMANTICS §1.5, §1.7): io_setup adds its nr_events to the system-wide count and freeing
 * the context (io_destroy, exit, execve) takes them off again. The count is read by the program, in the
 * target's kernel.
 */
import { expect } from 'chai';
import type { Sequence } from '../program/builder';
import { readSmallFile } from '../program/sys';
import type { TraceView } from '../program/trace';

/** System-wide count of io_events reserved by io_setup (SEMANTICS §1.5). */
export const AIO_NR = '/proc/sys/fs/aio-nr';

/** Runs of a program whose fs.aio-nr accounting was off, before one is judged as failed (see {@link judgeAioNr}). */
export const AIO_NR_ATTEMPTS = 3;

/** Steps that read a decimal sysctl (or any small decimal file); `value(v)` parses it from the trace. */
export function readDecimal(seq: Sequence, file: string): { value: (v: TraceView) => number } {
  const { read, dump } = readSmallFile(seq, file, 64);
  return {
    value: (v) => {
      const n = v.ret(read);
      if (n <= 0) throw new Error(`reading ${file} returned ${n}`);
      return Number.parseInt(v.step(dump).dump!.subarray(0, n).toString('ascii').trim(), 10);
    },
  };
}

/** fs.aio-nr before a context was set up, while it was held (when read), and after it was freed. */
export interface AioNrReadings {
  before: number;
  during?: number;
  after: number;
}

/** What is wrong with the readings of a context of `held` events, or undefined when they add up. */
export function aioNrProblem(r: AioNrReadings, held: number): string | undefined {
  if (r.during !== undefined && r.during - r.before !== held)
    return `aio-nr rose by ${r.during - r.before} while the context of ${held} events was held`;
  if (r.after !== r.before) return `aio-nr was ${r.before} before and ${r.after} after the context was freed`;
  return undefined;
}

/**
 * Runs `attempt` (the program and all its other checks) and judges its fs.aio-nr readings for a context of
 * `held` events. The count is system-wide: another process's io_setup or io_destroy between two reads moves
 * it (nothing else runs in a VM, but a shared host may run anything). So readings that do not add up are
 * retried, up to {@link AIO_NR_ATTEMPTS} runs, and the check passes when one run adds up exactly: a context the
 * kernel does not free stays counted in every run. Retries are noted in the report.
 */
export async function judgeAioNr(
  held: number,
  rule: string,
  note: (text: string) => void,
  attempt: () => Promise<AioNrReadings>,
): Promise<void> {
  const seen: string[] = [];
  for (let i = 1; ; i++) {
    const r = await attempt();
    const problem = aioNrProblem(r, held);
    if (!problem) {
      if (seen.length) note(`fs.aio-nr moved by something else in ${seen.length} run(s), rerun: ${seen.join('; ')}`);
      return;
    }
    seen.push(problem);
    if (i < AIO_NR_ATTEMPTS) continue;
    if (r.during !== undefined)
      expect(r.during - r.before, `the context's ${held} events counted in aio-nr (${rule}), ${i} runs`).to.equal(held);
    const what = `freeing the context put aio-nr back where it was (${rule}), ${i} runs: ${seen.join('; ')}`;
    expect(r.after, what).to.equal(r.before);
  }
}
