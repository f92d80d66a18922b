/** The target the conformance suites run against, chosen by `kasync run` (or `local` by default). */
import { LocalTarget } from '../target/local';
import type { Target } from '../target/target';

let current: Target | undefined;
let owned = false;

/** Set the target for the suites that load next. */
export function setSuiteTarget(t: Target): void {
  current = t;
  owned = false;
}

/** The suites' target; a `local` one is made on first use when none was set. */
export function suiteTarget(): Target {
  if (!current) {
    current = new LocalTarget();
    owned = true;
  }
  return current;
}

/** Close the target if this module made it. */
export async function closeOwnedTarget(): Promise<void> {
  if (owned && current) await current.close();
  current = undefined;
  owned = false;
}
