/** What `probe()` finds out about the kernel behind a target. */
import { AbiEntry, releasedBy, SETUP } from '../abi';

/** One opcode and whether this kernel supports it. */
export interface OpSupport {
  name: string;
  value: number;
  /** First mainline release with it (src/abi), if it was ever merged. */
  since?: string;
  supported: boolean;
  /** How the verdict was reached (AIO: the trial's result). */
  note?: string;
}

/** A setup flag and whether io_uring_setup accepted it alone (with the companions it needs). */
export interface FlagSupport {
  name: string;
  value: number;
  since: string;
  accepted: boolean;
  /** errno name when refused. */
  error?: string;
}

/** The probe's findings. */
export interface Capabilities {
  /** `uname -r` of the kernel. */
  kernel: string;
  /** Effective uid of the executor. */
  euid: number;
  uring: {
    /** io_uring_setup works for this executor. */
    available: boolean;
    /** Why not, when it does not (errno and sysctl). */
    reason?: string;
    /** IORING_REGISTER_PROBE's last_op. */
    lastOp: number;
    /** io_uring_params.features. */
    features: number;
    featureNames: string[];
    ops: OpSupport[];
    setupFlags: FlagSupport[];
  };
  aio: {
    available: boolean;
    reason?: string;
    ops: OpSupport[];
  };
  sysctl: {
    io_uring_disabled: number | null;
    io_uring_group: number | null;
    aio_max_nr: number | null;
    aio_nr: number | null;
  };
}

/**
 * Why this kernel cannot set up a ring with these IORING_SETUP_* flags (by the probe), or undefined.
 * A refusal is a reason to skip only on a kernel older than the flag's mainline release: where mainline
 * already had the flag (its `since` verified), the probe's refusal is itself the failure, and this throws.
 */
export function refusedSetupFlags(c: Capabilities, names: readonly string[]): string | undefined {
  for (const n of names) {
    const f = c.uring.setupFlags.find((x) => x.name === n);
    if (f?.accepted) continue;
    const why = `probe: io_uring_setup refuses IORING_SETUP_${n} on kernel ${c.kernel}${f?.error ? ` (${f.error})` : ''}`;
    const e = (SETUP as Record<string, AbiEntry | undefined>)[n];
    if (c.uring.available && f && e?.since && !e.unverified && releasedBy(e.since, c.kernel))
      throw new Error(`${why}, though mainline has had it since ${e.since}`);
    return why;
  }
  return undefined;
}

/** Is this uring op supported (by name, without the IORING_OP_ prefix)? */
export function uringSupports(c: Capabilities, name: string): boolean {
  return c.uring.available && c.uring.ops.some((o) => o.name === name && o.supported);
}

/** Does this AIO op work (by name, without the IOCB_CMD_ prefix)? */
export function aioSupports(c: Capabilities, name: string): boolean {
  return c.aio.available && c.aio.ops.some((o) => o.name === name && o.supported);
}
