/**
 * A target runs wire programs and returns traces: `local` (the in-process addon), `child`
 * (`kasync-exec` in a child process); the VM target comes later. The same program gives an
 * equivalent trace on every target.
 */
import { Program } from '../program/builder';
import { decodeTrace, TraceView } from '../program/trace';
import type { Capabilities } from './caps';

/** A failure of the target itself (executor missing, died, stopped answering): never a skip. */
export class TargetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TargetError';
  }
}

/** A kernel report (BUG, WARNING, KASAN, hung task…) seen on a VM's console. */
export interface KernelFinding {
  /** syzkaller-style title: `'WARNING in io_req_task_work_add'`. */
  title: string;
  kind: string;
  /** The report's console lines. */
  text: string;
  /** The program (agent run number) it followed, when known. */
  run?: number;
  /**
   * Runs (the ids {@link RunHooks.onStart} gave) that may have caused it, the likeliest first: those in
   * flight when it was printed, then the last to end. Several when programs run at once.
   */
  suspects?: number[];
}

/** What a caller may learn of one run. */
export interface RunHooks {
  /** Called as the program is sent, with its id on this target (what findings' `suspects` name). */
  onStart?(id: number): void;
}

/** The interface every target implements. */
export interface Target {
  /** 'local', 'child', 'vm:<kernel>'. */
  readonly name: string;
  /** Run a program and decode its trace. */
  run(p: Program, hooks?: RunHooks): Promise<TraceView>;
  /** Run raw wire bytes; resolves to raw trace bytes (an error trace for a malformed program). */
  runWire(program: Buffer, deadlineMs: number, hooks?: RunHooks): Promise<Buffer>;
  /** Capabilities of the kernel behind this target (cached after the first call). */
  probe(): Promise<Capabilities>;
  /** A scratch directory on the target's filesystem, removed by `removeScratch`. */
  makeScratch(): Promise<string>;
  /** Remove a scratch directory made by `makeScratch`. */
  removeScratch(dir: string): Promise<void>;
  /** CPUs that programs run at once share (VM targets: the vCPUs); unknown on the host. */
  readonly cpus?: number;
  /** How much slower than the host this target runs (timeouts are multiplied by it); 1 if unknown. */
  readonly slowdown?: number;
  /** Kernel reports that appeared since the last call (VM targets; hosts have no console to read). */
  checkKernel?(): Promise<KernelFinding[]>;
  /**
   * With no program in flight: what finished programs failed to give back (VM targets, where nothing
   * else runs: fs.aio-nr, io_uring threads, processes). Waits for the programs in flight to end.
   */
  checkRest?(): Promise<KernelFinding[]>;
  /** Run `fn` with no other program of this target in flight (targets that run several at once). */
  exclusive?<T>(fn: () => Promise<T>): Promise<T>;
  /** Start over on a freshly booted kernel (VM targets only). */
  restart?(): Promise<void>;
  /** Release the executor. */
  close(): Promise<void>;
}

/** Decode raw trace bytes into a view. */
export function view(raw: Buffer): TraceView {
  return new TraceView(decodeTrace(raw));
}

/** A finding the target saw itself, titled as the fuzzer and `kasync repro` title it. */
export interface TargetFinding {
  title: string;
  detail: string;
  suspects?: number[];
}

/**
 * What the target saw after a run, beside its trace: a VM's console reports (`kernel: …`) and, with
 * nothing in flight, what finished programs did not give back (`leak: …`). Nothing on the host.
 */
export async function seenByTarget(t: Target, after: string): Promise<TargetFinding[]> {
  const out: TargetFinding[] = [];
  for (const k of (await t.checkKernel?.()) ?? []) out.push({ title: `kernel: ${k.title}`, detail: `console report after ${after} (run ${k.run ?? '?'} of the boot)`, suspects: k.suspects });
  for (const k of (await t.checkRest?.()) ?? []) out.push({ title: `leak: ${k.title}`, detail: `${k.text} (checked after ${after})`, suspects: k.suspects });
  return out;
}

/** The finding of a run that gave no trace (a hang, a crash): titled by the kernel's report when there was one. */
export function lostRun(e: Error & { kernelReport?: string; suspects?: number[] }): TargetFinding {
  return { title: e.kernelReport ? `kernel: ${e.kernelReport}` : 'program: no trace (hang or crash)', detail: e.message.split('\n')[0], suspects: e.suspects };
}
