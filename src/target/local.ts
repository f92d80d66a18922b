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

  runWire(program: Buffer): Promise<Buffer> {
    return loadAddon().run(program);
  }

  async run(p: Program): Promise<TraceView> {
    if (p.processLevel) return (this.child ??= new ChildTarget()).run(p);
    return view(await this.runWire(p.encode()));
  }

  makeScratch = makeHostScratch;
  removeScratch = removeHostScratch;

  async close(): Promise<void> {
    await this.child?.close();
    this.child = undefined;
  }
}
