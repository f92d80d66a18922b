/** A mistake of the user or the environment: the CLI prints one line and exits 2. */
export class UsageError extends Error {}
