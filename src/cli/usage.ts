/** A mistake of the user or the environment: the CLI prints one line and exits 2. */
export class UsageError extends Error {}

/** A `--grep` option as a RegExp (undefined when absent); a bad one is a usage error. */
export function grepOption(text: string | undefined): RegExp | undefined {
  try {
    return text ? new RegExp(text) : undefined;
  } catch {
    throw new UsageError(`--grep '${text}' is not a regular expression`);
  }
}
