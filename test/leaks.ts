/**
 * Leak probes for the in-process executor, per process so other programs on the machine cannot move
 * them (fs.aio-nr is system-wide: a concurrent AIO user made the old check flaky).
 */
import * as fs from 'fs';

/** Open file descriptors of this process. */
export const fdCount = (): number => fs.readdirSync('/proc/self/fd').length;

/** AIO contexts this process holds: each maps its ring from the anonymous file "[aio]". */
export const aioContextsHere = (): number =>
  fs.readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => l.includes('[aio]')).length;
