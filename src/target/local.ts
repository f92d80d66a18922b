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

/** The addon's exports (native/addon.cc). */
export interface Addon {
  run(program: Buffer): Promise<Buffer>;
  runSync(program: Buffer): Buffer;
  version(): number;
}

let addon: Addon | undefined;

/** Extra time beyond a program's deadline before the run counts as stuck. */
const GRACE_MS = 5000;

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
  readonly probe = cachedProbe(this);

  constructor() {
    loadAddon();
  }

  /** The addon enforces the program's deadline; this timer only catches an executor stuck in the kernel. */
  runWire(program: Buffer, deadlineMs = 10_000): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new TargetError(`the in-process executor gave no trace within ${deadlineMs + GRACE_MS} ms (stuck in the kernel?)`)),
        deadlineMs + GRACE_MS,
      );
      loadAddon()
        .run(program)
        .then(resolve, reject)
        .finally(() => clearTimeout(timer));
    });
  }

  async run(p: Program): Promise<TraceView> {
    if (p.processLevel) return (this.child ??= new ChildTarget()).run(p);
    return view(await this.runWire(p.encode(), p.deadlineMs));
  }

  makeScratch = makeHostScratch;
  removeScratch = removeHostScratch;

  async close(): Promise<void> {
    await this.child?.close();
    this.child = undefined;
  }
}
