/**
 * Kernel release numbers as the ABI tables use them: the first mainline release that has a thing.
 * Distribution kernels backport, so a version says what mainline had, never what a given kernel has;
 * probe (`IORING_REGISTER_PROBE`, feature bits) before relying on it.
 */

/** A mainline kernel release, `major.minor` (or `major.minor.patch` for 2.6-era releases). */
export type KernelVersion = `${number}.${number}`;

/** The shape every `since` string must have. */
export const KERNEL_VERSION_PATTERN = /^(\d+)\.(\d+)(?:\.(\d+))?$/;

/** Parse `"6.1"`, `"2.6.19"` or a `uname -r` string such as `"6.1.0-56-amd64"` into three numbers. */
export function parseKernelVersion(text: string): [major: number, minor: number, patch: number] {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(text.trim());
  if (!m) throw new Error(`not a kernel version: ${JSON.stringify(text)}`);
  return [Number(m[1]), Number(m[2]), m[3] === undefined ? 0 : Number(m[3])];
}

/** Negative, zero or positive as `a` is older than, the same as, or newer than `b`. */
export function compareKernelVersions(a: string, b: string): number {
  const x = parseKernelVersion(a);
  const y = parseKernelVersion(b);
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i] - y[i];
  return 0;
}

/** Did mainline `release` already have something first released in `since`? */
export function releasedBy(since: KernelVersion, release: string): boolean {
  return compareKernelVersions(since, release) <= 0;
}

/** Turn a `LINUX_VERSION_CODE` (`(a << 16) + (b << 8) + c`) into `"a.b.c"`. */
export function versionFromCode(code: number): string {
  return `${Math.floor(code / 65536)}.${Math.floor(code / 256) % 256}.${code % 256}`;
}
