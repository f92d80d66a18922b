/**
 * `conformance()`: one behaviour per test, declared with what it exercises, what it needs and the
 * rule it rests on. Skips come only from the probe or a missing requirement, always with a reason.
 */
import type { Capabilities } from '../target/caps';
import { aioSupports, refusedSetupFlags, uringSupports } from '../target/caps';
import { SETUP } from '../abi';
import type { KernelFinding, Target } from '../target/target';
import { withLedger } from '../oracle/ledger';
import { suiteTarget } from './context';

/** What a test needs beyond its ops. */
export interface Needs {
  /** Effective uid 0 in the executor. */
  root?: boolean;
  /** A kernel booted for this test alone (counters from zero, nothing left by earlier tests): VM targets. */
  freshKernel?: boolean;
}

/**
 * A kernel bug the test is known to fail on: measured, documented (docs/KERNEL-NOTES.md), not kasync's to fix.
 * On a kernel whose release matches, a failure of the test's checks is still a failure, marked as this known bug
 * (reporters say so; exit codes count only failures that are not known). A pass there is noted: the list may be
 * stale (a stable backport).
 */
export interface KnownBug {
  /** `uname -r` of the kernels that have it. */
  releases: RegExp;
  /** What it is and where it is written up. */
  what: string;
}

/** Metadata every conformance test declares. */
export interface Meta {
  /** Operations exercised: `'uring.READ'`, `'aio.PREAD'`, `'uring.setup'`. */
  ops: string[];
  /** The rule: a SEMANTICS.md section, a man page, a commit. */
  rule: string;
  needs?: Needs;
  /** Timeout on an unloaded host, in ms (default 30 s, above a program's 10 s deadline, so a program cut
   * short by its deadline shows up as a flagged trace rather than a mocha timeout); scaled by the target's slowdown. */
  timeoutMs?: number;
  knownBug?: KnownBug | KnownBug[];
}

/** What a test body gets. */
export interface TestContext {
  target: Target;
  caps: Capabilities;
  /** A scratch directory on the target's filesystem, removed after the test. */
  scratch: string;
  /**
   * Skip for a requirement only a program can find out (the scratch filesystem refuses O_DIRECT):
   * the reason is reported. Never for an unexpected errno of the operation under test.
   */
  skip(reason: string): never;
  /** Report a measurement (an iteration count, a duration) with the test's result: one line, shown by the reporters. */
  note(text: string): void;
}

/** The kernel reported a bug while the test ran. */
export class KernelReportError extends Error {
  constructor(
    readonly reports: KernelFinding[],
    readonly failure?: unknown,
  ) {
    const also = failure instanceof Error ? `; the test also failed: ${failure.message.split('\n')[0]}` : '';
    super(`kernel report: ${reports.map((r) => r.title).join('; ')}${also}\n${reports.map((r) => r.text).join('\n')}`);
  }

  /** Titles, for the report's kernelReport field. */
  get kernelReport(): string {
    return this.reports.map((r) => r.title).join('; ');
  }
}

/** Metadata of registered tests, read by the runner's reporter. */
export const TEST_META = new WeakMap<Mocha.Runnable, Meta>();
/** Skip reasons, read by the runner's reporter. */
export const SKIP_REASONS = new WeakMap<Mocha.Runnable, string>();
/** Notes tests reported (`TestContext.note`), read by the runner's reporter. */
export const NOTES = new WeakMap<Mocha.Runnable, string[]>();

/** Why this test cannot run here, or undefined. */
export function missingRequirement(meta: Meta, caps: Capabilities): string | undefined {
  for (const op of meta.ops) {
    const [iface, name] = op.split('.');
    if (iface === 'uring') {
      if (!caps.uring.available) return `io_uring unavailable: ${caps.uring.reason}`;
      if (name !== 'setup' && name !== 'register' && name !== 'enter' && !uringSupports(caps, name))
        return `probe: IORING_OP_${name} not supported by kernel ${caps.kernel}`;
    } else if (iface === 'aio') {
      if (!caps.aio.available) return `AIO unavailable: ${caps.aio.reason}`;
      if (name !== 'setup' && name !== 'submit' && name !== 'getevents' && name !== 'cancel' && name !== 'destroy' && !aioSupports(caps, name))
        return `probe: IOCB_CMD_${name} does not work on kernel ${caps.kernel}`;
    }
  }
  if (meta.needs?.root && caps.euid !== 0) return `needs root (euid is ${caps.euid})`;
  return undefined;
}

/** Declare a conformance test. */
export function conformance(title: string, meta: Meta, body: (ctx: TestContext) => Promise<void>): void {
  const test = it(title, async function () {
    const target = suiteTarget();
    const caps = await target.probe();
    const why = missingRequirement(meta, caps);
    if (why) {
      SKIP_REASONS.set(this.test!, why);
      this.skip();
    }
    if (meta.needs?.freshKernel) {
      if (!target.restart) {
        SKIP_REASONS.set(this.test!, `needs a fresh kernel: only a VM target (--kernel) can boot one`);
        this.skip();
      }
      await target.restart!();
    }
    await target.checkKernel?.(); // what came before this test is not its doing
    const scratch = await target.makeScratch();
    let failure: unknown;
    const skip = (reason: string): never => {
      SKIP_REASONS.set(this.test!, reason);
      this.skip();
    };
    const note = (text: string) => NOTES.set(this.test!, [...(NOTES.get(this.test!) ?? []), text]);
    try {
      await body({ target: withLedger(target), caps, scratch, skip, note });
    } catch (e) {
      failure = e;
    }
    await target.removeScratch(scratch).catch((e) => (failure ??= e));
    // a kernel report fails the test even if its assertions passed (DESIGN.md, Kernel health)
    const reports = (await target.checkKernel?.()) ?? [];
    if (reports.length) throw new KernelReportError(reports, failure);
    const known = ([] as KnownBug[]).concat(meta.knownBug ?? []).find((b) => b.releases.test(caps.kernel));
    if (failure && known && failure instanceof Error) Object.assign(failure, { knownBug: known.what });
    else if (known && !failure) note(`known kernel bug not seen on ${caps.kernel}: ${known.what}`);
    if (failure) throw failure;
  });
  test.timeout(meta.timeoutMs ?? 30_000);
  TEST_META.set(test, meta);
}

/** The name of an IORING_SETUP_* flag. */
export type SetupFlagName = Extract<keyof typeof SETUP, string>;

/**
 * Skip unless the probe saw io_uring_setup accept every one of these flags (and fail where mainline has had
 * them: `refusedSetupFlags`); returns their bits.
 */
export function needSetupFlags({ caps, skip }: TestContext, ...names: SetupFlagName[]): number {
  const why = refusedSetupFlags(caps, names);
  if (why) skip(why);
  return names.reduce((a, n) => a | SETUP[n].value, 0);
}
