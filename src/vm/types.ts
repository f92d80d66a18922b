/** What the VM pieces share: a kernel to boot and where kasync keeps downloaded and built things. */
import * as os from 'os';
import * as path from 'path';

/** A kernel ready to boot: a bzImage and, unless it is monolithic, its modules tree. */
export interface KernelImage {
  /** As the user named it: `'debian:6.12'`, `'/path/to/bzImage'`. */
  spec: string;
  /** `uname -r` of the kernel, e.g. `'6.12.117+deb12-amd64'`. */
  release: string;
  /** Path of the bzImage / vmlinuz. */
  vmlinuz: string;
  /** `…/lib/modules/<release>` with modules.dep (depmod has run), or undefined for a kernel without modules. */
  modulesDir?: string;
  /** The kernel's .config when known. */
  config?: string;
}

/** kasync's cache: `$KASYNC_CACHE`, else `$XDG_CACHE_HOME/kasync`, else `~/.cache/kasync`. */
export function cacheDir(): string {
  if (process.env.KASYNC_CACHE) return path.resolve(process.env.KASYNC_CACHE);
  const xdg = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(xdg, 'kasync');
}
