/**
 * The `local` target: programs run in-process through the addon, off Node's main thread.
 * Programs with process-level steps go to a `child` target automatically.
 */
import * as fs from 'fs';
import { ADDON } from '../paths';
import { Program } from '../program/builder';
import type { TraceView } from '../program/trace';
import { ChildTarget } from './child';
import { cachedProbe, makeHostScratch, removeHostScratch } from './host';
import { Target, TargetError, view } from './target';

/**
 * The addon's exports (native/addon.cc). With `out`, a trace that fits is copied into it and the
 * result is its length; otherwise the result is a fresh Buffer.
 */
export interface Addon {
  run(program: Buffer): Promise<Buffer>;
  run(program: Buffer, out: Buffer): Promise<Buffer | number>;
  runSync(program: Buffer): Buffer;
  runSync(program: Buffer, out: Buffer): Buffer | number;
  version(): number;
}

/** The trace bytes of an addon result. */
export function traceOf(r: Buffer | number, out: Buffer): Buffer {
  return typeof r === 'number' ? out.subarray(0, r) : r;
}

let addon: Addon | undefined;

/** Extra time beyond a program's deadline before the run counts as stuck. */
const GRACE_MS = 5000;
/** Reused trace buffers: warm memory instead of a page-faulting fresh Buffer per run. */
const OUT_BYTES = 4 << 20;
const OUT_POOL = 4;

/** Load the addon once; a clear error if `npm ci` did not build it. */
export function loadAddon(): Addon {
  if (addon) return addon;
  if (!fs.existsSync(ADDON)) throw new TargetError(`native addon ${ADDON} is missing: run npm ci`);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  addon = require(ADDON) as Addon;
  return addon;
}

/** In-process target. */
export class LocalTarget implements Target {
  readonly name = 'local';
  private child?: ChildTarget;
  private outs: Buffer[] = [];
  readonly probe = cachedProbe(this);

  constructor() {
    loadAddon();
  }

  /** Raw trace bytes, in a Buffer of the caller's own. */
  async runWire(program: Buffer, deadlineMs = 10_000): Promise<Buffer> {
    return this.guarded(loadAddon().run(program), deadlineMs);
  }

  async run(p: Program): Promise<TraceView> {
    if (p.processLevel) return (this.child ??= new ChildTarget()).run(p);
    // the trace is decoded (and so copied out) before its buffer goes back to the pool
    const out = this.outs.pop() ?? Buffer.allocUnsafeSlow(OUT_BYTES);
    const v = view(traceOf(await this.guarded(loadAddon().run(p.encode(), out), p.deadlineMs), out));
    // a run that timed out threw above: its buffer, which the executor may still fill, is never reused
    if (this.outs.length < OUT_POOL) this.outs.push(out);
    return v;
  }

  /** The addon enforces the program's deadline; this timer only catches an executor stuck in the kernel. */
  private guarded<T>(run: Promise<T>, deadlineMs: number): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new TargetError(`the in-process executor gave no trace within ${deadlineMs + GRACE_MS} ms (stuck in the kernel?)`)),
        deadlineMs + GRACE_MS,
      );
      run.then(resolve, reject).finally(() => clearTimeout(timer));
    });
  }

  makeScratch = makeHostScratch;
  removeScratch = removeHostScratch;

  async close(): Promise<void> {
    await this.child?.close();
    this.child = undefined;
  }
}
