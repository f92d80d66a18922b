/** What the two host targets share: scratch directories and the probe cache. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Capabilities } from './caps';
import { probeTarget } from './probe';
import type { Target } from './target';

/** Scratch directories on the host, under $KASYNC_SCRATCH or the system temp dir. */
export async function makeHostScratch(): Promise<string> {
  const base = process.env.KASYNC_SCRATCH || os.tmpdir();
  return fs.promises.mkdtemp(path.join(base, 'kasync-'));
}

/** Remove a host scratch directory (only ones kasync made). */
export async function removeHostScratch(dir: string): Promise<void> {
  if (!path.basename(dir).startsWith('kasync-')) throw new Error(`refusing to remove ${dir}: not a kasync scratch dir`);
  await fs.promises.rm(dir, { recursive: true, force: true });
}

/** Probe once per target. */
export function cachedProbe(t: Target): () => Promise<Capabilities> {
  let p: Promise<Capabilities> | undefined;
  return () => (p ??= probeTarget(t));
}
