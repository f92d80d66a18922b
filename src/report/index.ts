import { toJson } from './json';
import { toJunit } from './junit';
import { toKtap } from './ktap';
import type { RunResult } from './model';
import { toSpecSummary } from './spec';

export * from './model';
export { toJson, toJunit, toKtap, toSpecSummary };

/** A reporter renders a whole run as text; it is pure and never writes anywhere itself. */
export type Reporter = (run: RunResult) => string;

/** Reporters by the name the CLI accepts (`--reporter ktap`). `spec` renders without colour here. */
export const REPORTERS = Object.freeze({
  spec: (run: RunResult) => toSpecSummary(run),
  json: toJson,
  junit: toJunit,
  ktap: toKtap,
} satisfies Record<string, Reporter>);

/** A name in {@link REPORTERS}. */
export type ReporterName = keyof typeof REPORTERS;

/** The reporter names, in a stable order. */
export const reporterNames: readonly ReporterName[] = Object.freeze(['spec', 'json', 'junit', 'ktap'] as const);

/** Narrows a user-supplied string (e.g. a CLI option) to a reporter name. */
export function isReporterName(name: string): name is ReporterName {
  return Object.prototype.hasOwnProperty.call(REPORTERS, name);
}
