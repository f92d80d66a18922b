/** Helpers several of kasync's own test files share. */
import { expect } from 'chai';
import { UsageError } from '../src/cli/usage';

/** Await `p` (or call it) and return the message of the one-line UsageError it must throw. */
export async function usageError(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    expect(e, String(e)).to.be.instanceOf(UsageError);
    const msg = (e as Error).message;
    expect(msg, 'one line').not.to.include('\n');
    return msg;
  }
  throw new Error('expected a UsageError');
}

/** Run `fn` with the kasync cache ($KASYNC_CACHE) at `dir`, restoring the variable afterwards. */
export async function withCache<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const saved = process.env.KASYNC_CACHE;
  process.env.KASYNC_CACHE = dir;
  try {
    return await fn();
  } finally {
    if (saved === undefined) delete process.env.KASYNC_CACHE;
    else process.env.KASYNC_CACHE = saved;
  }
}
